//! `users/:name`: local groups and policies for one LDAP user, and
//! `users/` to list them.

use serde::{Deserialize, Serialize};
use serde_json::json;
use vault_plugin_sdk::framework::token::sanitize_policies;
use vault_plugin_sdk::framework::{Field, FieldData, JsonStorage, Path, pattern};
use vault_plugin_sdk::logical::{Error, Request, Response};
use vault_plugin_sdk::storage::Storage;

use crate::backend::LdapAuth;
use crate::names::{canonical_name, delete_named, list_names};

pub const USER_PREFIX: &str = "user/";

/// A user as stored (Go field names, as the reference stores them).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct UserEntry {
    #[serde(
        rename = "Groups",
        default,
        deserialize_with = "crate::names::null_as_empty"
    )]
    pub groups: Vec<String>,
    #[serde(
        rename = "Policies",
        default,
        deserialize_with = "crate::names::null_as_empty"
    )]
    pub policies: Vec<String>,
}

pub fn paths() -> Vec<Path<LdapAuth>> {
    vec![
        Path::new("users/?$")
            .list(list_users)
            .help(HELP_SYN, HELP_DESC),
        Path::new(format!("users/{}", pattern::match_all("name")))
            .field(Field::string("name").description("Name of the LDAP user."))
            .field(
                Field::comma_string_slice("groups").description(
                    "Comma-separated list of additional groups associated with the user.",
                ),
            )
            .field(
                Field::comma_string_slice("policies")
                    .description("Comma-separated list of policies associated with the user."),
            )
            .read(read_user)
            .update(write_user)
            .delete(delete_user)
            .help(HELP_SYN, HELP_DESC),
    ]
}

pub async fn user(storage: &dyn Storage, name: &str) -> Result<Option<UserEntry>, Error> {
    storage.get_json(&format!("{USER_PREFIX}{name}")).await
}

async fn list_users(_: &LdapAuth, req: &Request, _: &FieldData) -> Result<Option<Response>, Error> {
    list_names(req, USER_PREFIX).await
}

async fn read_user(
    _: &LdapAuth,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let name = canonical_name(req, &data.get::<String>("name")?).await?;
    let Some(user) = user(req.storage.as_ref(), &name).await? else {
        return Ok(None);
    };
    Ok(Some(Response::with_data(json!({
        "groups": user.groups.join(","),
        "policies": user.policies,
    }))))
}

async fn write_user(
    backend: &LdapAuth,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let name = canonical_name(req, &data.get::<String>("name")?).await?;
    let lowercase = crate::names::case_insensitive(req).await?;
    let mut groups: Vec<String> = Vec::new();
    for group in data.get::<Vec<String>>("groups")? {
        let group = group.trim();
        let group = if lowercase {
            group.to_lowercase()
        } else {
            group.to_string()
        };
        if !group.is_empty() && !groups.contains(&group) {
            groups.push(group);
        }
    }
    groups.sort();
    let entry = UserEntry {
        groups,
        policies: sanitize_policies(data.get("policies")?),
    };
    req.storage
        .put_json(&format!("{USER_PREFIX}{name}"), &entry)
        .await?;
    backend.invalidate(&format!("{USER_PREFIX}{name}"));
    Ok(None)
}

async fn delete_user(
    backend: &LdapAuth,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    delete_named(backend, req, data, USER_PREFIX).await
}

const HELP_SYN: &str = "Manage users allowed to authenticate.";
const HELP_DESC: &str = "\
This endpoint allows you to create, read, update, and delete configuration
for LDAP users that are allowed to authenticate, in particular associating
additional groups to them.

Deleting a user will not revoke their auth. To do this, do a revoke on
\"login/<username>\" for the usernames you want revoked.";
