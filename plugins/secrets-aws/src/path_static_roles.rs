//! `static-roles/<name>` and `static-roles/`: an existing IAM user whose
//! access key the engine owns and rotates every `rotation_period`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use vault_plugin_sdk::framework::{Field, FieldData, JsonStorage, Path, pattern};
use vault_plugin_sdk::logical::{Error, Request, Response};

use crate::backend::AwsBackend;
use crate::client::AwsError;
use crate::rotation::{create_credential, delete_credential};

pub const STATIC_ROLE_PREFIX: &str = "static-roles/";

/// The reference's `staticRoleEntry` JSON (rotation period in nanoseconds).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StaticRole {
    pub name: String,
    pub username: String,
    pub rotation_period: i64,
}

impl StaticRole {
    pub fn period(&self) -> Duration {
        Duration::from_nanos(u64::try_from(self.rotation_period).unwrap_or(0))
    }

    fn response(&self) -> Response {
        Response::with_data(json!({
            "name": self.name,
            "username": self.username,
            "rotation_period": self.period().as_secs(),
        }))
    }
}

pub fn role_key(name: &str) -> String {
    format!("{STATIC_ROLE_PREFIX}{name}")
}

pub fn paths() -> Vec<Path<AwsBackend>> {
    vec![
        Path::new(format!(
            "static-roles/{}",
            pattern::generic_name_with_at("name")
        ))
        .field(Field::string("name").description("The name of this role."))
        .field(Field::string("username").description("The user to adopt as a static role."))
        .field(
            Field::duration("rotation_period").description(
                "Period by which to rotate the backing credential of the adopted user.",
            ),
        )
        .read(read_static_role)
        .update(write_static_role)
        .delete(delete_static_role)
        .help(
            "Manage static roles for AWS.",
            "This path lets you manage static roles (users) for the AWS secret backend.",
        ),
        Path::new("static-roles/?$")
            .list(list_static_roles)
            .help("List static roles.", "Lists the static roles' names."),
    ]
}

async fn read_static_role(
    _: &AwsBackend,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let name: String = data.get("name")?;
    Ok(req
        .storage
        .get_json::<StaticRole>(&role_key(&name))
        .await?
        .map(|r| r.response()))
}

async fn list_static_roles(
    _: &AwsBackend,
    req: &Request,
    _: &FieldData,
) -> Result<Option<Response>, Error> {
    let keys = req.storage.list(STATIC_ROLE_PREFIX).await?;
    Ok(Some(Response::with_data(json!({ "keys": keys }))))
}

async fn write_static_role(
    backend: &AwsBackend,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let name: String = data.get("name")?;
    let Some(username) = data.get_ok::<String>("username")? else {
        return Err(Error::invalid("missing 'username' parameter"));
    };
    let Some(period) = data.get_ok::<Duration>("rotation_period")? else {
        return Err(Error::invalid("missing 'rotation_period' parameter"));
    };
    if period < Duration::from_secs(1) {
        return Err(Error::invalid(
            "field `rotation_period`: must be at least 1 second",
        ));
    }
    let resolved = backend.resolved(req).await?;
    let user = resolved
        .clients
        .iam
        .get_user()
        .user_name(&username)
        .send()
        .await
        .map_err(|e| {
            Error::invalid(format!(
                "unable to validate username {username:?}: {}",
                AwsError::from_sdk(&e)
            ))
        })?;
    if user.user().map(|u| u.user_name()) != Some(username.as_str()) {
        return Err(Error::invalid(format!(
            "unable to validate username {username:?}"
        )));
    }
    let role = StaticRole {
        name: name.clone(),
        username,
        rotation_period: i64::try_from(period.as_nanos()).unwrap_or(i64::MAX),
    };
    let _guard = backend.static_lock.lock().await;
    req.storage.put_json(&role_key(&name), &role).await?;
    // AWS shows a secret key only when it is made: a new role needs a key
    // of its own to serve.
    if crate::rotation::stored_credential(req.storage.as_ref(), &name)
        .await?
        .is_none()
    {
        create_credential(&resolved.clients.iam, req.storage.as_ref(), &role)
            .await
            .map_err(|e| {
                Error::invalid(format!(
                    "failed to create new credentials for role {name:?}: {e}"
                ))
            })?;
    }
    Ok(Some(role.response()))
}

async fn delete_static_role(
    backend: &AwsBackend,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let name: String = data.get("name")?;
    let _guard = backend.static_lock.lock().await;
    let Some(role) = req.storage.get_json::<StaticRole>(&role_key(&name)).await? else {
        return Ok(None);
    };
    let resolved = backend.resolved(req).await?;
    delete_credential(&resolved.clients.iam, req.storage.as_ref(), &role)
        .await
        .map_err(|e| {
            Error::internal(format!(
                "failed to clean credentials while deleting role {name:?}: {e}"
            ))
        })?;
    req.storage.delete(&role_key(&name)).await?;
    Ok(None)
}
