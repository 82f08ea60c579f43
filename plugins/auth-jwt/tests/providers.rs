//! `provider_config` through OpenBao: groups that are not in the token come
//! from the provider's directory. The local HTTPS provider plays Microsoft
//! Graph (Azure's distributed groups claim), Okta's admin API and Google's
//! token endpoint and Workspace Directory API. OpenBao's built-in `jwt`
//! method implements `azure` too: it is mounted beside ours and must log the
//! same user in with the same groups. Google's metadata server and IAM
//! Credentials API are played too, and a Kubernetes API server's discovery
//! (OpenBao's `kubernetes` provider): those mounts run a plugin registered
//! with the environment a Google VM or a pod would give it.

mod common;

use common::{PLUGIN, VERSION, callback, claims, login, openbao, start_login};
use serde_json::{Value, json};
use vault_plugin_test_support::binaries::{AUTH_JWT, release_binary};
use vault_plugin_test_support::evidence::note_secret;
use vault_plugin_test_support::jwt::{Alg, SigningKey};
use vault_plugin_test_support::oidc::OidcProvider;
use vault_plugin_test_support::openbao::{ApiResponse, OpenBao, PluginKind};

const CLIENT_ID: &str = "vault-client";
const CLIENT_SECRET: &str = "s3cret-client-password";
const REDIRECT: &str = "http://localhost:8250/oidc/callback";
const OKTA_TOKEN: &str = "00okta-api-token-for-tests";

/// Both mounts configured for discovery on `idp` with `provider_config`,
/// and a `jwt` role and an `oidc` role reading `groups`.
fn configure(bao: &OpenBao, idp: &OidcProvider, mounts: &[&str], provider_config: Value) {
    for mount in mounts {
        bao.write(
            &format!("auth/{mount}/config"),
            json!({
                "oidc_discovery_url": idp.issuer(),
                "oidc_discovery_ca_pem": idp.ca_pem(),
                "oidc_client_id": CLIENT_ID,
                "oidc_client_secret": CLIENT_SECRET,
                "provider_config": provider_config,
            }),
        )
        .ok();
        for (role, role_type) in [("api", "jwt"), ("web", "oidc")] {
            bao.write(
                &format!("auth/{mount}/role/{role}"),
                json!({
                    "role_type": role_type,
                    "user_claim": "email",
                    "groups_claim": "groups",
                    "bound_audiences": [CLIENT_ID],
                    "allowed_redirect_uris": [REDIRECT],
                    "token_policies": "p",
                    "claim_mappings": {"/Employment/costCenter": "cost_center"},
                }),
            )
            .ok();
        }
    }
}

fn user_token(idp: &OidcProvider, extra: Value) -> String {
    let mut c = claims(json!({"iss": idp.issuer(), "aud": CLIENT_ID, "sub": "u-1"}));
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        c[k] = v;
    }
    idp.key().sign(&c)
}

/// External groups, one per name and mount (a group has one alias), with
/// alias `name` and policy `pol-<name>`: a login's group aliases then show
/// as its identity policies.
fn external_groups(bao: &OpenBao, mounts: &[&str], names: &[&str]) {
    let auths = bao.read("sys/auth").ok();
    for mount in mounts {
        let key = format!("{mount}/");
        let accessor = auths.body["data"][&key]["accessor"]
            .as_str()
            .or_else(|| auths.body[&key]["accessor"].as_str())
            .expect("the mount's accessor");
        for name in names {
            let group = bao
                .write(
                    "identity/group",
                    json!({
                        "name": format!("ext-{mount}-{name}"),
                        "type": "external",
                        "policies": [format!("pol-{name}")],
                    }),
                )
                .ok();
            let id = group.body["data"]["id"].as_str().expect("group id");
            bao.write(
                "identity/group-alias",
                json!({"name": name, "mount_accessor": accessor, "canonical_id": id}),
            )
            .ok();
        }
    }
}

/// The external groups a login joined (from its identity policies).
fn group_names(resp: &ApiResponse) -> Vec<String> {
    let mut names: Vec<String> = resp.body["auth"]["identity_policies"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str()?.strip_prefix("pol-").map(String::from))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn azure_claims(idp: &OidcProvider) -> Value {
    json!({
        "sub": "u-1",
        "email": "ada@example.com",
        "groups": null,
        "_claim_names": {"groups": "src1"},
        "_claim_sources": {"src1": {"endpoint": idp.directory().graph_url()}},
    })
}

#[test]
fn azure_groups_beyond_the_token_come_from_graph_in_the_oidc_flow_as_the_builtin() {
    let bao = openbao(true);
    let idp = OidcProvider::start();
    idp.set_client(CLIENT_ID, CLIENT_SECRET);
    idp.set_id_token_claims(azure_claims(&idp));
    idp.directory().set_graph_groups(&["g-ops", "g-eng"]);
    configure(
        &bao,
        &idp,
        &["ours", "theirs"],
        json!({"provider": "azure"}),
    );
    external_groups(&bao, &["ours", "theirs"], &["g-ops", "g-eng", "small"]);

    for mount in ["ours", "theirs"] {
        let before = idp.directory().graph_requests();
        let url = start_login(
            &bao,
            mount,
            json!({"role": "web", "redirect_uri": REDIRECT}),
        );
        let grant = idp.authorize(&url);
        let resp = callback(&bao, mount, &grant.callback_params()).ok();
        assert_eq!(idp.directory().graph_requests(), before + 1, "{mount}");
        assert_eq!(group_names(&resp), ["g-eng", "g-ops"], "{mount}");
    }

    // A token that carries its groups is not looked up.
    idp.set_id_token_claims(json!({"sub": "u-2", "email": "bo@example.com", "groups": ["small"]}));
    let before = idp.directory().graph_requests();
    let jwt = user_token(
        &idp,
        json!({"email": "bo@example.com", "groups": ["small"]}),
    );
    let resp = login(&bao, "ours", "api", &jwt).ok();
    assert_eq!(group_names(&resp), ["small"]);
    assert_eq!(idp.directory().graph_requests(), before);
}

#[test]
fn azure_jwt_logins_use_the_distributed_claim_access_token() {
    let bao = openbao(false);
    let idp = OidcProvider::start();
    idp.directory().set_graph_groups(&["g-ops", "g-eng"]);
    configure(&bao, &idp, &["ours"], json!({"provider": "azure"}));
    external_groups(&bao, &["ours"], &["g-ops", "g-eng"]);
    let jwt = user_token(&idp, azure_claims(&idp));

    let without = login(&bao, "ours", "api", &jwt);
    assert_eq!(without.status, 400);
    assert_eq!(
        without.errors(),
        "failed to fetch groups: \"groups\" claim not found in token: token unavailable to \
         call Microsoft Graph API"
    );

    let access_token = idp.issue_access_token(json!({"sub": "u-1"}));
    let login_with = |token: &str| {
        bao.request_with_token(
            "POST",
            "auth/ours/login",
            Some(json!({"role": "api", "jwt": jwt, "distributed_claim_access_token": token})),
            None,
        )
    };
    let resp = login_with(&access_token).ok();
    assert_eq!(group_names(&resp), ["g-eng", "g-ops"]);

    let refused = login_with("not-a-token-graph-knows");
    assert_eq!(refused.status, 400);
    assert!(
        refused.errors().starts_with(
            "failed to fetch groups: \"groups\" claim not found in token: failed to get groups:"
        ),
        "{}",
        refused.errors()
    );
}

#[test]
fn okta_refetches_groups_at_the_cap_and_filters_them() {
    let bao = openbao(false);
    let idp = OidcProvider::start();
    note_secret("okta api_token", OKTA_TOKEN);
    let all = ["eng-core", "eng-web", "ops", "eng-data", "sales"];
    idp.directory()
        .set_okta(OKTA_TOKEN, &[("ada@example.com", &all)]);
    configure(
        &bao,
        &idp,
        &["ours"],
        json!({
            "provider": "okta", "fetch_groups": true, "api_token": OKTA_TOKEN,
            "groups_cap": 3, "groups_filter": "^eng-",
        }),
    );
    external_groups(
        &bao,
        &["ours"],
        &[
            "eng-x", "ops", "eng-core", "eng-web", "eng-data", "sales", "a",
        ],
    );

    // Under the cap: the token's groups, filtered, and no API call.
    let few = user_token(
        &idp,
        json!({"email": "ada@example.com", "groups": ["eng-x", "ops"]}),
    );
    let resp = login(&bao, "ours", "api", &few).ok();
    assert_eq!(group_names(&resp), ["eng-x"]);
    assert_eq!(idp.directory().okta_requests(), 0);

    // At the cap: every page of the user's groups (two per page), filtered.
    let capped = user_token(
        &idp,
        json!({"email": "ada@example.com", "groups": ["a", "b", "c"]}),
    );
    let resp = login(&bao, "ours", "api", &capped).ok();
    assert_eq!(group_names(&resp), ["eng-core", "eng-data", "eng-web"]);
    assert_eq!(idp.directory().okta_requests(), 3);

    // A next page elsewhere would get the API token: refused.
    idp.directory()
        .set_okta_next_origin(Some("https://collector.example"));
    let resp = login(&bao, "ours", "api", &capped);
    assert_eq!(resp.status, 400);
    assert!(
        resp.errors().contains("is not on org_url"),
        "{}",
        resp.errors()
    );

    // The API token is never read back.
    let config = bao.read("auth/ours/config").ok();
    assert_eq!(config.body["data"]["provider_config"]["groups_cap"], 3);
    assert!(!config.body.to_string().contains(OKTA_TOKEN));
}

#[test]
fn provider_config_is_validated_with_the_reference_texts() {
    let bao = openbao(false);
    let idp = OidcProvider::start();
    configure(&bao, &idp, &["ours"], json!({"provider": "azure"}));
    let stored = bao.read("auth/ours/config").ok().body["data"].clone();
    for (provider_config, message) in [
        (
            json!({"provider": "okta", "fetch_groups": true}),
            "invalid provider_config: error initializing \"okta\" provider_config: 'api_token' \
             is required in provider_config when fetch_groups=true",
        ),
        (
            json!({"provider": "okta", "org_url": "http://okta.example"}),
            "invalid provider_config: error initializing \"okta\" provider_config: org_url \
             must use https",
        ),
        (
            json!({"provider": "okta", "groups_filter": "(unclosed"}),
            "invalid provider_config: error initializing \"okta\" provider_config: invalid \
             groups_filter regex:",
        ),
        // Go's RE2 has Unicode classes; ours refuses them (README).
        (
            json!({"provider": "okta", "groups_filter": "^\\p{L}+$"}),
            "invalid provider_config: error initializing \"okta\" provider_config: invalid \
             groups_filter regex:",
        ),
        (
            json!({"provider": "gsuite", "groups_recurse_max_depth": -1}),
            "invalid provider_config: error initializing \"gsuite\" provider_config: \
             'gsuite_recurse_max_depth' must be a positive integer",
        ),
        (
            json!({"provider": "gsuite", "gsuite_service_account": "{\"type\": \"x\"}"}),
            "invalid provider_config: error initializing \"gsuite\" provider_config: error \
             parsing service account JSON:",
        ),
        (
            json!({
                "provider": "gsuite",
                "impersonate_principal": "sa@p.iam.gserviceaccount.com",
                "iam_credentials_api_url": "http://iam.example",
            }),
            "invalid provider_config: error initializing \"gsuite\" provider_config: \
             iam_credentials_api_url must use https",
        ),
        (
            json!({"provider": "nope"}),
            "invalid provider_config: provider \"nope\" not found in custom providers",
        ),
    ] {
        let mut body = stored.clone();
        body["oidc_client_secret"] = json!(CLIENT_SECRET);
        body["provider_config"] = provider_config.clone();
        let resp = bao.write("auth/ours/config", body);
        assert_eq!(resp.status, 400, "{provider_config}");
        assert!(
            resp.errors().starts_with(message),
            "{provider_config}: {}",
            resp.errors()
        );
    }
    // Nothing stored changed.
    assert_eq!(bao.read("auth/ours/config").ok().body["data"], stored);
}

#[test]
fn gsuite_groups_and_custom_schemas_come_from_the_directory_api() {
    let bao = openbao(false);
    let idp = OidcProvider::start();
    let directory = idp.directory();
    let service_account = directory.google_service_account();
    note_secret("gsuite_service_account", &service_account);
    directory.set_google_admin("admin@example.com");
    directory.add_google_membership(
        "ada@example.com",
        &["g1@example.com", "g2@example.com", "g3@example.com"],
    );
    directory.add_google_membership("g1@example.com", &["parent@example.com"]);
    directory.add_google_membership("parent@example.com", &["grandparent@example.com"]);
    directory.set_google_schemas(
        "ada@example.com",
        json!({"Employment": {"costCenter": "cc-7"}, "Other": {"x": 1}}),
    );
    let provider = |depth: i64| {
        json!({
            "provider": "gsuite",
            "gsuite_service_account": service_account,
            "gsuite_admin_impersonate": "admin@example.com",
            "fetch_groups": true,
            "fetch_user_info": true,
            "user_custom_schemas": "Employment",
            "groups_recurse_max_depth": depth,
            "directory_api_url": idp.issuer(),
        })
    };
    configure(&bao, &idp, &["ours"], provider(1));
    external_groups(
        &bao,
        &["ours"],
        &[
            "g1@example.com",
            "g2@example.com",
            "g3@example.com",
            "parent@example.com",
            "grandparent@example.com",
        ],
    );
    let jwt = user_token(&idp, json!({"email": "ada@example.com"}));

    let resp = login(&bao, "ours", "api", &jwt).ok();
    assert_eq!(
        group_names(&resp),
        [
            "g1@example.com",
            "g2@example.com",
            "g3@example.com",
            "parent@example.com"
        ]
    );
    assert_eq!(resp.body["auth"]["metadata"]["cost_center"], "cc-7");

    // The access token is reused by the next login.
    let tokens = directory.google_token_requests();
    login(&bao, "ours", "api", &jwt).ok();
    assert_eq!(directory.google_token_requests(), tokens);
    assert_eq!(tokens, 1);

    // Depth 0: the user's own groups only.
    configure(&bao, &idp, &["ours"], provider(0));
    let resp = login(&bao, "ours", "api", &jwt).ok();
    assert_eq!(
        group_names(&resp),
        ["g1@example.com", "g2@example.com", "g3@example.com"]
    );

    // A user the directory does not know: the API's error.
    let stranger = user_token(&idp, json!({"email": "who@example.com"}));
    let resp = login(&bao, "ours", "api", &stranger);
    assert_eq!(resp.status, 400);
    assert_eq!(
        resp.errors(),
        "googleapi: Error 404: Resource Not Found: userKey"
    );

    // The key is never read back.
    let config = bao.read("auth/ours/config").ok();
    assert_eq!(config.body["data"]["provider_config"]["fetch_groups"], true);
    assert!(
        config.body["data"]["provider_config"]
            .get("gsuite_service_account")
            .is_none()
    );
    assert!(!config.body.to_string().contains("PRIVATE KEY"));
}

/// Mounts ours at `auth/<mount>` from a plugin registered (as `<PLUGIN>-<mount>`)
/// with `env` in its environment.
fn mount_with_env(bao: &OpenBao, mount: &str, env: &[(&str, &str)]) {
    let name = format!("{PLUGIN}-{mount}");
    bao.register_plugin_with_env(
        PluginKind::Auth,
        &name,
        &release_binary(AUTH_JWT),
        VERSION,
        env,
    );
    bao.enable_auth(mount, &name, VERSION).ok();
}

#[test]
fn gsuite_without_a_key_uses_the_metadata_server_and_impersonation() {
    let idp = OidcProvider::start();
    let metadata = idp.serve_metadata();
    let bao = openbao(false);
    mount_with_env(&bao, "gce", &[("GCE_METADATA_HOST", &metadata)]);
    let directory = idp.directory();
    let delegated = "vault-groups@project.iam.gserviceaccount.com";
    directory.add_google_membership("ada@example.com", &["g1@example.com", "g2@example.com"]);
    external_groups(&bao, &["gce"], &["g1@example.com", "g2@example.com"]);
    let jwt = user_token(&idp, json!({"email": "ada@example.com"}));
    let provider = |extra: Value| {
        let mut p = json!({
            "provider": "gsuite",
            "fetch_groups": true,
            "directory_api_url": idp.issuer(),
            "iam_credentials_api_url": idp.issuer(),
            "oauth2_token_url": format!("{}/google/token", idp.issuer()),
        });
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            p[k] = v;
        }
        p
    };
    let counts = || {
        (
            directory.metadata_requests(),
            directory.iam_requests(),
            directory.google_token_requests(),
        )
    };

    // Domain-wide delegation without a key: the VM's token has the IAM
    // Credentials API sign the assertion for the admin, which the token
    // endpoint exchanges (it checks the signature, issuer and subject).
    directory.set_google_admin("admin@example.com");
    configure(
        &bao,
        &idp,
        &["gce"],
        provider(json!({
            "impersonate_principal": delegated,
            "gsuite_admin_impersonate": "admin@example.com",
        })),
    );
    let resp = login(&bao, "gce", "api", &jwt).ok();
    assert_eq!(group_names(&resp), ["g1@example.com", "g2@example.com"]);
    assert_eq!(counts(), (1, 1, 1), "metadata, signJwt, exchange");
    // The token is kept: no call for the next login.
    login(&bao, "gce", "api", &jwt).ok();
    assert_eq!(counts(), (1, 1, 1));

    // Without an admin to act for: the account's own token
    // (generateAccessToken), no exchange.
    directory.set_google_admin("");
    configure(
        &bao,
        &idp,
        &["gce"],
        provider(json!({"impersonate_principal": delegated})),
    );
    let resp = login(&bao, "gce", "api", &jwt).ok();
    assert_eq!(group_names(&resp), ["g1@example.com", "g2@example.com"]);
    assert_eq!(counts(), (2, 2, 1));

    // Neither key nor impersonation: the VM's own token, for the
    // Directory API's scopes.
    configure(&bao, &idp, &["gce"], provider(json!({})));
    let resp = login(&bao, "gce", "api", &jwt).ok();
    assert_eq!(group_names(&resp), ["g1@example.com", "g2@example.com"]);
    assert_eq!(counts(), (3, 2, 1));

    // An account the VM may not act as: the API's refusal, at login.
    configure(
        &bao,
        &idp,
        &["gce"],
        provider(json!({"impersonate_principal": "other@project.iam.gserviceaccount.com"})),
    );
    let resp = login(&bao, "gce", "api", &jwt);
    assert_eq!(resp.status, 400);
    assert!(
        resp.errors()
            .starts_with("failed to fetch groups: impersonate: unable to generate access token: ")
            && resp.errors().contains("iam.serviceAccounts.getAccessToken"),
        "{}",
        resp.errors()
    );
}

#[test]
fn kubernetes_provider_finds_the_keys_through_the_api_server() {
    const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
    const SUBJECT: &str = "system:serviceaccount:apps:web";
    let idp = OidcProvider::start();
    // This cluster signs with an ES256 key: the discovery says so, and no
    // `jwt_supported_algs` is needed.
    let cluster_key = SigningKey::generate(Alg::ES256, "k1");
    idp.set_keys(vec![cluster_key.clone()]);
    // The API server serves its issuer only to a pod's token, and names an
    // issuer other than the address the pod reaches it at.
    idp.require_bearer(Some("pod-token-1"));
    idp.set_discovery_issuer(Some(ISSUER.into()));
    let pod = tempfile::tempdir().expect("temp dir");
    std::fs::write(pod.path().join("token"), "pod-token-1\n").expect("token file");
    std::fs::write(pod.path().join("ca.crt"), idp.ca_pem()).expect("CA file");
    note_secret("kubernetes service account token", "pod-token-1");
    note_secret("kubernetes service account token", "pod-token-2");

    let bao = openbao(false);
    let port = idp.port().to_string();
    let dir = pod.path().to_string_lossy().to_string();
    mount_with_env(
        &bao,
        "k8s",
        &[
            ("KUBERNETES_SERVICE_HOST", "127.0.0.1"),
            ("KUBERNETES_SERVICE_PORT", &port),
            ("VAULT_AUTH_JWT_K8S_SERVICE_ACCOUNT_DIR", &dir),
        ],
    );
    let config = json!({"provider_config": {"provider": "kubernetes"}, "bound_issuer": ISSUER});
    bao.write("auth/k8s/config", config.clone()).ok();
    bao.write(
        "auth/k8s/role/web",
        json!({
            "role_type": "jwt",
            "user_claim": "sub",
            "bound_audiences": ["vault"],
            "bound_subject": SUBJECT,
            "token_policies": "web",
        }),
    )
    .ok();
    let sa_token = |key: &SigningKey, iss: &str| {
        key.sign(&claims(json!({"iss": iss, "aud": "vault", "sub": SUBJECT})))
    };

    let resp = login(&bao, "k8s", "web", &sa_token(&cluster_key, ISSUER)).ok();
    assert_eq!(resp.body["auth"]["metadata"]["role"], "web");
    assert_eq!(
        resp.body["auth"]["token_policies"],
        json!(["default", "web"])
    );
    // bound_issuer pins the issuer the discovery could not.
    let resp = login(&bao, "k8s", "web", &sa_token(&cluster_key, &idp.issuer()));
    assert_eq!(resp.status, 400, "{}", resp.body);

    // The kubelet rotates the pod's token and the cluster its keys: a token
    // signed by the new key makes the plugin fetch the keys again, with the
    // token now in the file.
    std::fs::write(pod.path().join("token"), "pod-token-2").expect("token file");
    idp.require_bearer(Some("pod-token-2"));
    let rotated = SigningKey::generate(Alg::ES256, "k2");
    idp.set_keys(vec![rotated.clone()]);
    // Unknown kids refetch at most every 5 s (the first login fetched).
    std::thread::sleep(std::time::Duration::from_millis(5100));
    let jwks = idp.jwks_requests();
    let resp = login(&bao, "k8s", "web", &sa_token(&rotated, ISSUER)).ok();
    assert_eq!(resp.body["auth"]["metadata"]["role"], "web");
    assert!(idp.jwks_requests() > jwks);

    // OpenBao's refusals, as 400s (OpenBao answers 500), storing nothing.
    let stored = bao.read("auth/k8s/config").ok().body["data"].clone();
    let mut with_ca = config.clone();
    with_ca["jwks_ca_pem"] = json!(idp.ca_pem());
    let resp = bao.write("auth/k8s/config", with_ca);
    assert_eq!(resp.status, 400);
    assert_eq!(
        resp.errors(),
        "error initializing \"kubernetes\" provider_config: jwks_ca_pem must not be set when \
         using the kubernetes provider"
    );
    let mut with_url = config.clone();
    with_url["jwks_url"] = json!(idp.jwks_url());
    let resp = bao.write("auth/k8s/config", with_url);
    assert_eq!(resp.status, 400);
    assert!(
        resp.errors().starts_with("exactly one of"),
        "{}",
        resp.errors()
    );
    // The API server refusing the pod's token is reported when the config
    // is written.
    idp.require_bearer(Some("someone-else"));
    let resp = bao.write("auth/k8s/config", config.clone());
    assert_eq!(resp.status, 400);
    assert!(
        resp.errors()
            .starts_with("error checking kubernetes oidc discovery: 401 Unauthorized"),
        "{}",
        resp.errors()
    );
    assert_eq!(bao.read("auth/k8s/config").ok().body["data"], stored);

    // A relaunched plugin sets the provider up again from the stored
    // config: discovery with the pod's current token, then the keys.
    idp.require_bearer(Some("pod-token-2"));
    let discoveries = idp.discovery_requests();
    bao.write(
        "sys/plugins/reload/backend",
        json!({"plugin": format!("{PLUGIN}-k8s")}),
    )
    .ok();
    let resp = login(&bao, "k8s", "web", &sa_token(&rotated, ISSUER)).ok();
    assert_eq!(resp.body["auth"]["metadata"]["role"], "web");
    assert!(idp.discovery_requests() > discoveries);
}
