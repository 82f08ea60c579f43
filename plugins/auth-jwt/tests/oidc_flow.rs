//! The OIDC browser flow through OpenBao against a real (local, HTTPS)
//! OpenID Provider: `oidc/auth_url`, the provider's authorization (played by
//! the fixture), `oidc/callback`. Ours and OpenBao's built-in `jwt` method
//! are configured alike and must log the same user in.

mod common;

use common::{auth_url, callback, openbao, start_login};
use serde_json::{Value, json};
use vault_plugin_test_support::oidc::OidcProvider;
use vault_plugin_test_support::openbao::OpenBao;

const CLIENT_ID: &str = "vault-client";
const CLIENT_SECRET: &str = "s3cret-client-password";
const REDIRECT: &str = "http://localhost:8250/oidc/callback";

fn setup(extra_config: Value) -> (OpenBao, OidcProvider) {
    let bao = openbao(true);
    let idp = OidcProvider::start();
    idp.set_client(CLIENT_ID, CLIENT_SECRET);
    idp.set_id_token_claims(json!({"sub": "u-42", "email": "ada@example.com", "groups": ["eng"]}));
    let mut config = json!({
        "oidc_discovery_url": idp.issuer(),
        "oidc_discovery_ca_pem": idp.ca_pem(),
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
        "default_role": "web",
    });
    for (k, v) in extra_config.as_object().cloned().unwrap_or_default() {
        config[k] = v;
    }
    for mount in ["ours", "theirs"] {
        bao.write(&format!("auth/{mount}/config"), config.clone())
            .ok();
        bao.write(
            &format!("auth/{mount}/role/web"),
            json!({
                "user_claim": "email",
                "groups_claim": "groups",
                "allowed_redirect_uris": [REDIRECT, "https://vault.example/ui/vault/auth/ours/oidc/callback"],
                "oidc_scopes": "email,profile",
                "token_policies": "web",
                "claim_mappings": {"sub": "subject"},
            }),
        )
        .ok();
    }
    (bao, idp)
}

#[test]
fn the_code_flow_logs_in_with_pkce_and_each_state_works_once() {
    let (bao, idp) = setup(json!({}));
    for mount in ["ours", "theirs"] {
        let resp = auth_url(
            &bao,
            mount,
            json!({"role": "web", "redirect_uri": REDIRECT}),
        )
        .ok();
        let url = resp.body["data"]["auth_url"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            url.starts_with(&format!("{}/authorize?", idp.issuer())),
            "{mount}: {url}"
        );
        let grant = idp.authorize(&url);
        assert_eq!(
            grant.code_challenge_method.as_deref(),
            Some("S256"),
            "{mount}"
        );
        assert!(
            grant.nonce.as_deref().is_some_and(|n| !n.is_empty()),
            "{mount}"
        );
        assert_eq!(grant.scope, "openid email profile", "{mount}");
        assert_eq!(grant.redirect_uri, REDIRECT);

        let login = callback(&bao, mount, &grant.callback_params()).ok();
        let auth = &login.body["auth"];
        assert_eq!(auth["policies"], json!(["default", "web"]), "{mount}");
        assert_eq!(auth["metadata"]["role"], "web", "{mount}");
        assert_eq!(auth["metadata"]["subject"], "u-42", "{mount}");
        let token_request = idp.last_token_request().unwrap_or_default();
        assert_eq!(
            token_request.get("client_auth_method").map(String::as_str),
            Some("client_secret_basic")
        );
        assert_eq!(
            token_request.get("client_secret").map(String::as_str),
            Some(CLIENT_SECRET)
        );
        assert!(
            token_request
                .get("code_verifier")
                .is_some_and(|v| v.len() >= 43),
            "{mount}"
        );

        // The token is for the user the provider named.
        let token = auth["client_token"].as_str().unwrap_or_default();
        let me = bao
            .request_with_token("GET", "auth/token/lookup-self", None, Some(token))
            .ok();
        assert_eq!(me.body["data"]["meta"]["role"], "web");

        // A state is good once.
        let again = callback(&bao, mount, &grant.callback_params());
        assert_eq!(again.status, 400, "{mount}");
        assert_eq!(
            again.errors(),
            "OpenBao login failed. Expired or missing OAuth state."
        );
    }
    // The secret never comes back.
    let config = bao.read("auth/ours/config").ok();
    assert!(!config.body.to_string().contains(CLIENT_SECRET));
}

#[test]
fn redirect_uris_are_checked_loopback_ports_are_free() {
    let (bao, idp) = setup(json!({}));
    for mount in ["ours", "theirs"] {
        let other_port = auth_url(
            &bao,
            mount,
            json!({"role": "web", "redirect_uri": "http://localhost:49152/oidc/callback"}),
        )
        .ok();
        let url = other_port.body["data"]["auth_url"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            !url.is_empty(),
            "{mount}: loopback on another port is allowed"
        );
        assert_eq!(
            idp.authorize(&url).redirect_uri,
            "http://localhost:49152/oidc/callback"
        );

        let evil = auth_url(
            &bao,
            mount,
            json!({"role": "web", "redirect_uri": "https://evil.example/cb"}),
        )
        .ok();
        assert_eq!(evil.body["data"]["auth_url"], "", "{mount}");
        let missing = auth_url(&bao, mount, json!({"role": "web"}));
        assert_eq!(
            (missing.status, missing.errors()),
            (400, "missing redirect_uri".to_string())
        );
        let unknown = auth_url(
            &bao,
            mount,
            json!({"role": "nope", "redirect_uri": REDIRECT}),
        );
        assert_eq!(
            (unknown.status, unknown.errors()),
            (400, "role \"nope\" could not be found".to_string())
        );
    }
    // Ours says why the URL is empty.
    let evil = auth_url(
        &bao,
        "ours",
        json!({"role": "web", "redirect_uri": "https://evil.example/cb"}),
    );
    assert!(evil.body["warnings"].to_string().contains("redirect_uri"));
}

#[test]
fn provider_errors_nonces_and_client_nonces_are_refused() {
    let (bao, idp) = setup(json!({}));
    for mount in ["ours", "theirs"] {
        // The provider says the user declined.
        let url = start_login(&bao, mount, json!({"redirect_uri": REDIRECT}));
        let grant = idp.authorize(&url);
        let denied = callback(
            &bao,
            mount,
            &[
                ("state".into(), grant.state.clone()),
                ("error".into(), "access_denied".into()),
            ],
        );
        assert_eq!(
            (denied.status, denied.errors()),
            (400, "OpenBao login failed. access_denied".to_string()),
            "{mount}"
        );

        // The client nonce must come back.
        let url = start_login(
            &bao,
            mount,
            json!({"redirect_uri": REDIRECT, "client_nonce": "cn-123456"}),
        );
        let grant = idp.authorize(&url);
        let mut params = grant.callback_params();
        params.push(("client_nonce".into(), "wrong".into()));
        let bad = callback(&bao, mount, &params);
        assert_eq!(
            (bad.status, bad.errors()),
            (400, "invalid client_nonce".to_string()),
            "{mount}"
        );

        // An ID token for another login (wrong nonce) is refused.
        idp.set_id_token_claims(
            json!({"sub": "u-42", "email": "ada@example.com", "groups": [], "nonce": "n_replayed"}),
        );
        let url = start_login(&bao, mount, json!({"redirect_uri": REDIRECT}));
        let grant = idp.authorize(&url);
        let replay = callback(&bao, mount, &grant.callback_params());
        assert_eq!(replay.status, 400, "{mount}");
        assert!(
            replay
                .errors()
                .starts_with("OpenBao login failed. Error exchanging oidc code: ")
                && replay.errors().contains("invalid id_token nonce"),
            "{mount}: {}",
            replay.errors()
        );
        idp.set_id_token_claims(json!({"sub": "u-42", "email": "ada@example.com", "groups": []}));
    }
}

#[test]
fn form_post_delivers_the_id_token_through_the_ui() {
    let (bao, idp) =
        setup(json!({"oidc_response_mode": "form_post", "oidc_response_types": "id_token"}));
    let ui_redirect = "https://vault.example/ui/vault/auth/ours/oidc/callback";
    let url = auth_url(&bao, "ours", json!({"redirect_uri": ui_redirect}))
        .ok()
        .body["data"]["auth_url"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let grant = idp.authorize(&url);
    assert_eq!(grant.response_mode.as_deref(), Some("form_post"));
    assert_eq!(grant.response_type, "id_token");
    assert_eq!(
        grant.redirect_uri,
        "https://vault.example/v1/auth/ours/oidc/callback"
    );
    assert!(
        grant.code_challenge.is_none(),
        "no PKCE in the implicit flow"
    );

    // The provider's browser POST: a page for the UI window, naming the state.
    let form: serde_json::Map<String, Value> = grant
        .callback_params()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let page = bao.request_with_token(
        "POST",
        "auth/ours/oidc/callback",
        Some(Value::Object(form)),
        None,
    );
    assert_eq!(page.status, 200, "{:?}", page.body);
    assert!(
        page.header("content-type")
            .is_some_and(|c| c.starts_with("text/html"))
    );
    assert!(page.body.as_str().is_some_and(|b| b.contains(&grant.state)));

    // The UI completes the login.
    let login = callback(
        &bao,
        "ours",
        &[
            ("state".into(), grant.state.clone()),
            ("code".into(), "no_code".into()),
        ],
    )
    .ok();
    assert_eq!(login.body["auth"]["metadata"]["role"], "web");

    // Without form_post configured the POST is refused with 405, as the reference does.
    bao.write(
        "auth/ours/config",
        json!({
            "oidc_discovery_url": idp.issuer(), "oidc_discovery_ca_pem": idp.ca_pem(),
            "oidc_client_id": CLIENT_ID, "oidc_client_secret": CLIENT_SECRET,
        }),
    )
    .ok();
    let refused = bao.request_with_token(
        "POST",
        "auth/ours/oidc/callback",
        Some(json!({"state": "x"})),
        None,
    );
    assert_eq!(refused.status, 405);
}

#[test]
fn max_age_asks_for_auth_time_and_namespaces_travel_in_the_state() {
    let (bao, idp) = setup(json!({}));
    for mount in ["ours", "theirs"] {
        bao.write(&format!("auth/{mount}/role/web"), json!({
            "user_claim": "email", "allowed_redirect_uris": [REDIRECT], "max_age": "5m", "groups_claim": "",
        }))
        .ok();
        let with_ns = format!("{REDIRECT}?namespace=team-a");
        let url = start_login(&bao, mount, json!({"redirect_uri": with_ns}));
        let grant = idp.authorize(&url);
        assert_eq!(
            grant.params.get("max_age").map(String::as_str),
            Some("300"),
            "{mount}"
        );
        assert_eq!(
            grant.redirect_uri, REDIRECT,
            "{mount}: the namespace left the redirect URI"
        );
        assert!(
            grant.state.ends_with(",ns=team-a"),
            "{mount}: {}",
            grant.state
        );

        // The provider's ID token lacks auth_time: refused. (A state with a
        // namespace is routed by the server to that namespace, which a dev
        // server lacks, so this login starts without one.)
        let url = start_login(&bao, mount, json!({"redirect_uri": REDIRECT}));
        let grant = idp.authorize(&url);
        let refused = callback(&bao, mount, &grant.callback_params());
        assert_eq!(refused.status, 400, "{mount}");
        assert!(
            refused
                .errors()
                .contains("missing auth_time claim when max age was requested"),
            "{mount}: {}",
            refused.errors()
        );

        // With a recent auth_time it passes.
        let now = vault_plugin_test_support::jwt::now();
        idp.set_id_token_claims(
            json!({"sub": "u-42", "email": "ada@example.com", "auth_time": now - 10}),
        );
        let url = start_login(&bao, mount, json!({"redirect_uri": REDIRECT}));
        callback(&bao, mount, &idp.authorize(&url).callback_params()).ok();
        // An old one does not.
        idp.set_id_token_claims(
            json!({"sub": "u-42", "email": "ada@example.com", "auth_time": now - 3600}),
        );
        let url = start_login(&bao, mount, json!({"redirect_uri": REDIRECT}));
        let stale = callback(&bao, mount, &idp.authorize(&url).callback_params());
        assert_eq!(stale.status, 400, "{mount}: {}", stale.errors());
        idp.set_id_token_claims(json!({"sub": "u-42", "email": "ada@example.com"}));
    }
}

#[test]
fn fields_the_plugin_does_not_implement_are_reported_as_ignored() {
    let (bao, _idp) = setup(json!({}));
    let resp = bao
        .write("auth/ours/role/web", json!({
            "user_claim": "email", "allowed_redirect_uris": [REDIRECT], "callback_mode": "direct",
        }))
        .ok();
    assert!(
        resp.body["warnings"].to_string().contains("callback_mode"),
        "{}",
        resp.body
    );
}

#[test]
fn auth_url_needs_an_oidc_config() {
    let bao = openbao(true);
    let key = vault_plugin_test_support::jwt::SigningKey::generate(
        vault_plugin_test_support::jwt::Alg::RS256,
        "k",
    );
    for mount in ["ours", "theirs"] {
        let none = auth_url(
            &bao,
            mount,
            json!({"role": "web", "redirect_uri": REDIRECT}),
        );
        assert_eq!(
            (none.status, none.errors()),
            (400, "could not load configuration".to_string())
        );
        bao.write(
            &format!("auth/{mount}/config"),
            json!({"jwt_validation_pubkeys": [key.public_pem()]}),
        )
        .ok();
        let jwt_only = auth_url(
            &bao,
            mount,
            json!({"role": "web", "redirect_uri": REDIRECT}),
        );
        assert_eq!(
            (jwt_only.status, jwt_only.errors()),
            (
                400,
                "OIDC login is not configured for this mount".to_string()
            )
        );
    }
}
