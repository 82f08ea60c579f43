//! Public keys for verifying signatures: parsed once (from PEM or a JWK) into
//! aws-lc's ready-to-verify form for every algorithm of the key's family, so
//! a login pays for the signature check and nothing else.

use aws_lc_rs::signature::ParsedPublicKey;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::alg::{Algorithm, KeyFamily};

/// A verification key: its family, the `kid` and `alg` a JWKS gave it, and
/// one parsed key per algorithm of its family.
pub struct PublicKey {
    family: KeyFamily,
    kid: Option<String>,
    /// A JWK's `alg`: the key then verifies that algorithm only (RFC 7517
    /// 4.4).
    alg: Option<Algorithm>,
    verifiers: Vec<(Algorithm, ParsedPublicKey)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("data does not contain any valid public keys")]
    NoPemBlock,
    #[error("unsupported PEM block type {0:?}")]
    UnsupportedPem(String),
    #[error("invalid certificate: {0}")]
    Certificate(String),
    #[error("unsupported or malformed public key")]
    Malformed,
    #[error("unsupported key type {0:?}")]
    UnsupportedKeyType(String),
    #[error("unsupported curve {0:?}")]
    UnsupportedCurve(String),
    #[error("invalid JWK: {0}")]
    InvalidJwk(String),
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("family", &self.family)
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish()
    }
}

impl PublicKey {
    /// A key from DER: an X.509 SubjectPublicKeyInfo, or a PKCS#1
    /// RSAPublicKey. The family is found by trying each, as the DER itself
    /// says which algorithm it is for.
    pub fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        const FAMILIES: [KeyFamily; 5] = [
            KeyFamily::Rsa,
            KeyFamily::P256,
            KeyFamily::P384,
            KeyFamily::P521,
            KeyFamily::Ed25519,
        ];
        // Raw EC points and raw Ed25519 keys would also parse; a DER key must
        // be a structure, so accept only what starts as a SEQUENCE.
        if der.first() != Some(&0x30) {
            return Err(KeyError::Malformed);
        }
        FAMILIES
            .into_iter()
            .find_map(|family| Self::from_bytes(family, der).ok())
            .ok_or(KeyError::Malformed)
    }

    fn from_bytes(family: KeyFamily, bytes: &[u8]) -> Result<Self, KeyError> {
        let verifiers = family
            .algorithms()
            .map(|alg| {
                ParsedPublicKey::new(alg.verification(), bytes)
                    .map(|key| (alg, key))
                    .map_err(|_| KeyError::Malformed)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PublicKey {
            family,
            kid: None,
            alg: None,
            verifiers,
        })
    }

    /// Every key in a PEM text: `PUBLIC KEY`, `RSA PUBLIC KEY` or
    /// `CERTIFICATE` blocks (what Vault's `jwt_validation_pubkeys` takes).
    pub fn all_from_pem(pem: &str) -> Result<Vec<Self>, KeyError> {
        let mut keys = Vec::new();
        for block in x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()) {
            let block = block.map_err(|_| KeyError::NoPemBlock)?;
            let key = match block.label.as_str() {
                "PUBLIC KEY" | "RSA PUBLIC KEY" => Self::from_der(&block.contents)?,
                "CERTIFICATE" => {
                    let (_, cert) = x509_parser::parse_x509_certificate(&block.contents)
                        .map_err(|e| KeyError::Certificate(e.to_string()))?;
                    Self::from_der(cert.public_key().raw)?
                }
                other => return Err(KeyError::UnsupportedPem(other.to_string())),
            };
            keys.push(key);
        }
        if keys.is_empty() {
            return Err(KeyError::NoPemBlock);
        }
        Ok(keys)
    }

    /// One key from a PEM text holding exactly one.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let mut keys = Self::all_from_pem(pem)?;
        match keys.len() {
            1 => Ok(keys.remove(0)),
            _ => Err(KeyError::UnsupportedPem("more than one key".into())),
        }
    }

    /// A key from a JSON Web Key (RFC 7517/7518/8037).
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, KeyError> {
        let b64 = |field: &str, value: &Option<String>| -> Result<Vec<u8>, KeyError> {
            let value = value
                .as_deref()
                .ok_or_else(|| KeyError::InvalidJwk(format!("missing {field:?}")))?;
            URL_SAFE_NO_PAD
                .decode(value.trim_end_matches('='))
                .map_err(|_| KeyError::InvalidJwk(format!("{field:?} is not base64url")))
        };
        let mut key = match jwk.kty.as_str() {
            "RSA" => {
                let der = rsa_public_key_der(&b64("n", &jwk.n)?, &b64("e", &jwk.e)?);
                Self::from_bytes(KeyFamily::Rsa, &der)?
            }
            "EC" => {
                let (family, size) = match jwk.crv.as_deref() {
                    Some("P-256") => (KeyFamily::P256, 32),
                    Some("P-384") => (KeyFamily::P384, 48),
                    Some("P-521") => (KeyFamily::P521, 66),
                    other => return Err(KeyError::UnsupportedCurve(other.unwrap_or("").into())),
                };
                let (x, y) = (b64("x", &jwk.x)?, b64("y", &jwk.y)?);
                if x.len() != size || y.len() != size {
                    return Err(KeyError::InvalidJwk("coordinates of the wrong size".into()));
                }
                let mut point = Vec::with_capacity(1 + 2 * size);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Self::from_bytes(family, &point)?
            }
            "OKP" => match jwk.crv.as_deref() {
                Some("Ed25519") => {
                    let x = b64("x", &jwk.x)?;
                    if x.len() != 32 {
                        return Err(KeyError::InvalidJwk("Ed25519 key of the wrong size".into()));
                    }
                    Self::from_bytes(KeyFamily::Ed25519, &x)?
                }
                other => return Err(KeyError::UnsupportedCurve(other.unwrap_or("").into())),
            },
            other => return Err(KeyError::UnsupportedKeyType(other.into())),
        };
        key.kid = jwk.kid.clone();
        key.alg = match jwk.alg.as_deref() {
            None | Some("") => None,
            Some(name) => Some(
                name.parse()
                    .map_err(|_| KeyError::InvalidJwk(format!("unsupported alg {name:?}")))?,
            ),
        };
        if let Some(alg) = key.alg
            && alg.family() != key.family
        {
            return Err(KeyError::InvalidJwk(format!(
                "alg {alg} does not fit a {:?} key",
                key.family
            )));
        }
        Ok(key)
    }

    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    pub fn family(&self) -> KeyFamily {
        self.family
    }

    /// Whether this key may verify `alg` at all.
    pub fn accepts(&self, alg: Algorithm) -> bool {
        alg.family() == self.family && self.alg.is_none_or(|a| a == alg)
    }

    /// Checks `signature` over `message` with `alg`; a key of another family
    /// (or pinned to another `alg`) never verifies.
    pub fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        if !self.accepts(alg) {
            return false;
        }
        self.verifiers
            .iter()
            .find(|(a, _)| *a == alg)
            .is_some_and(|(_, key)| key.verify_sig(message, signature).is_ok())
    }
}

/// The members of a JWK this plugin reads; anything else is ignored, and a
/// JWKS entry for encryption (`use: enc`) is skipped by the key set.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Jwk {
    #[serde(default)]
    pub kty: String,
    pub kid: Option<String>,
    pub alg: Option<String>,
    #[serde(rename = "use")]
    pub use_: Option<String>,
    pub n: Option<String>,
    pub e: Option<String>,
    pub crv: Option<String>,
    pub x: Option<String>,
    pub y: Option<String>,
}

/// PKCS#1 RSAPublicKey DER from a modulus and exponent.
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    let mut body = der_unsigned_integer(n);
    body.extend(der_unsigned_integer(e));
    der_tlv(0x30, &body)
}

fn der_unsigned_integer(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let trimmed = &bytes[start..];
    let mut value = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|&b| b & 0x80 != 0) {
        value.push(0);
    }
    value.extend_from_slice(trimmed);
    der_tlv(0x02, &value)
}

fn der_tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(value);
    out
}
