//! Entry points for the fuzz targets in `crates/sdk/fuzz` (feature
//! `fuzzing`): what arrives from the host, decoded as the server decodes it.

use std::sync::Arc;

use prost::Message;

use crate::convert::request_from_wire;
use crate::logical::Request;
use crate::proto::pb;
use crate::storage::{Storage, StorageEntry, StorageError};

/// Storage that holds nothing.
pub struct EmptyStorage;

#[crate::async_trait]
impl Storage for EmptyStorage {
    async fn list(&self, _: &str) -> Result<Vec<String>, StorageError> {
        Ok(Vec::new())
    }
    async fn get(&self, _: &str) -> Result<Option<StorageEntry>, StorageError> {
        Ok(None)
    }
    async fn put(&self, _: StorageEntry) -> Result<(), StorageError> {
        Ok(())
    }
    async fn delete(&self, _: &str) -> Result<(), StorageError> {
        Ok(())
    }
}

/// Decodes `bytes` as a `HandleRequestArgs` message and its request as the
/// server does; `None` where the server would refuse it.
pub fn decode_request(bytes: &[u8]) -> Option<Request> {
    let args = pb::HandleRequestArgs::decode(bytes).ok()?;
    request_from_wire(args.request?, Arc::new(EmptyStorage)).ok()
}
