//! `config/rotate-root`: gives the service account (`binddn`) a new random
//! password, on the directory first and then in the config.

use vault_plugin_sdk::framework::{FieldData, JsonStorage, Path};
use vault_plugin_sdk::logical::{Error, Request, Response};

use crate::backend::LdapAuth;
use crate::config::CONFIG_KEY;
use crate::connection::{Dialer, Identity};

/// The reference's generated length when no password policy is set.
const PASSWORD_LENGTH: usize = 64;

pub fn paths() -> Vec<Path<LdapAuth>> {
    vec![Path::new("config/rotate-root").update(rotate_root).help(
        "Request to rotate the LDAP credentials used by Vault",
        "This path attempts to rotate the LDAP bindpass used by Vault for this mount.",
    )]
}

fn random_password() -> Result<String, Error> {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(PASSWORD_LENGTH);
    let mut byte = [0u8; 1];
    while out.len() < PASSWORD_LENGTH {
        aws_lc_rs::rand::fill(&mut byte).map_err(|_| Error::internal("no randomness"))?;
        // 248 = 4 * 62: rejecting the rest keeps every character equally likely.
        if byte[0] < 248 {
            out.push(char::from(ALPHABET[usize::from(byte[0] % 62)]));
        }
    }
    Ok(out)
}

/// The attribute and value that set a password in each directory schema.
fn password_change(
    schema: &str,
    credential_type: &str,
    password: &str,
) -> (&'static [u8], Vec<u8>) {
    match schema {
        // Active Directory wants the quoted password in UTF-16LE.
        "ad" => (
            b"unicodePwd",
            format!("\"{password}\"")
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect(),
        ),
        "racf" if credential_type == "phrase" => (b"racfPassPhrase", password.as_bytes().to_vec()),
        "racf" => (b"racfPassword", password.as_bytes().to_vec()),
        _ => (b"userPassword", password.as_bytes().to_vec()),
    }
}

async fn rotate_root(
    backend: &LdapAuth,
    req: &Request,
    _: &FieldData,
) -> Result<Option<Response>, Error> {
    let _one = backend.config_lock.lock().await;
    let Some(mut config) = LdapAuth::stored_config(req.storage.as_ref()).await? else {
        return Err(Error::invalid(
            "attempted to rotate root on an undefined config",
        ));
    };
    if config.binddn.is_empty() || config.bindpass.is_empty() {
        return Err(Error::invalid(
            "auth is not using authenticated search, no root to rotate",
        ));
    }
    let urls = if config.rotation_url.is_empty() {
        config.url.clone()
    } else {
        config.rotation_url.clone()
    };
    let dialer = Dialer::new(&config, &urls).map_err(|e| Error::internal(e.to_string()))?;
    let mut conn = dialer
        .dial()
        .await
        .map_err(|e| Error::internal(e.to_string()))?;
    conn.bind(&config.binddn, &config.bindpass, Identity::Service)
        .await
        .map_err(|e| Error::internal(e.to_string()))?;
    let password = if config.password_policy.is_empty() {
        random_password()?
    } else {
        backend
            .system
            .generate_password_from_policy(&config.password_policy)
            .await
            .map_err(|e| Error::internal(e.to_string()))?
    };
    let (attr, value) = password_change(
        &config.rotation_schema,
        &config.rotation_credential_type,
        &password,
    );
    conn.replace(&config.binddn, attr, value)
        .await
        .map_err(|e| Error::internal(e.to_string()))?;
    config.bindpass = password;
    // The directory already has the new password: if this write fails the
    // error says so, since the old password no longer works.
    req.storage
        .put_json(CONFIG_KEY, &config)
        .await
        .map_err(|e| {
            Error::internal(format!(
                "the bind password was changed on the LDAP server but could not be stored: {e}"
            ))
        })?;
    backend.invalidate(CONFIG_KEY);
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_passwords_are_long_and_alphanumeric() {
        let a = random_password().ok().unwrap_or_default();
        let b = random_password().ok().unwrap_or_default();
        assert_eq!(a.len(), PASSWORD_LENGTH);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn active_directory_passwords_are_quoted_utf16() {
        let (attr, value) = password_change("ad", "password", "Pw1");
        assert_eq!(attr, b"unicodePwd");
        assert_eq!(value, b"\"\0P\0w\x001\0\"\0");
        assert_eq!(
            password_change("openldap", "password", "x").0,
            b"userPassword"
        );
        assert_eq!(password_change("racf", "phrase", "x").0, b"racfPassPhrase");
    }
}
