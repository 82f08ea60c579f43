//! Any input, as JSON or as a string, given to a field of every type: the
//! framework answers with a value or an error, never a panic.

#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use vault_plugin_sdk::framework::{Field, FieldData, FieldType, FieldValue};

const TYPES: [FieldType; 18] = [
    FieldType::String,
    FieldType::LowerCaseString,
    FieldType::NameString,
    FieldType::Int,
    FieldType::Int64,
    FieldType::Float,
    FieldType::Bool,
    FieldType::Map,
    FieldType::DurationSecond,
    FieldType::SignedDurationSecond,
    FieldType::Slice,
    FieldType::StringSlice,
    FieldType::CommaStringSlice,
    FieldType::CommaIntSlice,
    FieldType::KvPairs,
    FieldType::Header,
    FieldType::Time,
    FieldType::CidrList,
];

fuzz_target!(|data: &[u8]| {
    let value = serde_json::from_slice::<Value>(data)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(data).into_owned()));
    for kind in TYPES {
        let mut raw = serde_json::Map::new();
        raw.insert("f".into(), value.clone());
        let fields = FieldData::new(raw, Arc::new(vec![Field::new("f", kind).sensitive()]));
        let valid = fields.validate().is_ok();
        let read = fields.get::<FieldValue>("f");
        assert_eq!(valid, read.is_ok(), "validate and get agree for {kind:?}");
        let _ = fields.get::<String>("f");
        let _ = fields.get::<std::time::Duration>("f");
        let _ = fields.get::<Vec<String>>("f");
    }
});
