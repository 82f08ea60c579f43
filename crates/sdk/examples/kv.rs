//! A small key/value secrets engine on the SDK's protocol layer: the plugin
//! the SDK's own integration tests mount in OpenBao.
//!
//! Paths: `kv/<key>` (read, create, update, delete), `kv/` and `kv/<prefix>/`
//! (list), `config` (read, update: `max_entries`), `info` (read: what the
//! host's system view says about the mount), and `crash`, which panics on
//! purpose to show that one broken handler fails one request, not the plugin.

use std::process::ExitCode;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use vault_plugin_sdk::backend::{Backend, BackendType, Existence, factory};
use vault_plugin_sdk::logical::{Error, Map, Operation, Request, Response};
use vault_plugin_sdk::storage::{Storage, StorageEntry};
use vault_plugin_sdk::system_view::SystemView;

const ENTRY_PREFIX: &str = "entries/";
const CONFIG_KEY: &str = "config";

#[derive(Default, Serialize, Deserialize)]
struct Config {
    /// Zero means no limit.
    max_entries: u64,
}

struct KvBackend {
    system: Arc<dyn SystemView>,
}

/// A key is one or more `/`-separated segments of letters, digits, `_`, `-`, `.`.
fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        })
}

fn storage_key(key: &str) -> Result<String, Error> {
    if valid_key(key) {
        Ok(format!("{ENTRY_PREFIX}{key}"))
    } else {
        Err(Error::invalid(format!(
            "invalid key {key:?}: use letters, digits, '_', '-', '.' and '/' between segments"
        )))
    }
}

async fn load_config(storage: &dyn Storage) -> Result<Config, Error> {
    match storage.get(CONFIG_KEY).await? {
        Some(entry) => serde_json::from_slice(&entry.value)
            .map_err(|e| Error::internal(format!("stored config is corrupt: {e}"))),
        None => Ok(Config::default()),
    }
}

fn parse_max_entries(value: &Value) -> Result<u64, Error> {
    let bad = || {
        Error::invalid(format!(
            "field \"max_entries\": expected a non-negative integer, got {value}"
        ))
    };
    match value {
        Value::Number(n) => n.as_u64().ok_or_else(bad),
        Value::String(s) => s.trim().parse::<u64>().map_err(|_| bad()),
        _ => Err(bad()),
    }
}

async fn count_entries(storage: &dyn Storage, prefix: &str) -> Result<u64, Error> {
    let mut count = 0u64;
    let mut folders = vec![prefix.to_string()];
    while let Some(folder) = folders.pop() {
        for key in storage.list(&folder).await? {
            if key.ends_with('/') {
                folders.push(format!("{folder}{key}"));
            } else {
                count += 1;
            }
        }
    }
    Ok(count)
}

impl KvBackend {
    async fn info(&self) -> Result<Option<Response>, Error> {
        let host =
            |e: vault_plugin_sdk::system_view::SystemViewError| Error::internal(e.to_string());
        let default_ttl = self.system.default_lease_ttl().await.map_err(host)?;
        let max_ttl = self.system.max_lease_ttl().await.map_err(host)?;
        let local = self.system.local_mount().await.map_err(host)?;
        let env = self.system.plugin_env().await.map_err(host)?;
        Ok(Some(Response::with_data(serde_json::json!({
            "default_lease_ttl": default_ttl.as_secs(),
            "max_lease_ttl": max_ttl.as_secs(),
            "local_mount": local,
            "host_version": env.vault_version,
        }))))
    }

    async fn config(&self, req: &Request) -> Result<Option<Response>, Error> {
        match req.operation {
            Operation::Read => {
                let config = load_config(req.storage.as_ref()).await?;
                Ok(Some(Response::with_data(serde_json::json!({
                    "max_entries": config.max_entries
                }))))
            }
            Operation::Create | Operation::Update => {
                let mut config = load_config(req.storage.as_ref()).await?;
                if let Some(value) = req.data.get("max_entries") {
                    config.max_entries = parse_max_entries(value)?;
                }
                let value =
                    serde_json::to_vec(&config).map_err(|e| Error::internal(e.to_string()))?;
                req.storage
                    .put(StorageEntry::new(CONFIG_KEY, value))
                    .await?;
                tracing::info!(max_entries = config.max_entries, "config updated");
                Ok(None)
            }
            _ => Err(Error::UnsupportedOperation),
        }
    }

    async fn entry(&self, req: &Request, key: &str) -> Result<Option<Response>, Error> {
        let storage = req.storage.as_ref();
        match req.operation {
            Operation::Read => {
                let Some(entry) = storage.get(&storage_key(key)?).await? else {
                    return Ok(None);
                };
                let data: Map = serde_json::from_slice(&entry.value)
                    .map_err(|e| Error::internal(format!("stored entry is corrupt: {e}")))?;
                Ok(Some(Response {
                    data,
                    ..Response::default()
                }))
            }
            Operation::Create | Operation::Update => {
                if req.data.is_empty() {
                    return Err(Error::invalid("no data provided: write at least one field"));
                }
                let skey = storage_key(key)?;
                let config = load_config(storage).await?;
                if config.max_entries > 0
                    && storage.get(&skey).await?.is_none()
                    && count_entries(storage, ENTRY_PREFIX).await? >= config.max_entries
                {
                    return Err(Error::invalid(format!(
                        "cannot add {key:?}: the mount holds its configured max_entries ({})",
                        config.max_entries
                    )));
                }
                let value =
                    serde_json::to_vec(&req.data).map_err(|e| Error::internal(e.to_string()))?;
                storage.put(StorageEntry::new(skey, value)).await?;
                tracing::info!(key, "stored entry");
                Ok(None)
            }
            Operation::Delete => {
                let skey = storage_key(key)?;
                if storage.get(&skey).await?.is_none() {
                    tracing::warn!(key, "delete of a missing entry");
                }
                storage.delete(&skey).await?;
                Ok(None)
            }
            Operation::List => self.list(req, key).await,
            _ => Err(Error::UnsupportedOperation),
        }
    }

    async fn list(&self, req: &Request, prefix: &str) -> Result<Option<Response>, Error> {
        let prefix = prefix.trim_end_matches('/');
        let folder = if prefix.is_empty() {
            ENTRY_PREFIX.to_string()
        } else {
            format!("{}/", storage_key(prefix)?)
        };
        let keys = req.storage.list(&folder).await?;
        if keys.is_empty() {
            return Ok(None);
        }
        Ok(Some(Response::with_data(
            serde_json::json!({ "keys": keys }),
        )))
    }
}

#[vault_plugin_sdk::async_trait]
impl Backend for KvBackend {
    fn backend_type(&self) -> BackendType {
        BackendType::Secrets
    }

    async fn handle_request(&self, req: Request) -> Result<Option<Response>, Error> {
        let path = req.path.clone();
        if path == CONFIG_KEY {
            return self.config(&req).await;
        }
        if path == "info" && req.operation == Operation::Read {
            return self.info().await;
        }
        if path == "crash" {
            panic!("the crash path panics on purpose");
        }
        if path == "kv" || path == "kv/" {
            return match req.operation {
                Operation::List => self.list(&req, "").await,
                _ => Err(Error::UnsupportedOperation),
            };
        }
        if let Some(key) = path.strip_prefix("kv/") {
            return self.entry(&req, key).await;
        }
        // The host probes every path; rollback and unknown operations are
        // nothing to us.
        match req.operation {
            Operation::Rollback => Ok(None),
            _ => Err(Error::UnsupportedPath),
        }
    }

    async fn existence_check(&self, req: Request) -> Result<Existence, Error> {
        let Some(key) = req.path.strip_prefix("kv/") else {
            return Ok(Existence::NotChecked);
        };
        if key.is_empty() || key.ends_with('/') {
            return Ok(Existence::NotChecked);
        }
        let exists = req.storage.get(&storage_key(key)?).await?.is_some();
        Ok(if exists {
            Existence::Exists
        } else {
            Existence::Missing
        })
    }

    async fn cleanup(&self) {
        tracing::info!("kv backend cleanup");
    }

    async fn invalidate_key(&self, key: &str) {
        tracing::debug!(key, "invalidated");
    }
}

fn main() -> ExitCode {
    vault_plugin_sdk::serve(
        vault_plugin_sdk::PluginInfo {
            name: "vault-plugin-example-kv",
            version: env!("CARGO_PKG_VERSION"),
        },
        factory(|config| async move {
            Ok(KvBackend {
                system: config.system,
            })
        }),
    )
}
