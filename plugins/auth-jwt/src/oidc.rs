//! The OIDC authorization-code flow: pending requests (state, nonce, PKCE
//! verifier) kept in memory for ten minutes and used once, the provider's
//! authorization URL, the code exchange and the ID token's checks.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::{KeySource, Resolved};
use crate::login::verify_signature;
use crate::role::Role;

/// How long a user has to finish logging in at the provider.
pub const REQUEST_TTL: Duration = Duration::from_secs(600);
/// Skew allowed on `iat`, `nbf` and `auth_time` of an ID token.
const LEEWAY_SECS: i64 = 60;

/// One login in progress, keyed by its `state`.
#[derive(Clone, Debug)]
pub struct PendingRequest {
    pub role: String,
    pub nonce: String,
    /// PKCE verifier (code flow), empty for the implicit flow.
    pub code_verifier: String,
    pub redirect_uri: String,
    pub client_nonce: String,
    /// `max_age` asked of the provider, seconds.
    pub max_age: Option<u64>,
    /// What a form_post callback delivered, for the UI's follow-up GET.
    pub code: String,
    pub id_token: String,
    created: Instant,
}

/// The pending requests of this node.
#[derive(Default)]
pub struct PendingRequests {
    requests: Mutex<HashMap<String, PendingRequest>>,
}

impl PendingRequests {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, PendingRequest>> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a request; returns its state.
    pub fn insert(&self, state: String, request: PendingRequest) {
        let mut requests = self.lock();
        requests.retain(|_, r| r.created.elapsed() < REQUEST_TTL);
        requests.insert(state, request);
    }

    /// Takes a request out: a state is good for one callback.
    pub fn take(&self, state: &str) -> Option<PendingRequest> {
        self.lock()
            .remove(state)
            .filter(|r| r.created.elapsed() < REQUEST_TTL)
    }

    /// Records what a form_post delivered, keeping the request pending.
    pub fn deliver(&self, state: &str, code: String, id_token: String) -> Option<PendingRequest> {
        let mut requests = self.lock();
        let request = requests
            .get_mut(state)
            .filter(|r| r.created.elapsed() < REQUEST_TTL)?;
        request.code = code;
        request.id_token = id_token;
        Some(request.clone())
    }
}

impl PendingRequest {
    pub fn new(
        role: String,
        redirect_uri: String,
        client_nonce: String,
        pkce: bool,
        max_age: Option<u64>,
    ) -> Self {
        PendingRequest {
            role,
            nonce: format!("n_{}", random_base62(20)),
            code_verifier: if pkce {
                random_base62(43)
            } else {
                String::new()
            },
            redirect_uri,
            client_nonce,
            max_age,
            code: String::new(),
            id_token: String::new(),
            created: Instant::now(),
        }
    }
}

pub fn new_state() -> String {
    format!("st_{}", random_base62(20))
}

fn random_base62(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        if aws_lc_rs::rand::fill(&mut buf).is_err() {
            continue;
        }
        // 62 * 4 = 248: rejecting bytes above it keeps the choice uniform.
        for b in buf {
            if b < 248 && out.len() < len {
                out.push(char::from(ALPHABET[usize::from(b % 62)]));
            }
        }
    }
    out
}

/// PKCE S256 challenge of a verifier.
pub fn code_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()))
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Decodes a query string (`+` as space, `%XX`).
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (unescape(k), unescape(v))
        })
        .collect()
}

fn unescape(s: &str) -> String {
    let hex = |b: u8| char::from(b).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push((hi * 16 + lo) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `uri` may be redirected to: one of the role's URIs exactly, or,
/// for a loopback host, one that differs only in the port (native clients
/// such as the CLI listen on a port of their choosing, RFC 8252 7.3).
pub fn redirect_allowed(uri: &str, allowed: &[String]) -> bool {
    let Some((host, without_port)) = loopback_parts(uri) else {
        return allowed.iter().any(|a| a == uri);
    };
    if !matches!(host.as_str(), "localhost" | "127.0.0.1" | "::1") {
        return allowed.iter().any(|a| a == uri);
    }
    allowed
        .iter()
        .filter_map(|a| loopback_parts(a))
        .any(|(_, a)| a == without_port)
}

/// (host, the URI with the port removed).
fn loopback_parts(uri: &str) -> Option<(String, String)> {
    let (scheme, rest) = uri.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split_once(']')?.0.to_string()
    } else {
        authority
            .rsplit_once(':')
            .map_or(authority, |(h, _)| h)
            .to_string()
    };
    let shown = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.clone()
    };
    Some((host, format!("{scheme}://{shown}{tail}")))
}

/// The token endpoint's answer.
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    #[serde(default)]
    pub id_token: String,
    #[serde(default)]
    pub access_token: String,
}

/// Why an ID token was refused (the reference's wording where it has one).
#[derive(Debug, thiserror::Error)]
pub enum IdTokenError {
    #[error("Provider.VerifyIDToken: invalid id_token: {0}")]
    Invalid(String),
    #[error("Provider.VerifyIDToken: invalid id_token nonce: invalid nonce")]
    Nonce,
    #[error("Provider.VerifyIDToken: invalid id_token audiences: {0}")]
    Audience(String),
    #[error(
        "Provider.VerifyIDToken: missing auth_time claim when max age was requested: missing required claim"
    )]
    NoAuthTime,
    #[error("Provider.VerifyIDToken: auth_time is beyond max age ({0}s)")]
    AuthTooOld(u64),
}

/// Checks an ID token as OpenID Connect Core 3.1.3.7 asks: signature and
/// algorithm, issuer, expiry, nonce, audience (the client, or the role's
/// bound audiences), authorized party, and `auth_time` under `max_age`.
pub async fn verify_id_token(
    resolved: &Resolved,
    role: &Role,
    request: &PendingRequest,
    id_token: &str,
    now: i64,
) -> Result<Map<String, Value>, IdTokenError> {
    let claims = verify_signature(resolved, id_token)
        .await
        .map_err(|e| IdTokenError::Invalid(e.to_string()))?;
    let KeySource::Discovery(provider) = &resolved.keys else {
        return Err(IdTokenError::Invalid("OIDC is not configured".into()));
    };
    let issuer = &provider.metadata.issuer;
    let client_id = &resolved.config.oidc_client_id;
    let text = |k: &str| claims.get(k).and_then(Value::as_str).unwrap_or_default();
    let number = |k: &str| claims.get(k).and_then(Value::as_f64).map(|f| f as i64);
    if text("iss") != issuer {
        return Err(IdTokenError::Invalid(format!(
            "oidc: id token issued by a different provider, expected {issuer:?} got {:?}",
            text("iss")
        )));
    }
    match number("exp") {
        Some(exp) if exp > now => {}
        _ => return Err(IdTokenError::Invalid("oidc: token is expired".into())),
    }
    if number("nbf").is_some_and(|nbf| now + 300 < nbf) {
        return Err(IdTokenError::Invalid(
            "oidc: token not valid yet (nbf)".into(),
        ));
    }
    if text("nonce") != request.nonce {
        return Err(IdTokenError::Nonce);
    }
    if number("iat").is_some_and(|iat| now + LEEWAY_SECS < iat) {
        return Err(IdTokenError::Invalid(
            "issued at (iat) time in the future".into(),
        ));
    }
    if text("sub").is_empty() {
        return Err(IdTokenError::Invalid("sub: missing required claim".into()));
    }
    let audiences = crate::claims::audiences(&claims).unwrap_or_default();
    if audiences.is_empty() {
        return Err(IdTokenError::Invalid("aud: missing required claim".into()));
    }
    let expected: Vec<&str> = match role.bound_audiences.as_deref() {
        Some(bound) if !bound.is_empty() => bound.iter().map(String::as_str).collect(),
        _ => vec![client_id.as_str()],
    };
    if !expected.iter().any(|a| audiences.contains(a)) {
        return Err(IdTokenError::Audience(
            "audience claim does not match any expected audience".into(),
        ));
    }
    let azp = claims.get("azp").and_then(Value::as_str);
    if azp.is_some_and(|azp| azp != client_id) {
        return Err(IdTokenError::Invalid(format!(
            "authorized party ({}) is not equal client_id ({client_id})",
            azp.unwrap_or_default()
        )));
    }
    if audiences.len() > 1 && (!audiences.contains(&client_id.as_str()) || azp.is_none()) {
        return Err(IdTokenError::Invalid(format!(
            "multiple audiences and authorized party is not equal client_id ({client_id})"
        )));
    }
    if audiences.len() == 1 && audiences[0] != client_id && azp != Some(client_id.as_str()) {
        return Err(IdTokenError::Invalid(format!(
            "one audience ({}) which is not the client_id ({client_id})",
            audiences[0]
        )));
    }
    if let Some(max_age) = request.max_age {
        let auth_time = number("auth_time").ok_or(IdTokenError::NoAuthTime)?;
        if auth_time + LEEWAY_SECS <= now - max_age as i64 {
            return Err(IdTokenError::AuthTooOld(max_age));
        }
    }
    Ok(claims)
}

/// HTTP Basic credentials as OAuth 2.0 (RFC 6749 2.3.1) encodes them.
pub fn basic_auth(client_id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!(
            "{}:{}",
            query_escape(client_id),
            query_escape(secret)
        ))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirects_ignore_the_port_others_match_exactly() {
        let allowed = vec![
            "http://localhost:8250/oidc/callback".to_string(),
            "https://vault.example/ui/vault/auth/oidc/oidc/callback".to_string(),
            "http://[::1]:1/cb".to_string(),
        ];
        assert!(redirect_allowed(
            "http://localhost:8250/oidc/callback",
            &allowed
        ));
        assert!(redirect_allowed(
            "http://localhost:9999/oidc/callback",
            &allowed
        ));
        assert!(redirect_allowed("http://[::1]:5/cb", &allowed));
        assert!(!redirect_allowed("http://localhost:8250/other", &allowed));
        assert!(!redirect_allowed(
            "http://127.0.0.1:8250/oidc/callback",
            &allowed
        ));
        assert!(redirect_allowed(
            "https://vault.example/ui/vault/auth/oidc/oidc/callback",
            &allowed
        ));
        assert!(!redirect_allowed(
            "https://vault.example:8443/ui/vault/auth/oidc/oidc/callback",
            &allowed
        ));
        assert!(!redirect_allowed(
            "https://evil.example/ui/vault/auth/oidc/oidc/callback",
            &allowed
        ));
    }

    #[test]
    fn query_encoding_round_trips() {
        let s = "http://localhost:8250/cb?a=b c&d=é";
        assert_eq!(query_escape("a b/c"), "a+b%2Fc");
        let q = format!("x={}&y=1", query_escape(s));
        assert_eq!(
            parse_query(&q),
            vec![("x".into(), s.into()), ("y".into(), "1".into())]
        );
        assert_eq!(
            parse_query("a=%zz%&b=%4"),
            vec![("a".into(), "%zz%".into()), ("b".into(), "%4".into())]
        );
    }

    #[test]
    fn states_are_random_and_pkce_matches_rfc7636() {
        assert_ne!(new_state(), new_state());
        assert_eq!(new_state().len(), 23);
        // RFC 7636 appendix B.
        assert_eq!(
            code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn a_state_is_used_once() {
        let pending = PendingRequests::default();
        pending.insert(
            "s".into(),
            PendingRequest::new("r".into(), "u".into(), String::new(), true, None),
        );
        assert!(pending.deliver("s", "c".into(), String::new()).is_some());
        assert!(pending.take("s").is_some());
        assert!(pending.take("s").is_none());
    }
}
