//! `provider_config`: identity providers whose tokens need help before a
//! login can use them. Some send the groups as one string (`secureauth`,
//! `ibmisam`); some leave groups out of large tokens and serve them from an
//! API (`azure`, `okta`, `gsuite`), which also serves `gsuite`'s custom user
//! attributes. OpenBao's `kubernetes` is a key source of its own: the
//! cluster's API server. The names, keys and error texts are the
//! reference's (OpenBao's for `kubernetes`).

mod azure;
mod google_credentials;
mod gsuite;
mod kubernetes;
mod okta;

use std::ffi::OsString;

use serde_json::{Map, Value};

use crate::config::{Config, client};
use crate::role::Role;

pub use gsuite::GSuite;
pub use kubernetes::{Kubernetes, SERVICE_ACCOUNT_DIR_VAR};
pub use okta::Okta;

/// A configured provider, ready for logins.
pub enum CustomProvider {
    SecureAuth,
    IbmIsam,
    Azure(azure::Azure),
    Okta(Okta),
    GSuite(Box<GSuite>),
    Kubernetes(Kubernetes),
}

/// Why `provider_config` cannot be used; `Display` is the reference's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("'provider' field not found in provider_config")]
    NoProvider,
    #[error("provider {0:?} not found in custom providers")]
    Unknown(String),
    #[error("error initializing {0:?} provider_config: {1}")]
    Initialize(String, String),
}

impl CustomProvider {
    /// The provider `config.provider_config` names, checked and set up; no
    /// network call is made. `None` when no provider is configured.
    pub fn from_config(config: &Config) -> Result<Option<Self>, ProviderError> {
        if config.provider_config.is_empty() {
            return Ok(None);
        }
        let Some(Value::String(name)) = config.provider_config.get("provider") else {
            return Err(ProviderError::NoProvider);
        };
        let settings = Settings(&config.provider_config);
        let initialize = |e: String| ProviderError::Initialize(name.clone(), e);
        let http = || {
            client(&config.oidc_discovery_ca_pem, config)
                .map_err(|e| initialize(format!("unable to create CA context: {e}")))
        };
        Ok(Some(match name.as_str() {
            "secureauth" => CustomProvider::SecureAuth,
            "ibmisam" => CustomProvider::IbmIsam,
            "azure" => CustomProvider::Azure(azure::Azure::new(http()?)),
            "okta" => {
                CustomProvider::Okta(Okta::new(&settings, config, http()?).map_err(initialize)?)
            }
            "gsuite" => CustomProvider::GSuite(Box::new(
                GSuite::new(&settings, http()?).map_err(initialize)?,
            )),
            "kubernetes" => CustomProvider::Kubernetes(
                Kubernetes::new(config, &Environment::PROCESS).map_err(initialize)?,
            ),
            _ => return Err(ProviderError::Unknown(name.clone())),
        }))
    }

    /// Whether `config` names a provider that is itself the source of the
    /// signing keys (`kubernetes`), in place of the key fields.
    pub fn supplies_keys(config: &Config) -> bool {
        config.provider_config.get("provider") == Some(&Value::from("kubernetes"))
    }

    /// The `provider_config` keys a config read leaves out, by provider name.
    pub fn sensitive_keys(name: &str) -> &'static [&'static str] {
        match name {
            "gsuite" => &["gsuite_service_account"],
            "okta" => &["api_token"],
            _ => &[],
        }
    }

    /// The providers that send the groups as one string of names
    /// (`secureauth`, `ibmisam`), and the separator between them.
    pub fn groups_separator(&self) -> Option<char> {
        match self {
            CustomProvider::SecureAuth => Some(','),
            CustomProvider::IbmIsam => Some(' '),
            _ => None,
        }
    }

    /// Adds what the provider knows of the user to the claims (`gsuite`'s
    /// custom schemas), before `claim_mappings` are applied.
    pub async fn fetch_user_info(
        &self,
        claims: &mut Map<String, Value>,
        role: &Role,
    ) -> Result<(), String> {
        match self {
            CustomProvider::GSuite(g) => g.fetch_user_info(claims, role).await,
            _ => Ok(()),
        }
    }

    /// The groups claim as the provider's API has it, written back into the
    /// claims so bound claims see it too. `access_token` is the OAuth token
    /// from the OIDC flow, or `distributed_claim_access_token` of a JWT
    /// login (empty when neither came).
    pub async fn fetch_groups(
        &self,
        claims: &mut Map<String, Value>,
        role: &Role,
        access_token: &str,
    ) -> Result<(), String> {
        let groups = match self {
            CustomProvider::Azure(a) => a.fetch_groups(claims, role, access_token).await?,
            CustomProvider::Okta(o) => o.fetch_groups(claims, role).await?,
            CustomProvider::GSuite(g) => g.fetch_groups(claims, role).await?,
            // Their one-string claims are split before the identity is taken
            // (`groups_separator`).
            CustomProvider::SecureAuth | CustomProvider::IbmIsam => return Ok(()),
            CustomProvider::Kubernetes(_) => return Ok(()),
        };
        crate::claims::set_claim(claims, &role.groups_claim, groups);
        Ok(())
    }
}

/// What providers read from the process (Google's default credentials,
/// the pod a `kubernetes` server runs in): passed in so tests need neither
/// a Google VM nor a pod.
pub struct Environment {
    pub var: fn(&str) -> Option<OsString>,
    /// The firmware's product name (`/sys/class/dmi/id/product_name`).
    pub product_name: fn() -> Option<String>,
}

impl Environment {
    pub const PROCESS: Environment = Environment {
        var: |name| std::env::var_os(name),
        product_name: || std::fs::read_to_string("/sys/class/dmi/id/product_name").ok(),
    };
}

/// `provider_config` read with the reference's types: a key of the wrong
/// type is an error naming it, as mapstructure reports it.
struct Settings<'a>(&'a Map<String, Value>);

impl Settings<'_> {
    fn string(&self, key: &str) -> Result<String, String> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(wrong_type(key, "string", other)),
        }
    }

    fn bool(&self, key: &str) -> Result<bool, String> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(wrong_type(key, "bool", other)),
        }
    }

    fn int(&self, key: &str) -> Result<i64, String> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(0),
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
                .ok_or_else(|| format!("'{key}' expected type 'int', got {n}")),
            Some(other) => Err(wrong_type(key, "int", other)),
        }
    }
}

fn wrong_type(key: &str, expected: &str, got: &Value) -> String {
    let kind = match got {
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "slice",
        Value::Object(_) => "map",
        Value::Null => "nil",
    };
    format!("'{key}' expected type '{expected}', got unconvertible type '{kind}'")
}

/// The user claim (by name or JSON pointer) as a string, for provider
/// lookups; the reference's texts.
fn user_claim(claims: &Map<String, Value>, claim: &str) -> Result<String, String> {
    match crate::claims::get_claim(claims, claim) {
        None => Err(format!("unable to locate {claim:?} in claims")),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(format!("claim {claim:?} could not be converted to string")),
    }
}

/// One URL path segment, percent-encoded (RFC 3986 unreserved kept).
fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'@' => {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `scheme://host[:port]` of an absolute URL, for same-origin checks.
fn origin(url: &str) -> Option<&str> {
    let scheme_end = url.find("://")? + 3;
    let rest = &url[scheme_end..];
    let end = rest
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| scheme_end + i);
    (end > scheme_end).then(|| &url[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(provider_config: Value) -> Config {
        Config {
            provider_config: provider_config.as_object().cloned().unwrap_or_default(),
            ..Config::default()
        }
    }

    #[test]
    fn names_and_types_are_checked_with_the_reference_texts() {
        let err = |v: Value| {
            CustomProvider::from_config(&config(v))
                .err()
                .map(|e| e.to_string())
        };
        assert_eq!(
            err(json!({"x": 1})).as_deref(),
            Some("'provider' field not found in provider_config")
        );
        assert_eq!(
            err(json!({"provider": "nope"})).as_deref(),
            Some("provider \"nope\" not found in custom providers")
        );
        assert_eq!(
            err(json!({"provider": "okta", "fetch_groups": "yes"})).as_deref(),
            Some(
                "error initializing \"okta\" provider_config: 'fetch_groups' expected type \
                 'bool', got unconvertible type 'string'"
            )
        );
        assert!(
            CustomProvider::from_config(&config(json!({})))
                .expect("no provider is fine")
                .is_none()
        );
        assert!(matches!(
            CustomProvider::from_config(&config(json!({"provider": "ibmisam"}))),
            Ok(Some(CustomProvider::IbmIsam))
        ));
    }

    #[test]
    fn path_segments_and_origins() {
        assert_eq!(path_segment("a b/c@d.e"), "a%20b%2Fc@d.e");
        assert_eq!(
            origin("https://h.example:8443/a?b"),
            Some("https://h.example:8443")
        );
        assert_eq!(origin("https://h.example"), Some("https://h.example"));
        assert_eq!(origin("https:///x"), None);
        assert_eq!(origin("h.example/x"), None);
    }
}
