//! Typed JSON entries over a mount's [`Storage`]: what every backend keeps
//! (configs, roles) is a serde type stored as JSON, as Go plugins store it.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::logical::Error;
use crate::storage::{Storage, StorageEntry};

/// JSON helpers on any [`Storage`].
///
/// ```no_run
/// # async fn demo(storage: &dyn vault_plugin_sdk::storage::Storage) -> Result<(), vault_plugin_sdk::logical::Error> {
/// use vault_plugin_sdk::framework::JsonStorage;
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Role { policies: Vec<String> }
/// storage.put_json("role/web", &Role { policies: vec!["web".into()] }).await?;
/// let role: Option<Role> = storage.get_json("role/web").await?;
/// # Ok(()) }
/// ```
#[crate::async_trait]
pub trait JsonStorage {
    /// The entry at `key`, decoded; `None` when there is none.
    async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error>;
    /// Stores `value` as JSON at `key`.
    async fn put_json<T: Serialize + Sync>(&self, key: &str, value: &T) -> Result<(), Error>;
    /// Every key under `prefix`, at any depth, relative to `prefix` (Go's
    /// `logical.CollectKeysWithPrefix`, without the prefix).
    async fn list_recursive(&self, prefix: &str) -> Result<Vec<String>, Error>;
}

#[crate::async_trait]
impl<S: Storage + ?Sized> JsonStorage for S {
    async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        let Some(entry) = self.get(key).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&entry.value)
            .map(Some)
            .map_err(|e| Error::internal(format!("stored entry {key:?} cannot be decoded: {e}")))
    }

    async fn put_json<T: Serialize + Sync>(&self, key: &str, value: &T) -> Result<(), Error> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| Error::internal(format!("entry {key:?} cannot be encoded: {e}")))?;
        self.put(StorageEntry::new(key, bytes)).await?;
        Ok(())
    }

    async fn list_recursive(&self, prefix: &str) -> Result<Vec<String>, Error> {
        let mut found = Vec::new();
        let mut folders = vec![String::new()];
        while let Some(folder) = folders.pop() {
            for key in self.list(&format!("{prefix}{folder}")).await? {
                let key = format!("{folder}{key}");
                if key.ends_with('/') {
                    folders.push(key);
                } else {
                    found.push(key);
                }
            }
        }
        found.sort();
        Ok(found)
    }
}
