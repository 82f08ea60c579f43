//! Any bytes as a compact JWT, as a JWKS document, as a JWK and as PEM,
//! through the plugin's parsing and its login checks (`verify_signature`,
//! then `check_claims` with a role that binds, maps and splits claims).
//! Also tokens this target signs itself with real keys of every family,
//! with the fuzzer choosing the header's `alg`, the signing algorithm, the
//! `kid` and the payload bytes: such a token verifies exactly when the
//! header names the algorithm it was signed with, its `kid` (if any) is the
//! key's, the mount allows that algorithm, and the payload is a JSON object,
//! and then the claims returned are that object. Nothing panics.

#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};
use vault_plugin_auth_jwt::config::{Config, KeySource, Resolved};
use vault_plugin_auth_jwt::jose::{Algorithm, Jwk, Jws, KeyFamily, PublicKey};
use vault_plugin_auth_jwt::jwks::parse_jwks;
use vault_plugin_auth_jwt::login::{LoginError, check_claims, verify_signature};
use vault_plugin_auth_jwt::provider::CustomProvider;
use vault_plugin_auth_jwt::role::Role;

/// A fixed clock, so a crash reproduces whatever the day.
const NOW: i64 = 1_750_000_000;

enum Pair {
    Rsa(rsa::KeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

struct Signer {
    family: KeyFamily,
    kid: &'static str,
    pair: Pair,
    spki: Vec<u8>,
    jwk: Value,
}

struct Fixture {
    signers: Vec<Signer>,
    /// The keys as PEM (`jwt_validation_pubkeys`): no `kid`s.
    from_pem: Resolved,
    /// The same keys from a JWKS document: each with its `kid`.
    from_jwks: Resolved,
    /// As `from_jwks`, but the mount allows RS256 only.
    rs256_only: Resolved,
    roles: Vec<Role>,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = String::from("-----BEGIN PUBLIC KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END PUBLIC KEY-----\n");
    out
}

/// One DER element with `tag`: its contents and what follows it.
fn der(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let [found, first, rest @ ..] = input else {
        return None;
    };
    if *found != tag {
        return None;
    }
    let (len, rest) = match first {
        0..0x80 => (usize::from(*first), rest),
        _ => {
            let (bytes, rest) = rest.split_at_checked(usize::from(first & 0x7f))?;
            (
                bytes.iter().fold(0, |n, &b| (n << 8) | usize::from(b)),
                rest,
            )
        }
    };
    rest.split_at_checked(len)
}

fn spki(key: &impl AsDer<PublicKeyX509Der<'static>>) -> Vec<u8> {
    key.as_der()
        .expect("aws-lc encodes its own key")
        .as_ref()
        .to_vec()
}

fn signers() -> Vec<Signer> {
    const GENERATE: &str = "aws-lc generates a key";
    let rsa = rsa::KeyPair::generate(rsa::KeySize::Rsa2048).expect(GENERATE);
    let rsa_public = rsa.public_key();
    // PKCS#1 RSAPublicKey: SEQUENCE { INTEGER n, INTEGER e }.
    let (sequence, _) = der(rsa_public.as_ref(), 0x30).expect("RSAPublicKey");
    let (modulus, rest) = der(sequence, 0x02).expect("n");
    let (exponent, _) = der(rest, 0x02).expect("e");
    let mut out = vec![Signer {
        family: KeyFamily::Rsa,
        kid: "rsa",
        spki: spki(rsa_public),
        jwk: json!({"kty": "RSA", "kid": "rsa", "use": "sig", "n": b64(modulus), "e": b64(exponent)}),
        pair: Pair::Rsa(rsa),
    }];
    for (family, kid, crv, alg, size) in [
        (
            KeyFamily::P256,
            "p256",
            "P-256",
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            32,
        ),
        (
            KeyFamily::P384,
            "p384",
            "P-384",
            &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            48,
        ),
        (
            KeyFamily::P521,
            "p521",
            "P-521",
            &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
            66,
        ),
    ] {
        let pair = EcdsaKeyPair::generate(alg).expect(GENERATE);
        // An uncompressed point: 0x04 || x || y.
        let point = pair.public_key().as_ref().to_vec();
        let (x, y) = point[1..].split_at(size);
        out.push(Signer {
            family,
            kid,
            spki: spki(pair.public_key()),
            jwk: json!({"kty": "EC", "kid": kid, "crv": crv, "x": b64(x), "y": b64(y)}),
            pair: Pair::Ec(pair),
        });
    }
    let ed = Ed25519KeyPair::generate().expect(GENERATE);
    out.push(Signer {
        family: KeyFamily::Ed25519,
        kid: "ed",
        spki: spki(ed.public_key()),
        jwk: json!({"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": b64(ed.public_key().as_ref())}),
        pair: Pair::Ed(ed),
    });
    out
}

fn sign(signer: &Signer, alg: Algorithm, input: &[u8]) -> Vec<u8> {
    const SIGN: &str = "aws-lc signs with its own key";
    let rng = SystemRandom::new();
    match &signer.pair {
        Pair::Rsa(pair) => {
            let padding: &'static dyn signature::RsaEncoding = match alg {
                Algorithm::RS256 => &signature::RSA_PKCS1_SHA256,
                Algorithm::RS384 => &signature::RSA_PKCS1_SHA384,
                Algorithm::RS512 => &signature::RSA_PKCS1_SHA512,
                Algorithm::PS256 => &signature::RSA_PSS_SHA256,
                Algorithm::PS384 => &signature::RSA_PSS_SHA384,
                _ => &signature::RSA_PSS_SHA512,
            };
            let mut sig = vec![0; pair.public_modulus_len()];
            pair.sign(padding, &rng, input, &mut sig).expect(SIGN);
            sig
        }
        Pair::Ec(pair) => pair.sign(&rng, input).expect(SIGN).as_ref().to_vec(),
        Pair::Ed(pair) => pair.sign(input).as_ref().to_vec(),
    }
}

fn resolved(keys: Vec<PublicKey>, algorithms: Vec<Algorithm>, provider: &str) -> Resolved {
    let mut config = Config::default();
    if !provider.is_empty() {
        config
            .provider_config
            .insert("provider".into(), Value::from(provider));
    }
    let provider = CustomProvider::from_config(&config).expect("a provider without API calls");
    Resolved {
        config,
        keys: KeySource::Static(keys),
        algorithms,
        issuer: "https://issuer.example".into(),
        provider,
    }
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let signers = signers();
        let pems: String = signers.iter().map(|s| pem(&s.spki)).collect();
        let jwks = json!({"keys": signers.iter().map(|s| s.jwk.clone()).collect::<Vec<_>>()});
        let jwks = serde_json::to_vec(&jwks).expect("JSON");
        let jwks_keys = || parse_jwks(&jwks).expect("our JWKS parses");
        let from_pem = PublicKey::all_from_pem(&pems).expect("our PEM parses");
        assert_eq!(from_pem.len(), signers.len());
        assert_eq!(jwks_keys().len(), signers.len());
        let roles = vec![
            Role {
                user_claim: "sub".into(),
                groups_claim: "groups".into(),
                bound_audiences: Some(vec!["vault".into()]),
                claim_mappings: Some(BTreeMap::from([
                    ("email".into(), "email".into()),
                    ("/n/x".into(), "nx".into()),
                ])),
                ..Role::default()
            }
            .normalized(),
            Role {
                user_claim: "/user/name".into(),
                user_claim_json_pointer: true,
                groups_claim: "/org/groups".into(),
                bound_claims_type: "glob".into(),
                bound_claims: Some(Map::from_iter([
                    ("/org/team".into(), json!(["ops-*", "*-admins", "x"])),
                    ("email".into(), json!("*@example.com")),
                ])),
                expiration_leeway: -1,
                not_before_leeway: -1,
                clock_skew_leeway: -1,
                ..Role::default()
            }
            .normalized(),
            Role {
                user_claim: "sub".into(),
                bound_subject: "alice".into(),
                bound_claims: Some(Map::from_iter([
                    ("n".into(), json!([1, true, "1"])),
                    ("/a/0".into(), json!(1.5)),
                ])),
                expiration_leeway: 7_000_000_000_000_000_000,
                not_before_leeway: 7_000_000_000_000_000_000,
                clock_skew_leeway: 7_000_000_000_000_000_000,
                ..Role::default()
            }
            .normalized(),
        ];
        Fixture {
            from_pem: resolved(from_pem, Algorithm::ALL.to_vec(), "secureauth"),
            from_jwks: resolved(jwks_keys(), Algorithm::ALL.to_vec(), "ibmisam"),
            rs256_only: resolved(jwks_keys(), vec![Algorithm::RS256], ""),
            signers,
            roles,
        }
    })
}

/// Static keys never wait on the network, so the login's future is ready
/// at its first poll; anything else would be a hang in the plugin.
fn verify(resolved: &Resolved, token: &str) -> Result<Map<String, Value>, LoginError> {
    ready(verify_signature(resolved, token))
}

/// The future's result at its first poll. The fixture's providers
/// (secureauth, ibmisam) make no API calls, so nothing may wait.
fn ready<T>(future: impl Future<Output = T>) -> T {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(result) => result,
        Poll::Pending => panic!("a login with static keys waited"),
    }
}

fn login(fixture: &Fixture, resolved: &Resolved, token: &str) -> Option<Map<String, Value>> {
    let claims = verify(resolved, token).ok()?;
    for (i, role) in fixture.roles.iter().enumerate() {
        if let Ok(identity) = ready(check_claims(resolved, role, "r", claims.clone(), NOW, "")) {
            let _ = identity.into_response(role, &i.to_string());
        }
    }
    Some(claims)
}

/// The fuzzer's bytes as a token it could not have signed.
fn foreign_token(fixture: &Fixture, data: &[u8]) {
    let token = String::from_utf8_lossy(data);
    let parsed = Jws::parse(&token);
    for resolved in [&fixture.from_pem, &fixture.from_jwks, &fixture.rs256_only] {
        let claims = login(fixture, resolved, &token);
        assert!(
            claims.is_none() || parsed.is_ok(),
            "a token verified that does not parse"
        );
    }
}

/// The fuzzer's bytes as key material: never a panic, and a key that parses
/// only verifies algorithms of its own family.
fn key_material(data: &[u8]) {
    let mut keys = parse_jwks(data).unwrap_or_default();
    if let Ok(jwk) = serde_json::from_slice::<Jwk>(data) {
        keys.extend(PublicKey::from_jwk(&jwk));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        keys.extend(PublicKey::all_from_pem(text).unwrap_or_default());
        let _ = PublicKey::from_pem(text);
    }
    keys.extend(PublicKey::from_der(data));
    for key in keys {
        for alg in Algorithm::ALL {
            if alg.family() != key.family() {
                assert!(!key.accepts(alg), "{key:?} accepts {alg}");
                assert!(!key.verify(alg, data, data), "{key:?} verified {alg}");
            }
        }
    }
}

/// A token signed here: whether it verifies is known in advance.
fn signed_token(fixture: &Fixture, data: &[u8]) {
    let [header_alg, signing_alg, flags, payload @ ..] = data else {
        return;
    };
    let header_alg = Algorithm::ALL[usize::from(*header_alg) % Algorithm::ALL.len()];
    let signing_alg = Algorithm::ALL[usize::from(*signing_alg) % Algorithm::ALL.len()];
    let signer = fixture
        .signers
        .iter()
        .find(|s| s.family == signing_alg.family())
        .expect("a key of every family");
    let kid = match flags % 3 {
        0 => None,
        1 => Some(signer.kid),
        _ => Some("unknown"),
    };
    let mut header = json!({"alg": header_alg.name()});
    if let Some(kid) = kid {
        header["kid"] = Value::from(kid);
    }
    let header = serde_json::to_vec(&header).expect("JSON");
    let input = format!("{}.{}", b64(&header), b64(payload));
    let token = format!(
        "{input}.{}",
        b64(&sign(signer, signing_alg, input.as_bytes()))
    );

    let object = serde_json::from_slice::<Map<String, Value>>(payload).ok();
    let genuine = header_alg == signing_alg && object.is_some();
    let cases = [
        (&fixture.from_pem, genuine),
        (&fixture.from_jwks, genuine && kid != Some("unknown")),
        (
            &fixture.rs256_only,
            genuine && kid != Some("unknown") && header_alg == Algorithm::RS256,
        ),
    ];
    for (resolved, want) in cases {
        let claims = login(fixture, resolved, &token);
        assert_eq!(
            claims.is_some(),
            want,
            "header {header_alg}, signed {signing_alg}, kid {kid:?}"
        );
        if let Some(claims) = claims {
            assert_eq!(Some(&claims), object.as_ref(), "claims are the payload");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let fixture = fixture();
    match mode % 3 {
        0 => foreign_token(fixture, rest),
        1 => key_material(rest),
        _ => signed_token(fixture, rest),
    }
});
