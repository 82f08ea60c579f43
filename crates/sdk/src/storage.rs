//! The mount's storage, served by the host through the broker (Go's
//! `logical.Storage`). Keys are relative to the mount; values are opaque bytes.

use std::fmt;

use async_trait::async_trait;
use tonic::transport::Channel;

use crate::proto::pb;
use crate::transport::MAX_MESSAGE_SIZE;

/// One stored value.
#[derive(Clone, PartialEq, Eq)]
pub struct StorageEntry {
    pub key: String,
    pub value: Vec<u8>,
    /// Ask the host to seal-wrap the value (where it supports it).
    pub seal_wrap: bool,
}

impl StorageEntry {
    pub fn new(key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        StorageEntry {
            key: key.into(),
            value: value.into(),
            seal_wrap: false,
        }
    }
}

// Values are often secrets: show only their size.
impl fmt::Debug for StorageEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StorageEntry")
            .field("key", &self.key)
            .field("value_len", &self.value.len())
            .field("seal_wrap", &self.seal_wrap)
            .finish()
    }
}

/// A storage call failed, in the host or on the way there.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The host answered with an error.
    #[error("storage: {0}")]
    Host(String),
    /// The call did not reach the host, or its answer did not come back.
    #[error("storage unavailable: {0}")]
    Transport(String),
}

/// A mount's storage.
///
/// ```no_run
/// # async fn demo(storage: &dyn vault_plugin_sdk::storage::Storage) -> Result<(), vault_plugin_sdk::storage::StorageError> {
/// use vault_plugin_sdk::storage::StorageEntry;
/// storage.put(StorageEntry::new("config", b"{}".to_vec())).await?;
/// assert!(storage.get("config").await?.is_some());
/// # Ok(()) }
/// ```
#[async_trait]
pub trait Storage: Send + Sync {
    /// Lists the keys directly under `prefix`; sub-folders end in `/`.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError>;
    async fn get(&self, key: &str) -> Result<Option<StorageEntry>, StorageError>;
    async fn put(&self, entry: StorageEntry) -> Result<(), StorageError>;
    async fn delete(&self, key: &str) -> Result<(), StorageError>;
}

/// Storage reached over the broker connection the host opened for a mount.
#[derive(Clone)]
pub(crate) struct GrpcStorage {
    client: pb::storage_client::StorageClient<Channel>,
}

impl GrpcStorage {
    pub(crate) fn new(channel: Channel) -> Self {
        let client = pb::storage_client::StorageClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE);
        GrpcStorage { client }
    }
}

fn host_error(err: String) -> Result<(), StorageError> {
    if err.is_empty() {
        Ok(())
    } else {
        Err(StorageError::Host(err))
    }
}

fn transport(status: tonic::Status) -> StorageError {
    StorageError::Transport(status.message().to_string())
}

#[async_trait]
impl Storage for GrpcStorage {
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let reply = self
            .client
            .clone()
            .list(pb::StorageListArgs {
                prefix: prefix.to_string(),
                txn: String::new(),
            })
            .await
            .map_err(transport)?
            .into_inner();
        host_error(reply.err)?;
        Ok(reply.keys)
    }

    async fn get(&self, key: &str) -> Result<Option<StorageEntry>, StorageError> {
        let reply = self
            .client
            .clone()
            .get(pb::StorageGetArgs {
                key: key.to_string(),
                txn: String::new(),
            })
            .await
            .map_err(transport)?
            .into_inner();
        host_error(reply.err)?;
        Ok(reply.entry.map(|e| StorageEntry {
            key: e.key,
            value: e.value,
            seal_wrap: e.seal_wrap,
        }))
    }

    async fn put(&self, entry: StorageEntry) -> Result<(), StorageError> {
        let reply = self
            .client
            .clone()
            .put(pb::StoragePutArgs {
                entry: Some(pb::StorageEntry {
                    key: entry.key,
                    value: entry.value,
                    seal_wrap: entry.seal_wrap,
                }),
                txn: String::new(),
            })
            .await
            .map_err(transport)?
            .into_inner();
        host_error(reply.err)
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let reply = self
            .client
            .clone()
            .delete(pb::StorageDeleteArgs {
                key: key.to_string(),
                txn: String::new(),
            })
            .await
            .map_err(transport)?
            .into_inner();
        host_error(reply.err)
    }
}
