//! Where the keys come from, as an operator sees it through OpenBao's HTTP
//! API: JWKS over HTTPS with the provider's CA (rotation, the refresh rate
//! limit, the server going down), several JWKS (`jwks_pairs`), OIDC
//! discovery, static keys of every algorithm, and what a login's token
//! settings and group aliases do to the token OpenBao issues.
//!
//! Where we differ from OpenBao's built-in `jwt` method on purpose, the test
//! mounts both and shows the difference.

mod common;

use std::time::{Duration, Instant};

use common::{claims, login, openbao};
use serde_json::{Value, json};
use vault_plugin_test_support::jwt::{Alg, SigningKey};
use vault_plugin_test_support::oidc::OidcProvider;
use vault_plugin_test_support::openbao::{ApiResponse, OpenBao};

/// What every refusal from the signature check starts with.
const SIGNATURE_PREFIX: &str = "error validating token: error verifying token signature: ";

/// The plugin's least time between two JWKS fetches for unknown `kid`s
/// (`jwks::REFRESH_INTERVAL`), plus a margin.
const REFRESH_WAIT: Duration = Duration::from_millis(5_100);

/// Writes `auth/<mount>/config`.
fn configure(bao: &OpenBao, mount: &str, body: Value) -> ApiResponse {
    bao.write(&format!("auth/{mount}/config"), body)
}

/// A `jwt` role bound to the audience `vault`, taking the user from `sub`,
/// with `extra` fields on top.
fn role(bao: &OpenBao, mount: &str, name: &str, extra: Value) -> ApiResponse {
    let mut body = json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": ["vault"]});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    bao.write(&format!("auth/{mount}/role/{name}"), body)
}

/// Claims valid for five minutes for audience `vault`, user `sub`, with
/// `extra` on top (a `null` removes a claim).
fn user(iss: &str, sub: &str, extra: Value) -> Value {
    let mut base = json!({"iss": iss, "sub": sub, "aud": "vault"});
    if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
        base.extend(extra.clone());
    }
    claims(base)
}

fn jwks_config(idp: &OidcProvider) -> Value {
    json!({"jwks_url": idp.jwks_url(), "jwks_ca_pem": idp.ca_pem()})
}

fn discovery_config(idp: &OidcProvider) -> Value {
    json!({"oidc_discovery_url": idp.issuer(), "oidc_discovery_ca_pem": idp.ca_pem()})
}

/// Asserts a 2xx answer carrying an auth; returns the auth.
#[track_caller]
fn logged_in(resp: &ApiResponse, what: &str) -> Value {
    assert!(
        (200..300).contains(&resp.status) && resp.body["auth"].is_object(),
        "{what}: expected a login, got {}: {}",
        resp.status,
        resp.body
    );
    resp.body["auth"].clone()
}

/// Asserts a refusal with `status` whose message starts with `prefix`.
#[track_caller]
fn refused(resp: &ApiResponse, status: u16, prefix: &str, what: &str) {
    assert_eq!(
        resp.status, status,
        "{what}: expected {status}, got {}: {}",
        resp.status, resp.body
    );
    assert!(
        resp.errors().starts_with(prefix),
        "{what}: expected a message starting {prefix:?}, got {:?}",
        resp.errors()
    );
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// `auth/token/lookup-self` with `token`.
fn lookup_self(bao: &OpenBao, token: &str) -> ApiResponse {
    bao.request_with_token("GET", "auth/token/lookup-self", None, Some(token))
}

/// When a call that made the plugin fetch a JWKS was sent and answered. The
/// fetch happened in between, so the refresh interval it starts surely
/// still runs while less than 5 s have passed since `sent`, and has surely
/// ended `REFRESH_WAIT` after `answered`.
struct Fetch {
    sent: Instant,
    answered: Instant,
}

impl Fetch {
    fn around<T>(call: impl FnOnce() -> T) -> (T, Fetch) {
        let sent = Instant::now();
        let out = call();
        let answered = Instant::now();
        (out, Fetch { sent, answered })
    }

    /// Whether the interval after this fetch surely still runs.
    fn inside_interval(&self) -> bool {
        self.sent.elapsed() < Duration::from_secs(5)
    }

    /// Sleeps until the interval after this fetch has surely ended.
    fn wait_out_interval(&self) {
        if let Some(left) = REFRESH_WAIT.checked_sub(self.answered.elapsed()) {
            std::thread::sleep(left);
        }
    }
}

#[test]
fn jwks_over_https_with_the_providers_ca() {
    let bao = openbao(true);
    let idp = OidcProvider::start();
    let stranger = OidcProvider::start();

    // A CA PEM that holds no certificate, and a valid CA that did not sign
    // the provider's certificate: both mounts refuse the config.
    for mount in ["ours", "theirs"] {
        for (what, ca) in [
            ("not PEM", "not a certificate".to_string()),
            (
                "a public key PEM",
                SigningKey::generate(Alg::ES256, "x").public_pem(),
            ),
        ] {
            let resp = configure(
                &bao,
                mount,
                json!({"jwks_url": idp.jwks_url(), "jwks_ca_pem": ca}),
            );
            assert_eq!(resp.status, 400, "{mount}, CA PEM is {what}: {}", resp.body);
            assert_eq!(
                resp.errors(),
                "error checking jwks_ca_pem",
                "{mount}, CA PEM is {what}"
            );
        }
        let resp = configure(
            &bao,
            mount,
            json!({"jwks_url": idp.jwks_url(), "jwks_ca_pem": stranger.ca_pem()}),
        );
        assert_eq!(resp.status, 400, "{mount}, another CA: {}", resp.body);
        assert_eq!(resp.errors(), "error checking jwks URL", "{mount}");
        // Nothing was stored by the refusals.
        assert_eq!(bao.read(&format!("auth/{mount}/config")).status, 404);
    }

    configure(&bao, "ours", jwks_config(&idp)).ok();
    let read = bao.read("auth/ours/config").ok();
    assert_eq!(read.body["data"]["jwks_url"], json!(idp.jwks_url()));
    assert_eq!(read.body["data"]["status"], "valid");
    role(
        &bao,
        "ours",
        "dev",
        json!({
            "claim_mappings": {"email": "mail", "/org/team": "team"},
            "token_policies": ["dev", "ops"],
            "token_ttl": "7m",
            "token_max_ttl": "1h",
        }),
    )
    .ok();

    let token = idp.key().sign(&user(
        &idp.issuer(),
        "ada",
        json!({"email": "ada@example.com", "org": {"team": "core"}}),
    ));
    let auth = logged_in(&login(&bao, "ours", "dev", &token), "jwks login");
    assert_eq!(strings(&auth["token_policies"]), ["default", "dev", "ops"]);
    assert_eq!(strings(&auth["policies"]), ["default", "dev", "ops"]);
    assert_eq!(
        auth["metadata"],
        json!({"mail": "ada@example.com", "team": "core", "role": "dev"})
    );
    assert_eq!(auth["lease_duration"], 420, "token_ttl 7m");
    assert_eq!(auth["renewable"], true);
    // The token works and names the user.
    let me = lookup_self(&bao, auth["client_token"].as_str().unwrap_or_default()).ok();
    assert_eq!(me.body["data"]["display_name"], "ours-ada");
    assert_eq!(me.body["data"]["meta"]["mail"], "ada@example.com");

    // A key the provider does not publish is refused.
    let rogue = SigningKey::generate(Alg::RS256, "k1");
    let resp = login(
        &bao,
        "ours",
        "dev",
        &rogue.sign(&user(&idp.issuer(), "ada", json!({}))),
    );
    refused(
        &resp,
        400,
        SIGNATURE_PREFIX,
        "token signed by a key with a known kid but not published",
    );
}

#[test]
fn a_rotated_key_logs_in_after_the_refetch() {
    let bao = openbao(false);
    let idp = OidcProvider::start();
    let (_, written) = Fetch::around(|| configure(&bao, "ours", jwks_config(&idp)).ok());
    role(&bao, "ours", "dev", json!({})).ok();
    let old = idp.key();
    logged_in(
        &login(
            &bao,
            "ours",
            "dev",
            &old.sign(&user(&idp.issuer(), "ada", json!({}))),
        ),
        "before rotation",
    );

    let new = SigningKey::generate(Alg::RS256, "k2");
    idp.set_keys(vec![new.clone()]);
    let token = new.sign(&user(&idp.issuer(), "ada", json!({})));
    let fetches = idp.jwks_requests();
    // The config write fetched the JWKS; within the refresh interval that
    // follows, an unknown kid does not fetch again (the rate limit), so a
    // key rotated that soon is not seen yet.
    if written.inside_interval() {
        refused(
            &login(&bao, "ours", "dev", &token),
            400,
            "error validating token: error verifying token signature: failed to verify id token signature",
            "new kid within 5 s of the last fetch",
        );
        assert_eq!(idp.jwks_requests(), fetches, "no fetch inside the interval");
    }

    written.wait_out_interval();
    let auth = logged_in(
        &login(&bao, "ours", "dev", &token),
        "new kid after rotation",
    );
    assert_eq!(auth["metadata"]["role"], "dev");
    assert_eq!(
        idp.jwks_requests(),
        fetches + 1,
        "one refetch for the new kid"
    );
    // Later logins with the new key use the cache.
    logged_in(&login(&bao, "ours", "dev", &token), "new kid again");
    assert_eq!(idp.jwks_requests(), fetches + 1);

    // The old key left the JWKS: its tokens are refused now.
    refused(
        &login(
            &bao,
            "ours",
            "dev",
            &old.sign(&user(&idp.issuer(), "ada", json!({}))),
        ),
        400,
        SIGNATURE_PREFIX,
        "retired key",
    );
}

#[test]
fn unknown_kids_refresh_the_jwks_at_most_once_per_interval() {
    let bao = openbao(false);
    let idp = OidcProvider::start();
    let (_, written) = Fetch::around(|| configure(&bao, "ours", jwks_config(&idp)).ok());
    role(&bao, "ours", "dev", json!({})).ok();
    let good = idp.key().sign(&user(&idp.issuer(), "ada", json!({})));
    logged_in(&login(&bao, "ours", "dev", &good), "good login");
    let baseline = idp.jwks_requests();
    assert_eq!(
        baseline, 1,
        "the config write fetched once, the login used it"
    );

    let flood = |round: &str| -> Duration {
        // A fresh random key per round (RSA key generation is slow),
        // naming 30 different kids the provider never published.
        let rogue = SigningKey::generate(Alg::RS256, "rogue");
        let tokens: Vec<String> = (0..30)
            .map(|i| {
                rogue.sign_with_header(
                    &json!({"alg": "RS256", "typ": "JWT", "kid": format!("{round}-unknown-{i}")}),
                    &user(&idp.issuer(), "mallory", json!({})),
                )
            })
            .collect();
        let started = Instant::now();
        let answers: Vec<ApiResponse> = std::thread::scope(|s| {
            let handles: Vec<_> = tokens
                .iter()
                .map(|t| s.spawn(|| login(&bao, "ours", "dev", t)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("login thread"))
                .collect()
        });
        let took = started.elapsed();
        for (i, resp) in answers.iter().enumerate() {
            refused(
                resp,
                400,
                SIGNATURE_PREFIX,
                &format!("{round} unknown kid #{i}"),
            );
        }
        took
    };

    // 30 concurrent logins with unknown kids right after the config write
    // fetched: inside the 5 s interval, none of them fetches.
    flood("early");
    if written.inside_interval() {
        assert_eq!(
            idp.jwks_requests(),
            baseline,
            "no fetch within 5 s of the last"
        );
    }

    // Once the interval has passed, 30 more make exactly one fetch between them.
    written.wait_out_interval();
    let before = idp.jwks_requests();
    let took = flood("late");
    assert!(
        took < Duration::from_secs(5),
        "the 30 logins must fit in one interval for the count below; they took {took:?}"
    );
    assert_eq!(
        idp.jwks_requests(),
        before + 1,
        "30 unknown kids after the interval: one fetch"
    );

    // The flood did not disturb the good key.
    logged_in(
        &login(&bao, "ours", "dev", &good),
        "good login after the flood",
    );
    assert_eq!(idp.jwks_requests(), before + 1);
}

#[test]
fn cached_keys_keep_working_while_the_jwks_server_is_down() {
    let bao = openbao(false);
    let idp = OidcProvider::start();
    let (_, written) = Fetch::around(|| configure(&bao, "ours", jwks_config(&idp)).ok());
    role(&bao, "ours", "dev", json!({})).ok();
    let key = idp.key();
    let good = || key.sign(&user(&idp.issuer(), "ada", json!({})));
    logged_in(&login(&bao, "ours", "dev", &good()), "before the outage");

    idp.stop_listening();
    logged_in(
        &login(&bao, "ours", "dev", &good()),
        "cached key, server down",
    );
    let stranger = SigningKey::generate(Alg::RS256, "k9");
    let unknown = || stranger.sign(&user(&idp.issuer(), "ada", json!({})));
    // Inside the refresh interval no fetch is tried: the kid is just unknown.
    if written.inside_interval() {
        refused(
            &login(&bao, "ours", "dev", &unknown()),
            400,
            "error validating token: error verifying token signature: failed to verify id token signature",
            "unknown kid, server down, inside the interval",
        );
    }

    // After it, the fetch is tried and fails: the message says which URL and why.
    written.wait_out_interval();
    let (resp, failed_fetch) = Fetch::around(|| login(&bao, "ours", "dev", &unknown()));
    refused(&resp, 400, SIGNATURE_PREFIX, "unknown kid, server down");
    let message = resp.errors();
    assert!(
        message.contains(&idp.jwks_url()) && message.to_lowercase().contains("connection refused"),
        "the message should name the JWKS URL and the cause: {message:?}"
    );
    assert!(!message.contains("\n"), "one line: {message:?}");
    // The failed fetch did not drop the cached key.
    logged_in(
        &login(&bao, "ours", "dev", &good()),
        "cached key after a failed fetch",
    );

    // Back up, with a new key published next to the old one: once the
    // interval after the failed fetch has passed, the new kid is fetched.
    idp.resume_listening();
    let new = SigningKey::generate(Alg::RS256, "k2");
    idp.set_keys(vec![key.clone(), new.clone()]);
    logged_in(
        &login(&bao, "ours", "dev", &good()),
        "cached key after resume",
    );
    failed_fetch.wait_out_interval();
    logged_in(
        &login(
            &bao,
            "ours",
            "dev",
            &new.sign(&user(&idp.issuer(), "ada", json!({}))),
        ),
        "new key after the server came back",
    );
    logged_in(
        &login(&bao, "ours", "dev", &good()),
        "old key still published",
    );
}

#[test]
fn jwks_pairs_accept_tokens_from_each_provider_and_no_other() {
    let bao = openbao(false);
    let a = OidcProvider::start();
    let b = OidcProvider::start();
    let c = OidcProvider::start();
    let pairs = json!([
        {"jwks_url": a.jwks_url(), "jwks_ca_pem": a.ca_pem()},
        {"jwks_url": b.jwks_url(), "jwks_ca_pem": b.ca_pem()},
    ]);

    // Validation.
    let resp = configure(
        &bao,
        "ours",
        json!({"jwks_pairs": pairs, "jwks_ca_pem": a.ca_pem()}),
    );
    refused(
        &resp,
        400,
        "CA PEMs must be provided as part of the 'jwks_pairs' when using multiple JWKS URLs",
        "jwks_ca_pem with jwks_pairs",
    );
    let resp = configure(
        &bao,
        "ours",
        json!({"jwks_pairs": pairs, "bound_issuer": a.issuer()}),
    );
    refused(
        &resp,
        400,
        "Bound issuer is not supported for use with 'jwks_pairs'",
        "bound_issuer with jwks_pairs",
    );
    for bad in [json!(["https://x/keys"]), json!([{"jwks_url": 5}])] {
        let resp = configure(&bao, "ours", json!({"jwks_pairs": bad}));
        refused(
            &resp,
            400,
            "invalid jwks_pairs: ",
            &format!("jwks_pairs {bad}"),
        );
    }
    // A pair whose CA did not sign its server: the message names the URL.
    let resp = configure(
        &bao,
        "ours",
        json!({"jwks_pairs": [
            {"jwks_url": a.jwks_url(), "jwks_ca_pem": a.ca_pem()},
            {"jwks_url": b.jwks_url(), "jwks_ca_pem": c.ca_pem()},
        ]}),
    );
    assert_eq!(resp.status, 400, "{}", resp.body);
    assert_eq!(
        resp.errors(),
        format!("error checking jwks URL {}", b.jwks_url())
    );
    assert_eq!(bao.read("auth/ours/config").status, 404, "nothing stored");

    configure(&bao, "ours", json!({"jwks_pairs": pairs})).ok();
    let read = bao.read("auth/ours/config").ok();
    assert_eq!(read.body["data"]["jwks_pairs"], pairs);
    assert_eq!(read.body["data"]["status"], "valid");
    role(&bao, "ours", "dev", json!({})).ok();

    for (what, idp) in [("first provider", &a), ("second provider", &b)] {
        let token = idp.key().sign(&user(&idp.issuer(), "ada", json!({})));
        logged_in(&login(&bao, "ours", "dev", &token), what);
    }
    // All three publish kid "k1": the third's token names a known kid but no
    // configured key verifies it.
    assert_eq!(c.key().kid(), a.key().kid());
    let token = c.key().sign(&user(&c.issuer(), "ada", json!({})));
    refused(
        &login(&bao, "ours", "dev", &token),
        400,
        SIGNATURE_PREFIX,
        "third provider",
    );
}

#[test]
fn discovery_binds_the_issuer_unlike_the_builtin() {
    let bao = openbao(true);
    let idp = OidcProvider::start();
    for mount in ["ours", "theirs"] {
        configure(&bao, mount, discovery_config(&idp)).ok();
        role(&bao, mount, "dev", json!({})).ok();
        let token = idp.key().sign(&user(&idp.issuer(), "ada", json!({})));
        let auth = logged_in(&login(&bao, mount, "dev", &token), mount);
        assert_eq!(auth["metadata"]["role"], "dev");
    }
    let read = bao.read("auth/ours/config").ok();
    assert_eq!(read.body["data"]["status"], "valid");
    assert_eq!(read.body["data"]["oidc_discovery_url"], json!(idp.issuer()));

    // DELIBERATE DIFFERENCE: with bound_issuer unset, ours requires the
    // discovered issuer in `iss`; the built-in accepts any issuer.
    let token = idp
        .key()
        .sign(&user("https://impostor.example", "ada", json!({})));
    refused(
        &login(&bao, "ours", "dev", &token),
        400,
        "error validating token: invalid issuer (iss) claim",
        "ours, foreign iss",
    );
    assert_eq!(
        login(&bao, "ours", "dev", &token).errors(),
        "error validating token: invalid issuer (iss) claim"
    );
    logged_in(
        &login(&bao, "theirs", "dev", &token),
        "built-in, foreign iss",
    );
    // A token without `iss` as well.
    let token = idp
        .key()
        .sign(&user(&idp.issuer(), "ada", json!({"iss": null})));
    refused(
        &login(&bao, "ours", "dev", &token),
        400,
        "error validating token: invalid issuer (iss) claim",
        "ours, no iss",
    );

    // The discovery document naming another issuer: both refuse the config.
    idp.set_discovery_issuer(Some("https://elsewhere".into()));
    let mut messages = Vec::new();
    for mount in ["ours", "theirs"] {
        let resp = configure(&bao, mount, discovery_config(&idp));
        refused(
            &resp,
            400,
            "error checking oidc discovery URL: ",
            &format!("{mount}, issuer mismatch"),
        );
        messages.push(resp.errors());
    }
    // Both name the two issuers, in go-oidc's words.
    assert_eq!(
        messages[0],
        format!(
            "error checking oidc discovery URL: issuer did not match the returned issuer, \
             expected {:?} got \"https://elsewhere\"",
            idp.issuer()
        )
    );
    assert_eq!(messages[0], messages[1], "ours (left), built-in (right)");
    // The refused write left the working config in place.
    idp.set_discovery_issuer(None);
    let token = idp.key().sign(&user(&idp.issuer(), "ada", json!({})));
    logged_in(
        &login(&bao, "ours", "dev", &token),
        "after the refused write",
    );
}

#[test]
fn es256_needs_jwt_supported_algs_unlike_the_builtin() {
    let bao = openbao(true);
    let key = SigningKey::generate(Alg::ES256, "ec");
    let token = key.sign(&user("https://issuer.example", "ada", json!({})));
    for mount in ["ours", "theirs"] {
        configure(
            &bao,
            mount,
            json!({"jwt_validation_pubkeys": [key.public_pem()]}),
        )
        .ok();
        role(&bao, mount, "dev", json!({})).ok();
    }
    // DELIBERATE DIFFERENCE: jwt_supported_algs unset means RS256 only.
    logged_in(
        &login(&bao, "theirs", "dev", &token),
        "built-in, ES256, algs unset",
    );
    let resp = login(&bao, "ours", "dev", &token);
    refused(
        &resp,
        400,
        "error validating token: invalid algorithm (alg) header parameter: token signed with unexpected algorithm",
        "ours, ES256, algs unset",
    );
    assert!(
        resp.errors().contains("ES256") && resp.errors().contains("RS256"),
        "names the token's and the allowed algorithms: {:?}",
        resp.errors()
    );

    configure(
        &bao,
        "ours",
        json!({"jwt_validation_pubkeys": [key.public_pem()], "jwt_supported_algs": ["ES256"]}),
    )
    .ok();
    logged_in(&login(&bao, "ours", "dev", &token), "ours, ES256 allowed");
}

#[test]
fn every_algorithm_logs_in_with_its_public_key() {
    let bao = openbao(true);
    for mount in ["ours", "theirs"] {
        role(&bao, mount, "dev", json!({})).ok();
    }
    for alg in Alg::ALL {
        let key = SigningKey::generate(alg, &format!("{}-key", alg.name()));
        let token = key.sign(&user("https://issuer.example", "ada", json!({})));
        for mount in ["ours", "theirs"] {
            configure(
                &bao,
                mount,
                json!({"jwt_validation_pubkeys": [key.public_pem()], "jwt_supported_algs": [alg.name()]}),
            )
            .ok();
            logged_in(
                &login(&bao, mount, "dev", &token),
                &format!("{mount}: {}", alg.name()),
            );
        }
        // The same token under another key of the same algorithm is refused.
        let other = SigningKey::generate(alg, "other");
        configure(
            &bao,
            "ours",
            json!({"jwt_validation_pubkeys": [other.public_pem()], "jwt_supported_algs": [alg.name()]}),
        )
        .ok();
        refused(
            &login(&bao, "ours", "dev", &token),
            400,
            SIGNATURE_PREFIX,
            &format!("{} with another key", alg.name()),
        );
    }
}

#[test]
fn token_settings_shape_the_issued_token() {
    let bao = openbao(true);
    let key = SigningKey::generate(Alg::RS256, "k1");
    let token = key.sign(&user("https://issuer.example", "ada", json!({})));
    for mount in ["ours", "theirs"] {
        configure(
            &bao,
            mount,
            json!({"jwt_validation_pubkeys": [key.public_pem()]}),
        )
        .ok();
        // OpenBao sees the test's requests from 127.0.0.1.
        role(
            &bao,
            mount,
            "here",
            json!({"token_bound_cidrs": ["127.0.0.1/32"]}),
        )
        .ok();
        role(
            &bao,
            mount,
            "elsewhere",
            json!({"token_bound_cidrs": ["10.0.0.0/8"]}),
        )
        .ok();
        let auth = logged_in(
            &login(&bao, mount, "here", &token),
            &format!("{mount}: bound to 127.0.0.1"),
        );
        let me = lookup_self(&bao, auth["client_token"].as_str().unwrap_or_default()).ok();
        assert_eq!(
            strings(&me.body["data"]["bound_cidrs"]),
            ["127.0.0.1"],
            "{mount}"
        );
        let resp = login(&bao, mount, "elsewhere", &token);
        assert_eq!(
            resp.status, 403,
            "{mount}: bound to 10.0.0.0/8: {}",
            resp.body
        );
        assert_eq!(resp.errors(), "permission denied", "{mount}");
    }

    role(
        &bao,
        "ours",
        "dev",
        json!({
            "token_policies": ["p1", "p2"],
            "token_ttl": 60,
            "token_max_ttl": "10m",
            "token_num_uses": 5,
        }),
    )
    .ok();
    let auth = logged_in(&login(&bao, "ours", "dev", &token), "token settings");
    assert_eq!(auth["lease_duration"], 60);
    assert_eq!(strings(&auth["token_policies"]), ["default", "p1", "p2"]);
    assert_eq!(auth["num_uses"], 5);
    let client_token = auth["client_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let me = lookup_self(&bao, &client_token).ok();
    // The lookup itself spends one of the five uses.
    assert_eq!(me.body["data"]["num_uses"], 4);
    assert_eq!(
        strings(&me.body["data"]["policies"]),
        ["default", "p1", "p2"]
    );
    assert!(
        me.body["data"]["ttl"]
            .as_i64()
            .is_some_and(|t| t <= 60 && t > 50)
    );

    // Renewal uses the role's current TTL.
    role(
        &bao,
        "ours",
        "renewable",
        json!({"token_ttl": 60, "token_max_ttl": "10m"}),
    )
    .ok();
    let auth = logged_in(&login(&bao, "ours", "renewable", &token), "renewable");
    let client_token = auth["client_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let renew = |bao: &OpenBao| {
        bao.request_with_token(
            "POST",
            "auth/token/renew-self",
            Some(json!({})),
            Some(&client_token),
        )
    };
    let resp = renew(&bao).ok();
    assert_eq!(resp.body["auth"]["lease_duration"], 60);
    // (An update without `role_type` would make it an `oidc` role, as the
    // reference does, so it is repeated.)
    bao.write(
        "auth/ours/role/renewable",
        json!({"role_type": "jwt", "token_ttl": 120}),
    )
    .ok();
    let resp = renew(&bao).ok();
    assert_eq!(
        resp.body["auth"]["lease_duration"], 120,
        "the role's new token_ttl"
    );

    // After the role is deleted the token cannot be renewed.
    bao.delete("auth/ours/role/renewable").ok();
    let resp = renew(&bao);
    assert!(
        !(200..300).contains(&resp.status),
        "renew after the role was deleted: {} {}",
        resp.status,
        resp.body
    );
    assert!(
        resp.errors().contains("role renewable does not exist"),
        "the message names the role: {:?}",
        resp.errors()
    );
}

#[test]
fn group_aliases_bring_external_group_policies() {
    let bao = openbao(false);
    let key = SigningKey::generate(Alg::RS256, "k1");
    configure(
        &bao,
        "ours",
        json!({"jwt_validation_pubkeys": [key.public_pem()]}),
    )
    .ok();
    role(&bao, "ours", "flat", json!({"groups_claim": "groups"})).ok();
    role(
        &bao,
        "ours",
        "nested",
        json!({"groups_claim": "/realm/groups"}),
    )
    .ok();

    let mounts = bao.read("sys/auth").ok();
    let accessor = mounts.body["data"]["ours/"]["accessor"]
        .as_str()
        .or_else(|| mounts.body["ours/"]["accessor"].as_str())
        .expect("our mount's accessor")
        .to_string();
    let group = bao
        .write(
            "identity/group",
            json!({"name": "ext-admins", "type": "external", "policies": ["grp-policy"]}),
        )
        .ok();
    let group_id = group.body["data"]["id"]
        .as_str()
        .expect("group id")
        .to_string();
    bao.write(
        "identity/group-alias",
        json!({"name": "admins", "mount_accessor": accessor, "canonical_id": group_id}),
    )
    .ok();

    let identity_policies = |auth: &Value| -> Vec<String> {
        let me = lookup_self(&bao, auth["client_token"].as_str().unwrap_or_default()).ok();
        strings(&me.body["data"]["identity_policies"])
    };
    for (what, role_name, sub, extra) in [
        (
            "groups claim",
            "flat",
            "ada",
            json!({"groups": ["devs", "admins"]}),
        ),
        (
            "groups JSON pointer",
            "nested",
            "grace",
            json!({"realm": {"groups": ["admins"]}}),
        ),
    ] {
        let token = key.sign(&user("https://issuer.example", sub, extra));
        let auth = logged_in(&login(&bao, "ours", role_name, &token), what);
        assert_eq!(
            strings(&auth["identity_policies"]),
            ["grp-policy"],
            "{what}: the login's identity policies"
        );
        assert_eq!(
            identity_policies(&auth),
            ["grp-policy"],
            "{what}: lookup-self"
        );
        assert!(
            !strings(&auth["token_policies"]).contains(&"grp-policy".to_string()),
            "{what}: the group's policy is an identity policy, not a token policy"
        );
    }

    // Without the group, no group policy; a later login updates membership.
    let token = key.sign(&user(
        "https://issuer.example",
        "ada",
        json!({"groups": ["devs"]}),
    ));
    let auth = logged_in(&login(&bao, "ours", "flat", &token), "not in admins");
    assert!(identity_policies(&auth).is_empty(), "{auth}");
}

#[test]
fn config_read_never_returns_the_client_secret() {
    let bao = openbao(true);
    let idp = OidcProvider::start();
    let secret = "s3cr3t-never-shown-0d9f";
    for mount in ["ours", "theirs"] {
        let mut body = discovery_config(&idp);
        body["oidc_client_id"] = json!("vault-client");
        body["oidc_client_secret"] = json!(secret);
        configure(&bao, mount, body).ok();
        let read = bao.read(&format!("auth/{mount}/config")).ok();
        let data = &read.body["data"];
        assert_eq!(data["oidc_client_id"], "vault-client", "{mount}");
        assert!(data.get("oidc_client_secret").is_none(), "{mount}: {data}");
        assert!(
            !read.body.to_string().contains(secret),
            "{mount}: the secret appears in {}",
            read.body
        );
        assert_eq!(data["status"], "valid", "{mount}");
    }
}

#[test]
fn config_status_reports_whether_the_keys_can_be_loaded() {
    let bao = openbao(false);
    let idp = OidcProvider::start();
    configure(&bao, "ours", discovery_config(&idp)).ok();
    role(&bao, "ours", "dev", json!({})).ok();
    let status = |bao: &OpenBao| {
        let read = bao.read("auth/ours/config").ok();
        (
            read.body["data"]["status"].clone(),
            read.body["warnings"].clone(),
        )
    };
    assert_eq!(status(&bao).0, "valid");
    let discoveries = idp.discovery_requests();

    // Provider down after the config was checked: the discovered provider
    // is kept, so the status stays valid and reading does not fetch.
    idp.stop_listening();
    let (s, warnings) = status(&bao);
    assert_eq!(s, "valid", "{warnings}");
    assert_eq!(idp.discovery_requests(), discoveries);

    // Written while the provider is down (skip_jwks_validation): stored
    // with a warning, and reading says invalid, with the reason.
    let mut body = discovery_config(&idp);
    body["skip_jwks_validation"] = json!(true);
    let resp = configure(&bao, "ours", body).ok();
    assert_eq!(
        strings(&resp.body["warnings"]),
        ["error checking oidc discovery URL"]
    );
    let (s, warnings) = status(&bao);
    assert_eq!(s, "invalid");
    let warnings = strings(&warnings);
    assert!(
        warnings.len() == 1 && warnings[0].starts_with("failed to construct JWK validator: "),
        "{warnings:?}"
    );
    let token = idp.key().sign(&user(&idp.issuer(), "ada", json!({})));
    refused(
        &login(&bao, "ours", "dev", &token),
        400,
        "error configuring token validator: ",
        "login while discovery fails",
    );

    // Back up: the next read resolves it, and logins work again.
    idp.resume_listening();
    assert_eq!(status(&bao).0, "valid");
    logged_in(
        &login(&bao, "ours", "dev", &token),
        "after the provider came back",
    );
}

/// A key rotated without a new kid (a token without `kid`, or the provider
/// reusing the kid for the new key) is picked up: when no cached key
/// verifies a token the JWKS is fetched again (rate-limited), as go-oidc
/// does and OpenID Connect Core 10.1 recommends.
#[test]
fn a_key_rotated_without_a_new_kid_is_picked_up() {
    let bao = openbao(true);
    let idp = OidcProvider::start();
    let (_, written) = Fetch::around(|| configure(&bao, "ours", jwks_config(&idp)).ok());
    configure(&bao, "theirs", jwks_config(&idp)).ok();
    for mount in ["ours", "theirs"] {
        role(&bao, mount, "dev", json!({})).ok();
    }
    let claims = || user(&idp.issuer(), "ada", json!({}));
    let no_kid = json!({"alg": "RS256", "typ": "JWT"});
    let old = idp.key();
    for mount in ["ours", "theirs"] {
        logged_in(
            &login(
                &bao,
                mount,
                "dev",
                &old.sign_with_header(&no_kid, &claims()),
            ),
            &format!("{mount}: token without kid, before rotation"),
        );
    }

    // The provider rotates to a new key under the same kid "k1".
    let new = SigningKey::generate(Alg::RS256, old.kid());
    idp.set_keys(vec![new.clone()]);
    // Past the refresh interval, so ours may fetch.
    written.wait_out_interval();
    let cases = [
        (
            "token without kid",
            new.sign_with_header(&no_kid, &claims()),
        ),
        ("token with the reused kid", new.sign(&claims())),
    ];
    for (what, token) in &cases {
        logged_in(
            &login(&bao, "theirs", "dev", token),
            &format!("built-in: {what}, after rotation"),
        );
    }
    let fetches = idp.jwks_requests();
    let mut failures = Vec::new();
    for (what, token) in &cases {
        let resp = login(&bao, "ours", "dev", token);
        if resp.status != 200 {
            failures.push(format!("{what}: {} {}", resp.status, resp.errors()));
        }
    }
    assert!(
        failures.is_empty(),
        "ours refused the rotated key (JWKS fetches by ours since the rotation: {}): {failures:#?}",
        idp.jwks_requests() - fetches
    );
}

/// A JWKS URL that answers with a redirect is followed, as Go's HTTP client
/// follows it for the built-in.
#[test]
fn a_redirected_jwks_url_is_followed() {
    let bao = openbao(true);
    let idp = OidcProvider::start();
    let token = idp.key().sign(&user(&idp.issuer(), "ada", json!({})));
    for mount in ["ours", "theirs"] {
        configure(
            &bao,
            mount,
            json!({"jwks_url": idp.moved_jwks_url(), "jwks_ca_pem": idp.ca_pem()}),
        )
        .ok();
        role(&bao, mount, "dev", json!({})).ok();
        logged_in(&login(&bao, mount, "dev", &token), mount);
    }
}

#[test]
fn a_hung_jwks_server_costs_one_login_its_timeout_and_nothing_else() {
    let bao = openbao(false);
    let idp = OidcProvider::start();
    // A second mount of ours, served by the same (multiplexed) process.
    bao.enable_auth("other", common::PLUGIN, common::VERSION)
        .ok();
    let local = SigningKey::generate(Alg::RS256, "local");
    configure(
        &bao,
        "other",
        json!({"jwt_validation_pubkeys": [local.public_pem()]}),
    )
    .ok();
    role(&bao, "other", "dev", json!({})).ok();
    let (_, written) = Fetch::around(|| configure(&bao, "ours", jwks_config(&idp)).ok());
    role(&bao, "ours", "dev", json!({})).ok();
    let cached = idp.key();
    logged_in(
        &login(
            &bao,
            "ours",
            "dev",
            &cached.sign(&user(&idp.issuer(), "ada", json!({}))),
        ),
        "before the hang",
    );

    idp.set_hang(true);
    written.wait_out_interval();
    // An unknown kid makes the plugin fetch the JWKS, which never answers.
    let stranger = SigningKey::generate(Alg::RS256, "k9");
    let hung_token = stranger.sign(&user(&idp.issuer(), "ada", json!({})));
    let hung = std::thread::scope(|scope| {
        let hung = scope.spawn(|| Fetch::around(|| login(&bao, "ours", "dev", &hung_token)));
        std::thread::sleep(Duration::from_millis(300));
        // Meanwhile the process serves everyone else at once.
        for i in 0..10 {
            let started = Instant::now();
            logged_in(
                &login(
                    &bao,
                    "other",
                    "dev",
                    &local.sign(&user("", &format!("u{i}"), json!({}))),
                ),
                "the other mount during the hang",
            );
            logged_in(
                &login(
                    &bao,
                    "ours",
                    "dev",
                    &cached.sign(&user(&idp.issuer(), "ada", json!({}))),
                ),
                "a cached key during the hang",
            );
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "logins waited on the hung fetch: {:?}",
                started.elapsed()
            );
        }
        hung.join().expect("the hung login")
    });
    let (resp, fetch) = hung;
    let took = fetch.answered - fetch.sent;
    refused(
        &resp,
        400,
        SIGNATURE_PREFIX,
        "unknown kid, JWKS server hung",
    );
    let message = resp.errors();
    assert!(
        message.contains(&idp.jwks_url()) && message.contains("timed out"),
        "the message should name the JWKS URL and the timeout: {message:?}"
    );
    // The plugin's HTTP timeout is 10 s.
    assert!(
        took >= Duration::from_secs(9) && took < Duration::from_secs(15),
        "the hung login took {took:?}"
    );
    idp.set_hang(false);
}
