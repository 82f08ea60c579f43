//! Name rules shared by users and groups: lowercased unless the config
//! asks for case-sensitive names.

use serde::{Deserialize, Deserializer};
use serde_json::json;
use vault_plugin_sdk::framework::FieldData;
use vault_plugin_sdk::logical::{Error, Request, Response};

use crate::backend::LdapAuth;

/// Whether names compare without case: the config's setting, or the
/// default (insensitive) when nothing is configured.
pub async fn case_insensitive(req: &Request) -> Result<bool, Error> {
    Ok(LdapAuth::stored_config(req.storage.as_ref())
        .await?
        .is_none_or(|c| c.case_insensitive()))
}

/// `name` as it is stored: lowercased when names are case-insensitive.
pub async fn canonical_name(req: &Request, name: &str) -> Result<String, Error> {
    Ok(if case_insensitive(req).await? {
        name.to_lowercase()
    } else {
        name.to_string()
    })
}

/// Go writes a nil slice as `null`.
pub fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// Lists the names stored under `prefix` (`group/` or `user/`).
pub async fn list_names(req: &Request, prefix: &str) -> Result<Option<Response>, Error> {
    let keys = req.storage.list(prefix).await?;
    Ok(Some(Response::with_data(json!({ "keys": keys }))))
}

/// Deletes the entry the request's `name` points at under `prefix`.
///
/// Unlike the reference (which deletes the name exactly as given, so
/// `groups/Devs` could not delete the stored `devs`), the name is
/// canonicalised as on write.
pub async fn delete_named(
    backend: &LdapAuth,
    req: &Request,
    data: &FieldData,
    prefix: &str,
) -> Result<Option<Response>, Error> {
    let name = canonical_name(req, &data.get::<String>("name")?).await?;
    let key = format!("{prefix}{name}");
    req.storage.delete(&key).await?;
    backend.invalidate(&key);
    Ok(None)
}
