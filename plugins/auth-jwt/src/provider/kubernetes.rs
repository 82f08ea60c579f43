//! `kubernetes` (OpenBao's provider): verifies the service account tokens
//! of the cluster the server runs in. The signing keys come from the API
//! server's OIDC discovery, reached at `KUBERNETES_SERVICE_HOST` and
//! `KUBERNETES_SERVICE_PORT`, trusting the pod's CA and presenting the pod's
//! own service account token (the API server does not serve its keys
//! anonymously by default). The token is read again for every fetch, as
//! the kubelet rotates it.
//!
//! The discovered issuer is not enforced: the API server is reached by its
//! service address, which is not the issuer its tokens name. `bound_issuer`
//! is what pins it.

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use super::Environment;
use crate::config::{Config, client};
use crate::discovery::Metadata;
use crate::http::{Client, HttpError};
use crate::jose::Algorithm;
use crate::jwks::{RemoteKeySet, bearer_from_file};

/// Where the kubelet mounts the pod's service account.
const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// Ours: another directory holding `token` and `ca.crt` (a server run
/// outside a pod with a projected token, and the tests).
pub const SERVICE_ACCOUNT_DIR_VAR: &str = "VAULT_AUTH_JWT_K8S_SERVICE_ACCOUNT_DIR";

pub struct Kubernetes {
    /// `https://host:port` of the API server.
    api_server: String,
    token_path: PathBuf,
    http: Client,
    /// What the last discovery said tokens are signed with.
    advertised: Mutex<Vec<Algorithm>>,
}

impl Kubernetes {
    /// Checks the config and the pod as OpenBao does, with its texts.
    pub(super) fn new(config: &Config, env: &Environment) -> Result<Self, String> {
        for (value, key) in [
            (&config.oidc_discovery_url, "oidc_discovery_url"),
            (&config.oidc_discovery_ca_pem, "oidc_discovery_ca_pem"),
            (&config.jwks_url, "jwks_url"),
            (&config.jwks_ca_pem, "jwks_ca_pem"),
        ] {
            if !value.is_empty() {
                return Err(format!(
                    "{key} must not be set when using the kubernetes provider"
                ));
            }
        }
        let dir = (env.var)(SERVICE_ACCOUNT_DIR_VAR)
            .filter(|d| !d.is_empty())
            .map_or_else(|| PathBuf::from(SERVICE_ACCOUNT_DIR), PathBuf::from);
        let token_path = dir.join("token");
        std::fs::read(&token_path)
            .map_err(|e| format!("error reading service account token file: {e}"))?;
        let ca_pem = std::fs::read_to_string(dir.join("ca.crt"))
            .map_err(|e| format!("error reading CA certificate file: {e}"))?;
        let var = |name| {
            (env.var)(name)
                .and_then(|v| v.into_string().ok())
                .unwrap_or_default()
        };
        let (host, port) = (
            var("KUBERNETES_SERVICE_HOST"),
            var("KUBERNETES_SERVICE_PORT"),
        );
        if host.is_empty() || port.is_empty() {
            return Err(
                "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT environment \
                        variables must be set when using the kubernetes provider"
                    .into(),
            );
        }
        // As Go's net.JoinHostPort: an IPv6 address is bracketed.
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host
        };
        let http = client(&ca_pem, config)
            .map_err(|e| format!("error reading CA certificate file: {e}"))?;
        Ok(Kubernetes {
            api_server: format!("https://{host}:{port}"),
            token_path,
            http,
            advertised: Mutex::new(Vec::new()),
        })
    }

    /// The API server's key set, found through its discovery document.
    pub async fn key_set(&self) -> Result<RemoteKeySet, String> {
        let url = format!("{}/.well-known/openid-configuration", self.api_server);
        let body = self
            .http
            .get_with(&url, &bearer_from_file(&self.token_path))
            .await
            .map_err(|e| match e {
                HttpError::Status {
                    status,
                    reason,
                    body,
                } => format!("{status} {reason}: {body}"),
                other => other.to_string(),
            })?;
        let discovery: Metadata = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        if discovery.jwks_uri.is_empty() {
            return Err("jwks_uri not found in OIDC discovery document".into());
        }
        *self
            .advertised
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = discovery.signing_algorithms();
        Ok(RemoteKeySet::with_bearer_file(
            discovery.jwks_uri,
            self.http.clone(),
            self.token_path.clone(),
        ))
    }

    /// The algorithms the API server's discovery advertised (RS256 unless
    /// the cluster's issuer key is another kind), empty before a discovery.
    pub fn advertised_algorithms(&self) -> Vec<Algorithm> {
        self.advertised
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(config: &Config, env: &Environment) -> Result<(), String> {
        Kubernetes::new(config, env).map(|_| ())
    }

    #[test]
    fn key_source_fields_are_refused_with_openbaos_texts() {
        for key in [
            "oidc_discovery_url",
            "oidc_discovery_ca_pem",
            "jwks_url",
            "jwks_ca_pem",
        ] {
            let mut config = Config::default();
            let field = match key {
                "oidc_discovery_url" => &mut config.oidc_discovery_url,
                "oidc_discovery_ca_pem" => &mut config.oidc_discovery_ca_pem,
                "jwks_url" => &mut config.jwks_url,
                _ => &mut config.jwks_ca_pem,
            };
            *field = "x".into();
            assert_eq!(
                check(&config, &Environment::PROCESS),
                Err(format!(
                    "{key} must not be set when using the kubernetes provider"
                ))
            );
        }
    }

    #[test]
    fn the_pod_is_checked_before_any_call() {
        let nowhere = Environment {
            var: |name| (name == SERVICE_ACCOUNT_DIR_VAR).then(|| "/nonexistent/sa".into()),
            product_name: || None,
        };
        assert!(
            check(&Config::default(), &nowhere)
                .is_err_and(|e| e.starts_with("error reading service account token file: "))
        );
    }
}
