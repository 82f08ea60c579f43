//! The same scenario of config, role and login calls against OpenBao's
//! built-in Go `jwt` method and ours, in one OpenBao: status codes, error
//! texts, read data and auth fields must agree, except where we differ on
//! purpose (each named here and in the README's migration notes).

mod common;

use common::{claims, login, openbao};
use serde_json::{Value, json};
use vault_plugin_test_support::jwt::{Alg, SigningKey, hs256_token, unsigned_token};
use vault_plugin_test_support::openbao::{ApiResponse, OpenBao};

/// Keys only the built-in returns: OpenBao-only features this plugin does
/// not implement (CEL-era additions, callback modes, policy templating) and
/// OpenBao's `token_strictly_bind_ip`.
const BUILTIN_ONLY_ROLE_KEYS: &[&str] = &[
    "oauth2_metadata",
    "callback_mode",
    "token_policies_template_claims",
    "oidc_disable_confirmation",
    "token_strictly_bind_ip",
];

/// Keys only ours returns: `jwks_pairs` (from HashiCorp's plugin; OpenBao's
/// lacks it).
const OURS_ONLY_CONFIG_KEYS: &[&str] = &["jwks_pairs"];

fn strip(mut v: Value, keys: &[&str]) -> Value {
    if let Some(data) = v.get_mut("data").and_then(Value::as_object_mut) {
        for k in keys {
            data.remove(*k);
        }
    }
    v
}

/// What of an answer the two must agree on.
fn comparable(resp: &ApiResponse) -> Value {
    let mut out = json!({"status": resp.status});
    if let Some(errors) = resp.body.get("errors") {
        out["errors"] = errors.clone();
    }
    if let Some(data) = resp.body.get("data").filter(|d| !d.is_null()) {
        out["data"] = data.clone();
    }
    if let Some(w) = resp.body.get("warnings").filter(|w| !w.is_null()) {
        out["warnings"] = w.clone();
    }
    if let Some(auth) = resp.body.get("auth").filter(|a| !a.is_null()) {
        out["auth"] = json!({
            "policies": auth["policies"],
            "token_policies": auth["token_policies"],
            "metadata": auth["metadata"],
            "lease_duration": auth["lease_duration"],
            "renewable": auth["renewable"],
            "token_type": auth["token_type"],
            "num_uses": auth["num_uses"],
            "orphan": auth["orphan"],
        });
    }
    out
}

/// Runs one call against both mounts and asserts they agree.
#[track_caller]
fn same(bao: &OpenBao, what: &str, call: impl Fn(&str) -> ApiResponse) -> Value {
    let ours = comparable(&call("ours"));
    let theirs = comparable(&call("theirs"));
    let ours = strip(ours, OURS_ONLY_CONFIG_KEYS);
    let theirs = strip(theirs, BUILTIN_ONLY_ROLE_KEYS);
    assert_eq!(
        ours, theirs,
        "{what}: ours (left) differs from the built-in (right)"
    );
    let _ = bao;
    ours
}

/// Like [`same`] where the built-in's error text after `prefix` comes from
/// a Go library (go-jose's parser, say) and ours says it in its own words:
/// the status and the plugin-controlled prefix must agree.
#[track_caller]
fn same_prefix(what: &str, prefix: &str, call: impl Fn(&str) -> ApiResponse) {
    let ours = call("ours");
    let theirs = call("theirs");
    assert_eq!(ours.status, theirs.status, "{what}: status");
    for (who, resp) in [("ours", &ours), ("built-in", &theirs)] {
        assert!(
            resp.errors().starts_with(prefix),
            "{what}: {who} said {:?}, expected the prefix {prefix:?}",
            resp.errors()
        );
    }
}

fn write<'a>(bao: &'a OpenBao, path: &str, body: Value) -> impl Fn(&str) -> ApiResponse + 'a {
    let path = path.to_string();
    move |mount| bao.request("POST", &format!("auth/{mount}/{path}"), Some(body.clone()))
}

fn read<'a>(bao: &'a OpenBao, path: &str) -> impl Fn(&str) -> ApiResponse + 'a {
    let path = path.to_string();
    move |mount| bao.read(&format!("auth/{mount}/{path}"))
}

#[test]
fn config_role_and_login_answers_match_the_builtin() {
    let bao = openbao(true);
    let key = SigningKey::generate(Alg::RS256, "k1");
    let other = SigningKey::generate(Alg::RS256, "k2");

    // Reading before configuring; logging in before configuring.
    same(&bao, "read unset config", read(&bao, "config"));
    same(&bao, "login unconfigured", |m| login(&bao, m, "r", "x.y.z"));

    // Config validation, in the reference's order.
    for (what, body) in [
        ("no key source", json!({})),
        (
            "two key sources",
            json!({"jwks_url": "https://127.0.0.1:1/keys", "jwt_validation_pubkeys": [key.public_pem()]}),
        ),
        (
            "id without secret",
            json!({"jwt_validation_pubkeys": [key.public_pem()], "oidc_client_id": "c"}),
        ),
        (
            "secret without id",
            json!({"jwt_validation_pubkeys": [key.public_pem()], "oidc_client_secret": "s"}),
        ),
        (
            "client without discovery",
            json!({"jwt_validation_pubkeys": [key.public_pem()], "oidc_client_id": "c", "oidc_client_secret": "s"}),
        ),
        (
            "well-known in discovery url",
            json!({"oidc_discovery_url": "https://x/.well-known/openid-configuration"}),
        ),
        (
            "garbage pubkey",
            json!({"jwt_validation_pubkeys": ["not a key"]}),
        ),
        (
            "bad alg",
            json!({"jwt_validation_pubkeys": [key.public_pem()], "jwt_supported_algs": ["RS256", "HS256"]}),
        ),
        (
            "lowercase alg",
            json!({"jwt_validation_pubkeys": [key.public_pem()], "jwt_supported_algs": "rs256"}),
        ),
        (
            "bad response type",
            json!({"jwt_validation_pubkeys": [key.public_pem()], "oidc_response_types": "code,token"}),
        ),
        (
            "id_token with query",
            json!({"jwt_validation_pubkeys": [key.public_pem()], "oidc_response_types": "id_token"}),
        ),
        (
            "bad response mode",
            json!({"jwt_validation_pubkeys": [key.public_pem()], "oidc_response_mode": "fragment"}),
        ),
        (
            "provider_config without provider",
            json!({"jwt_validation_pubkeys": [key.public_pem()], "provider_config": {"x": 1}}),
        ),
        (
            "unreachable jwks",
            json!({"jwks_url": "https://127.0.0.1:1/keys"}),
        ),
        (
            "unreachable jwks, skipped",
            json!({"jwks_url": "https://127.0.0.1:1/keys", "skip_jwks_validation": true}),
        ),
    ] {
        same(&bao, what, write(&bao, "config", body));
    }

    // A good config, read back (no secret, same defaults).
    same(
        &bao,
        "config",
        write(
            &bao,
            "config",
            json!({
                "jwt_validation_pubkeys": [key.public_pem(), other.certificate_pem()],
                "jwt_supported_algs": ["RS256"],
                "bound_issuer": "https://issuer.example",
                "default_role": "Dev",
            }),
        ),
    );
    same(&bao, "read config", read(&bao, "config"));

    // Role validation.
    for (what, body) in [
        (
            "bad role type",
            json!({"role_type": "saml", "user_claim": "sub"}),
        ),
        ("oidc without redirect", json!({"user_claim": "sub"})),
        (
            "no user claim",
            json!({"role_type": "jwt", "bound_audiences": "a"}),
        ),
        (
            "no bound constraint",
            json!({"role_type": "jwt", "user_claim": "sub"}),
        ),
        (
            "bad bound claims type",
            json!({"role_type": "jwt", "user_claim": "sub", "bound_claims_type": "regex", "bound_audiences": "a"}),
        ),
        (
            "glob with number",
            json!({"role_type": "jwt", "user_claim": "sub", "bound_claims_type": "glob", "bound_claims": {"a": ["x", 5]}}),
        ),
        (
            "glob with map",
            json!({"role_type": "jwt", "user_claim": "sub", "bound_claims_type": "glob", "bound_claims": {"a": {"b": "c"}}}),
        ),
        (
            "reserved mapping",
            json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "a", "claim_mappings": {"x": "role"}}),
        ),
        (
            "duplicate mapping",
            json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "a", "claim_mappings": {"x": "m", "y": "m"}}),
        ),
        (
            "ttl over max",
            json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "a", "token_ttl": "2h", "token_max_ttl": "1h"}),
        ),
        (
            "bad token type",
            json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "a", "token_type": "weird"}),
        ),
        (
            "bad cidr",
            json!({"role_type": "jwt", "user_claim": "sub", "token_bound_cidrs": "nope"}),
        ),
        (
            "negative ttl",
            json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "a", "token_ttl": -5}),
        ),
    ] {
        same(&bao, what, write(&bao, "role/bad", body));
    }
    same(&bao, "bad role not stored", read(&bao, "role/bad"));

    // Good roles, read back.
    same(
        &bao,
        "role dev",
        write(
            &bao,
            "role/dev",
            json!({
                "role_type": "jwt",
                "user_claim": "email",
                "bound_audiences": ["vault", "other"],
                "bound_subject": "user-1",
                "bound_claims": {"/org/team": ["core", "ops"], "admin": true},
                "claim_mappings": {"name": "full_name", "/org/team": "team"},
                "groups_claim": "groups",
                "token_policies": "dev,ops",
                "token_ttl": "10m",
                "token_max_ttl": "1h",
                "expiration_leeway": 30,
                "clock_skew_leeway": -1,
                "max_age": "5m",
            }),
        ),
    );
    same(&bao, "read role dev", read(&bao, "role/dev"));
    same(
        &bao,
        "role glob",
        write(
            &bao,
            "role/glob",
            json!({
                "role_type": "jwt", "user_claim": "/profile/login", "user_claim_json_pointer": true,
                "bound_claims_type": "glob", "bound_claims": {"email": "*@example.com"},
                "policies": "B, a,a", "ttl": 60, "num_uses": 3,
            }),
        ),
    );
    same(&bao, "read role glob", read(&bao, "role/glob"));
    same(&bao, "list roles", |m| bao.list(&format!("auth/{m}/role")));
    same(
        &bao,
        "role oidc",
        write(
            &bao,
            "role/web",
            json!({
                "user_claim": "sub", "allowed_redirect_uris": "https://app/cb,http://localhost:8250/oidc/callback",
                "oidc_scopes": "email,profile", "verbose_oidc_logging": true,
            }),
        ),
    );
    same(&bao, "read role oidc", read(&bao, "role/web"));

    // Logins: good, then every way to be refused.
    let iss = "https://issuer.example";
    let good = claims(json!({
        "iss": iss, "sub": "user-1", "aud": ["vault"], "email": "ada@example.com",
        "name": "Ada", "org": {"team": "core"}, "admin": true, "groups": ["g1", "g2", ""],
    }));
    let with = |patch: Value| {
        let mut c = good.clone();
        for (k, v) in patch.as_object().cloned().unwrap_or_default() {
            if v.is_null() {
                c.as_object_mut().map(|o| o.remove(&k));
            } else {
                c[k] = v;
            }
        }
        c
    };
    let now = vault_plugin_test_support::jwt::now();
    let cases: Vec<(&str, &str, String)> = vec![
        ("good", "dev", key.sign(&good)),
        ("good via certificate key", "dev", other.sign(&good)),
        ("default role", "", key.sign(&good)),
        ("unknown role", "nope", key.sign(&good)),
        ("oidc role", "web", key.sign(&good)),
        ("missing token", "dev", String::new()),
        (
            "unknown key",
            "dev",
            SigningKey::generate(Alg::RS256, "k9").sign(&good),
        ),
        (
            "wrong issuer",
            "dev",
            key.sign(&with(json!({"iss": "https://evil"}))),
        ),
        (
            "wrong subject",
            "dev",
            key.sign(&with(json!({"sub": "user-2"}))),
        ),
        (
            "wrong audience",
            "dev",
            key.sign(&with(json!({"aud": "other-app"}))),
        ),
        ("expired", "dev", key.sign(&with(json!({"exp": now - 120})))),
        (
            "expired inside the role's 0 skew",
            "dev",
            key.sign(&with(json!({"exp": now - 2}))),
        ),
        (
            "not yet valid",
            "dev",
            key.sign(&with(json!({"nbf": now + 600, "iat": null}))),
        ),
        (
            "issued in future",
            "dev",
            key.sign(&with(json!({"iat": now + 600, "nbf": null}))),
        ),
        (
            "no time claims",
            "dev",
            key.sign(&with(json!({"iat": null, "exp": null, "nbf": null}))),
        ),
        (
            "no user claim",
            "dev",
            key.sign(&with(json!({"email": null}))),
        ),
        (
            "user claim not string",
            "dev",
            key.sign(&with(json!({"email": 42}))),
        ),
        (
            "mapped claim not string",
            "dev",
            key.sign(&with(json!({"name": ["x"]}))),
        ),
        (
            "no groups claim",
            "dev",
            key.sign(&with(json!({"groups": null}))),
        ),
        (
            "groups not strings",
            "dev",
            key.sign(&with(json!({"groups": ["a", 1]}))),
        ),
        (
            "bound claim missing",
            "dev",
            key.sign(&with(json!({"admin": null}))),
        ),
        (
            "bound claim mismatch",
            "dev",
            key.sign(&with(json!({"org": {"team": "sales"}}))),
        ),
        (
            "bound claim wrong type",
            "dev",
            key.sign(&with(json!({"admin": "true"}))),
        ),
        (
            "glob good",
            "glob",
            key.sign(&with(json!({"profile": {"login": "ada"}}))),
        ),
        (
            "glob mismatch",
            "glob",
            key.sign(&with(
                json!({"profile": {"login": "ada"}, "email": "ada@evil.com"}),
            )),
        ),
        ("glob pointer missing", "glob", key.sign(&good)),
    ];
    for (what, role, jwt) in &cases {
        same(&bao, what, |m| login(&bao, m, role, jwt));
    }
    // Refused by the token parser: go-jose's words there, ours here.
    let signature_prefix = "error validating token: error verifying token signature: ";
    for (what, jwt) in [
        ("garbage token", "garbage".to_string()),
        ("alg none", unsigned_token(&good)),
        (
            "hs256 confusion",
            hs256_token(key.public_pem().as_bytes(), &json!({"alg": "HS256"}), &good),
        ),
    ] {
        same_prefix(what, signature_prefix, |m| login(&bao, m, "dev", &jwt));
    }

    // Leeways where they decide: a token with only `iat` expires at
    // iat + expiration_leeway; one with only `exp` starts at exp -
    // not_before_leeway (clock skew off so the figures are exact).
    same(
        &bao,
        "role leeway",
        write(
            &bao,
            "role/leeway",
            json!({
                "role_type": "jwt", "user_claim": "sub", "bound_subject": "user-1", "bound_audiences": "vault",
                "expiration_leeway": 30, "not_before_leeway": 40, "clock_skew_leeway": -1,
            }),
        ),
    );
    for (what, patch) in [
        (
            "iat only, inside expiration_leeway",
            json!({"iat": now - 20, "exp": null, "nbf": null}),
        ),
        (
            "iat only, past expiration_leeway",
            json!({"iat": now - 40, "exp": null, "nbf": null}),
        ),
        (
            "exp only, inside not_before_leeway",
            json!({"exp": now + 30, "iat": null, "nbf": null}),
        ),
        (
            "exp only, before not_before_leeway",
            json!({"exp": now + 60, "iat": null, "nbf": null}),
        ),
    ] {
        same(&bao, what, |m| {
            login(&bao, m, "leeway", &key.sign(&with(patch.clone())))
        });
    }

    // Audience strictness: a token with an audience needs bound audiences.
    same(
        &bao,
        "role no aud",
        write(
            &bao,
            "role/noaud",
            json!({"role_type": "jwt", "user_claim": "sub", "bound_subject": "user-1"}),
        ),
    );
    same(&bao, "aud without bound audiences", |m| {
        login(&bao, m, "noaud", &key.sign(&good))
    });
    same(&bao, "no aud", |m| {
        login(&bao, m, "noaud", &key.sign(&with(json!({"aud": null}))))
    });

    // Deleting is idempotent; the role is gone for logins.
    same(&bao, "delete", |m| {
        bao.delete(&format!("auth/{m}/role/dev"))
    });
    same(&bao, "delete again", |m| {
        bao.delete(&format!("auth/{m}/role/dev"))
    });
    same(&bao, "login deleted role", |m| {
        login(&bao, m, "dev", &key.sign(&good))
    });
}

#[test]
fn provider_group_strings_split_as_the_builtin_splits_them() {
    let bao = openbao(true);
    let key = SigningKey::generate(Alg::RS256, "k1");
    for (provider, joined_ok, joined_bad) in [
        ("ibmisam", "eng ops", "eng sales"),
        ("secureauth", "eng,ops", "eng,sales"),
    ] {
        same(
            &bao,
            provider,
            write(
                &bao,
                "config",
                json!({
                    "jwt_validation_pubkeys": [key.public_pem()], "jwt_supported_algs": "RS256",
                    "provider_config": {"provider": provider},
                }),
            ),
        );
        same(&bao, "read config", read(&bao, "config"));
        same(
            &bao,
            "role",
            write(
                &bao,
                "role/g",
                json!({
                    "role_type": "jwt", "user_claim": "sub", "bound_audiences": "vault",
                    "groups_claim": "groups", "bound_claims": {"groups": "ops"},
                }),
            ),
        );
        let token = |groups: &str| {
            key.sign(&claims(
                json!({"sub": "u", "aud": "vault", "groups": groups}),
            ))
        };
        same(&bao, "split groups satisfy the bound claim", |m| {
            login(&bao, m, "g", &token(joined_ok))
        });
        same(&bao, "split groups miss the bound claim", |m| {
            login(&bao, m, "g", &token(joined_bad))
        });
    }
    // The providers that fetch groups: the same validation and texts.
    let with_provider = |provider_config: Value| {
        write(
            &bao,
            "config",
            json!({"jwt_validation_pubkeys": [key.public_pem()], "provider_config": provider_config}),
        )
    };
    same(
        &bao,
        "azure provider",
        with_provider(json!({"provider": "azure"})),
    );
    same(
        &bao,
        "gsuite with a negative recursion depth",
        with_provider(json!({"provider": "gsuite", "groups_recurse_max_depth": -1})),
    );
    same_prefix(
        "gsuite with a service account that is not JSON",
        "invalid provider_config: error initializing \"gsuite\" provider_config: error parsing \
         service account JSON:",
        with_provider(json!({"provider": "gsuite", "gsuite_service_account": "{not json"})),
    );
    same(
        &bao,
        "unknown provider",
        write(
            &bao,
            "config",
            json!({
                "jwt_validation_pubkeys": [key.public_pem()], "provider_config": {"provider": "nope"},
            }),
        ),
    );
    // OpenBao's `kubernetes` provider refusing a key field: the same text,
    // but a 400 from ours where the built-in answers 500 (README).
    let k8s = write(
        &bao,
        "config",
        json!({"provider_config": {"provider": "kubernetes"}, "jwks_ca_pem": "x"}),
    );
    let (ours, theirs) = (k8s("ours"), k8s("theirs"));
    let text = "error initializing \"kubernetes\" provider_config: jwks_ca_pem must not be set \
                when using the kubernetes provider";
    assert_eq!((ours.status, ours.errors().as_str()), (400, text));
    assert_eq!(theirs.status, 500, "{}", theirs.body);
    assert!(theirs.errors().contains(text), "{}", theirs.body);
}
