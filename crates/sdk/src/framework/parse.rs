//! Input conversion, rule for rule as Vault's framework converts request
//! data (Go's weakly typed decoding, `parseutil` and `field_data.go`), with
//! its error texts, so clients see the same answers from our plugins.
//!
//! Each converter returns the message Vault gives after
//! `error converting input for field "<name>": ` (OpenBao's wording;
//! Vault also echoes the input, which may be a secret).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::field::FieldType;
use super::field_data::FieldValue;
use crate::logical::Map;

/// The most entries a list or map field takes. Vault has no such limit, but
/// its integrated storage refuses entries over 1 MiB, which a config with
/// lists this long would pass; refusing them when they arrive is a clear
/// 400 instead of a storage error, and caps what one request can make a
/// plugin hold.
pub const MAX_ENTRIES: usize = 10_000;

/// Converts `value` for a field of type `kind`. `Ok(None)`: the input counts
/// as not given (JSON `null` for durations and times, as in Vault).
pub(crate) fn convert(kind: FieldType, value: &Value) -> Result<Option<FieldValue>, String> {
    let converted = convert_unbounded(kind, value)?;
    if let Some(entries) = converted.as_ref().and_then(FieldValue::entries)
        && entries > MAX_ENTRIES
    {
        return Err(format!(
            "{entries} entries are more than the limit of {MAX_ENTRIES}"
        ));
    }
    Ok(converted)
}

fn convert_unbounded(kind: FieldType, value: &Value) -> Result<Option<FieldValue>, String> {
    Ok(Some(match kind {
        FieldType::String => FieldValue::String(weak_string(value, "''")?),
        FieldType::LowerCaseString => FieldValue::String(weak_string(value, "''")?.to_lowercase()),
        FieldType::NameString => {
            let name = weak_string(value, "''")?;
            if !is_name(&name) {
                return Err("field does not match the formatting rules".into());
            }
            FieldValue::String(name)
        }
        FieldType::Int => FieldValue::Int(weak_int(value, "''", "int")?),
        FieldType::Int64 => FieldValue::Int(weak_int(value, "''", "int64")?),
        FieldType::Float => FieldValue::Float(weak_float(value)?),
        FieldType::Bool => FieldValue::Bool(weak_bool(value)?),
        FieldType::Map => FieldValue::Map(weak_map(value)?),
        FieldType::DurationSecond | FieldType::SignedDurationSecond => {
            if value.is_null() {
                return Ok(None);
            }
            let secs = duration_seconds(value)?;
            if secs < 0 && kind == FieldType::DurationSecond {
                return Err(format!("cannot provide negative value '{secs}'"));
            }
            FieldValue::Duration(secs)
        }
        FieldType::Time => {
            if value.is_null() {
                return Ok(None);
            }
            FieldValue::Time(absolute_time(value)?)
        }
        FieldType::Slice => FieldValue::List(match value {
            Value::Array(items) => items.clone(),
            Value::Null => Vec::new(),
            Value::Object(map) if map.is_empty() => Vec::new(),
            other => vec![other.clone()],
        }),
        FieldType::StringSlice => FieldValue::Strings(string_slice(value)?),
        FieldType::CommaStringSlice => FieldValue::Strings(comma_string_slice(value)?),
        FieldType::CidrList => {
            let items = comma_string_slice(value)?;
            for item in &items {
                check_address(item)?;
            }
            FieldValue::Strings(items)
        }
        FieldType::CommaIntSlice => FieldValue::Ints(comma_int_slice(value)?),
        FieldType::KvPairs => FieldValue::Pairs(kv_pairs(value)?),
        FieldType::Header => FieldValue::Header(header(value)?),
    }))
}

/// Go's `%v` of a decoded JSON value, as Vault's error texts print input.
pub(crate) fn go_display(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(go_display).collect();
            format!("[{}]", inner.join(" "))
        }
        Value::Object(map) => {
            let mut keys: Vec<_> = map.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", go_display(&map[k.as_str()])))
                .collect();
            format!("map[{}]", inner.join(" "))
        }
    }
}

/// The Go type a decoded JSON value has, as mapstructure's errors name it.
fn go_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "json.Number",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn go_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "invalid",
        Value::Bool(_) => "bool",
        Value::Number(_) | Value::String(_) => "string",
        Value::Array(_) => "slice",
        Value::Object(_) => "map",
    }
}

fn unconvertible(name: &str, want: &str, value: &Value) -> String {
    format!(
        "{name} expected type '{want}', got unconvertible type '{}', value: '{}'",
        go_type(value),
        go_display(value)
    )
}

/// mapstructure's summary of errors inside a list or map.
fn decoding_errors(mut errors: Vec<String>) -> String {
    errors.sort();
    let lines: Vec<String> = errors.iter().map(|e| format!("* {e}")).collect();
    format!(
        "{} error(s) decoding:\n\n{}",
        errors.len(),
        lines.join("\n")
    )
}

fn number_text(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

pub(crate) fn weak_string(value: &Value, name: &str) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(if *b { "1" } else { "0" }.into()),
        Value::Null => Ok(String::new()),
        other => Err(unconvertible(name, "string", other)),
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`: base from the prefix (`0x`, `0o`,
/// `0b`, a leading `0` for octal), `_` between digits.
fn parse_go_int(text: &str) -> Result<i64, String> {
    let syntax = || format!("strconv.ParseInt: parsing {text:?}: invalid syntax");
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d, true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d, true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d, true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..], true)
    } else {
        (10, lower.as_str(), false)
    };
    if digits.contains('_') {
        // Underscores only between digits, and only where Go allows them.
        let bad = digits.starts_with('_') || digits.ends_with('_') || digits.contains("__");
        if bad || (!prefixed && radix != 10) {
            return Err(syntax());
        }
    }
    let cleaned: String = digits.chars().filter(|c| *c != '_').collect();
    if cleaned.is_empty() || !cleaned.chars().all(|c| c.is_digit(radix)) {
        return Err(syntax());
    }
    let magnitude = u64::from_str_radix(&cleaned, radix)
        .map_err(|_| format!("strconv.ParseInt: parsing {text:?}: value out of range"))?;
    let value = if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    };
    value.ok_or_else(|| format!("strconv.ParseInt: parsing {text:?}: value out of range"))
}

fn weak_int(value: &Value, name: &str, want: &str) -> Result<i64, String> {
    match value {
        Value::Null => Ok(0),
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::Number(_) | Value::String(_) => {
            let text = number_text(value).unwrap_or_default();
            if text.is_empty() {
                return Ok(0);
            }
            parse_go_int(&text).map_err(|e| format!("cannot parse {name} as {want}: {e}"))
        }
        other => Err(unconvertible(name, want, other)),
    }
}

fn weak_float(value: &Value) -> Result<f64, String> {
    match value {
        Value::Null => Ok(0.0),
        Value::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
        Value::Number(n) => n.as_f64().ok_or_else(|| {
            format!("cannot parse '' as float: strconv.ParseFloat: parsing \"{n}\": invalid syntax")
        }),
        Value::String(s) if s.is_empty() => Ok(0.0),
        Value::String(s) => s.parse::<f64>().map_err(|_| {
            format!("cannot parse '' as float: strconv.ParseFloat: parsing {s:?}: invalid syntax")
        }),
        other => Err(unconvertible("''", "float64", other)),
    }
}

fn weak_bool(value: &Value) -> Result<bool, String> {
    let parse = |s: &str| match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        other => Err(format!(
            "cannot parse '' as bool: strconv.ParseBool: parsing {other:?}: invalid syntax"
        )),
    };
    match value {
        Value::Null => Ok(false),
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.is_empty() => Ok(false),
        Value::String(s) => parse(s),
        Value::Number(n) => parse(&n.to_string()),
        other => Err(unconvertible("''", "bool", other)),
    }
}

fn weak_map(value: &Value) -> Result<Map, String> {
    match value {
        Value::Object(map) => Ok(map.clone()),
        Value::Null => Ok(Map::new()),
        // A list of objects decodes weakly into one merged object.
        Value::Array(items) => {
            let mut merged = Map::new();
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::Object(map) => merged.extend(map.clone()),
                    other => {
                        return Err(format!("'[{i}]' expected a map, got '{}'", go_kind(other)));
                    }
                }
            }
            Ok(merged)
        }
        other => Err(format!("'' expected a map, got '{}'", go_kind(other))),
    }
}

fn is_name(name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let bytes: Vec<char> = name.chars().collect();
    match bytes.as_slice() {
        [] => false,
        [only] => word(*only),
        [first, middle @ .., last] => {
            word(*first) && word(*last) && middle.iter().all(|c| word(*c) || *c == '-' || *c == '.')
        }
    }
}

/// Go's `time.ParseDuration`, in nanoseconds.
fn go_duration_nanos(text: &str) -> Result<f64, String> {
    let invalid = || format!("time: invalid duration {text:?}");
    let (sign, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (-1.0, &text[1..]),
        Some(b'+') => (1.0, &text[1..]),
        _ => (1.0, text),
    };
    if rest == "0" {
        return Ok(0.0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale = match unit {
            "" => return Err(format!("time: missing unit in duration {text:?}")),
            "ns" => 1.0,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            other => return Err(format!("time: unknown unit {other:?} in duration {text:?}")),
        };
        total += value * scale;
    }
    if total > i64::MAX as f64 {
        return Err(invalid());
    }
    Ok(sign * total)
}

/// Go's `parseutil.ParseDurationSecond`, as whole seconds (truncated).
pub(crate) fn duration_seconds(value: &Value) -> Result<i64, String> {
    let text = match value {
        Value::Null => return Ok(0),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return Err("could not parse duration from input".into()),
    };
    if text.is_empty() {
        return Ok(0);
    }
    if let Ok(secs) = text.parse::<i64>() {
        return Ok(secs);
    }
    if let Some(days) = text.strip_suffix('d') {
        let days: i64 = days
            .parse()
            .map_err(|_| format!("strconv.ParseInt: parsing {days:?}: invalid syntax"))?;
        return days.checked_mul(86_400).ok_or_else(|| {
            "multiplication of durations resulted in overflow, one operand may be too large".into()
        });
    }
    let nanos = go_duration_nanos(&text)?;
    Ok((nanos / 1e9).trunc() as i64)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// RFC 3339 with optional fractional seconds, as Unix seconds and nanos.
fn rfc3339(text: &str) -> Option<(i64, u32)> {
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(range)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut rest = &text[19..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let len = frac
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(frac.len());
        if len == 0 || len > 9 {
            return None;
        }
        nanos = frac[..len].parse::<u32>().ok()? * 10u32.pow(9 - u32::try_from(len).ok()?);
        rest = &frac[len..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && rest.as_bytes()[3] == b':' => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let h: i64 = rest[1..3].parse().ok()?;
            let m: i64 = rest[4..6].parse().ok()?;
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    let secs =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some((secs, nanos))
}

fn unix_time(secs: i64, nanos: u32) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::new(secs.unsigned_abs(), nanos)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
            + Duration::from_nanos(u64::from(nanos))
    }
}

/// Go's `parseutil.ParseAbsoluteTime`: RFC 3339, or Unix seconds.
fn absolute_time(value: &Value) -> Result<SystemTime, String> {
    match value {
        Value::String(s) => {
            if let Some((secs, nanos)) = rfc3339(s) {
                return Ok(unix_time(secs, nanos));
            }
            s.parse::<i64>()
                .map(|secs| unix_time(secs, 0))
                .map_err(|_| "could not parse string as date and time".into())
        }
        Value::Number(n) => n
            .as_i64()
            .map(|secs| unix_time(secs, 0))
            .ok_or_else(|| format!("strconv.ParseInt: parsing \"{n}\": invalid syntax")),
        _ => Err("could not parse time from input type".into()),
    }
}

/// Weakly decodes each item of a list (or a lone value) to a string.
fn strings_of(value: &Value) -> Result<Vec<String>, String> {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        Value::Object(map) if map.is_empty() => Vec::new(),
        other => vec![other],
    };
    let mut errors = Vec::new();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match weak_string(item, &format!("'[{i}]'")) {
            Ok(s) => out.push(s),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(decoding_errors(errors))
    }
}

fn string_slice(value: &Value) -> Result<Vec<String>, String> {
    if value.as_str() == Some("") {
        return Ok(Vec::new());
    }
    Ok(strings_of(value)?
        .into_iter()
        .map(|s| s.trim().to_string())
        .collect())
}

fn comma_string_slice(value: &Value) -> Result<Vec<String>, String> {
    let items = match value {
        Value::String(s) if s.is_empty() => return Ok(Vec::new()),
        Value::String(s) => s.split(',').map(str::to_string).collect(),
        Value::Number(n) => vec![n.to_string()],
        other => strings_of(other)?,
    };
    Ok(items.into_iter().map(|s| s.trim().to_string()).collect())
}

fn comma_int_slice(value: &Value) -> Result<Vec<i64>, String> {
    let items: Vec<Value> = match value {
        Value::String(s) if s.is_empty() => return Ok(Vec::new()),
        Value::String(s) => s.split(',').map(|p| Value::String(p.to_string())).collect(),
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    };
    let mut errors = Vec::new();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match weak_int(item, &format!("'[{i}]'"), "int") {
            Ok(n) => out.push(n),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(decoding_errors(errors))
    }
}

fn kv_pairs(value: &Value) -> Result<BTreeMap<String, String>, String> {
    if let Value::Object(map) = value
        && map.values().all(|v| !v.is_array() && !v.is_object())
    {
        return map
            .iter()
            .map(|(k, v)| Ok((k.clone(), weak_string(v, "''")?)))
            .collect();
    }
    if value.is_null() || value.as_array().is_some_and(Vec::is_empty) {
        return Ok(BTreeMap::new());
    }
    let mut pairs = BTreeMap::new();
    for item in strings_of(value)? {
        match item.split_once('=') {
            Some((key, val)) if !key.is_empty() => {
                pairs.insert(key.to_string(), val.to_string());
            }
            _ => return Err(format!("invalid key pair {item:?}")),
        }
    }
    Ok(pairs)
}

/// Go's `http.CanonicalHeaderKey`: `content-type` -> `Content-Type`; keys
/// with characters outside a header token are kept as they are.
fn canonical_header_key(key: &str) -> String {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if !key.chars().all(token) {
        return key.to_string();
    }
    let mut upper = true;
    key.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

fn header_from_map(map: &Map) -> Result<BTreeMap<String, Vec<String>>, String> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, value) in map {
        let values = out.entry(canonical_header_key(key)).or_default();
        match value {
            Value::String(s) => values.push(s.clone()),
            Value::Number(n) => values.push(n.to_string()),
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::String(s) => values.push(s.clone()),
                        Value::Number(n) => values.push(n.to_string()),
                        _ => {
                            return Err(format!(
                                "received non-string value for header key:{key}, val:{}",
                                go_display(value)
                            ));
                        }
                    }
                }
            }
            other => return Err(format!("unrecognized type for {}", go_display(other))),
        }
    }
    Ok(out)
}

fn header(value: &Value) -> Result<BTreeMap<String, Vec<String>>, String> {
    use base64::Engine;
    match value {
        Value::Object(map) => header_from_map(map),
        Value::Null => Ok(BTreeMap::new()),
        Value::Array(items) if items.is_empty() => Ok(BTreeMap::new()),
        Value::String(s) => {
            if s.is_empty() {
                return Err("'data' being decoded is nil".into());
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s)
                .unwrap_or_else(|_| s.as_bytes().to_vec());
            let map: Map = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
            header_from_map(&map)
        }
        other => {
            let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
            let items = match other {
                Value::Array(items) => items.clone(),
                single => vec![single.clone()],
            };
            for item in items {
                let text = item.as_str().unwrap_or_default();
                match text.split_once(':') {
                    Some((key, val)) if !key.is_empty() => out
                        .entry(canonical_header_key(key))
                        .or_default()
                        .push(val.to_string()),
                    _ => return Err(format!("invalid key pair {text:?}")),
                }
            }
            Ok(out)
        }
    }
}

/// An IP address or CIDR block, as Go's `sockaddr` accepts it for bound CIDRs.
pub(crate) fn check_address(item: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "error parsing address {item:?}: Unable to convert {item:?} to an IPv4 or IPv6 address, or a UNIX Socket"
        )
    };
    let (addr, prefix) = match item.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (item, None),
    };
    let ip: std::net::IpAddr = addr.parse().map_err(|_| bad())?;
    if let Some(prefix) = prefix {
        let max = if ip.is_ipv4() { 32 } else { 128 };
        match prefix.parse::<u8>() {
            Ok(bits) if bits <= max && !prefix.starts_with('+') => {}
            _ => return Err(bad()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(kind: FieldType, input: Value) -> FieldValue {
        convert(kind, &input)
            .unwrap_or_else(|e| panic!("{kind:?} {input}: {e}"))
            .unwrap_or_else(|| panic!("{kind:?} {input}: not set"))
    }

    fn err(kind: FieldType, input: Value) -> String {
        match convert(kind, &input) {
            Err(e) => e,
            Ok(v) => panic!("{kind:?} {input}: expected an error, got {v:?}"),
        }
    }

    #[test]
    fn strings() {
        use FieldType::*;
        for (kind, input, want) in [
            (String, json!("abc"), "abc"),
            (String, json!(5), "5"),
            (String, json!(1.5), "1.5"),
            (String, json!(true), "1"),
            (String, json!(false), "0"),
            (String, json!(null), ""),
            (LowerCaseString, json!("MiXeD"), "mixed"),
            (NameString, json!("web-1.prod_a"), "web-1.prod_a"),
            (NameString, json!("a"), "a"),
            (NameString, json!(7), "7"),
        ] {
            assert_eq!(
                ok(kind, input.clone()),
                FieldValue::String(want.into()),
                "{kind:?} {input}"
            );
        }
        assert_eq!(
            err(String, json!(["a", "b"])),
            "'' expected type 'string', got unconvertible type '[]interface {}', value: '[a b]'"
        );
        assert_eq!(
            err(String, json!({"b": 1, "a": "x"})),
            "'' expected type 'string', got unconvertible type 'map[string]interface {}', value: 'map[a:x b:1]'"
        );
        for bad in ["", ".a", "a-", "a b", "é", "-"] {
            assert_eq!(
                err(NameString, json!(bad)),
                "field does not match the formatting rules",
                "{bad}"
            );
        }
        assert_eq!(
            err(NameString, json!(null)),
            "field does not match the formatting rules"
        );
    }

    #[test]
    fn integers() {
        for (input, want) in [
            (json!(42), 42),
            (json!(-7), -7),
            (json!("42"), 42),
            (json!("+5"), 5),
            (json!("0x1F"), 31),
            (json!("017"), 15),
            (json!("0o17"), 15),
            (json!("0b11"), 3),
            (json!("1_000"), 1000),
            (json!(""), 0),
            (json!(true), 1),
            (json!(null), 0),
        ] {
            assert_eq!(
                ok(FieldType::Int, input.clone()),
                FieldValue::Int(want),
                "{input}"
            );
        }
        assert_eq!(
            err(FieldType::Int, json!("1.5")),
            "cannot parse '' as int: strconv.ParseInt: parsing \"1.5\": invalid syntax"
        );
        assert_eq!(
            err(FieldType::Int, json!(1.5)),
            "cannot parse '' as int: strconv.ParseInt: parsing \"1.5\": invalid syntax"
        );
        assert_eq!(
            err(FieldType::Int64, json!("08")),
            "cannot parse '' as int64: strconv.ParseInt: parsing \"08\": invalid syntax"
        );
        assert_eq!(
            err(FieldType::Int, json!("99999999999999999999")),
            "cannot parse '' as int: strconv.ParseInt: parsing \"99999999999999999999\": value out of range"
        );
        assert_eq!(
            err(FieldType::Int, json!([1])),
            "'' expected type 'int', got unconvertible type '[]interface {}', value: '[1]'"
        );
        assert_eq!(
            ok(FieldType::Float, json!("1e3")),
            FieldValue::Float(1000.0)
        );
        assert_eq!(ok(FieldType::Float, json!(2.5)), FieldValue::Float(2.5));
        assert_eq!(
            err(FieldType::Float, json!("x")),
            "cannot parse '' as float: strconv.ParseFloat: parsing \"x\": invalid syntax"
        );
    }

    #[test]
    fn booleans() {
        for (input, want) in [
            (json!(true), true),
            (json!("true"), true),
            (json!("1"), true),
            (json!("T"), true),
            (json!("TRUE"), true),
            (json!(1), true),
            (json!("False"), false),
            (json!("0"), false),
            (json!(""), false),
            (json!(null), false),
            (json!(0), false),
        ] {
            assert_eq!(
                ok(FieldType::Bool, input.clone()),
                FieldValue::Bool(want),
                "{input}"
            );
        }
        assert_eq!(
            err(FieldType::Bool, json!("yes")),
            "cannot parse '' as bool: strconv.ParseBool: parsing \"yes\": invalid syntax"
        );
        assert_eq!(
            err(FieldType::Bool, json!(2)),
            "cannot parse '' as bool: strconv.ParseBool: parsing \"2\": invalid syntax"
        );
        assert_eq!(
            err(FieldType::Bool, json!({})),
            "'' expected type 'bool', got unconvertible type 'map[string]interface {}', value: 'map[]'"
        );
    }

    #[test]
    fn durations() {
        use FieldType::{DurationSecond as D, SignedDurationSecond as S};
        for (input, want) in [
            (json!(42), 42),
            (json!("42"), 42),
            (json!("90s"), 90),
            (json!("1h30m"), 5400),
            (json!("1.5h"), 5400),
            (json!("2d"), 172_800),
            (json!("1500ms"), 1),
            (json!("300ms"), 0),
            (json!(""), 0),
            (json!("0"), 0),
        ] {
            assert_eq!(ok(D, input.clone()), FieldValue::Duration(want), "{input}");
        }
        assert_eq!(ok(S, json!("-42m")), FieldValue::Duration(-2520));
        assert_eq!(ok(S, json!(-42)), FieldValue::Duration(-42));
        assert_eq!(convert(D, &json!(null)), Ok(None));
        for (input, msg) in [
            (json!("abc"), "time: invalid duration \"abc\""),
            (json!(1.5), "time: missing unit in duration \"1.5\""),
            (json!("5x"), "time: unknown unit \"x\" in duration \"5x\""),
            (
                json!("1.5d"),
                "strconv.ParseInt: parsing \"1.5\": invalid syntax",
            ),
            (json!(true), "could not parse duration from input"),
            (json!([1]), "could not parse duration from input"),
            (json!(-42), "cannot provide negative value '-42'"),
            (json!("-1h"), "cannot provide negative value '-3600'"),
        ] {
            assert_eq!(err(D, input.clone()), msg, "{input}");
        }
    }

    #[test]
    fn times() {
        let t = |secs: u64| FieldValue::Time(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(
            ok(FieldType::Time, json!("2024-02-29T12:00:00Z")),
            t(1_709_208_000)
        );
        assert_eq!(
            ok(FieldType::Time, json!("2024-02-29T14:00:00+02:00")),
            t(1_709_208_000)
        );
        assert_eq!(
            ok(FieldType::Time, json!("2024-02-29T12:00:00.5Z")),
            FieldValue::Time(UNIX_EPOCH + Duration::new(1_709_208_000, 500_000_000))
        );
        assert_eq!(ok(FieldType::Time, json!(1_709_208_000)), t(1_709_208_000));
        assert_eq!(ok(FieldType::Time, json!("1709208000")), t(1_709_208_000));
        assert_eq!(convert(FieldType::Time, &json!(null)), Ok(None));
        assert_eq!(
            err(FieldType::Time, json!("yesterday")),
            "could not parse string as date and time"
        );
        assert_eq!(
            err(FieldType::Time, json!(true)),
            "could not parse time from input type"
        );
    }

    #[test]
    fn lists() {
        let strings = |v: &[&str]| FieldValue::Strings(v.iter().map(|s| s.to_string()).collect());
        use FieldType::{CommaIntSlice, CommaStringSlice, Slice, StringSlice};
        assert_eq!(
            ok(CommaStringSlice, json!("a, b,c")),
            strings(&["a", "b", "c"])
        );
        assert_eq!(
            ok(CommaStringSlice, json!("a,,b")),
            strings(&["a", "", "b"])
        );
        assert_eq!(
            ok(CommaStringSlice, json!(["a,b", " c"])),
            strings(&["a,b", "c"])
        );
        assert_eq!(ok(CommaStringSlice, json!("")), strings(&[]));
        assert_eq!(ok(CommaStringSlice, json!(null)), strings(&[]));
        assert_eq!(ok(CommaStringSlice, json!(123)), strings(&["123"]));
        assert_eq!(ok(CommaStringSlice, json!(true)), strings(&["1"]));
        assert_eq!(
            err(CommaStringSlice, json!([{"a": 1}])),
            "1 error(s) decoding:\n\n* '[0]' expected type 'string', got unconvertible type 'map[string]interface {}', value: 'map[a:1]'"
        );
        assert_eq!(ok(StringSlice, json!("a,b")), strings(&["a,b"]));
        assert_eq!(
            ok(StringSlice, json!([" a ", 1, true, null])),
            strings(&["a", "1", "1", ""])
        );
        assert_eq!(ok(StringSlice, json!("")), strings(&[]));
        assert_eq!(ok(Slice, json!("")), FieldValue::List(vec![json!("")]));
        assert_eq!(
            ok(Slice, json!([1, "a"])),
            FieldValue::List(vec![json!(1), json!("a")])
        );
        assert_eq!(
            ok(CommaIntSlice, json!("1,2,3")),
            FieldValue::Ints(vec![1, 2, 3])
        );
        assert_eq!(
            ok(CommaIntSlice, json!([1, "0x10"])),
            FieldValue::Ints(vec![1, 16])
        );
        assert_eq!(ok(CommaIntSlice, json!(5)), FieldValue::Ints(vec![5]));
        assert_eq!(
            err(CommaIntSlice, json!("1, 2")),
            "1 error(s) decoding:\n\n* cannot parse '[1]' as int: strconv.ParseInt: parsing \" 2\": invalid syntax"
        );
    }

    #[test]
    fn lists_and_maps_are_capped() {
        use FieldType::{CommaStringSlice, KvPairs, Map, StringSlice};
        let at_limit: Vec<String> = (0..MAX_ENTRIES).map(|i| format!("e{i}")).collect();
        assert!(
            matches!(ok(StringSlice, json!(at_limit)), FieldValue::Strings(v) if v.len() == MAX_ENTRIES)
        );
        let over: Vec<String> = (0..=MAX_ENTRIES).map(|i| format!("e{i}")).collect();
        let message = format!("10001 entries are more than the limit of {MAX_ENTRIES}");
        assert_eq!(err(StringSlice, json!(over)), message);
        assert_eq!(err(CommaStringSlice, json!(over.join(","))), message);
        let map: serde_json::Map<String, Value> =
            over.iter().map(|k| (k.clone(), json!("v"))).collect();
        assert_eq!(err(Map, Value::Object(map.clone())), message);
        assert_eq!(err(KvPairs, Value::Object(map)), message);
    }

    #[test]
    fn pairs_headers_maps_and_addresses() {
        let pairs = |v: &[(&str, &str)]| {
            FieldValue::Pairs(
                v.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        assert_eq!(
            ok(FieldType::KvPairs, json!({"a": "1", "b": 2})),
            pairs(&[("a", "1"), ("b", "2")])
        );
        assert_eq!(
            ok(FieldType::KvPairs, json!(["a=1", "b=x=y"])),
            pairs(&[("a", "1"), ("b", "x=y")])
        );
        assert_eq!(
            ok(FieldType::KvPairs, json!("a=b,c=d")),
            pairs(&[("a", "b,c=d")])
        );
        assert_eq!(
            err(FieldType::KvPairs, json!(["novalue"])),
            "invalid key pair \"novalue\""
        );
        assert_eq!(
            err(FieldType::KvPairs, json!("=x")),
            "invalid key pair \"=x\""
        );

        let header = |v: &[(&str, &[&str])]| {
            FieldValue::Header(
                v.iter()
                    .map(|(k, vs)| (k.to_string(), vs.iter().map(|s| s.to_string()).collect()))
                    .collect(),
            )
        };
        assert_eq!(
            ok(
                FieldType::Header,
                json!({"content-type": "a", "x-multi": ["1", 2]})
            ),
            header(&[("Content-Type", &["a"]), ("X-Multi", &["1", "2"])])
        );
        assert_eq!(
            ok(FieldType::Header, json!("{\"accept\":\"x\"}")),
            header(&[("Accept", &["x"])])
        );
        assert_eq!(
            ok(FieldType::Header, json!("eyJhY2NlcHQiOiJ4In0=")),
            header(&[("Accept", &["x"])])
        );
        assert_eq!(
            ok(FieldType::Header, json!(["a:b", "a:c"])),
            header(&[("A", &["b", "c"])])
        );
        assert_eq!(
            err(FieldType::Header, json!(["nocolon"])),
            "invalid key pair \"nocolon\""
        );
        assert_eq!(
            err(FieldType::Header, json!({"a": true})),
            "unrecognized type for true"
        );

        assert_eq!(
            ok(FieldType::Map, json!([{"a": 1}, {"b": 2}])),
            FieldValue::Map(
                json!({"a": 1, "b": 2})
                    .as_object()
                    .cloned()
                    .unwrap_or_default()
            )
        );
        assert_eq!(
            err(FieldType::Map, json!("x")),
            "'' expected a map, got 'string'"
        );
        assert_eq!(
            err(FieldType::Map, json!(["x"])),
            "'[0]' expected a map, got 'string'"
        );

        assert!(convert(FieldType::CidrList, &json!("10.0.0.0/8, 127.0.0.1,::1/128")).is_ok());
        assert_eq!(
            err(FieldType::CidrList, json!("10.0.0.0/33")),
            "error parsing address \"10.0.0.0/33\": Unable to convert \"10.0.0.0/33\" to an IPv4 or IPv6 address, or a UNIX Socket"
        );
    }
}
