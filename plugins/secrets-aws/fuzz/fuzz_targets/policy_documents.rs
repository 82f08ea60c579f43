//! Any text as a role's `policy_document` (and as a legacy `policy/<name>`
//! entry), through `compact_json`, Go's `json.Compact`. Asserts: the text is
//! refused exactly when it is not JSON; otherwise the result is no longer
//! than the text, holds no tab or line break, compacts to itself, and means
//! the same document; a legacy entry that is not an ARN becomes that compact
//! document or is kept as invalid. Nothing panics.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::de::IgnoredAny;
use serde_json::Value;
use vault_plugin_secrets_aws::role::{compact_json, upgrade_legacy};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let compacted = compact_json(&text);
    let is_json = serde_json::from_str::<IgnoredAny>(&text).is_ok();
    assert_eq!(compacted.is_ok(), is_json, "{text:?}");

    if let Ok(out) = &compacted {
        assert!(out.len() <= text.len());
        assert_eq!(compact_json(out).as_ref().ok(), Some(out), "idempotent");
        // JSON strings cannot hold raw tabs or line breaks.
        assert!(!out.contains(['\t', '\n', '\r']), "{out:?}");
        if let Ok(value) = serde_json::from_str::<Value>(&text) {
            let again = serde_json::from_str::<Value>(out).expect("compacted JSON parses");
            assert_eq!(again, value, "same document");
        }
    }

    let role = upgrade_legacy(&text);
    if !text.starts_with("arn:") {
        match &compacted {
            Ok(out) => assert_eq!(&role.policy_document, out),
            Err(_) => assert_eq!(role.invalid_data, text),
        }
    }
});
