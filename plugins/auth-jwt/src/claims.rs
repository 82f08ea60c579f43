//! What a verified token's claims must satisfy, and what a login takes from
//! them: the registered claims with the reference's leeway rules, JSON
//! pointers, bound claims (exact or glob), metadata mappings and groups.
//! Error texts are the reference's, so operators' alerts keep matching.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::glob::glob;

/// Leeway for `exp` (derived from `iat`/`nbf` when absent) and `nbf`
/// (derived from `exp`) when a role says 0.
pub const DEFAULT_LEEWAY_SECS: i64 = 150;
/// Clock skew allowed on every time claim when a role says 0.
pub const DEFAULT_CLOCK_SKEW_SECS: i64 = 60;

/// What the registered claims must be.
#[derive(Debug, Default, Clone)]
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
    pub audiences: &'a [String],
    /// Seconds; 0 means the default, negative means none.
    pub expiration_leeway: i64,
    pub not_before_leeway: i64,
    pub clock_skew_leeway: i64,
}

/// Why the registered claims were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    #[error("invalid issuer (iss) claim")]
    Issuer,
    #[error("invalid subject (sub) claim")]
    Subject,
    #[error("invalid audience (aud) claim: audience claim does not match any expected audience")]
    Audience,
    #[error("no issued at (iat), not before (nbf), or expiration time (exp) claims in token")]
    NoTimes,
    #[error("invalid not before (nbf) claim: token not yet valid")]
    NotYetValid,
    #[error("invalid expiration time (exp) claim: token is expired")]
    Expired,
    #[error("invalid issued at (iat) claim: token issued in the future")]
    IssuedInFuture,
    /// A registered claim of the wrong JSON type (the reference reports Go's
    /// JSON decoding error here).
    #[error("invalid {0} claim: {1}")]
    Malformed(&'static str, &'static str),
    #[error("ambiguous claim: key {0:?} collides with registered claim {1:?} under case folding")]
    Ambiguous(String, &'static str),
}

const REGISTERED: [&str; 7] = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

/// Checks iss, sub, aud and the time claims as the reference's validator
/// does, at `now` (Unix seconds).
pub fn validate_registered(
    claims: &Map<String, Value>,
    expected: &Expected<'_>,
    now: i64,
) -> Result<(), ClaimsError> {
    for key in claims.keys() {
        if let Some(name) = REGISTERED
            .iter()
            .find(|name| key != *name && key.to_lowercase() == **name)
        {
            return Err(ClaimsError::Ambiguous(key.clone(), name));
        }
    }
    let string_claim = |name: &'static str| -> Result<&str, ClaimsError> {
        match claims.get(name) {
            None | Some(Value::Null) => Ok(""),
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(ClaimsError::Malformed(name, "not a string")),
        }
    };
    let time_claim = |name: &'static str| -> Result<i64, ClaimsError> {
        match claims.get(name) {
            None | Some(Value::Null) => Ok(0),
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().map(|f| f as i64))
                .ok_or(ClaimsError::Malformed(name, "not a number")),
            Some(_) => Err(ClaimsError::Malformed(name, "not a number")),
        }
    };
    let issuer = string_claim("iss")?;
    let subject = string_claim("sub")?;
    let audiences = audiences(claims).ok_or(ClaimsError::Malformed(
        "aud",
        "not a string or list of strings",
    ))?;
    if !expected.issuer.is_empty() && expected.issuer != issuer {
        return Err(ClaimsError::Issuer);
    }
    if !expected.subject.is_empty() && expected.subject != subject {
        return Err(ClaimsError::Subject);
    }
    if !expected.audiences.is_empty()
        && !expected
            .audiences
            .iter()
            .any(|a| audiences.contains(&a.as_str()))
    {
        return Err(ClaimsError::Audience);
    }

    let iat = time_claim("iat")?;
    let mut exp = time_claim("exp")?;
    let mut nbf = time_claim("nbf")?;
    if iat == 0 && exp == 0 && nbf == 0 {
        return Err(ClaimsError::NoTimes);
    }
    let leeway = |configured: i64, default: i64| match configured {
        n if n < 0 => 0,
        0 => default,
        n => n,
    };
    // The token's times can be anything an i64 holds: saturate, so the far
    // future stays in the future and the far past in the past.
    if exp == 0 {
        exp = iat
            .max(nbf)
            .saturating_add(leeway(expected.expiration_leeway, DEFAULT_LEEWAY_SECS));
    }
    if nbf == 0 {
        nbf = if iat != 0 {
            iat
        } else {
            exp.saturating_sub(leeway(expected.not_before_leeway, DEFAULT_LEEWAY_SECS))
        };
    }
    let skew = leeway(expected.clock_skew_leeway, DEFAULT_CLOCK_SKEW_SECS);
    if now.saturating_add(skew) < nbf {
        return Err(ClaimsError::NotYetValid);
    }
    if now.saturating_sub(skew) > exp {
        return Err(ClaimsError::Expired);
    }
    if iat != 0 && now.saturating_add(skew) < iat {
        return Err(ClaimsError::IssuedInFuture);
    }
    Ok(())
}

/// The `aud` claim as a list (a single string is a list of one).
pub fn audiences(claims: &Map<String, Value>) -> Option<Vec<&str>> {
    match claims.get("aud") {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::String(s)) => Some(vec![s.as_str()]),
        Some(Value::Array(items)) => items.iter().map(Value::as_str).collect(),
        Some(_) => None,
    }
}

/// A claim by name, or by JSON pointer when the name starts with `/`.
/// Numbers come back as whole numbers, as the reference truncates them.
pub fn get_claim(claims: &Map<String, Value>, claim: &str) -> Option<Value> {
    let value = if claim.starts_with('/') {
        json_pointer(claims, claim)?
    } else {
        claims.get(claim)?
    };
    Some(match value {
        Value::Null => return None,
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            Value::from(n.as_f64().map(|f| f as i64).unwrap_or_default())
        }
        other => other.clone(),
    })
}

/// RFC 6901 lookup through objects and arrays.
fn json_pointer<'a>(claims: &'a Map<String, Value>, pointer: &str) -> Option<&'a Value> {
    let mut parts = pointer.split('/').skip(1);
    let first = unescape(parts.next()?);
    let mut current = claims.get(&first)?;
    for part in parts {
        let part = unescape(part);
        current = match current {
            Value::Object(map) => map.get(&part)?,
            Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

fn unescape(part: &str) -> String {
    part.replace("~1", "/").replace("~0", "~")
}

/// A string, bool, number or list as a list, as the reference's
/// `normalizeList`; anything else is `None`.
fn normalize_list(value: &Value) -> Option<Vec<Value>> {
    match value {
        Value::Array(items) => Some(items.clone()),
        Value::String(_) | Value::Bool(_) | Value::Number(_) => Some(vec![value.clone()]),
        _ => None,
    }
}

/// Why the bound claims or the identity could not be taken from a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BoundClaimsError {
    #[error("claim {0:?} is missing")]
    Missing(String),
    #[error("received claim is not a string, bool, int or list: {0}")]
    ReceivedNotScalar(String),
    #[error("bound claim is not a string, bool, int or list: {0}")]
    BoundNotScalar(String),
    #[error("received claim is not a glob string: {0}")]
    NotGlob(String),
    #[error("claim {0:?} does not match any associated bound claim values")]
    NoMatch(String),
}

/// Checks every bound claim: each must match at least one of its values.
pub fn validate_bound_claims(
    glob_mode: bool,
    bound: &Map<String, Value>,
    claims: &Map<String, Value>,
) -> Result<(), BoundClaimsError> {
    for (claim, expected) in bound {
        let actual =
            get_claim(claims, claim).ok_or_else(|| BoundClaimsError::Missing(claim.clone()))?;
        let actual = normalize_list(&actual)
            .ok_or_else(|| BoundClaimsError::ReceivedNotScalar(go_format(&actual)))?;
        let expected = normalize_list(expected)
            .ok_or_else(|| BoundClaimsError::BoundNotScalar(go_format(expected)))?;
        if !match_found(&expected, &actual, glob_mode)? {
            return Err(BoundClaimsError::NoMatch(claim.clone()));
        }
    }
    Ok(())
}

fn match_found(
    expected: &[Value],
    actual: &[Value],
    glob_mode: bool,
) -> Result<bool, BoundClaimsError> {
    for want in expected {
        for have in actual {
            let matched = if glob_mode {
                let Value::String(pattern) = want else {
                    return Err(BoundClaimsError::NotGlob(go_format(want)));
                };
                matches!(have, Value::String(s) if glob(pattern, s))
            } else {
                scalar_eq(want, have)
            };
            if matched {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Equality of a bound value and a claim value: same JSON type and, for
/// numbers, the same decimal text (as Go compares `json.Number`s).
fn scalar_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.to_string() == y.to_string(),
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        _ => false,
    }
}

/// A value as Go's `%v` prints the decoded JSON, for error texts.
pub fn go_format(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(go_format).collect();
            format!("[{}]", inner.join(" "))
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{k}:{}", go_format(&map[k])))
                .collect();
            format!("map[{}]", inner.join(" "))
        }
    }
}

/// Metadata from `claim_mappings` (claim or pointer -> metadata key); a
/// mapped claim that is absent is skipped, one that is not a string is an
/// error.
pub fn extract_metadata(
    claims: &Map<String, Value>,
    mappings: &HashMap<String, String>,
) -> Result<HashMap<String, String>, String> {
    let mut metadata = HashMap::new();
    for (source, target) in mappings {
        match get_claim(claims, source) {
            None => {}
            Some(Value::String(s)) => {
                metadata.insert(target.clone(), s);
            }
            Some(_) => return Err(format!("error converting claim '{source}' to string")),
        }
    }
    Ok(metadata)
}

/// Group names from the groups claim: a string or a list of strings; empty
/// names are skipped.
pub fn groups(claims: &Map<String, Value>, groups_claim: &str) -> Result<Vec<String>, String> {
    let raw = get_claim(claims, groups_claim).ok_or_else(|| {
        format!("failed to fetch groups: {groups_claim:?} claim not found in token")
    })?;
    let list = normalize_list(&raw)
        .ok_or_else(|| format!("{groups_claim:?} claim could not be converted to string list"))?;
    let mut out = Vec::with_capacity(list.len());
    for item in list {
        match item {
            Value::String(s) if s.is_empty() => {}
            Value::String(s) => out.push(s),
            other => {
                return Err(format!(
                    "value {} in groups claim could not be parsed as string",
                    go_format(&other)
                ));
            }
        }
    }
    Ok(out)
}

/// For providers that send groups as one string (`a,b` or `a b`): the
/// claim becomes the list of names, so bound claims see the list too.
pub fn split_groups_claim(claims: &mut Map<String, Value>, groups_claim: &str, separator: char) {
    let Some(Value::String(joined)) = get_claim(claims, groups_claim) else {
        return;
    };
    let list = Value::Array(
        joined
            .split(separator)
            .map(|g| Value::String(g.to_string()))
            .collect(),
    );
    set_claim(claims, groups_claim, list);
}

/// Replaces a claim by name, or by JSON pointer when the name starts with
/// `/` (the same walk as `get_claim`, through arrays too). A pointer whose
/// parent is missing changes nothing, as the reference's `setClaim`.
pub fn set_claim(claims: &mut Map<String, Value>, claim: &str, value: Value) {
    if !claim.starts_with('/') {
        claims.insert(claim.to_string(), value);
        return;
    }
    let parts: Vec<String> = claim.split('/').skip(1).map(unescape).collect();
    let Some((last, parents)) = parts.split_last() else {
        return;
    };
    let Some((first, rest)) = parents.split_first() else {
        claims.insert(last.clone(), value);
        return;
    };
    let Some(mut current) = claims.get_mut(first) else {
        return;
    };
    for part in rest {
        let next = match current {
            Value::Object(map) => map.get_mut(part),
            Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
            _ => None,
        };
        let Some(next) = next else {
            return;
        };
        current = next;
    }
    match current {
        Value::Object(map) => {
            map.insert(last.clone(), value);
        }
        Value::Array(items) => {
            if let Some(slot) = last.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                *slot = value;
            }
        }
        _ => {}
    }
}

/// Whole seconds of a duration, for leeways stored as Go durations.
pub fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("object")
    }

    const NOW: i64 = 1_700_000_000;

    fn check(c: Value, e: Expected<'_>) -> Result<(), ClaimsError> {
        validate_registered(&claims(c), &e, NOW)
    }

    #[test]
    fn time_claims_follow_the_reference_leeway_rules() {
        let e = Expected::default();
        assert_eq!(check(json!({}), e.clone()), Err(ClaimsError::NoTimes));
        assert_eq!(check(json!({"exp": NOW + 10}), e.clone()), Ok(()));
        // Expired 59 s ago is inside the default 60 s clock skew; 61 s is not.
        assert_eq!(check(json!({"exp": NOW - 59}), e.clone()), Ok(()));
        assert_eq!(
            check(json!({"exp": NOW - 61}), e.clone()),
            Err(ClaimsError::Expired)
        );
        // -1 disables the skew; a positive value replaces it.
        let no_skew = Expected {
            clock_skew_leeway: -1,
            ..e.clone()
        };
        assert_eq!(
            check(json!({"exp": NOW - 1}), no_skew.clone()),
            Err(ClaimsError::Expired)
        );
        let wide = Expected {
            clock_skew_leeway: 300,
            ..e.clone()
        };
        assert_eq!(check(json!({"exp": NOW - 200}), wide), Ok(()));
        // Only iat: exp is derived as iat + 150 s (the expiration leeway).
        assert_eq!(check(json!({"iat": NOW - 150 - 60}), e.clone()), Ok(()));
        assert_eq!(
            check(json!({"iat": NOW - 150 - 61}), e.clone()),
            Err(ClaimsError::Expired)
        );
        let short = Expected {
            expiration_leeway: 10,
            ..e.clone()
        };
        assert_eq!(
            check(json!({"iat": NOW - 71}), short),
            Err(ClaimsError::Expired)
        );
        let none = Expected {
            expiration_leeway: -1,
            clock_skew_leeway: -1,
            ..e.clone()
        };
        assert_eq!(
            check(json!({"iat": NOW - 1}), none),
            Err(ClaimsError::Expired)
        );
        // nbf and iat in the future beyond the skew.
        assert_eq!(
            check(json!({"nbf": NOW + 61, "exp": NOW + 600}), e.clone()),
            Err(ClaimsError::NotYetValid)
        );
        assert_eq!(
            check(json!({"nbf": NOW + 59, "exp": NOW + 600}), e.clone()),
            Ok(())
        );
        assert_eq!(
            check(
                json!({"iat": NOW + 61, "exp": NOW + 600, "nbf": NOW}),
                e.clone()
            ),
            Err(ClaimsError::IssuedInFuture)
        );
        // Only exp: nbf is derived as exp - 150 s.
        assert_eq!(
            check(json!({"exp": NOW + 1000}), e.clone()),
            Err(ClaimsError::NotYetValid)
        );
        let nbf_off = Expected {
            not_before_leeway: 2000,
            ..e.clone()
        };
        assert_eq!(check(json!({"exp": NOW + 1000}), nbf_off), Ok(()));
        assert_eq!(
            check(json!({"exp": "soon"}), e),
            Err(ClaimsError::Malformed("exp", "not a number"))
        );
    }

    #[test]
    fn extreme_times_are_refused_without_overflow() {
        // Found by fuzzing: `exp` derived from an `iat` near i64::MAX (or
        // `nbf` from an `exp` near i64::MIN) overflowed.
        let e = Expected::default();
        for iat in [json!(i64::MAX), json!(1e300)] {
            assert_eq!(
                check(json!({ "iat": iat }), e.clone()),
                Err(ClaimsError::NotYetValid)
            );
        }
        assert_eq!(
            check(json!({"exp": i64::MIN}), e.clone()),
            Err(ClaimsError::Expired)
        );
        let far = Expected {
            clock_skew_leeway: i64::MAX,
            ..Expected::default()
        };
        assert_eq!(check(json!({"nbf": i64::MAX}), far), Ok(()));
    }

    #[test]
    fn issuer_subject_and_audience() {
        let auds = vec!["a".to_string(), "b".to_string()];
        let e = Expected {
            issuer: "https://idp",
            subject: "u1",
            audiences: &auds,
            ..Expected::default()
        };
        let ok = json!({"iss": "https://idp", "sub": "u1", "aud": ["x", "b"], "exp": NOW + 60});
        assert_eq!(check(ok.clone(), e.clone()), Ok(()));
        let mut c = ok.clone();
        c["aud"] = json!("b");
        assert_eq!(check(c, e.clone()), Ok(()));
        let mut c = ok.clone();
        c["aud"] = json!(["x"]);
        assert_eq!(check(c, e.clone()), Err(ClaimsError::Audience));
        let mut c = ok.clone();
        c["iss"] = json!("https://other");
        assert_eq!(check(c, e.clone()), Err(ClaimsError::Issuer));
        let mut c = ok.clone();
        c["sub"] = json!("u2");
        assert_eq!(check(c, e.clone()), Err(ClaimsError::Subject));
        let mut c = ok;
        c["SUB"] = json!("u1");
        assert!(matches!(check(c, e), Err(ClaimsError::Ambiguous(..))));
    }

    #[test]
    fn bound_claims_exact_glob_lists_and_pointers() {
        let c = claims(json!({
            "email": "ops@example.com", "groups": ["dev", "ops"], "admin": true, "level": 5.7,
            "nested": {"team": {"name": "core"}}, "a/b": "slash",
        }));
        let bound = |v: Value| v.as_object().cloned().expect("object");
        assert_eq!(
            validate_bound_claims(false, &bound(json!({"email": "ops@example.com"})), &c),
            Ok(())
        );
        assert_eq!(
            validate_bound_claims(false, &bound(json!({"groups": ["x", "ops"]})), &c),
            Ok(())
        );
        assert_eq!(
            validate_bound_claims(false, &bound(json!({"admin": true})), &c),
            Ok(())
        );
        assert_eq!(
            validate_bound_claims(false, &bound(json!({"level": 5})), &c),
            Ok(())
        );
        assert_eq!(
            validate_bound_claims(false, &bound(json!({"/nested/team/name": "core"})), &c),
            Ok(())
        );
        assert_eq!(
            validate_bound_claims(false, &bound(json!({"/a~1b": "slash"})), &c),
            Ok(())
        );
        assert_eq!(
            validate_bound_claims(false, &bound(json!({"email": "*@example.com"})), &c),
            Err(BoundClaimsError::NoMatch("email".into()))
        );
        assert_eq!(
            validate_bound_claims(true, &bound(json!({"email": "*@example.com"})), &c),
            Ok(())
        );
        assert_eq!(
            validate_bound_claims(false, &bound(json!({"missing": "x"})), &c),
            Err(BoundClaimsError::Missing("missing".into()))
        );
        assert_eq!(
            validate_bound_claims(false, &bound(json!({"nested": "x"})), &c),
            Err(BoundClaimsError::ReceivedNotScalar(
                "map[team:map[name:core]]".into()
            ))
        );
        assert_eq!(
            validate_bound_claims(false, &bound(json!({"admin": "true"})), &c),
            Err(BoundClaimsError::NoMatch("admin".into()))
        );
    }

    #[test]
    fn provider_group_strings_become_lists() {
        let mut c = claims(json!({"groups": "a,b", "realm": {"roles": "x y"}}));
        split_groups_claim(&mut c, "groups", ',');
        split_groups_claim(&mut c, "/realm/roles", ' ');
        assert_eq!(c["groups"], json!(["a", "b"]));
        assert_eq!(c["realm"]["roles"], json!(["x", "y"]));
        assert_eq!(groups(&c, "/realm/roles"), Ok(vec!["x".into(), "y".into()]));
    }

    #[test]
    fn provider_group_strings_are_split_behind_arrays_too() {
        // Found by the `claims_and_globs` fuzz target: a pointer through an
        // array found the string but left it whole.
        let mut c = claims(json!({"org": {"g": ["a,b", 1]}, "k/~": {"x": "c,d"}}));
        split_groups_claim(&mut c, "/org/g/0", ',');
        split_groups_claim(&mut c, "/k~1~0/x", ',');
        assert_eq!(groups(&c, "/org/g/0"), Ok(vec!["a".into(), "b".into()]));
        assert_eq!(c["org"]["g"], json!([["a", "b"], 1]));
        assert_eq!(c["k/~"]["x"], json!(["c", "d"]));
    }

    #[test]
    fn metadata_and_groups() {
        let c = claims(
            json!({"email": "a@b", "n": 3, "groups": ["g1", "", "g2"], "one": "solo", "bad": [1]}),
        );
        let maps: HashMap<String, String> = [
            ("email".to_string(), "mail".to_string()),
            ("absent".to_string(), "x".to_string()),
        ]
        .into();
        let md = extract_metadata(&c, &maps).expect("ok");
        assert_eq!(md.len(), 1);
        assert_eq!(md["mail"], "a@b");
        let bad: HashMap<String, String> = [("n".to_string(), "num".to_string())].into();
        assert_eq!(
            extract_metadata(&c, &bad),
            Err("error converting claim 'n' to string".into())
        );
        assert_eq!(groups(&c, "groups"), Ok(vec!["g1".into(), "g2".into()]));
        assert_eq!(groups(&c, "one"), Ok(vec!["solo".into()]));
        assert_eq!(
            groups(&c, "bad"),
            Err("value 1 in groups claim could not be parsed as string".into())
        );
        assert_eq!(
            groups(&c, "nope"),
            Err("failed to fetch groups: \"nope\" claim not found in token".into())
        );
    }
}
