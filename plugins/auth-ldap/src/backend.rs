//! The plugin's state: the config and its connection pool, loaded on first
//! use and dropped when the config is written here or invalidated by the
//! host (a write on another node of a cluster).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use serde::de::DeserializeOwned;
use serde_json::Value;

use vault_plugin_sdk::framework::JsonStorage;
use vault_plugin_sdk::logical::Error;
use vault_plugin_sdk::storage::Storage;
use vault_plugin_sdk::system_view::SystemView;

use crate::config::{CONFIG_KEY, Config};
use crate::connection::Dialer;
use crate::pool::Pool;

/// A loaded config and the connections made for it.
pub struct Active {
    pub config: Arc<Config>,
    pub pool: Pool,
}

/// Cached mapping entries at most.
pub const MAX_MAPPINGS: usize = 10_000;

pub struct LdapAuth {
    pub system: Arc<dyn SystemView>,
    active: RwLock<Option<Arc<Active>>>,
    /// Bumped on every invalidation: a config read before one must not be
    /// cached after it.
    generation: AtomicU64,
    /// `group/` and `user/` entries as read from storage (`None`: absent),
    /// so a login does not pay a storage round trip per mapping.
    mappings: RwLock<HashMap<String, Option<Value>>>,
    /// Serialises config writes and root rotation.
    pub config_lock: tokio::sync::Mutex<()>,
}

impl LdapAuth {
    pub fn new(system: Arc<dyn SystemView>) -> Self {
        LdapAuth {
            system,
            active: RwLock::new(None),
            generation: AtomicU64::new(0),
            mappings: RwLock::new(HashMap::new()),
            config_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The stored config, upgraded as the reference upgrades it: a config
    /// from before case-insensitive names stays case-sensitive, and one
    /// from before Vault 1.1.1 keeps the old group CN matching.
    pub async fn stored_config(storage: &dyn Storage) -> Result<Option<Config>, Error> {
        let Some(mut config) = storage.get_json::<Config>(CONFIG_KEY).await? else {
            return Ok(None);
        };
        let mut upgraded = false;
        if config.case_sensitive_names.is_none() {
            config.case_sensitive_names = Some(true);
            upgraded = true;
        }
        if config.use_pre111_group_cn_behavior.is_none() {
            config.use_pre111_group_cn_behavior = Some(true);
            upgraded = true;
        }
        if upgraded {
            // A standby or performance secondary cannot write; the upgrade
            // then happens in memory only, as the reference skips it there.
            if let Err(e) = storage.put_json(CONFIG_KEY, &config).await {
                tracing::debug!(error = %e, "could not persist the upgraded config");
            }
        }
        Ok(Some(config))
    }

    fn cached(&self) -> Option<Arc<Active>> {
        self.active
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The config with its pool, or `None` when nothing is configured.
    pub async fn active(&self, storage: &dyn Storage) -> Result<Option<Arc<Active>>, Error> {
        if let Some(active) = self.cached() {
            return Ok(Some(active));
        }
        let generation = self.generation.load(Ordering::Acquire);
        let Some(config) = Self::stored_config(storage).await? else {
            return Ok(None);
        };
        let dialer = Dialer::new(&config, &config.url)
            .map_err(|e| Error::invalid(format!("invalid TLS settings: {e}")))?;
        let active = Arc::new(Active {
            pool: Pool::new(dialer, config.pool_size()),
            config: Arc::new(config),
        });
        let mut slot = self.active.write().unwrap_or_else(PoisonError::into_inner);
        if self.generation.load(Ordering::Acquire) != generation {
            return Ok(Some(active));
        }
        // Another login may have loaded it meanwhile; keep one pool.
        Ok(Some(Arc::clone(slot.get_or_insert(active))))
    }

    /// A `group/` or `user/` entry, from memory when it was read before.
    /// Only names that passed an LDAP bind (and their groups) are looked
    /// up at login, so the cache grows with the directory, not with
    /// guesses; it is cleared if it ever holds more than [`MAX_MAPPINGS`].
    pub async fn mapping<T: DeserializeOwned>(
        &self,
        storage: &dyn Storage,
        key: &str,
    ) -> Result<Option<T>, Error> {
        let cached = self
            .mappings
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned();
        let value = match cached {
            Some(value) => value,
            None => {
                let generation = self.generation.load(Ordering::Acquire);
                let value: Option<Value> = storage.get_json(key).await?;
                let mut map = self
                    .mappings
                    .write()
                    .unwrap_or_else(PoisonError::into_inner);
                if self.generation.load(Ordering::Acquire) == generation {
                    if map.len() >= MAX_MAPPINGS {
                        map.clear();
                    }
                    map.insert(key.to_string(), value.clone());
                }
                value
            }
        };
        value
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| Error::internal(format!("decoding {key}: {e}")))
    }

    /// Forgets what `key` held: the loaded config (closing its idle
    /// connections) or a cached mapping. Called after this node's writes
    /// and by the host for writes on other nodes.
    pub fn invalidate(&self, key: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if key == CONFIG_KEY {
            *self.active.write().unwrap_or_else(PoisonError::into_inner) = None;
            // Name case rules may have changed with the config.
            self.mappings
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
        } else {
            self.mappings
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(key);
        }
    }
}
