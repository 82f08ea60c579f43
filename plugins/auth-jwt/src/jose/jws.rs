//! Compact JWS parsing: header, claims and signature, nothing verified yet.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::alg::Algorithm;

/// A token split into its parts. The claims are parsed before the signature
/// is checked only so that one parse serves both; nothing reads them until
/// verification has passed.
#[derive(Debug)]
pub struct Jws<'a> {
    pub alg: Algorithm,
    pub kid: Option<String>,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a [u8],
    pub signature: Vec<u8>,
    pub claims: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// `none`, HMAC and anything unknown: refused before any key is tried.
    #[error("unsupported signing algorithm: {0}")]
    UnsupportedAlgorithm(String),
    #[error("token has critical header parameters this verifier does not understand")]
    CriticalHeader,
}

#[derive(Deserialize)]
struct Header {
    alg: Option<String>,
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

impl<'a> Jws<'a> {
    pub fn parse(token: &'a str) -> Result<Self, JwsError> {
        let token = token.trim();
        let mut parts = token.splitn(4, '.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwsError::Malformed("expected 3 parts separated by '.'"));
        };
        let header: Header = decode_json(header).ok_or(JwsError::Malformed("invalid header"))?;
        if header.crit.is_some() {
            return Err(JwsError::CriticalHeader);
        }
        let alg = header.alg.unwrap_or_default();
        let alg: Algorithm = alg
            .parse()
            .map_err(|_| JwsError::UnsupportedAlgorithm(alg.clone()))?;
        let claims: Map<String, Value> =
            decode_json(payload).ok_or(JwsError::Malformed("invalid claims"))?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| JwsError::Malformed("invalid signature encoding"))?;
        if signature.is_empty() {
            return Err(JwsError::Malformed("missing signature"));
        }
        let signing_input = &token.as_bytes()[..token.len() - signature_len(token)];
        Ok(Jws {
            alg,
            kid: header.kid.filter(|k| !k.is_empty()),
            signing_input,
            signature,
            claims,
        })
    }
}

/// Length of `.signature` at the end of a token.
fn signature_len(token: &str) -> usize {
    token.len() - token.rfind('.').unwrap_or(token.len())
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn token(header: &str, claims: &str, sig: &str) -> String {
        format!("{}.{}.{}", b64(header), b64(claims), sig)
    }

    #[test]
    fn splits_a_token_and_keeps_the_signing_input() {
        let t = token(r#"{"alg":"RS256","kid":"k1"}"#, r#"{"sub":"a"}"#, "c2ln");
        let jws = Jws::parse(&t).expect("parses");
        assert_eq!(jws.alg, Algorithm::RS256);
        assert_eq!(jws.kid.as_deref(), Some("k1"));
        assert_eq!(jws.signature, b"sig");
        assert_eq!(jws.claims["sub"], "a");
        assert_eq!(
            jws.signing_input,
            &t.as_bytes()[..t.rfind('.').expect("dot")]
        );
    }

    #[test]
    fn refuses_none_hmac_and_malformed_tokens() {
        let cases = [
            (token(r#"{"alg":"none"}"#, "{}", ""), "none"),
            (token(r#"{"alg":"none"}"#, "{}", "c2ln"), "none sig"),
            (token(r#"{"alg":"HS256"}"#, "{}", "c2ln"), "hmac"),
            (token(r#"{}"#, "{}", "c2ln"), "no alg"),
            (
                token(r#"{"alg":"RS256","crit":["x"]}"#, "{}", "c2ln"),
                "crit",
            ),
            (
                token(r#"{"alg":"RS256"}"#, "[]", "c2ln"),
                "claims not object",
            ),
            ("a.b".to_string(), "two parts"),
            ("a.b.c.d".to_string(), "four parts"),
            (token(r#"{"alg":"RS256"}"#, "{}", "!!"), "bad sig b64"),
        ];
        for (t, what) in cases {
            assert!(Jws::parse(&t).is_err(), "{what}");
        }
        assert_eq!(
            Jws::parse(&token(r#"{"alg":"HS256"}"#, "{}", "c2ln")).err(),
            Some(JwsError::UnsupportedAlgorithm("HS256".into()))
        );
    }
}
