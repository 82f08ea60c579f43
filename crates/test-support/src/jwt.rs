//! Real signing keys and real tokens for JWT/OIDC tests.
//!
//! Every key is freshly generated with aws-lc-rs, and every token is a
//! standard compact JWS (RFC 7515) that any conforming verifier accepts:
//! ECDSA signatures are the fixed-size `r || s` of RFC 7518 §3.4, RSA-PSS uses
//! a salt as long as the hash, Ed25519 is RFC 8037's `EdDSA`. The unit tests
//! below check each algorithm against aws-lc-rs's verifier and the SPKI from
//! [`SigningKey::public_pem`], so a failing plugin test points at the plugin.
//!
//! ```no_run
//! use vault_plugin_test_support::jwt::{self, Alg, SigningKey};
//!
//! let key = SigningKey::generate(Alg::ES256, "k1");
//! let token = key.sign(&serde_json::json!({
//!     "sub": "alice",
//!     "aud": "my-audience",
//!     "exp": jwt::now() + 300,
//! }));
//! ```

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use aws_lc_rs::{digest, hmac, rsa};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

/// A JWS signature algorithm (RFC 7518 §3.1, RFC 8037 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alg {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    ES512,
    EdDSA,
}

impl Alg {
    /// Every algorithm, for table-driven tests.
    pub const ALL: [Alg; 10] = [
        Alg::RS256,
        Alg::RS384,
        Alg::RS512,
        Alg::PS256,
        Alg::PS384,
        Alg::PS512,
        Alg::ES256,
        Alg::ES384,
        Alg::ES512,
        Alg::EdDSA,
    ];

    /// The name in a JOSE header's `alg`, such as `"RS256"` or `"EdDSA"`.
    pub fn name(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
            Alg::ES512 => "ES512",
            Alg::EdDSA => "EdDSA",
        }
    }

    /// The algorithm named `name` (case-sensitive, as in a JOSE header).
    pub fn from_name(name: &str) -> Option<Alg> {
        Alg::ALL.into_iter().find(|alg| alg.name() == name)
    }

    /// The hash that OIDC's `at_hash`/`c_hash` use with this algorithm: the
    /// signature's own hash, and SHA-512 for `EdDSA` (as go-oidc does).
    fn token_hash(self) -> &'static digest::Algorithm {
        match self {
            Alg::RS256 | Alg::PS256 | Alg::ES256 => &digest::SHA256,
            Alg::RS384 | Alg::PS384 | Alg::ES384 => &digest::SHA384,
            Alg::RS512 | Alg::PS512 | Alg::ES512 | Alg::EdDSA => &digest::SHA512,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

enum Pair {
    Rsa(rsa::KeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

struct Material {
    alg: Alg,
    kid: String,
    pair: Pair,
    pkcs8: Vec<u8>,
    spki: Vec<u8>,
    certificate_pem: OnceLock<String>,
}

/// A private key for one algorithm, with its key id. Clones share the key.
#[derive(Clone)]
pub struct SigningKey(Arc<Material>);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.0.alg)
            .field("kid", &self.0.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh key for `alg` (RSA keys are 2048-bit), published as `kid`.
    ///
    /// # Panics
    /// If aws-lc-rs cannot generate a key (no entropy).
    pub fn generate(alg: Alg, kid: &str) -> Self {
        const GENERATE: &str = "aws-lc-rs generates a key";
        const ENCODE: &str = "aws-lc-rs encodes its own key";
        let (pair, pkcs8, spki) = match alg {
            Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512 => {
                let pair = rsa::KeyPair::generate(rsa::KeySize::Rsa2048).expect(GENERATE);
                let pkcs8: Pkcs8V1Der<'static> = pair.as_der().expect(ENCODE);
                let spki: PublicKeyX509Der<'static> = pair.public_key().as_der().expect(ENCODE);
                let (pkcs8, spki) = (pkcs8.as_ref().to_vec(), spki.as_ref().to_vec());
                (Pair::Rsa(pair), pkcs8, spki)
            }
            Alg::ES256 | Alg::ES384 | Alg::ES512 => {
                let signing = match alg {
                    Alg::ES256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    Alg::ES384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                    _ => &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
                };
                let pair = EcdsaKeyPair::generate(signing).expect(GENERATE);
                let pkcs8 = pair.to_pkcs8v1().expect(ENCODE).as_ref().to_vec();
                let spki: PublicKeyX509Der<'static> = pair.public_key().as_der().expect(ENCODE);
                let spki = spki.as_ref().to_vec();
                (Pair::Ec(pair), pkcs8, spki)
            }
            Alg::EdDSA => {
                let pair = Ed25519KeyPair::generate().expect(GENERATE);
                let pkcs8 = pair.to_pkcs8v1().expect(ENCODE).as_ref().to_vec();
                let spki: PublicKeyX509Der<'static> = pair.public_key().as_der().expect(ENCODE);
                let spki = spki.as_ref().to_vec();
                (Pair::Ed(pair), pkcs8, spki)
            }
        };
        SigningKey(Arc::new(Material {
            alg,
            kid: kid.to_owned(),
            pair,
            pkcs8,
            spki,
            certificate_pem: OnceLock::new(),
        }))
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> Alg {
        self.0.alg
    }

    /// The key id, as published in the JWKS and put in tokens' headers.
    pub fn kid(&self) -> &str {
        &self.0.kid
    }

    /// The private key as PKCS#8 DER, to sign with another JWT library.
    pub fn private_pkcs8_der(&self) -> Vec<u8> {
        self.0.pkcs8.clone()
    }

    /// The public key as X.509 SubjectPublicKeyInfo DER.
    pub fn public_der(&self) -> Vec<u8> {
        self.0.spki.clone()
    }

    /// The public key as a `-----BEGIN PUBLIC KEY-----` (SPKI) PEM, the form
    /// of `jwt_validation_pubkeys`.
    pub fn public_pem(&self) -> String {
        pem("PUBLIC KEY", &self.0.spki)
    }

    /// A self-signed X.509 certificate PEM for this same public key (subject
    /// CN = the kid, valid from a minute ago for ten years), the other form
    /// `jwt_validation_pubkeys` accepts. RSA keys self-sign with PKCS#1 v1.5
    /// SHA-256 whatever their JWS algorithm, since rcgen cannot sign with
    /// RSA-PSS; the certified key is the same either way. The same
    /// certificate is returned on every call.
    pub fn certificate_pem(&self) -> String {
        self.0
            .certificate_pem
            .get_or_init(|| self_signed_certificate(&self.0))
            .clone()
    }

    /// The public JWK (RFC 7517): `kty`, `kid`, `alg`, `use: "sig"`, and
    /// `n`/`e` (RSA), `crv`/`x`/`y` (EC, coordinates at full curve size) or
    /// `crv`/`x` (Ed25519), all base64url without padding.
    pub fn jwk(&self) -> Value {
        let m = &self.0;
        let (alg, kid) = (m.alg.name(), m.kid.as_str());
        match &m.pair {
            Pair::Rsa(pair) => {
                let (n, e) = rsa_public_numbers(pair.public_key().as_ref())
                    .expect("aws-lc-rs encodes an RSAPublicKey");
                json!({
                    "kty": "RSA", "kid": kid, "alg": alg, "use": "sig",
                    "n": b64(n), "e": b64(e),
                })
            }
            Pair::Ec(pair) => {
                // An uncompressed SEC1 point, 0x04 || X || Y, each coordinate
                // already left-padded to the field size.
                let point = pair.public_key().as_ref();
                let (x, y) = point[1..].split_at((point.len() - 1) / 2);
                let crv = match m.alg {
                    Alg::ES256 => "P-256",
                    Alg::ES384 => "P-384",
                    _ => "P-521",
                };
                json!({
                    "kty": "EC", "kid": kid, "alg": alg, "use": "sig",
                    "crv": crv, "x": b64(x), "y": b64(y),
                })
            }
            Pair::Ed(pair) => json!({
                "kty": "OKP", "kid": kid, "alg": alg, "use": "sig",
                "crv": "Ed25519", "x": b64(pair.public_key().as_ref()),
            }),
        }
    }

    /// A compact JWS of `claims` with header `{"alg", "kid", "typ": "JWT"}`.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": self.0.alg.name(), "kid": self.0.kid, "typ": "JWT"});
        self.sign_with_header(&header, claims)
    }

    /// A compact JWS with `header` used verbatim, signed with this key's
    /// algorithm whatever the header says (for tests of lying headers).
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        let input = signing_input(header, claims);
        let signature = self.signature(input.as_bytes());
        let token = format!("{input}.{}", b64(&signature));
        crate::evidence::note_secret("jwt", &token);
        token
    }

    /// Whether `signature` is this RSA key's RS256 signature of `input`
    /// (false for other key types): test servers check JWT assertions.
    pub(crate) fn verifies_rs256(&self, input: &[u8], signature: &[u8]) -> bool {
        let Pair::Rsa(pair) = &self.0.pair else {
            return false;
        };
        signature::UnparsedPublicKey::new(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            pair.public_key().as_ref(),
        )
        .verify(input, signature)
        .is_ok()
    }

    /// The raw JWS signature of `signing_input` (`base64url(header) "."
    /// base64url(payload)`), for hand-built tokens.
    pub fn signature(&self, signing_input: &[u8]) -> Vec<u8> {
        const SIGN: &str = "aws-lc-rs signs with its own key";
        let rng = SystemRandom::new();
        match &self.0.pair {
            Pair::Rsa(pair) => {
                let padding: &'static dyn signature::RsaEncoding = match self.0.alg {
                    Alg::RS256 => &signature::RSA_PKCS1_SHA256,
                    Alg::RS384 => &signature::RSA_PKCS1_SHA384,
                    Alg::RS512 => &signature::RSA_PKCS1_SHA512,
                    // aws-lc-rs's PSS encodings use a salt as long as the hash,
                    // as RFC 7518 §3.5 requires.
                    Alg::PS256 => &signature::RSA_PSS_SHA256,
                    Alg::PS384 => &signature::RSA_PSS_SHA384,
                    _ => &signature::RSA_PSS_SHA512,
                };
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(padding, &rng, signing_input, &mut sig)
                    .expect(SIGN);
                sig
            }
            Pair::Ec(pair) => pair
                .sign(&rng, signing_input)
                .expect(SIGN)
                .as_ref()
                .to_vec(),
            Pair::Ed(pair) => pair.sign(signing_input).as_ref().to_vec(),
        }
    }
}

/// A compact JWS signed with HMAC-SHA256 under `secret`, with `header` used
/// verbatim: for algorithm-confusion tests (an HS256 token "signed" with an
/// RSA public key as the secret).
pub fn hs256_token(secret: &[u8], header: &Value, claims: &Value) -> String {
    let input = signing_input(header, claims);
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let tag = hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

/// An unsecured JWS (RFC 7515 Appendix A.5): header `{"alg": "none", "typ":
/// "JWT"}` and an empty signature, `"<header>.<payload>."`.
pub fn unsigned_token(claims: &Value) -> String {
    let header = json!({"alg": "none", "typ": "JWT"});
    format!("{}.", signing_input(&header, claims))
}

/// OIDC's `at_hash` (or `c_hash`) of `value` for a token signed with `alg`:
/// base64url of the left half of the hash of its ASCII.
pub fn at_hash(alg: Alg, value: &str) -> String {
    let hash = digest::digest(alg.token_hash(), value.as_bytes());
    let hash = hash.as_ref();
    b64(&hash[..hash.len() / 2])
}

/// The current time in Unix seconds, for `iat`, `nbf` and `exp`.
pub fn now() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
}

/// Base64url without padding, JOSE's encoding.
pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A PEM block with 64-column lines.
pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn signing_input(header: &Value, claims: &Value) -> String {
    // Serializing a `Value` cannot fail: its map keys are strings.
    let header = serde_json::to_vec(header).unwrap_or_default();
    let claims = serde_json::to_vec(claims).unwrap_or_default();
    format!("{}.{}", b64(&header), b64(&claims))
}

fn self_signed_certificate(m: &Material) -> String {
    use rcgen::{CertificateParams, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};
    let alg = match m.alg {
        Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512 => {
            &rcgen::PKCS_RSA_SHA256
        }
        Alg::ES256 => &PKCS_ECDSA_P256_SHA256,
        Alg::ES384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        Alg::ES512 => &rcgen::PKCS_ECDSA_P521_SHA512,
        Alg::EdDSA => &rcgen::PKCS_ED25519,
    };
    let pkcs8 = rustls::pki_types::PrivatePkcs8KeyDer::from(m.pkcs8.as_slice());
    let key =
        KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, alg).expect("rcgen takes aws-lc-rs's PKCS#8");
    let mut params = CertificateParams::default();
    params.distinguished_name.remove(DnType::CommonName);
    params
        .distinguished_name
        .push(DnType::CommonName, m.kid.as_str());
    let now = SystemTime::now();
    params.not_before = (now - Duration::from_secs(60)).into();
    params.not_after = (now + Duration::from_secs(10 * 365 * 24 * 3600)).into();
    params
        .self_signed(&key)
        .expect("rcgen self-signs a certificate")
        .pem()
}

/// `n` and `e` from a DER `RSAPublicKey` (RFC 8017 A.1.1), without the
/// sign-byte zeros DER puts in front of them.
fn rsa_public_numbers(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let (sequence, _) = der_element(der, 0x30)?;
    let (n, rest) = der_element(sequence, 0x02)?;
    let (e, _) = der_element(rest, 0x02)?;
    Some((strip_zeros(n), strip_zeros(e)))
}

fn strip_zeros(int: &[u8]) -> &[u8] {
    let first = int
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(int.len().saturating_sub(1));
    &int[first..]
}

/// One DER element with `tag`: its contents and what follows it.
fn der_element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&found, rest) = input.split_first()?;
    if found != tag {
        return None;
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (len_bytes, after) = rest.split_at(count);
        rest = after;
        len_bytes
            .iter()
            .fold(0usize, |len, &b| (len << 8) | usize::from(b))
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{RsaPssSaltLength, UnparsedPublicKey, VerificationAlgorithm};

    fn verifier(alg: Alg) -> &'static dyn VerificationAlgorithm {
        // PSS is checked with an explicit salt length equal to the hash's,
        // not the library default, so the test states what RFC 7518 asks.
        match alg {
            Alg::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Alg::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Alg::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Alg::PS256 => {
                &const {
                    signature::RSA_PSS_2048_8192_SHA256
                        .with_pss_salt_length(RsaPssSaltLength::Custom(32))
                }
            }
            Alg::PS384 => {
                &const {
                    signature::RSA_PSS_2048_8192_SHA384
                        .with_pss_salt_length(RsaPssSaltLength::Custom(48))
                }
            }
            Alg::PS512 => {
                &const {
                    signature::RSA_PSS_2048_8192_SHA512
                        .with_pss_salt_length(RsaPssSaltLength::Custom(64))
                }
            }
            Alg::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
            Alg::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
            Alg::ES512 => &signature::ECDSA_P521_SHA512_FIXED,
            Alg::EdDSA => &signature::ED25519,
        }
    }

    fn unpem(pem: &str, label: &str) -> Vec<u8> {
        let begin = format!("-----BEGIN {label}-----");
        let end = format!("-----END {label}-----");
        let body = pem
            .split_once(&begin)
            .and_then(|(_, rest)| rest.split_once(&end))
            .map(|(body, _)| body)
            .expect("a PEM block");
        let body: String = body.split_whitespace().collect();
        STANDARD.decode(body).expect("base64 PEM body")
    }

    fn parts(token: &str) -> (Value, Value, Vec<u8>, String) {
        let mut it = token.split('.');
        let (h, p, s) = (
            it.next().expect("header"),
            it.next().expect("payload"),
            it.next().expect("signature"),
        );
        assert!(it.next().is_none(), "three parts");
        let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).expect("base64url");
        let json = |part: &str| serde_json::from_slice(&decode(part)).expect("JSON");
        (json(h), json(p), decode(s), format!("{h}.{p}"))
    }

    #[test]
    fn every_alg_signs_tokens_its_public_pem_verifies() {
        let claims = json!({"sub": "alice", "exp": now() + 60});
        for alg in Alg::ALL {
            let key = SigningKey::generate(alg, &format!("kid-{alg}"));
            let spki = unpem(&key.public_pem(), "PUBLIC KEY");
            assert_eq!(spki, key.public_der(), "{alg}");
            let token = key.sign(&claims);
            let (header, payload, sig, input) = parts(&token);
            assert_eq!(
                header,
                json!({"alg": alg.name(), "kid": format!("kid-{alg}"), "typ": "JWT"})
            );
            assert_eq!(payload, claims);
            let expected_len = match alg {
                Alg::ES256 => 64,
                Alg::ES384 => 96,
                Alg::ES512 => 132,
                Alg::EdDSA => 64,
                _ => 256,
            };
            assert_eq!(sig.len(), expected_len, "{alg} signature length");
            UnparsedPublicKey::new(verifier(alg), &spki)
                .verify(input.as_bytes(), &sig)
                .unwrap_or_else(|_| panic!("{alg} token verifies"));
            // A different message must not verify: the check is real.
            assert!(
                UnparsedPublicKey::new(verifier(alg), &spki)
                    .verify(b"x.y", &sig)
                    .is_err(),
                "{alg}"
            );
        }
    }

    #[test]
    fn jwk_matches_the_public_key() {
        for alg in Alg::ALL {
            let key = SigningKey::generate(alg, "k");
            let jwk = key.jwk();
            assert_eq!(jwk["kid"], "k");
            assert_eq!(jwk["alg"], alg.name());
            assert_eq!(jwk["use"], "sig");
            let field = |name: &str| {
                URL_SAFE_NO_PAD
                    .decode(jwk[name].as_str().expect("string member"))
                    .expect("base64url member")
            };
            let spki = key.public_der();
            match alg {
                Alg::ES256 | Alg::ES384 | Alg::ES512 => {
                    let size = match alg {
                        Alg::ES256 => 32,
                        Alg::ES384 => 48,
                        _ => 66,
                    };
                    assert_eq!(jwk["kty"], "EC");
                    let (x, y) = (field("x"), field("y"));
                    assert_eq!((x.len(), y.len()), (size, size), "{alg}");
                    // The SPKI ends with the uncompressed point.
                    let point = [&[4u8][..], &x, &y].concat();
                    assert!(spki.ends_with(&point), "{alg}");
                }
                Alg::EdDSA => {
                    assert_eq!(jwk["kty"], "OKP");
                    assert_eq!(jwk["crv"], "Ed25519");
                    assert!(spki.ends_with(&field("x")));
                }
                _ => {
                    assert_eq!(jwk["kty"], "RSA");
                    let (n, e) = (field("n"), field("e"));
                    assert_eq!(n.len(), 256);
                    assert_ne!(n[0], 0);
                    assert_eq!(e, [1, 0, 1]);
                    let verify = signature::RsaPublicKeyComponents { n: &n, e: &e };
                    let input = b"header.payload";
                    let sig = key.signature(input);
                    let rsa_params: &signature::RsaParameters = match alg {
                        Alg::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                        Alg::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                        Alg::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                        Alg::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
                        Alg::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
                        _ => &signature::RSA_PSS_2048_8192_SHA512,
                    };
                    verify
                        .verify(rsa_params, input, &sig)
                        .unwrap_or_else(|_| panic!("{alg}: n and e verify"));
                }
            }
        }
    }

    #[test]
    fn certificate_wraps_the_same_public_key() {
        for alg in Alg::ALL {
            let key = SigningKey::generate(alg, "cert-kid");
            let pem = key.certificate_pem();
            assert_eq!(pem, key.certificate_pem(), "stable across calls");
            let der = unpem(&pem, "CERTIFICATE");
            let spki = key.public_der();
            assert!(
                der.windows(spki.len()).any(|w| w == spki.as_slice()),
                "{alg}: the certificate carries the key's SPKI"
            );
        }
    }

    #[test]
    fn hs256_and_unsigned_tokens() {
        let header = json!({"alg": "HS256", "typ": "JWT", "kid": "k1"});
        let claims = json!({"sub": "mallory"});
        let token = hs256_token(b"secret", &header, &claims);
        let (h, p, sig, input) = parts(&token);
        assert_eq!((h, p), (header, claims.clone()));
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"secret");
        hmac::verify(&key, input.as_bytes(), &sig).expect("HMAC verifies");

        let token = unsigned_token(&claims);
        assert!(token.ends_with('.'));
        let (h, p, sig, _) = parts(&token);
        assert_eq!(h, json!({"alg": "none", "typ": "JWT"}));
        assert_eq!(p, claims);
        assert!(sig.is_empty());
    }

    #[test]
    fn at_hash_is_the_left_half_of_the_hash() {
        // The example of OIDC Core's A.3: the access token
        // "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y" has at_hash
        // "77QmUPtjPfzWtF2AnpK9RQ" under RS256.
        assert_eq!(
            at_hash(Alg::RS256, "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(at_hash(Alg::ES384, "x").len(), 32);
        assert_eq!(at_hash(Alg::EdDSA, "x").len(), 43);
    }

    #[test]
    fn alg_names_round_trip() {
        for alg in Alg::ALL {
            assert_eq!(Alg::from_name(alg.name()), Some(alg));
        }
        assert_eq!(Alg::from_name("none"), None);
    }

    #[test]
    fn der_lengths() {
        // Long-form lengths, and truncated input.
        let mut der = vec![0x02, 0x82, 0x01, 0x00];
        der.extend(std::iter::repeat_n(7u8, 256));
        let (content, rest) = der_element(&der, 0x02).expect("long form");
        assert_eq!((content.len(), rest.len()), (256, 0));
        assert!(der_element(&der[..100], 0x02).is_none());
        assert!(der_element(&[0x30, 0x01], 0x30).is_none());
        assert_eq!(strip_zeros(&[0, 0, 1, 2]), [1, 2]);
        assert_eq!(strip_zeros(&[0]), [0]);
    }
}
