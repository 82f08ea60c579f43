//! The mount's configuration as stored (`config`, the reference's JSON
//! names, so a config written by the Go plugin loads unchanged), and what a
//! login needs from it once resolved: parsed keys, remote key sets, the
//! discovered provider.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::discovery::Provider;
use crate::http::Client;
use crate::jose::{Algorithm, PublicKey};
use crate::jwks::RemoteKeySet;
use crate::provider::CustomProvider;

pub const CONFIG_KEY: &str = "config";

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Config {
    pub oidc_discovery_url: String,
    pub oidc_discovery_ca_pem: String,
    pub oidc_client_id: String,
    pub oidc_client_secret: String,
    pub oidc_response_mode: String,
    pub oidc_response_types: Vec<String>,
    pub jwks_url: String,
    pub jwks_ca_pem: String,
    pub jwks_pairs: Vec<JwksPair>,
    pub jwt_validation_pubkeys: Vec<String>,
    pub jwt_supported_algs: Vec<String>,
    pub bound_issuer: String,
    pub default_role: String,
    pub provider_config: Map<String, Value>,
    pub override_allowed_server_names: Vec<String>,
    pub namespace_in_state: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct JwksPair {
    pub jwks_url: String,
    pub jwks_ca_pem: String,
}

impl Config {
    /// Whether the response types include `t`; none set means `code`.
    pub fn has_response_type(&self, t: &str) -> bool {
        (self.oidc_response_types.is_empty() && t == "code")
            || self.oidc_response_types.iter().any(|x| x == t)
    }

    /// The algorithms `jwt_supported_algs` names (already validated).
    pub fn supported_algs(&self) -> Vec<Algorithm> {
        self.jwt_supported_algs
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect()
    }
}

/// Where a login's signing keys come from.
pub enum KeySource {
    Static(Vec<PublicKey>),
    /// `jwks_url`, or each of `jwks_pairs`.
    Jwks(Vec<RemoteKeySet>),
    /// `oidc_discovery_url`: the provider's JWKS and its issuer.
    Discovery(Arc<Provider>),
}

/// A config ready for logins. Built once per config version and dropped
/// when the config is written or invalidated.
pub struct Resolved {
    pub config: Config,
    pub keys: KeySource,
    /// The algorithms a token may be signed with.
    pub algorithms: Vec<Algorithm>,
    /// The issuer a token must name (`bound_issuer`, else the discovered
    /// issuer), empty for none.
    pub issuer: String,
    /// `provider_config`'s provider, set up.
    pub provider: Option<CustomProvider>,
}

impl Resolved {
    /// The separator of a groups claim sent as one string, if the
    /// configured provider sends it so.
    pub fn groups_separator(&self) -> Option<char> {
        self.provider
            .as_ref()
            .and_then(CustomProvider::groups_separator)
    }
}

/// HTTPS client trusting `ca_pem` (system roots when empty), accepting the
/// server names the operator allowed.
pub fn client(ca_pem: &str, config: &Config) -> Result<Client, crate::http::HttpError> {
    Client::new(ca_pem, &config.override_allowed_server_names)
}
