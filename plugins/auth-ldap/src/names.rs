//! Name rules shared by users and groups: lowercased unless the config
//! asks for case-sensitive names.

use serde::{Deserialize, Deserializer};
use vault_plugin_sdk::logical::{Error, Request};

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
