//! Evidence for the suite's secret-leak check: every secret the tests send
//! or receive through the fixtures, and the log of every OpenBao server the
//! tests ran (plugins log through it). `cargo xtask test` points
//! `TEST_EVIDENCE_DIR` at an empty directory, runs the suite, then fails if
//! any noted secret appears in any saved log. Without the variable (a plain
//! `cargo test`) nothing is recorded.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

/// The environment variable naming the evidence directory.
pub const DIR_VAR: &str = "TEST_EVIDENCE_DIR";

/// Request and response fields whose values are secrets, as the plugins and
/// Vault name them.
pub const SECRET_FIELDS: &[&str] = &[
    "bindpass",
    "client_secret",
    "client_tls_key",
    "current_password",
    "id_token",
    "jwt",
    "oidc_client_secret",
    "password",
    "secret_key",
    "security_token",
];

/// Shorter values are too likely to occur by chance to be checked.
pub const MIN_SECRET_LEN: usize = 8;

/// Secrets files are appended line by line; one writer per process.
static WRITER: Mutex<()> = Mutex::new(());
static LOGS_SAVED: AtomicUsize = AtomicUsize::new(0);

fn dir() -> Option<PathBuf> {
    std::env::var_os(DIR_VAR)
        .map(PathBuf::from)
        .filter(|d| !d.as_os_str().is_empty())
}

/// Records `value` as a secret named `field`.
pub fn note_secret(field: &str, value: &str) {
    let Some(dir) = dir() else {
        return;
    };
    if value.len() < MIN_SECRET_LEN {
        return;
    }
    let line = serde_json::json!({ "field": field, "value": value }).to_string();
    let _one_writer = WRITER.lock().unwrap_or_else(|e| e.into_inner());
    let path = dir.join(format!("secrets-{}.jsonl", std::process::id()));
    if let Ok(mut file) = OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(file, "{line}");
    }
}

/// Records the values of every [`SECRET_FIELDS`] key anywhere in `body`.
pub fn note_secrets_in(body: &Value) {
    if dir().is_some() {
        walk_for_secrets(body);
    }
}

fn walk_for_secrets(body: &Value) {
    match body {
        Value::Object(map) => {
            for (key, value) in map {
                match value {
                    Value::String(s) if SECRET_FIELDS.contains(&key.as_str()) => {
                        note_secret(key, s);
                    }
                    other => walk_for_secrets(other),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(walk_for_secrets),
        _ => {}
    }
}

/// Keeps a copy of a log file (`what` names its source).
pub fn save_log(what: &str, log: &Path) {
    let Some(dir) = dir() else {
        return;
    };
    let n = LOGS_SAVED.fetch_add(1, Ordering::Relaxed);
    let name = format!("{what}-{}-{n}.log", std::process::id());
    let _ = std::fs::copy(log, dir.join(name));
}
