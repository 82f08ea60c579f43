//! Any text as NUL-separated parts (claims JSON, bound claims JSON, a claim
//! name or JSON pointer, a glob pattern, a subject), through claim lookup,
//! the registered-claims checks, bound claims in both modes, metadata and
//! groups. Asserts: a JSON pointer built for any value in the claims finds
//! that value; a bound claim equal to a claim (or, as a glob, the claim's
//! own text) matches it; a split groups claim gives back its non-empty
//! pieces; `glob` agrees with a plain wildcard matcher, and a pattern
//! matches every text made by filling its `*`s. Nothing panics.

#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use vault_plugin_auth_jwt::claims::{
    self, Expected, extract_metadata, get_claim, go_format, groups, split_groups_claim,
    validate_bound_claims, validate_registered,
};
use vault_plugin_auth_jwt::glob::glob;

/// Pointers checked per input, so deep or wide claims stay fast.
const MAX_POINTERS: usize = 64;

/// RFC 6901: `~` first, so the `~1` made for `/` is not escaped again.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// What `get_claim` promises for a value found: null is absent, and a
/// fractional number is cut to a whole one, as the reference does.
fn as_claim(value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::Number(n) if !n.is_i64() && !n.is_u64() => Some(Value::from(
            n.as_f64().map(|f| f as i64).unwrap_or_default(),
        )),
        other => Some(other.clone()),
    }
}

/// Every value below the top level with the pointer that reaches it.
fn pointers<'a>(prefix: String, value: &'a Value, out: &mut Vec<(String, &'a Value)>) {
    if out.len() >= MAX_POINTERS {
        return;
    }
    out.push((prefix.clone(), value));
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                pointers(format!("{prefix}/{}", escape(key)), item, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                pointers(format!("{prefix}/{i}"), item, out);
            }
        }
        _ => {}
    }
}

fn is_scalar(value: &Value) -> bool {
    matches!(value, Value::String(_) | Value::Bool(_) | Value::Number(_))
}

/// The plain wildcard matcher `glob` must agree with: `*` matches any run of
/// bytes, every other byte itself.
fn wildcard(pattern: &[u8], subject: &[u8]) -> bool {
    // matched[j]: the pattern so far matches subject[..j].
    let mut matched = vec![false; subject.len() + 1];
    matched[0] = true;
    for &p in pattern {
        if p == b'*' {
            for j in 1..=subject.len() {
                matched[j] |= matched[j - 1];
            }
        } else {
            for j in (1..=subject.len()).rev() {
                matched[j] = matched[j - 1] && subject[j - 1] == p;
            }
            matched[0] = false;
        }
    }
    matched[subject.len()]
}

fn check_globs(pattern: &str, subject: &str) {
    let result = glob(pattern, subject);
    if pattern.len().saturating_mul(subject.len()) <= 1 << 20 {
        assert_eq!(
            result,
            wildcard(pattern.as_bytes(), subject.as_bytes()),
            "glob({pattern:?}, {subject:?})"
        );
    }
    if !pattern.contains('*') {
        assert_eq!(result, pattern == subject);
    }
    assert!(glob(pattern, pattern), "{pattern:?} matches itself");
    assert!(glob("*", subject));
    let mut pieces = subject.split(' ');
    let filled = pattern
        .split('*')
        .enumerate()
        .map(|(i, part)| match i {
            0 => part.to_string(),
            _ => format!("{}{part}", pieces.next().unwrap_or_default()),
        })
        .collect::<String>();
    assert!(glob(pattern, &filled), "{pattern:?} matches {filled:?}");
}

fn check_claims(claims: &Map<String, Value>, bound: &Map<String, Value>, name: &str, data: &[u8]) {
    let root = Value::Object(claims.clone());
    let mut found = Vec::new();
    pointers(String::new(), &root, &mut found);
    for (pointer, value) in found.iter().skip(1) {
        assert_eq!(get_claim(claims, pointer), as_claim(value), "{pointer:?}");
        let single = |v: &Value| Map::from_iter([(pointer.clone(), v.clone())]);
        let exact = validate_bound_claims(false, &single(value), claims);
        let comparable = match value {
            Value::Number(n) => n.is_i64() || n.is_u64(),
            Value::Array(items) => items.iter().any(is_scalar),
            other => is_scalar(other),
        };
        if comparable {
            assert_eq!(exact, Ok(()), "{pointer:?} = {value}");
        }
        if let Value::String(s) = value {
            assert_eq!(
                validate_bound_claims(true, &single(value), claims),
                Ok(()),
                "{pointer:?} = glob {s:?}"
            );
            let mut split = claims.clone();
            split_groups_claim(&mut split, pointer, ',');
            let want: Vec<String> = s
                .split(',')
                .filter(|g| !g.is_empty())
                .map(String::from)
                .collect();
            assert_eq!(groups(&split, pointer), Ok(want), "{pointer:?} split");
        }
    }
    for (key, value) in claims {
        if !key.starts_with('/') {
            assert_eq!(get_claim(claims, key), as_claim(value), "{key:?}");
        }
    }

    let _ = get_claim(claims, name);
    let _ = groups(claims, name);
    let mut split = claims.clone();
    split_groups_claim(&mut split, name, ' ');
    let _ = go_format(&Value::Object(split));
    for glob_mode in [false, true] {
        let _ = validate_bound_claims(glob_mode, bound, claims);
    }
    let mappings: HashMap<String, String> = bound
        .keys()
        .map(|k| (k.clone(), k.clone()))
        .chain([(name.to_string(), "name".to_string())])
        .collect();
    let _ = extract_metadata(claims, &mappings);

    // Leeways as a role can hold them: whole seconds of an i64 of
    // nanoseconds, or the 0 and negative special values.
    let leeway = |i: usize| {
        let raw = data.get(i).copied().unwrap_or_default();
        match raw % 4 {
            0 => 0,
            1 => -1,
            2 => i64::MAX / 1_000_000_000,
            _ => i64::from(raw),
        }
    };
    let audiences = vec!["vault".to_string(), name.to_string()];
    let expected = Expected {
        issuer: name,
        subject: "",
        audiences: &audiences,
        expiration_leeway: leeway(0),
        not_before_leeway: leeway(1),
        clock_skew_leeway: leeway(2),
    };
    let now = 1_750_000_000;
    let _ = validate_registered(claims, &expected, now);
    let _ = validate_registered(claims, &Expected::default(), now);
    let _ = claims::audiences(claims);
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let object = |part: Option<&str>| match part.map(serde_json::from_str::<Value>) {
        Some(Ok(Value::Object(map))) => map,
        Some(Ok(other)) => Map::from_iter([("v".to_string(), other)]),
        _ => Map::new(),
    };
    let claims = object(parts.next());
    let bound = object(parts.next());
    let name = parts.next().unwrap_or_default();
    let pattern = parts.next().unwrap_or_default();
    let subject = parts.next().unwrap_or_default();
    check_globs(pattern, subject);
    check_claims(&claims, &bound, name, data);
});
