//! The path framework through a real OpenBao: the SDK's framework examples
//! (`examples/leases.rs`, `examples/userpass.rs`) registered by SHA-256,
//! mounted and called over the HTTP API as an operator would.

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use vault_plugin_test_support::binaries::{EXAMPLE_LEASES, EXAMPLE_USERPASS, release_binary};
use vault_plugin_test_support::openbao::{OpenBao, PluginKind};
use vault_plugin_test_support::process;

const VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));

/// A server with the leases example mounted at `leases/`, issuing into
/// `state_dir`, rolling back write-ahead-log entries of any age.
fn leases_mount(state_dir: &Path) -> OpenBao {
    let bao = OpenBao::start();
    register_leases(&bao);
    mount_leases(
        &bao,
        "leases",
        json!({"state_dir": state_dir.to_string_lossy(), "wal_min_age": "0"}),
    );
    bao
}

fn register_leases(bao: &OpenBao) {
    bao.register_plugin(
        PluginKind::Secret,
        "example-leases",
        &release_binary(EXAMPLE_LEASES),
        VERSION,
    );
}

/// Mounts the leases example at `path` with mount `options`.
fn mount_leases(bao: &OpenBao, path: &str, options: serde_json::Value) {
    bao.request(
        "POST",
        &format!("sys/mounts/{path}"),
        Some(json!({"type": "example-leases", "plugin_version": VERSION, "options": options})),
    )
    .ok();
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn existence_checks_route_create_then_update_and_secrets_stay_hidden() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bao = leases_mount(dir.path());
    bao.write(
        "leases/roles/web",
        json!({"prefix": "web", "ttl": "1h", "password": "hunter2"}),
    )
    .ok();
    let read = bao.read("leases/roles/web").ok();
    assert_eq!(read.body["data"]["written_as"], "create");
    assert_eq!(read.body["data"]["ttl"], 3600);
    assert!(
        read.body["data"].get("password").is_none(),
        "a sensitive field is never read back"
    );

    // An update keeps what it does not name.
    bao.write("leases/roles/web", json!({"max_ttl": 7200})).ok();
    let read = bao.read("leases/roles/web").ok();
    assert_eq!(read.body["data"]["written_as"], "update");
    assert_eq!(read.body["data"]["prefix"], "web");
    assert_eq!(read.body["data"]["max_ttl"], 7200);

    // A create needs what an update does not.
    let refused = bao.write("leases/roles/other", json!({"ttl": 60}));
    assert_eq!(refused.status, 400);
    assert_eq!(refused.errors(), "missing prefix");

    let list = bao.list("leases/roles").ok();
    assert_eq!(list.body["data"]["keys"], json!(["web"]));
}

#[test]
fn bad_field_input_is_a_400_in_vaults_words_and_unknown_fields_warn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bao = leases_mount(dir.path());
    bao.write("leases/roles/web", json!({"prefix": "web"})).ok();
    let bad = bao.write("leases/roles/web", json!({"ttl": "banana"}));
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.errors(),
        "error converting input for field \"ttl\": time: invalid duration \"banana\""
    );
    let bad = bao.write("leases/creds/web", json!({"fail": "maybe"}));
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.errors(),
        "Field validation failed: error converting input for field \"fail\": \
         cannot parse '' as bool: strconv.ParseBool: parsing \"maybe\": invalid syntax"
    );
    let issued = bao
        .write("leases/creds/web", json!({"colour": "blue"}))
        .ok();
    assert_eq!(
        issued.body["warnings"],
        json!(["Endpoint ignored these unrecognized parameters: [colour]"])
    );
    // A write that answers nothing still says what it ignored (Go drops
    // the warning with the empty answer).
    let quiet = bao.write("leases/roles/web", json!({"prefx": "typo"}));
    assert_eq!(quiet.status, 200);
    assert_eq!(
        quiet.body["warnings"],
        json!(["Endpoint ignored these unrecognized parameters: [prefx]"])
    );
    assert_eq!(bao.read("leases/nowhere").status, 404);
    assert_eq!(bao.delete("leases/creds/web").status, 405);
    // Nothing stored was lost to the bad input.
    assert_eq!(
        bao.read("leases/roles/web").ok().body["data"]["prefix"],
        "web"
    );
}

#[test]
fn leased_credentials_renew_and_revoke_through_the_host() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bao = leases_mount(dir.path());
    bao.write(
        "leases/roles/web",
        json!({"prefix": "web", "ttl": 600, "max_ttl": 3600}),
    )
    .ok();
    let issued = bao.read("leases/creds/web").ok();
    let lease_id = issued.body["lease_id"]
        .as_str()
        .expect("a lease")
        .to_string();
    assert_eq!(issued.body["lease_duration"], 600);
    assert_eq!(issued.body["renewable"], true);
    let id = issued.body["data"]["id"].as_str().expect("id").to_string();
    assert_eq!(files_in(dir.path()), vec![id.clone()]);

    // The renew handler re-reads the role: a shorter TTL now applies.
    bao.write("leases/roles/web", json!({"ttl": 300})).ok();
    let renewed = bao
        .write("sys/leases/renew", json!({"lease_id": lease_id}))
        .ok();
    assert_eq!(renewed.body["lease_duration"], 300);

    bao.write("sys/leases/revoke", json!({"lease_id": lease_id}))
        .ok();
    let gone = process::wait_for(Duration::from_secs(5), || {
        files_in(dir.path()).is_empty().then_some(())
    });
    assert!(
        gone.is_some(),
        "revoke removed the credential: {:?}",
        files_in(dir.path())
    );
}

#[test]
fn a_half_made_credential_is_rolled_back_from_the_write_ahead_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bao = leases_mount(dir.path());
    bao.write("leases/roles/web", json!({"prefix": "web"})).ok();
    let failed = bao.write("leases/creds/web", json!({"fail": true}));
    assert_eq!(failed.status, 500);
    assert_eq!(
        files_in(dir.path()).len(),
        1,
        "the failure left the resource behind"
    );
    // The host's rollback request (every minute, and at unmount) finds the
    // entry and undoes it.
    bao.delete("sys/mounts/leases").ok();
    let undone = process::wait_for(Duration::from_secs(10), || {
        files_in(dir.path()).is_empty().then_some(())
    });
    assert!(
        undone.is_some(),
        "rollback removed the half-made credential"
    );
    bao.wait_for_log(Duration::from_secs(5), |l| {
        l.contains("rolled back a half-made credential")
    })
    .expect("the rollback is logged");
}

#[test]
fn path_help_and_the_openapi_document_describe_the_paths() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bao = leases_mount(dir.path());
    let help = bao.read("leases/roles/web?help=1").ok();
    let text = help.body["help"].as_str().expect("help text");
    assert!(
        text.starts_with("Request:        roles/web\nMatching Route: ^roles/"),
        "{text}"
    );
    assert!(text.contains("Manage roles."), "{text}");
    assert!(
        text.contains("    ttl (duration (sec))\n\n        Lease TTL of issued credentials."),
        "{text}"
    );
    assert!(
        text.contains("## DESCRIPTION\n\nA role says how credentials are made"),
        "{text}"
    );

    let spec = bao.read("sys/internal/specs/openapi").ok();
    let paths = &spec.body["paths"];
    let role = &paths["/leases/roles/{name}"];
    assert!(role["post"].is_object(), "{role}");
    assert_eq!(role["x-vault-createSupported"], true);
    assert!(role["get"].is_object() && role["delete"].is_object());
    assert_eq!(role["parameters"][0]["name"], "name");
    assert!(paths["/leases/creds/{name}"]["get"].is_object());
    assert!(paths["/leases/roles"]["get"].is_object(), "list documented");
}

fn userpass_mount() -> OpenBao {
    let bao = OpenBao::start();
    bao.register_plugin(
        PluginKind::Auth,
        "example-userpass",
        &release_binary(EXAMPLE_USERPASS),
        VERSION,
    );
    bao.enable_auth("up", "example-userpass", VERSION).ok();
    bao
}

fn login(
    bao: &OpenBao,
    user: &str,
    password: &str,
) -> vault_plugin_test_support::openbao::ApiResponse {
    bao.request_with_token(
        "POST",
        &format!("auth/up/login/{user}"),
        Some(json!({"password": password})),
        None,
    )
}

#[test]
fn a_login_gets_a_token_with_the_token_settings_honoured() {
    let bao = userpass_mount();
    bao.write(
        "auth/up/users/alice",
        json!({
            "password": "s3cret",
            "token_policies": "dev, ops",
            "token_ttl": "10m",
            "token_max_ttl": "1h",
            "token_bound_cidrs": ["127.0.0.1/32"],
            "token_num_uses": 5,
        }),
    )
    .ok();
    let user = bao.read("auth/up/users/alice").ok();
    assert_eq!(user.body["data"]["token_policies"], json!(["dev", "ops"]));
    assert_eq!(user.body["data"]["token_ttl"], 600);
    assert!(user.body["data"].get("password").is_none());

    let logged_in = login(&bao, "alice", "s3cret").ok();
    let auth = &logged_in.body["auth"];
    assert_eq!(auth["lease_duration"], 600);
    assert_eq!(auth["policies"], json!(["default", "dev", "ops"]));
    let token = auth["client_token"].as_str().expect("token").to_string();

    let lookup = bao.write("auth/token/lookup", json!({"token": token})).ok();
    let data = &lookup.body["data"];
    assert_eq!(data["policies"], json!(["default", "dev", "ops"]));
    assert_eq!(data["bound_cidrs"], json!(["127.0.0.1"]));
    assert_eq!(data["explicit_max_ttl"], 0);
    assert_eq!(data["num_uses"], 5);
    assert_eq!(data["meta"]["username"], "alice");
    assert!(
        data["ttl"].as_i64().is_some_and(|t| t > 500 && t <= 600),
        "{data}"
    );

    // Renewal goes through the plugin's renew handler.
    bao.write("auth/up/users/alice", json!({"token_ttl": "20m"}))
        .ok();
    let renewed = bao.write("auth/token/renew", json!({"token": token})).ok();
    assert_eq!(renewed.body["auth"]["lease_duration"], 1200);
}

#[test]
fn logins_refuse_wrong_and_empty_passwords_and_bad_token_settings() {
    let bao = userpass_mount();
    bao.write("auth/up/users/bob", json!({"password": "right"}))
        .ok();
    let wrong = login(&bao, "bob", "wrong");
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.errors(), "invalid username or password");
    assert_eq!(login(&bao, "bob", "").errors(), "missing password");
    assert_eq!(
        login(&bao, "nobody", "right").errors(),
        "invalid username or password"
    );

    let bad = bao.write(
        "auth/up/users/bob",
        json!({"token_type": "default-service"}),
    );
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.errors(),
        "invalid 'token_type' value \"default-service\""
    );
    let bad = bao.write(
        "auth/up/users/bob",
        json!({"token_ttl": 10, "token_max_ttl": 5}),
    );
    assert_eq!(
        bad.errors(),
        "'token_ttl' cannot be greater than 'token_max_ttl'"
    );
    // The deprecated names still work and land in the new ones.
    bao.write(
        "auth/up/users/bob",
        json!({"policies": "Ops,dev", "ttl": 90}),
    )
    .ok();
    let read = bao.read("auth/up/users/bob").ok();
    assert_eq!(read.body["data"]["token_policies"], json!(["dev", "ops"]));
    assert_eq!(read.body["data"]["token_ttl"], 90);
    // As in Vault, the old names are shown while values are kept under them.
    assert_eq!(read.body["data"]["policies"], json!(["dev", "ops"]));
    assert_eq!(read.body["data"]["ttl"], 90);
    assert_eq!(
        login(&bao, "bob", "right").ok().body["auth"]["lease_duration"],
        90
    );
    // Logins read users through a cache: a new password and a deletion
    // take effect at once.
    bao.write("auth/up/users/bob", json!({"password": "new"}))
        .ok();
    assert_eq!(login(&bao, "bob", "right").status, 400);
    login(&bao, "bob", "new").ok();
    bao.delete("auth/up/users/bob").ok();
    assert_eq!(
        login(&bao, "bob", "new").errors(),
        "invalid username or password"
    );
}

#[test]
fn raw_and_redirect_responses_reach_the_client_as_they_are() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bao = leases_mount(dir.path());
    let info = bao.read("leases/info");
    assert_eq!(info.status, 200);
    assert_eq!(
        info.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(info.body, json!("leases example\n"));
    let docs = bao.read("leases/docs");
    assert_eq!(docs.status, 307);
    assert_eq!(docs.header("location"), Some("https://openbao.org/docs/"));
}

#[test]
fn two_mounts_share_a_process_but_not_their_background_tasks() {
    let one = tempfile::tempdir().expect("tempdir");
    let two = tempfile::tempdir().expect("tempdir");
    let bao = OpenBao::start();
    register_leases(&bao);
    for (path, dir) in [("one", &one), ("two", &two)] {
        mount_leases(
            &bao,
            path,
            json!({"state_dir": dir.path().to_string_lossy(), "heartbeat_ms": "10"}),
        );
    }
    let beats = |dir: &Path| {
        std::fs::read_to_string(dir.join("heartbeat"))
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
    };
    process::wait_for(Duration::from_secs(5), || {
        (beats(one.path()) > 3 && beats(two.path()) > 3).then_some(())
    })
    .expect("both mounts' tasks run");
    bao.delete("sys/mounts/one").ok();
    std::thread::sleep(Duration::from_millis(100));
    let (one_after, two_after) = (beats(one.path()), beats(two.path()));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        beats(one.path()),
        one_after,
        "the unmounted mount's task stopped"
    );
    let goes_on = process::wait_for(Duration::from_secs(5), || {
        (beats(two.path()) > two_after).then_some(())
    });
    assert!(goes_on.is_some(), "the other mount's task goes on");
}
