//! `groups/:name`: policies for an LDAP group (or a local group a user is
//! put in), and `groups/` to list them.

use serde::{Deserialize, Serialize};
use serde_json::json;
use vault_plugin_sdk::framework::token::sanitize_policies;
use vault_plugin_sdk::framework::{Field, FieldData, JsonStorage, Path, pattern};
use vault_plugin_sdk::logical::{Error, Request, Response};
use vault_plugin_sdk::storage::Storage;

use crate::backend::LdapAuth;
use crate::names::{canonical_name, delete_named, list_names};

pub const GROUP_PREFIX: &str = "group/";

/// A group as stored (Go field names, as the reference stores them).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct GroupEntry {
    #[serde(
        rename = "Policies",
        default,
        deserialize_with = "crate::names::null_as_empty"
    )]
    pub policies: Vec<String>,
}

pub fn paths() -> Vec<Path<LdapAuth>> {
    vec![
        Path::new("groups/?$")
            .list(list_groups)
            .help(HELP_SYN, HELP_DESC),
        Path::new(format!("groups/{}", pattern::match_all("name")))
            .field(Field::string("name").description("Name of the LDAP group."))
            .field(
                Field::comma_string_slice("policies")
                    .description("Comma-separated list of policies associated to the group."),
            )
            .read(read_group)
            .update(write_group)
            .delete(delete_group)
            .help(HELP_SYN, HELP_DESC),
    ]
}

pub async fn group(storage: &dyn Storage, name: &str) -> Result<Option<GroupEntry>, Error> {
    storage.get_json(&format!("{GROUP_PREFIX}{name}")).await
}

async fn list_groups(
    _: &LdapAuth,
    req: &Request,
    _: &FieldData,
) -> Result<Option<Response>, Error> {
    list_names(req, GROUP_PREFIX).await
}

async fn read_group(
    _: &LdapAuth,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let name = canonical_name(req, &data.get::<String>("name")?).await?;
    let Some(group) = group(req.storage.as_ref(), &name).await? else {
        return Ok(None);
    };
    Ok(Some(Response::with_data(
        json!({ "policies": group.policies }),
    )))
}

async fn write_group(
    backend: &LdapAuth,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let name = canonical_name(req, &data.get::<String>("name")?).await?;
    let policies: Vec<String> = data.get("policies")?;
    let entry = GroupEntry {
        policies: sanitize_policies(policies),
    };
    req.storage
        .put_json(&format!("{GROUP_PREFIX}{name}"), &entry)
        .await?;
    backend.invalidate(&format!("{GROUP_PREFIX}{name}"));
    Ok(None)
}

async fn delete_group(
    backend: &LdapAuth,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    delete_named(backend, req, data, GROUP_PREFIX).await
}

const HELP_SYN: &str = "Manage additional groups for users allowed to authenticate.";
const HELP_DESC: &str = "\
This endpoint allows you to create, read, update, and delete configuration
for LDAP groups that are allowed to authenticate, and associate policies to
them.

Deleting a group will not revoke auth for prior authenticated users in that
group. To do this, do a revoke on \"login/<username>\" for
the usernames you want revoked.";
