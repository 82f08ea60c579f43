//! The suite's secret-leak check: after `cargo xtask test` has run every
//! test, no secret the tests used (noted by test-support's `evidence`) may
//! appear in any log the tests' OpenBao servers wrote, plugin logs included.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::Value;
use vault_plugin_test_support::evidence::MIN_SECRET_LEN;

/// A secret found in a log.
#[derive(Debug, PartialEq, Eq)]
pub struct Leak {
    pub field: String,
    pub log: PathBuf,
    pub line: usize,
}

pub struct Report {
    pub secrets: usize,
    pub logs: usize,
    pub bytes: u64,
    pub leaks: Vec<Leak>,
}

/// Reads the evidence in `dir` and looks for every secret in every log.
pub fn scan(dir: &Path) -> anyhow::Result<Report> {
    let mut secrets: HashMap<Vec<u8>, String> = HashMap::new();
    let mut logs = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with("secrets-") && name.ends_with(".jsonl") {
            let text = std::fs::read_to_string(&path)?;
            for line in text.lines() {
                let Ok(noted) = serde_json::from_str::<Value>(line) else {
                    continue;
                };
                if let (Some(field), Some(value)) =
                    (noted["field"].as_str(), noted["value"].as_str())
                    && value.len() >= MIN_SECRET_LEN
                {
                    secrets.insert(value.as_bytes().to_vec(), field.to_string());
                }
            }
        } else if name.ends_with(".log") {
            logs.push(path);
        }
    }
    logs.sort();

    // Every secret is at least MIN_SECRET_LEN bytes: index them by their
    // first bytes, then slide over each log once.
    let mut by_prefix: HashMap<&[u8], Vec<(&[u8], &str)>> = HashMap::new();
    for (value, field) in &secrets {
        by_prefix
            .entry(&value[..MIN_SECRET_LEN])
            .or_default()
            .push((value.as_slice(), field.as_str()));
    }
    let mut leaks = Vec::new();
    let mut bytes = 0;
    for log in &logs {
        let text = std::fs::read(log).with_context(|| format!("reading {}", log.display()))?;
        bytes += text.len() as u64;
        for (at, window) in text.windows(MIN_SECRET_LEN).enumerate() {
            let Some(candidates) = by_prefix.get(window) else {
                continue;
            };
            for (value, field) in candidates {
                if text[at..].starts_with(value) {
                    let line = 1 + text[..at].iter().filter(|b| **b == b'\n').count();
                    leaks.push(Leak {
                        field: (*field).to_string(),
                        log: log.clone(),
                        line,
                    });
                }
            }
        }
    }
    Ok(Report {
        secrets: secrets.len(),
        logs: logs.len(),
        bytes,
        leaks,
    })
}

/// Fails, naming field, log and line (never the secret), if anything leaked.
pub fn check(dir: &Path) -> anyhow::Result<()> {
    let report = scan(dir)?;
    if report.logs == 0 || report.secrets == 0 {
        bail!(
            "the secret-leak check found {} secrets and {} logs in {}: the suite recorded \
             no evidence, so the check would prove nothing",
            report.secrets,
            report.logs,
            dir.display()
        );
    }
    println!(
        "xtask: secret-leak check: {} secrets against {} OpenBao logs ({:.1} MB): {} found",
        report.secrets,
        report.logs,
        report.bytes as f64 / 1e6,
        report.leaks.len()
    );
    if !report.leaks.is_empty() {
        for leak in &report.leaks {
            eprintln!(
                "xtask: a `{}` value appears in {} line {}",
                leak.field,
                leak.log.display(),
                leak.line
            );
        }
        bail!("{} secret values were logged", report.leaks.len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).expect("write evidence");
    }

    #[test]
    fn a_secret_in_a_log_is_found_with_its_line_and_near_misses_are_not() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(
            dir.path(),
            "secrets-1.jsonl",
            "{\"field\":\"bindpass\",\"value\":\"svc-secret-42\"}\n\
             {\"field\":\"password\",\"value\":\"short\"}\n\
             {\"field\":\"jwt\",\"value\":\"eyJhbGciOi.eyJzdWIi.c2ln\"}\n",
        );
        write(
            dir.path(),
            "openbao-1-0.log",
            "start\nbinding as cn=svc with svc-secret-4 (a near miss)\nshort short\n",
        );
        write(
            dir.path(),
            "openbao-1-1.log",
            "one\ntwo\nlogin with token=eyJhbGciOi.eyJzdWIi.c2ln failed\n",
        );
        let report = scan(dir.path()).expect("scan");
        assert_eq!(report.secrets, 2, "the short one is not checked");
        assert_eq!(report.logs, 2);
        assert_eq!(
            report.leaks,
            vec![Leak {
                field: "jwt".into(),
                log: dir.path().join("openbao-1-1.log"),
                line: 3,
            }]
        );
        let err = check(dir.path()).expect_err("a leak fails the check");
        assert!(err.to_string().contains("1 secret values"), "{err}");
    }

    #[test]
    fn no_evidence_fails_rather_than_passing_vacuously() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(check(dir.path()).is_err());
        write(dir.path(), "openbao-1-0.log", "nothing secret here\n");
        write(
            dir.path(),
            "secrets-1.jsonl",
            "{\"field\":\"secret_key\",\"value\":\"wJalrXUtnFEMI\"}\n",
        );
        check(dir.path()).expect("no leak");
    }
}
