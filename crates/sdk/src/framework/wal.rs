//! The write-ahead log (Go's `framework.PutWAL` and friends): before a
//! multi-step change outside Vault (an IAM user, a rotated password), a
//! backend records how to undo it; once the change is complete it deletes
//! the entry. Entries left behind by a crash or a failure half-way are rolled
//! back by the backend's rollback handler when the host's periodic rollback
//! request finds them older than the minimum age.
//!
//! Entries use Go's storage layout (`wal/<uuid>`, JSON `type`, `data`,
//! `created_at`), so entries a Go plugin left are rolled back by ours.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::handler::Rollback;
use super::json_storage::JsonStorage;
use crate::logical::{Error, Request};
use crate::storage::Storage;

/// Where entries live in the mount's storage.
pub const WAL_PREFIX: &str = "wal/";

/// One write-ahead-log entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WalEntry {
    /// The entry's id (its storage key without the prefix); not stored.
    #[serde(skip)]
    pub id: String,
    /// What kind of change it undoes; the rollback handler dispatches on it.
    #[serde(rename = "type")]
    pub kind: String,
    pub data: Value,
    /// Unix seconds.
    pub created_at: i64,
}

fn now_unix() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// A random (version 4) UUID, as Go's `uuid.GenerateUUID` formats it.
pub(crate) fn new_uuid() -> Result<String, Error> {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| Error::internal("no random numbers available"))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

/// Records an undo step of kind `kind`; returns the entry's id, to delete
/// it once the change is complete.
pub async fn put(
    storage: &dyn Storage,
    kind: &str,
    data: &impl Serialize,
) -> Result<String, Error> {
    let data = serde_json::to_value(data)
        .map_err(|e| Error::internal(format!("write-ahead log entry cannot be encoded: {e}")))?;
    let id = new_uuid()?;
    let entry = WalEntry {
        id: id.clone(),
        kind: kind.to_string(),
        data,
        created_at: now_unix(),
    };
    storage
        .put_json(&format!("{WAL_PREFIX}{id}"), &entry)
        .await?;
    Ok(id)
}

/// The entry `id`, if it is still there.
pub async fn get(storage: &dyn Storage, id: &str) -> Result<Option<WalEntry>, Error> {
    let entry: Option<WalEntry> = storage.get_json(&format!("{WAL_PREFIX}{id}")).await?;
    Ok(entry.map(|e| WalEntry {
        id: id.to_string(),
        ..e
    }))
}

/// Deletes entry `id`: the change it guarded is complete (or undone).
pub async fn delete(storage: &dyn Storage, id: &str) -> Result<(), Error> {
    storage.delete(&format!("{WAL_PREFIX}{id}")).await?;
    Ok(())
}

/// The ids of every entry.
pub async fn list(storage: &dyn Storage) -> Result<Vec<String>, Error> {
    Ok(storage.list(WAL_PREFIX).await?)
}

/// Rolls back every entry at least `min_age` old with `undo`, deleting each
/// one it undid. An entry whose undo fails stays for the next round; the
/// others still run. Returns the failures, joined.
pub(crate) async fn roll_back<B>(
    min_age: Duration,
    undo: &Rollback<B>,
    state: &B,
    req: &Request,
) -> Result<(), Error> {
    let storage = req.storage.as_ref();
    let now = now_unix();
    let min_age = i64::try_from(min_age.as_secs()).unwrap_or(i64::MAX);
    let mut failures = Vec::new();
    for id in list(storage).await? {
        let Some(entry) = get(storage, &id).await? else {
            continue;
        };
        if now.saturating_sub(entry.created_at) < min_age {
            continue;
        }
        match undo(state, req, &entry.kind, &entry.data).await {
            Ok(()) => delete(storage, &id).await?,
            Err(err) => {
                tracing::warn!(wal_id = %id, kind = %entry.kind, error = %err, "rollback failed; will retry");
                failures.push(format!("rollback of {} entry {id}: {err}", entry.kind));
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Error::internal(failures.join("; ")))
    }
}
