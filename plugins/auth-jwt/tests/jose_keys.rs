//! Our verifier against independently made keys and tokens (the test-support
//! signer, and jsonwebtoken's): every algorithm verifies with its PEM, its
//! certificate and its JWK, and nothing verifies across keys or families.

use serde_json::json;
use vault_plugin_auth_jwt::jose::{Algorithm, Jwk, Jws, PublicKey};
use vault_plugin_auth_jwt::jwks::{parse_jwks, verify_with};
use vault_plugin_test_support::jwt::{Alg, SigningKey, hs256_token, unsigned_token};

fn claims() -> serde_json::Value {
    json!({"sub": "alice", "aud": "vault"})
}

#[test]
fn every_algorithm_verifies_with_pem_certificate_and_jwk() {
    for alg in Alg::ALL {
        let key = SigningKey::generate(alg, "k1");
        let token = key.sign(&claims());
        let jws = Jws::parse(&token).expect("parses");
        assert_eq!(jws.alg, alg.name().parse::<Algorithm>().expect("known"));
        let from_pem = PublicKey::from_pem(&key.public_pem()).expect("pem");
        let from_cert = PublicKey::from_pem(&key.certificate_pem()).expect("cert");
        let jwk: Jwk = serde_json::from_value(key.jwk()).expect("jwk");
        let from_jwk = PublicKey::from_jwk(&jwk).expect("jwk key");
        for (what, k) in [("pem", from_pem), ("cert", from_cert), ("jwk", from_jwk)] {
            assert!(
                k.verify(jws.alg, jws.signing_input, &jws.signature),
                "{alg:?} {what}"
            );
        }
    }
}

#[test]
fn a_signature_never_verifies_with_another_key_or_a_tampered_payload() {
    for alg in Alg::ALL {
        let signer = SigningKey::generate(alg, "k1");
        let other = SigningKey::generate(alg, "k2");
        let token = signer.sign(&claims());
        let jws = Jws::parse(&token).expect("parses");
        let wrong = PublicKey::from_pem(&other.public_pem()).expect("pem");
        assert!(
            !wrong.verify(jws.alg, jws.signing_input, &jws.signature),
            "{alg:?}"
        );

        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = base64_json(&json!({"sub": "mallory", "aud": "vault"}));
        parts[1] = &forged;
        let tampered = parts.join(".");
        let jws = Jws::parse(&tampered).expect("parses");
        let right = PublicKey::from_pem(&signer.public_pem()).expect("pem");
        assert!(
            !right.verify(jws.alg, jws.signing_input, &jws.signature),
            "{alg:?}"
        );
    }
}

#[test]
fn algorithm_confusion_and_unsigned_tokens_are_refused_before_any_key() {
    let rsa = SigningKey::generate(Alg::RS256, "k1");
    // The classic attack: HMAC "signed" with the public key's PEM bytes.
    let forged = hs256_token(
        rsa.public_pem().as_bytes(),
        &json!({"alg": "HS256", "typ": "JWT"}),
        &claims(),
    );
    assert!(Jws::parse(&forged).is_err());
    assert!(Jws::parse(&unsigned_token(&claims())).is_err());

    // An RS256 signature relabelled PS256 / an ES256 key asked to verify RS256.
    let token = rsa.sign_with_header(&json!({"alg": "PS256"}), &claims());
    let jws = Jws::parse(&token).expect("parses");
    let key = PublicKey::from_pem(&rsa.public_pem()).expect("pem");
    assert!(!key.verify(jws.alg, jws.signing_input, &jws.signature));
    let ec = PublicKey::from_pem(&SigningKey::generate(Alg::ES256, "e").public_pem()).expect("ec");
    let rs256 = rsa.sign(&claims());
    let jws = Jws::parse(&rs256).expect("parses");
    assert!(!ec.verify(jws.alg, jws.signing_input, &jws.signature));
}

#[test]
fn tokens_from_jsonwebtoken_verify_too() {
    use jsonwebtoken::{EncodingKey, Header, encode};
    let key = SigningKey::generate(Alg::ES256, "k1");
    let pkcs8 = key.private_pkcs8_der();
    let token = encode(
        &Header::new(jsonwebtoken::Algorithm::ES256),
        &claims(),
        &EncodingKey::from_ec_der(&pkcs8),
    )
    .expect("encode");
    let jws = Jws::parse(&token).expect("parses");
    let public = PublicKey::from_pem(&key.public_pem()).expect("pem");
    assert!(public.verify(jws.alg, jws.signing_input, &jws.signature));
}

#[test]
fn a_jwks_keeps_signing_keys_and_skips_what_it_cannot_use() {
    let rsa = SigningKey::generate(Alg::RS256, "r");
    let ec = SigningKey::generate(Alg::ES384, "e");
    let mut enc = rsa.jwk();
    enc["use"] = json!("enc");
    enc["kid"] = json!("enc");
    let doc = json!({"keys": [
        rsa.jwk(), ec.jwk(), enc,
        {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
        {"kty": "EC", "crv": "secp256k1", "x": "AA", "y": "AA"},
        {"kty": "unknown"},
    ]});
    let keys = parse_jwks(doc.to_string().as_bytes()).expect("parses");
    let kids: Vec<_> = keys.iter().map(|k| k.kid().unwrap_or("")).collect();
    assert_eq!(kids, ["r", "e"]);

    let jws_token = ec.sign(&claims());
    let jws = Jws::parse(&jws_token).expect("parses");
    assert!(verify_with(&keys, &jws));
    // The right kid but another key's signature.
    let impostor = SigningKey::generate(Alg::ES384, "e").sign(&claims());
    assert!(!verify_with(&keys, &Jws::parse(&impostor).expect("parses")));
}

#[test]
fn malformed_keys_are_errors() {
    for pem in [
        "",
        "not a pem",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    ] {
        assert!(PublicKey::all_from_pem(pem).is_err(), "{pem:?}");
    }
    let bad: Jwk =
        serde_json::from_value(json!({"kty": "RSA", "n": "!!", "e": "AQAB"})).expect("jwk");
    assert!(PublicKey::from_jwk(&bad).is_err());
    let wrong_alg: Jwk = serde_json::from_value({
        let mut j = SigningKey::generate(Alg::ES256, "k").jwk();
        j["alg"] = json!("RS256");
        j
    })
    .expect("jwk");
    assert!(PublicKey::from_jwk(&wrong_alg).is_err());
}

fn base64_json(v: &serde_json::Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}
