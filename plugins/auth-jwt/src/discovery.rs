//! OIDC discovery: the provider's metadata document, checked against the
//! URL it was fetched from, and its JWKS.

use serde::Deserialize;

use crate::http::{Client, HttpError};
use crate::jose::Algorithm;
use crate::jwks::RemoteKeySet;

/// The parts of an OpenID Provider's metadata this plugin uses.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Metadata {
    pub issuer: String,
    pub jwks_uri: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub id_token_signing_alg_values_supported: Vec<String>,
}

impl Metadata {
    /// The advertised token signing algorithms this plugin knows (empty
    /// when none is advertised).
    pub fn signing_algorithms(&self) -> Vec<Algorithm> {
        self.id_token_signing_alg_values_supported
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("{0}")]
    Http(#[from] HttpError),
    #[error("failed to decode OIDC discovery document: {0}")]
    Decode(String),
    #[error("issuer did not match the returned issuer, expected {expected:?} got {got:?}")]
    IssuerMismatch { expected: String, got: String },
    #[error("discovery document has no jwks_uri")]
    NoJwks,
}

/// A discovered provider: its metadata and its key set.
pub struct Provider {
    pub metadata: Metadata,
    pub keys: RemoteKeySet,
    pub client: Client,
}

impl Provider {
    /// Fetches `<issuer>/.well-known/openid-configuration`. As OpenID
    /// Connect Discovery 1.0 section 4.3 requires, the document's `issuer`
    /// must be exactly the URL it was fetched for.
    pub async fn discover(issuer: &str, client: Client) -> Result<Self, DiscoveryError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let body = client.get(&url).await?;
        let metadata: Metadata =
            serde_json::from_slice(&body).map_err(|e| DiscoveryError::Decode(e.to_string()))?;
        if metadata.issuer != issuer {
            return Err(DiscoveryError::IssuerMismatch {
                expected: issuer.to_string(),
                got: metadata.issuer,
            });
        }
        if metadata.jwks_uri.is_empty() {
            return Err(DiscoveryError::NoJwks);
        }
        let keys = RemoteKeySet::new(metadata.jwks_uri.clone(), client.clone());
        Ok(Provider {
            metadata,
            keys,
            client,
        })
    }
}
