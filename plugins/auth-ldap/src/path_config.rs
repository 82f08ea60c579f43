//! `config`: the LDAP servers, how to find users and groups, and the token
//! settings every login gets.

use std::sync::Arc;

use serde_json::Value;
use vault_plugin_sdk::framework::{Field, FieldData, JsonStorage, Path, token};
use vault_plugin_sdk::logical::{Error, Request, Response};

use crate::backend::LdapAuth;
use crate::config::{self, CONFIG_KEY, Config};

pub fn paths() -> Vec<Path<LdapAuth>> {
    vec![
        Path::new("config")
            .fields(schema())
            .read(read_config)
            .update(write_config)
            .help(
                "Configure the LDAP server to connect to, along with its options.",
                CONFIG_HELP,
            ),
    ]
}

/// Every field of `config`: the LDAP settings and the token settings.
pub fn schema() -> Vec<Field> {
    let mut fields = config::fields();
    fields.extend(token::fields());
    fields.extend(token::deprecated_fields());
    fields
}

async fn read_config(
    _: &LdapAuth,
    req: &Request,
    _: &FieldData,
) -> Result<Option<Response>, Error> {
    let config = match LdapAuth::stored_config(req.storage.as_ref()).await? {
        Some(config) => config,
        None => Config::defaults(&FieldData::new(Default::default(), Arc::new(schema())))?,
    };
    let mut response = Response::with_data(Value::Object(config.read_data()));
    if let Some(warning) = config.user_filter_warning() {
        response = response.warning(warning);
    }
    Ok(Some(response))
}

async fn write_config(
    backend: &LdapAuth,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let _one = backend.config_lock.lock().await;
    let stored = LdapAuth::stored_config(req.storage.as_ref()).await?;
    let had_existing = stored.is_some();
    let mut config = stored.unwrap_or_default();
    config.apply(data, had_existing)?;
    if config.case_sensitive_names.is_none() {
        config.case_sensitive_names = Some(false);
    }
    if config.use_pre111_group_cn_behavior.is_none() {
        config.use_pre111_group_cn_behavior = Some(false);
    }
    config.token.parse(data)?;
    req.storage.put_json(CONFIG_KEY, &config).await?;
    backend.invalidate(CONFIG_KEY);
    Ok(config
        .user_filter_warning()
        .map(|w| Response::default().warning(w)))
}

const CONFIG_HELP: &str = "\
This endpoint allows you to configure the LDAP server to connect to and its
configuration options.

The LDAP URL can use either the \"ldap://\" or \"ldaps://\" schema. In the former
case, an unencrypted connection will be made with a default port of 389, unless
the \"starttls\" parameter is set to true, in which case TLS will be used. In the
latter case, a SSL connection will be established with a default port of 636.

## A NOTE ON ESCAPING

It is up to the administrator to provide properly escaped DNs. This includes
the user DN, bind DN for search, and so on.

Usernames given at login are escaped wherever they are used: RFC 4515 in
search filters, RFC 4514 (plus '=' and '#' anywhere, as Active Directory
requires) when inserted into a bind DN.";
