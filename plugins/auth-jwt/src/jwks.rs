//! Key sets: the operator's static keys, or remote JWKS documents fetched
//! over HTTPS, cached, and refreshed when no cached key verifies a token,
//! at most once per [`REFRESH_INTERVAL`] per source, so a flood of forged
//! tokens cannot turn into a flood against the JWKS server. While a source
//! is unreachable the keys already cached keep working.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::http::{Client, HttpError};
use crate::jose::{Jwk, Jws, PublicKey};

/// The least time between two fetches of one JWKS for unknown `kid`s.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("failed to fetch keys from {url}: {source}")]
    Fetch {
        url: String,
        #[source]
        source: HttpError,
    },
    #[error("failed to decode keys from {url}: {reason}")]
    Decode { url: String, reason: String },
}

#[derive(Deserialize)]
struct JwksDocument {
    keys: Vec<serde_json::Value>,
}

/// Parses a JWKS document, keeping the signing keys this plugin can use and
/// skipping the rest (encryption keys, unknown key types), as a verifier
/// must so that an IdP adding a new key type does not break logins.
pub fn parse_jwks(body: &[u8]) -> Result<Vec<PublicKey>, String> {
    let doc: JwksDocument = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    Ok(doc
        .keys
        .into_iter()
        .filter_map(|v| serde_json::from_value::<Jwk>(v).ok())
        .filter(|jwk| jwk.use_.as_deref().is_none_or(|u| u == "sig"))
        .filter_map(|jwk| PublicKey::from_jwk(&jwk).ok())
        .collect())
}

/// One remote JWKS and its cache.
pub struct RemoteKeySet {
    url: String,
    client: Client,
    /// A file holding a bearer token to present, read for every fetch.
    bearer_file: Option<PathBuf>,
    keys: RwLock<Arc<Vec<PublicKey>>>,
    /// When the last fetch started, shared by refreshers: the lock also makes
    /// concurrent logins with the same new `kid` wait for one fetch.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
}

impl RemoteKeySet {
    pub fn new(url: String, client: Client) -> Self {
        RemoteKeySet {
            url,
            client,
            bearer_file: None,
            keys: RwLock::new(Arc::new(Vec::new())),
            last_fetch: tokio::sync::Mutex::new(None),
        }
    }

    /// A key set fetched with the token in `bearer_file` (`kubernetes`).
    pub fn with_bearer_file(url: String, client: Client, bearer_file: PathBuf) -> Self {
        RemoteKeySet {
            bearer_file: Some(bearer_file),
            ..RemoteKeySet::new(url, client)
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Fetches now, regardless of the refresh interval (used when the config
    /// is written, to check the URL, and to seed the cache).
    pub async fn fetch(&self) -> Result<usize, JwksError> {
        let mut last = self.last_fetch.lock().await;
        *last = Some(Instant::now());
        self.fetch_locked().await
    }

    async fn fetch_locked(&self) -> Result<usize, JwksError> {
        let headers = self
            .bearer_file
            .as_deref()
            .map(bearer_from_file)
            .unwrap_or_default();
        let body = self
            .client
            .get_with(&self.url, &headers)
            .await
            .map_err(|source| JwksError::Fetch {
                url: self.url.clone(),
                source,
            })?;
        let keys = parse_jwks(&body).map_err(|reason| JwksError::Decode {
            url: self.url.clone(),
            reason,
        })?;
        let count = keys.len();
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
        Ok(count)
    }

    fn snapshot(&self) -> Arc<Vec<PublicKey>> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Verifies the token's signature with a cached key. When no cached key
    /// verifies it (a new `kid`, or a key replaced under the same `kid` or
    /// for tokens without one), the JWKS is fetched again and tried once
    /// more, at most once per [`REFRESH_INTERVAL`].
    pub async fn verify(&self, jws: &Jws<'_>) -> Result<bool, JwksError> {
        let keys = self.snapshot();
        if has_candidate(&keys, jws) && verify_with(&keys, jws) {
            return Ok(true);
        }
        let generation = Arc::as_ptr(&keys) as usize;
        let mut last = self.last_fetch.lock().await;
        // Another login may have refreshed while this one waited.
        let current = self.snapshot();
        if Arc::as_ptr(&current) as usize != generation {
            return Ok(verify_with(&current, jws));
        }
        if last.is_some_and(|t| t.elapsed() < REFRESH_INTERVAL) {
            return Ok(false);
        }
        *last = Some(Instant::now());
        self.fetch_locked().await?;
        drop(last);
        Ok(verify_with(&self.snapshot(), jws))
    }
}

/// `Authorization: Bearer <the file's token>`, or no header when the file
/// cannot be read (the server then answers for itself).
pub fn bearer_from_file(path: &Path) -> Vec<(&'static str, String)> {
    match std::fs::read_to_string(path) {
        Ok(token) => vec![("authorization", format!("Bearer {}", token.trim()))],
        Err(_) => Vec::new(),
    }
}

/// Whether a cached key could verify this token: one with its `kid`, or, for
/// a token without a `kid`, any key of the right family.
fn has_candidate(keys: &[PublicKey], jws: &Jws<'_>) -> bool {
    keys.iter().any(|k| is_candidate(k, jws))
}

fn is_candidate(key: &PublicKey, jws: &Jws<'_>) -> bool {
    key.accepts(jws.alg)
        && match (&jws.kid, key.kid()) {
            (Some(want), Some(have)) => want == have,
            (Some(_), None) => true,
            (None, _) => true,
        }
}

/// Tries every candidate key.
pub fn verify_with(keys: &[PublicKey], jws: &Jws<'_>) -> bool {
    keys.iter()
        .filter(|k| is_candidate(k, jws))
        .any(|k| k.verify(jws.alg, jws.signing_input, &jws.signature))
}
