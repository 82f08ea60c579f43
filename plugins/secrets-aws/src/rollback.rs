//! The write-ahead log's undo: a `user` entry names an IAM user whose
//! creation may not have finished; rolling it back deletes the user and
//! whatever was attached to it.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use vault_plugin_sdk::framework::wal;
use vault_plugin_sdk::logical::{Error, Request};

use crate::backend::AwsBackend;
use crate::iam_user;

pub const WAL_USER: &str = "user";

/// The reference's `walUser` (Go field name, no JSON tag), plus which
/// process on which host wrote it (Go's decoder ignores the extra fields).
#[derive(Debug, Serialize, Deserialize)]
pub struct WalUser {
    #[serde(rename = "UserName")]
    pub user_name: String,
    #[serde(rename = "Host", default, skip_serializing_if = "String::is_empty")]
    pub host: String,
    #[serde(rename = "Process", default, skip_serializing_if = "String::is_empty")]
    pub process: String,
}

impl WalUser {
    pub fn new(user_name: String) -> Self {
        WalUser {
            user_name,
            host: host_name(),
            process: process_id().to_string(),
        }
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// A random id of this plugin process, so an entry can tell whether the
/// process that wrote it still runs.
fn process_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let mut b = [0u8; 12];
        if aws_lc_rs::rand::fill(&mut b).is_err() {
            return String::new();
        }
        b.iter().map(|x| format!("{x:02x}")).collect()
    })
}

/// Whether `entry` was written by an earlier plugin process on this host:
/// that process is gone (a host runs one process per mount, replaced on
/// reload or crash), so its half-made user will never be finished. Entries
/// from other hosts (a cluster's active node) are left to the minimum age.
fn orphaned(entry: &WalUser) -> bool {
    let me = process_id();
    !entry.process.is_empty()
        && !me.is_empty()
        && entry.process != me
        && !entry.host.is_empty()
        && entry.host == host_name()
}

/// Part of the periodic function: rolls back the entries a dead process of
/// this host left, and those this process's requests gave up on, without
/// waiting out the minimum age.
pub async fn roll_back_orphans(backend: &AwsBackend, req: &Request) -> Result<(), Error> {
    for id in wal::list(req.storage.as_ref()).await? {
        let Some(entry) = wal::get(req.storage.as_ref(), &id).await? else {
            continue;
        };
        if entry.kind != WAL_USER {
            continue;
        }
        let Ok(user) = serde_json::from_value::<WalUser>(entry.data.clone()) else {
            continue;
        };
        if !orphaned(&user) && !backend.is_abandoned(&id) {
            continue;
        }
        roll_back(backend, req, &entry.kind, &entry.data).await?;
        wal::delete(req.storage.as_ref(), &id).await?;
        backend.rolled_back(&id);
    }
    Ok(())
}

/// Go decodes the entry with mapstructure, which ignores the key's case.
fn user_name(data: &Value) -> Option<&str> {
    data.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("username"))
        .and_then(|(_, v)| v.as_str())
}

pub async fn roll_back(
    backend: &AwsBackend,
    req: &Request,
    kind: &str,
    data: &Value,
) -> Result<(), Error> {
    if kind != WAL_USER {
        return Err(Error::internal(format!("unknown WAL entry kind {kind:?}")));
    }
    let Some(name) = user_name(data) else {
        return Err(Error::internal("WAL entry names no user"));
    };
    let resolved = backend.resolved(req).await?;
    // Entries are at least the minimum age old, so a missing user was never
    // made (or is already gone), not merely not yet visible.
    iam_user::delete_user(&resolved.clients.iam, name, true)
        .await
        .map_err(|e| Error::internal(format!("rolling back IAM user {name:?}: {e}")))?;
    tracing::info!(user = name, "rolled back a half-made IAM user");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_entries_of_a_dead_process_on_this_host_are_orphans() {
        let mine = WalUser::new("u".into());
        assert!(!orphaned(&mine), "this process's own entry is in flight");
        let dead = WalUser {
            process: "0000".into(),
            ..WalUser::new("u".into())
        };
        assert!(orphaned(&dead));
        let elsewhere = WalUser {
            host: "another-node".into(),
            ..dead
        };
        assert!(!orphaned(&elsewhere));
        let from_go: WalUser =
            serde_json::from_value(serde_json::json!({"UserName": "u"})).expect("loads");
        assert!(!orphaned(&from_go), "Go's entries wait for the minimum age");
    }

    #[test]
    fn entries_of_either_spelling_name_the_user() {
        let go = serde_json::json!({"UserName": "vault-a"});
        let ours = serde_json::to_value(WalUser::new("vault-a".into())).expect("serialises");
        assert_eq!(ours["UserName"], "vault-a");
        assert_eq!(user_name(&go), Some("vault-a"));
        assert_eq!(user_name(&ours), Some("vault-a"));
        assert_eq!(user_name(&serde_json::json!({"username": "b"})), Some("b"));
        assert_eq!(user_name(&serde_json::json!({})), None);
    }
}
