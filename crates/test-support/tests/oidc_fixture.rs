//! The OIDC provider fixture over real HTTPS, trusting only its `ca_pem()`,
//! with a small blocking rustls client (ureq is built without TLS here).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::signature::{self, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use vault_plugin_test_support::jwt::{self, Alg, SigningKey};
use vault_plugin_test_support::oidc::{AuthorizeError, OidcProvider};

const REDIRECT: &str = "http://localhost:8250/oidc/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("JSON body ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

fn client_config(ca_pem: &str) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).expect("CA PEM"))
        .expect("CA certificate");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    Arc::new(config)
}

/// A verified TLS connection to the provider, by `host` (its SAN).
fn connect(idp: &OidcProvider, host: &str) -> std::io::Result<Tls> {
    let tcp = TcpStream::connect(("127.0.0.1", idp.port()))?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    let name = ServerName::try_from(host.to_owned()).expect("server name");
    let conn = rustls::ClientConnection::new(client_config(&idp.ca_pem()), name)
        .expect("client connection");
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    // Finish the handshake now, so certificate errors surface here.
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(tls)
}

fn write_request(
    tls: &mut Tls,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
    close: bool,
) -> std::io::Result<()> {
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if close {
        request.push_str("Connection: close\r\n");
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    tls.write_all(request.as_bytes())?;
    tls.flush()
}

/// Reads one response, by its Content-Length (all the provider sends).
fn read_reply(reader: &mut impl BufRead) -> std::io::Result<Reply> {
    let mut status_line = String::new();
    if reader.read_line(&mut status_line)? == 0 {
        return Err(ErrorKind::UnexpectedEof.into());
    }
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("status line {status_line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    Ok(Reply {
        status,
        headers,
        body,
    })
}

fn request(
    idp: &OidcProvider,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<Reply> {
    let mut tls = connect(idp, "127.0.0.1")?;
    write_request(&mut tls, method, path, headers, body, true)?;
    read_reply(&mut BufReader::new(tls))
}

fn get(idp: &OidcProvider, path: &str) -> Reply {
    request(idp, "GET", path, &[], "").unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

fn post_token(idp: &OidcProvider, headers: &[(&str, &str)], form: &[(&str, &str)]) -> Reply {
    let body: Vec<String> = form
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect();
    let mut all = vec![("Content-Type", "application/x-www-form-urlencoded")];
    all.extend_from_slice(headers);
    request(idp, "POST", "/token", &all, &body.join("&")).expect("POST /token")
}

fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

fn auth_url(idp: &OidcProvider, extra: &[(&str, &str)]) -> String {
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()));
    let mut params = vec![
        ("client_id", "vault"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid email groups"),
        ("state", "st-1"),
        ("nonce", "n-1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    params.extend_from_slice(extra);
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect();
    format!("{}/authorize?{}", idp.issuer(), query.join("&"))
}

fn redeem_form<'a>(code: &'a str, verifier: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ]
}

/// Verifies a token's signature with `key`'s SPKI and returns its claims.
fn verified_claims(key: &SigningKey, token: &str) -> Value {
    let (input, sig) = token.rsplit_once('.').expect("JWS");
    let sig = URL_SAFE_NO_PAD.decode(sig).expect("signature");
    let alg: &dyn signature::VerificationAlgorithm = match key.alg() {
        Alg::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Alg::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
        Alg::EdDSA => &signature::ED25519,
        other => panic!("not used here: {other}"),
    };
    UnparsedPublicKey::new(alg, key.public_der())
        .verify(input.as_bytes(), &sig)
        .expect("the ID token verifies with the published key");
    let payload = input.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("claims")
}

#[test]
fn discovery_and_jwks_over_https() {
    let idp = OidcProvider::start();
    let issuer = idp.issuer();
    assert!(issuer.starts_with("https://127.0.0.1:"), "{issuer}");
    assert_eq!(idp.jwks_url(), format!("{issuer}/keys"));

    let reply = get(&idp, "/.well-known/openid-configuration");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let doc = reply.json();
    assert_eq!(doc["issuer"], issuer);
    assert_eq!(doc["jwks_uri"], idp.jwks_url());
    assert_eq!(doc["authorization_endpoint"], format!("{issuer}/authorize"));
    assert_eq!(doc["token_endpoint"], format!("{issuer}/token"));
    assert_eq!(doc["userinfo_endpoint"], format!("{issuer}/userinfo"));
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    assert_eq!(
        doc["code_challenge_methods_supported"],
        json!(["S256", "plain"])
    );
    assert_eq!(idp.discovery_requests(), 1);

    let reply = get(&idp, "/keys");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let key = idp.key();
    assert_eq!((key.alg(), key.kid()), (Alg::RS256, "k1"));
    assert_eq!(reply.json(), json!({"keys": [key.jwk()]}));
    assert_eq!(idp.jwks_requests(), 1);

    // Rotation and issuer override show up on the next fetch.
    let es = SigningKey::generate(Alg::ES256, "k2");
    let ed = SigningKey::generate(Alg::EdDSA, "k3");
    idp.set_keys(vec![es.clone(), ed.clone()]);
    idp.set_discovery_issuer(Some("https://elsewhere.example".to_owned()));
    assert_eq!(
        get(&idp, "/keys").json(),
        json!({"keys": [es.jwk(), ed.jwk()]})
    );
    let doc = get(&idp, "/.well-known/openid-configuration").json();
    assert_eq!(doc["issuer"], "https://elsewhere.example");
    assert_eq!(doc["jwks_uri"], idp.jwks_url());
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["ES256", "EdDSA"])
    );
    assert_eq!(idp.key().kid(), "k2");
    assert_eq!(idp.keys().len(), 2);
    assert_eq!((idp.jwks_requests(), idp.discovery_requests()), (2, 2));

    assert_eq!(get(&idp, "/nope").status, 404);
    let reply = request(&idp, "POST", "/keys", &[], "").expect("POST /keys");
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("GET"));
}

#[test]
fn certificate_is_for_localhost_too_and_untrusted_elsewhere() {
    let idp = OidcProvider::start();
    let mut tls = connect(&idp, "localhost").expect("localhost is a SAN");
    write_request(&mut tls, "GET", "/keys", &[], "", true).expect("request");
    assert_eq!(
        read_reply(&mut BufReader::new(tls)).expect("reply").status,
        200
    );
    assert!(connect(&idp, "example.com").is_err(), "not a SAN");

    // Another provider's CA does not vouch for this one.
    let other = OidcProvider::start();
    let tcp = TcpStream::connect(("127.0.0.1", idp.port())).expect("connect");
    let conn = rustls::ClientConnection::new(
        client_config(&other.ca_pem()),
        ServerName::try_from("127.0.0.1").expect("name"),
    )
    .expect("client");
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    assert!(tls.conn.complete_io(&mut tls.sock).is_err());
}

#[test]
fn keep_alive_and_concurrent_connections() {
    let idp = OidcProvider::start();
    // An idle keep-alive connection does not hold up others.
    let mut idle = connect(&idp, "127.0.0.1").expect("connect");
    write_request(&mut idle, "GET", "/keys", &[], "", false).expect("request");
    let mut idle = BufReader::new(idle);
    assert_eq!(read_reply(&mut idle).expect("first reply").status, 200);

    std::thread::scope(|s| {
        let workers: Vec<_> = (0..8)
            .map(|_| s.spawn(|| get(&idp, "/keys").status))
            .collect();
        for worker in workers {
            assert_eq!(worker.join().expect("worker"), 200);
        }
    });

    // The same connection serves a second request.
    write_request(
        idle.get_mut(),
        "GET",
        "/.well-known/openid-configuration",
        &[],
        "",
        false,
    )
    .expect("second request");
    assert_eq!(read_reply(&mut idle).expect("second reply").status, 200);
    assert_eq!((idp.jwks_requests(), idp.discovery_requests()), (9, 1));
}

#[test]
fn stop_listening_refuses_and_resume_serves_on_the_same_port() {
    let idp = OidcProvider::start();
    let port = idp.port();
    let mut open = connect(&idp, "127.0.0.1").expect("connect");
    write_request(&mut open, "GET", "/keys", &[], "", false).expect("request");
    let mut open = BufReader::new(open);
    assert_eq!(read_reply(&mut open).expect("reply").status, 200);

    idp.stop_listening();
    let refused = TcpStream::connect(("127.0.0.1", port)).expect_err("refused while down");
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
    // The open keep-alive connection was closed too.
    let _ = write_request(open.get_mut(), "GET", "/keys", &[], "", false);
    assert!(
        read_reply(&mut open).is_err(),
        "open connections are closed"
    );
    idp.stop_listening(); // idempotent

    idp.resume_listening();
    idp.resume_listening(); // idempotent
    assert_eq!(idp.port(), port);
    assert_eq!(get(&idp, "/keys").status, 200);
    assert_eq!(idp.jwks_requests(), 2);
}

#[test]
fn hang_accepts_but_never_answers() {
    let idp = OidcProvider::start();
    idp.set_hang(true);
    let mut tls = connect(&idp, "127.0.0.1").expect("TLS still completes");
    tls.sock
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    write_request(&mut tls, "GET", "/keys", &[], "", true).expect("request");
    let err = read_reply(&mut BufReader::new(tls)).expect_err("no answer");
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err}"
    );
    assert_eq!(idp.jwks_requests(), 0);

    idp.set_hang(false);
    assert_eq!(get(&idp, "/keys").status, 200);
    // Dropping the provider with a request held does not block.
}

#[test]
fn authorization_code_flow_with_pkce() {
    let idp = OidcProvider::start();
    idp.set_client("vault", "s3cret");
    idp.set_id_token_claims(
        json!({"sub": "alice", "email": "alice@example.com", "groups": ["admins"]}),
    );

    let auth = idp.authorize(&auth_url(&idp, &[]));
    assert_eq!(auth.redirect_uri, REDIRECT);
    assert_eq!(auth.state, "st-1");
    assert_eq!(auth.nonce.as_deref(), Some("n-1"));
    assert_eq!(auth.code_challenge_method.as_deref(), Some("S256"));
    assert_eq!(auth.scope, "openid email groups");
    assert_eq!(auth.response_type, "code");
    assert_eq!(auth.params["client_id"], "vault");
    assert!(!auth.code.is_empty());
    assert_eq!(
        auth.redirect_url(),
        format!("{REDIRECT}?code={}&state=st-1", auth.code)
    );

    // A wrong verifier, a missing one, a wrong redirect_uri, a wrong secret:
    // all refused, and none of them uses up the code.
    let wrong = "x".repeat(43);
    let reply = post_token(
        &idp,
        &[("Authorization", &basic("vault", "s3cret"))],
        &redeem_form(&auth.code, &wrong),
    );
    assert_eq!(
        (reply.status, reply.json()["error"].clone()),
        (400, json!("invalid_grant"))
    );
    let mut form = redeem_form(&auth.code, VERIFIER);
    form.pop();
    let reply = post_token(&idp, &[("Authorization", &basic("vault", "s3cret"))], &form);
    assert_eq!(reply.json()["error"], "invalid_grant");
    let mut form = redeem_form(&auth.code, VERIFIER);
    form[2].1 = "http://localhost:8250/elsewhere";
    let reply = post_token(&idp, &[("Authorization", &basic("vault", "s3cret"))], &form);
    assert_eq!(reply.json()["error"], "invalid_grant");
    let reply = post_token(
        &idp,
        &[("Authorization", &basic("vault", "nope"))],
        &redeem_form(&auth.code, VERIFIER),
    );
    assert_eq!(
        (reply.status, reply.json()["error"].clone()),
        (401, json!("invalid_client"))
    );
    let reply = post_token(&idp, &[], &redeem_form(&auth.code, VERIFIER));
    assert_eq!(
        (reply.status, reply.json()["error"].clone()),
        (401, json!("invalid_client"))
    );

    let reply = post_token(
        &idp,
        &[("Authorization", &basic("vault", "s3cret"))],
        &redeem_form(&auth.code, VERIFIER),
    );
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let tokens = reply.json();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 300);
    let access_token = tokens["access_token"].as_str().expect("access_token");
    let claims = verified_claims(&idp.key(), tokens["id_token"].as_str().expect("id_token"));
    assert_eq!(claims["iss"], idp.issuer());
    assert_eq!(claims["aud"], "vault");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["groups"], json!(["admins"]));
    assert_eq!(claims["nonce"], "n-1");
    assert_eq!(claims["at_hash"], jwt::at_hash(Alg::RS256, access_token));
    let (iat, exp) = (
        claims["iat"].as_i64().expect("iat"),
        claims["exp"].as_i64().expect("exp"),
    );
    assert_eq!(exp - iat, 300);
    assert!((iat - jwt::now()).abs() < 60);

    let last = idp.last_token_request().expect("recorded");
    assert_eq!(last["client_auth_method"], "client_secret_basic");
    assert_eq!(
        (last["client_id"].as_str(), last["client_secret"].as_str()),
        ("vault", "s3cret")
    );
    assert_eq!(last["code_verifier"], VERIFIER);
    assert_eq!(last["redirect_uri"], REDIRECT);

    // Single use.
    let reply = post_token(
        &idp,
        &[("Authorization", &basic("vault", "s3cret"))],
        &redeem_form(&auth.code, VERIFIER),
    );
    assert_eq!(
        (reply.status, reply.json()["error"].clone()),
        (400, json!("invalid_grant"))
    );
    assert_eq!(idp.token_requests(), 7);

    // Userinfo answers the bearer of the access token.
    let bearer = format!("Bearer {access_token}");
    let reply =
        request(&idp, "GET", "/userinfo", &[("Authorization", &bearer)], "").expect("userinfo");
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json(),
        json!({"sub": "alice", "email": "alice@example.com", "groups": ["admins"]})
    );
    let reply = request(
        &idp,
        "GET",
        "/userinfo",
        &[("Authorization", "Bearer nope")],
        "",
    )
    .expect("userinfo");
    assert_eq!(reply.status, 401);
    assert_eq!(get(&idp, "/userinfo").status, 401);
}

#[test]
fn client_secret_post_plain_pkce_and_overridden_claims() {
    let idp = OidcProvider::start();
    idp.set_client("vault", "s3cret");
    idp.set_id_token_claims(json!({"sub": "bob", "exp": 1, "nonce": null}));
    let challenge = "p".repeat(50);
    let url = format!(
        "{}/authorize?client_id=vault&redirect_uri={}&response_type=code&scope=openid&state=s&code_challenge={challenge}&code_challenge_method=plain",
        idp.issuer(),
        urlencode(REDIRECT)
    );
    let auth = idp.authorize(&url);
    assert_eq!(auth.nonce, None);
    let mut form = redeem_form(&auth.code, &challenge);
    form.extend([("client_id", "vault"), ("client_secret", "s3cret")]);
    let reply = post_token(&idp, &[], &form);
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let claims = verified_claims(
        &idp.key(),
        reply.json()["id_token"].as_str().expect("id_token"),
    );
    assert_eq!(claims["sub"], "bob");
    assert_eq!(claims["exp"], 1, "the test's claim wins");
    assert!(claims.get("nonce").is_none(), "null removes a claim");
    let last = idp.last_token_request().expect("recorded");
    assert_eq!(last["client_auth_method"], "client_secret_post");
}

#[test]
fn authorize_over_http_redirects_with_code_and_state() {
    let idp = OidcProvider::start();
    idp.set_client("vault", "s3cret");
    let url = auth_url(&idp, &[]);
    let path = url.strip_prefix(&idp.issuer()).expect("path");
    let reply = get(&idp, path);
    assert_eq!(reply.status, 302);
    let location = reply.header("location").expect("Location");
    let query = location
        .strip_prefix(&format!("{REDIRECT}?"))
        .unwrap_or_else(|| panic!("redirects to the callback: {location}"));
    let params: BTreeMap<&str, &str> = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .collect();
    assert_eq!(params["state"], "st-1");
    // The code is real: it redeems.
    let reply = post_token(
        &idp,
        &[("Authorization", &basic("vault", "s3cret"))],
        &redeem_form(params["code"], VERIFIER),
    );
    assert_eq!(reply.status, 200);

    // form_post answers with a self-submitting form.
    let url = auth_url(&idp, &[("response_mode", "form_post")]);
    let reply = get(&idp, url.strip_prefix(&idp.issuer()).expect("path"));
    assert_eq!(reply.status, 200);
    let page = String::from_utf8_lossy(&reply.body);
    assert!(page.contains(r#"name="state" value="st-1""#), "{page}");
    assert!(
        page.contains(r#"action="http://localhost:8250/oidc/callback""#),
        "{page}"
    );
}

#[test]
fn implicit_flow_returns_an_id_token_with_the_nonce() {
    let idp = OidcProvider::start();
    idp.set_client("vault", "s3cret");
    let url = auth_url(&idp, &[("response_mode", "form_post")])
        .replace("response_type=code", "response_type=id_token");
    let auth = idp.authorize(&url);
    assert!(auth.code.is_empty());
    let claims = verified_claims(&idp.key(), auth.id_token.as_deref().expect("id_token"));
    assert_eq!(
        (claims["nonce"].as_str(), claims["aud"].as_str()),
        (Some("n-1"), Some("vault"))
    );
    assert_eq!(
        auth.callback_params(),
        vec![
            (
                "id_token".to_owned(),
                auth.id_token.clone().expect("id_token")
            ),
            ("state".to_owned(), "st-1".to_owned()),
        ]
    );
}

#[test]
fn authorize_refuses_bad_requests() {
    let idp = OidcProvider::start();
    assert_eq!(
        idp.try_authorize(&auth_url(&idp, &[])).err(),
        Some(AuthorizeError::NoClient)
    );
    idp.set_client("other", "x");
    assert_eq!(
        idp.try_authorize(&auth_url(&idp, &[])).err(),
        Some(AuthorizeError::UnknownClient("vault".to_owned()))
    );
    idp.set_client("vault", "x");
    assert!(matches!(
        idp.try_authorize("https://127.0.0.1:1/authorize?client_id=vault"),
        Err(AuthorizeError::WrongEndpoint(..))
    ));
    let no_openid = auth_url(&idp, &[]).replace("scope=openid%20email%20groups", "scope=email");
    assert_eq!(
        idp.try_authorize(&no_openid).err(),
        Some(AuthorizeError::NoOpenidScope("email".to_owned()))
    );
    let repeated = format!("{}&state=again", auth_url(&idp, &[]));
    assert_eq!(
        idp.try_authorize(&repeated).err(),
        Some(AuthorizeError::Repeated("state".to_owned()))
    );
    let bad_method =
        auth_url(&idp, &[]).replace("code_challenge_method=S256", "code_challenge_method=S512");
    assert_eq!(
        idp.try_authorize(&bad_method).err(),
        Some(AuthorizeError::ChallengeMethod("S512".to_owned()))
    );
    // Over HTTP the refusal is a 400 that says why.
    let url = auth_url(&idp, &[]).replace("client_id=vault", "client_id=nobody");
    let reply = get(&idp, url.strip_prefix(&idp.issuer()).expect("path"));
    assert_eq!(reply.status, 400);
    assert!(String::from_utf8_lossy(&reply.body).contains("nobody"));
}
