//! The plugin's state: the resolved config and the roles, cached in memory
//! and dropped when they are written here or invalidated by the host (a
//! write on another node of a cluster).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use vault_plugin_sdk::framework::JsonStorage;
use vault_plugin_sdk::logical::Error;
use vault_plugin_sdk::storage::Storage;
use vault_plugin_sdk::system_view::SystemView;

use crate::config::{CONFIG_KEY, Config, KeySource, Resolved, client};
use crate::discovery::Provider;
use crate::jose::{Algorithm, PublicKey};
use crate::jwks::RemoteKeySet;
use crate::provider::CustomProvider;
use crate::role::{ROLE_PREFIX, Role};

pub struct JwtAuth {
    pub system: Arc<dyn SystemView>,
    resolved: RwLock<Option<Arc<Resolved>>>,
    /// One resolution at a time, so a burst of logins after a config change
    /// fetches the discovery document once.
    resolving: tokio::sync::Mutex<()>,
    roles: RwLock<HashMap<String, Arc<Role>>>,
    /// Bumped whenever the config or a role changes: a value read from
    /// storage before a change must not be cached after it.
    generation: AtomicU64,
    /// OIDC logins in progress on this node.
    pub pending: crate::oidc::PendingRequests,
}

/// Why a stored config cannot be used for logins.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("keyset configuration error: {0}")]
    KeySet(String),
    #[error(transparent)]
    Storage(#[from] Error),
    #[error("error parsing public key: {0}")]
    PublicKey(String),
    #[error("failed to load custom provider config: {0}")]
    Provider(#[from] crate::provider::ProviderError),
}

impl From<ResolveError> for Error {
    fn from(err: ResolveError) -> Self {
        match err {
            ResolveError::Storage(e) => e,
            other => Error::internal(other.to_string()),
        }
    }
}

impl JwtAuth {
    pub fn new(system: Arc<dyn SystemView>) -> Self {
        JwtAuth {
            system,
            resolved: RwLock::new(None),
            resolving: tokio::sync::Mutex::new(()),
            roles: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            pending: crate::oidc::PendingRequests::default(),
        }
    }

    pub async fn stored_config(storage: &dyn Storage) -> Result<Option<Config>, Error> {
        storage.get_json::<Config>(CONFIG_KEY).await
    }

    /// The config ready for logins, built on first use after a change.
    pub async fn resolved(
        &self,
        storage: &dyn Storage,
    ) -> Result<Option<Arc<Resolved>>, ResolveError> {
        if let Some(r) = self.cached() {
            return Ok(Some(r));
        }
        let _one = self.resolving.lock().await;
        if let Some(r) = self.cached() {
            return Ok(Some(r));
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let Some(config) = storage.get_json::<Config>(CONFIG_KEY).await? else {
            return Ok(None);
        };
        let resolved = Arc::new(resolve(config).await?);
        let mut slot = self.resolved.write().unwrap_or_else(|e| e.into_inner());
        if self.generation.load(Ordering::SeqCst) == generation {
            *slot = Some(resolved.clone());
        }
        Ok(Some(resolved))
    }

    fn cached(&self) -> Option<Arc<Resolved>> {
        self.resolved
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the resolved config after a write (or drops it).
    pub fn set_resolved(&self, resolved: Option<Arc<Resolved>>) {
        let mut slot = self.resolved.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        *slot = resolved;
    }

    /// The role a request names, else `default_role` (the config's).
    pub async fn named_role(
        &self,
        storage: &dyn Storage,
        requested: String,
        default_role: &str,
    ) -> Result<(String, Arc<Role>), Error> {
        let name = if requested.is_empty() {
            default_role.to_string()
        } else {
            requested
        };
        if name.is_empty() {
            return Err(Error::invalid("missing role"));
        }
        match self.role(storage, &name).await? {
            Some(role) => Ok((name, role)),
            None => Err(Error::invalid(format!("role {name:?} could not be found"))),
        }
    }

    pub async fn role(
        &self,
        storage: &dyn Storage,
        name: &str,
    ) -> Result<Option<Arc<Role>>, Error> {
        if let Some(role) = self
            .roles
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            return Ok(Some(role.clone()));
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let Some(role) = storage
            .get_json::<Role>(&format!("{ROLE_PREFIX}{name}"))
            .await?
        else {
            return Ok(None);
        };
        let role = Arc::new(role.normalized());
        let mut roles = self.roles.write().unwrap_or_else(|e| e.into_inner());
        if self.generation.load(Ordering::SeqCst) == generation {
            roles.insert(name.to_string(), role.clone());
        }
        Ok(Some(role))
    }

    pub fn forget_role(&self, name: &str) {
        let mut roles = self.roles.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        roles.remove(name);
    }

    /// The host tells every node when a key changed elsewhere.
    pub fn invalidate(&self, key: &str) {
        if key == CONFIG_KEY {
            self.set_resolved(None);
        } else if let Some(name) = key.strip_prefix(ROLE_PREFIX) {
            self.forget_role(name);
        }
    }
}

/// Builds what logins need from a config.
pub async fn resolve(config: Config) -> Result<Resolved, ResolveError> {
    let provider = CustomProvider::from_config(&config)?;
    resolve_with(config, None, provider).await
}

/// [`resolve`] with what a config write already built while checking the
/// config: `seed` is a discovered provider or fetched key sets, so the
/// first login does not fetch again, and `provider` is the set-up
/// `provider_config`.
pub async fn resolve_with(
    config: Config,
    seed: Option<KeySource>,
    provider: Option<CustomProvider>,
) -> Result<Resolved, ResolveError> {
    let keys = match seed {
        Some(keys) => keys,
        None => key_source(&config, provider.as_ref()).await?,
    };
    let mut algorithms = config.supported_algs();
    if algorithms.is_empty() {
        algorithms = default_algorithms(&keys, provider.as_ref());
    }
    let issuer = if !config.bound_issuer.is_empty() {
        config.bound_issuer.clone()
    } else if let KeySource::Discovery(provider) = &keys {
        provider.metadata.issuer.clone()
    } else {
        String::new()
    };
    Ok(Resolved {
        config,
        keys,
        algorithms,
        issuer,
        provider,
    })
}

/// With `jwt_supported_algs` unset: what a discovered provider (or a
/// `kubernetes` API server) says it signs tokens with, else RS256 (the
/// field's documented default).
pub fn default_algorithms(keys: &KeySource, provider: Option<&CustomProvider>) -> Vec<Algorithm> {
    if let Some(CustomProvider::Kubernetes(kubernetes)) = provider {
        let advertised = kubernetes.advertised_algorithms();
        if !advertised.is_empty() {
            return advertised;
        }
    }
    if let KeySource::Discovery(provider) = keys {
        let advertised = provider.metadata.signing_algorithms();
        if !advertised.is_empty() {
            return advertised;
        }
    }
    vec![Algorithm::RS256]
}

/// The key source a config names, without fetching remote JWKS (they load
/// on first use); discovery is fetched, as the issuer and JWKS URL come
/// from it. `provider` is the config's set-up `provider_config`, which may
/// be the key source itself (`kubernetes`).
pub async fn key_source(
    config: &Config,
    provider: Option<&CustomProvider>,
) -> Result<KeySource, ResolveError> {
    if !config.jwt_validation_pubkeys.is_empty() {
        let keys = config
            .jwt_validation_pubkeys
            .iter()
            .map(|pem| parse_public_key(pem))
            .collect::<Result<Vec<_>, _>>()
            .map_err(ResolveError::PublicKey)?;
        return Ok(KeySource::Static(keys));
    }
    if !config.jwks_url.is_empty() {
        let client =
            client(&config.jwks_ca_pem, config).map_err(|e| ResolveError::KeySet(e.to_string()))?;
        return Ok(KeySource::Jwks(vec![RemoteKeySet::new(
            config.jwks_url.clone(),
            client,
        )]));
    }
    if !config.jwks_pairs.is_empty() {
        let sets = config
            .jwks_pairs
            .iter()
            .map(|pair| {
                client(&pair.jwks_ca_pem, config)
                    .map(|c| RemoteKeySet::new(pair.jwks_url.clone(), c))
                    .map_err(|e| ResolveError::KeySet(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(KeySource::Jwks(sets));
    }
    if !config.oidc_discovery_url.is_empty() {
        let client = client(&config.oidc_discovery_ca_pem, config)
            .map_err(|e| ResolveError::KeySet(e.to_string()))?;
        let provider = Provider::discover(&config.oidc_discovery_url, client)
            .await
            .map_err(|e| ResolveError::KeySet(e.to_string()))?;
        return Ok(KeySource::Discovery(Arc::new(provider)));
    }
    if let Some(CustomProvider::Kubernetes(kubernetes)) = provider {
        let set = kubernetes.key_set().await.map_err(ResolveError::KeySet)?;
        return Ok(KeySource::Jwks(vec![set]));
    }
    Err(ResolveError::KeySet("unsupported config type".into()))
}

/// One `jwt_validation_pubkeys` entry, with the reference's rules: one PEM
/// block (a public key or a certificate) per entry.
pub fn parse_public_key(pem: &str) -> Result<PublicKey, String> {
    let keys = PublicKey::all_from_pem(pem).map_err(|e| e.to_string())?;
    let mut keys = keys.into_iter();
    match (keys.next(), keys.next()) {
        (Some(key), None) => Ok(key),
        (Some(_), Some(_)) => Err("unexpected trailing data after parsed PEM block".into()),
        _ => Err("data does not contain any valid public keys".into()),
    }
}
