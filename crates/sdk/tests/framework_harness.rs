//! The path framework's examples driven by the strict test host: the replies
//! must be ones a Go host accepts, and routing, help and field errors are
//! checked call by call without an OpenBao.

use std::time::Duration;

use serde_json::json;
use vault_plugin_test_support::binaries::{EXAMPLE_LEASES, EXAMPLE_USERPASS, release_binary};
use vault_plugin_test_support::host::{Launch, Mount, reply_data};

async fn userpass() -> (vault_plugin_test_support::host::Plugin, Mount) {
    let plugin = Launch::new(&release_binary(EXAMPLE_USERPASS))
        .spawn()
        .connect()
        .await
        .expect("connect");
    let mount = plugin.mount("up").await.expect("mount");
    (plugin, mount)
}

#[tokio::test]
async fn an_auth_reply_carries_the_token_settings() {
    let (_plugin, mount) = userpass().await;
    assert_eq!(
        mount.backend_type().await.expect("type"),
        2,
        "an auth method"
    );
    mount
        .request(
            "create",
            "users/alice",
            json!({"password": "pw", "token_policies": "a,b", "token_ttl": "5m", "token_period": 0}),
        )
        .await
        .expect("create");
    let reply = mount
        .request("update", "login/alice", json!({"password": "pw"}))
        .await
        .expect("a reply a Go host accepts");
    assert!(reply.err.is_none(), "{:?}", reply.err);
    let auth = reply.response.and_then(|r| r.auth).expect("auth");
    assert_eq!(auth.policies, vec!["a", "b"]);
    let lease = auth.lease_options.expect("lease");
    assert_eq!(lease.ttl, 300 * 1_000_000_000);
    assert!(lease.renewable);
    assert_eq!(auth.alias.expect("alias").name, "alice");
}

#[tokio::test]
async fn unmatched_paths_and_operations_and_bad_fields_are_typed_errors() {
    let (_plugin, mount) = userpass().await;
    let err = |reply: vault_plugin_sdk::proto::pb::HandleRequestReply| reply.err.expect("an error");
    let missing = err(mount
        .request("read", "nowhere", json!(null))
        .await
        .expect("reply"));
    assert_eq!(missing.err_msg, "unsupported path");
    let wrong_op = err(mount
        .request("delete", "login/alice", json!(null))
        .await
        .expect("reply"));
    assert_eq!(wrong_op.err_msg, "unsupported operation");
    let bad = mount
        .request(
            "update",
            "login/alice",
            json!({"password": ["not", "a", "string"]}),
        )
        .await
        .expect("reply");
    assert_eq!(
        bad.err.as_ref().map(|e| e.err_msg.as_str()),
        Some("invalid request")
    );
    assert_eq!(
        reply_data(&bad)["error"],
        "Field validation failed: error converting input for field \"password\": \
         '' expected type 'string', got unconvertible type '[]interface {}', value: '<redacted>'"
    );
}

#[tokio::test]
async fn help_renders_the_path_and_its_fields() {
    let (_plugin, mount) = userpass().await;
    let reply = mount
        .request("help", "login/alice", json!(null))
        .await
        .expect("help");
    let data = reply_data(&reply);
    let text = data["help"].as_str().expect("text");
    assert!(
        text.starts_with("Request:        login/alice\nMatching Route: ^login/"),
        "{text}"
    );
    assert!(
        text.contains("    password (string)\n\n        The user's password."),
        "{text}"
    );
    assert!(
        data["openapi"]["paths"]["/login/{name}"]["post"].is_object(),
        "{data}"
    );
    let root = reply_data(
        &mount
            .request("help", "", json!(null))
            .await
            .expect("root help"),
    );
    let text = root["help"].as_str().expect("text");
    assert!(
        text.starts_with("## DESCRIPTION\n\nLog in with a user name and password."),
        "{text}"
    );
    assert!(
        text.contains("    ^users/?$\n        List users."),
        "{text}"
    );
}

async fn leases(options: &[(&str, &str)]) -> (vault_plugin_test_support::host::Plugin, Mount) {
    let plugin = Launch::new(&release_binary(EXAMPLE_LEASES))
        .spawn()
        .connect()
        .await
        .expect("connect");
    let config = options
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mount = plugin.mount_with("leases", config).await.expect("mount");
    (plugin, mount)
}

#[tokio::test]
async fn the_periodic_function_runs_on_each_rollback_request() {
    let (_plugin, mount) = leases(&[]).await;
    for _ in 0..2 {
        let reply = mount
            .request("rollback", "", json!(null))
            .await
            .expect("rollback");
        assert!(reply.err.is_none(), "{:?}", reply.err);
    }
    let tidy = mount
        .request("read", "tidy", json!(null))
        .await
        .expect("read");
    assert_eq!(reply_data(&tidy)["runs"], 2);
}

#[tokio::test]
async fn invalidation_drops_state_cached_from_a_changed_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state_dir = dir.path().to_string_lossy().into_owned();
    let (_plugin, mount) = leases(&[("state_dir", &state_dir)]).await;
    mount
        .request("create", "roles/web", json!({"prefix": "old"}))
        .await
        .expect("create");
    let issue = || async {
        let reply = mount
            .request("read", "creds/web", json!(null))
            .await
            .expect("issue");
        reply_data(&reply)["id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert!(issue().await.starts_with("old-"));
    // Another node rewrites the role: until the host says so, the cached
    // copy is used; after InvalidateKey, the new one.
    mount.storage.set(
        "roles/web",
        serde_json::to_vec(&json!({"prefix": "new", "ttl": 0, "max_ttl": 0, "password": "", "written_as": "update"}))
            .expect("json"),
    );
    assert!(issue().await.starts_with("old-"), "served from the cache");
    mount.invalidate("roles/web").await.expect("invalidate");
    assert!(
        issue().await.starts_with("new-"),
        "reloaded after invalidation"
    );
}

#[tokio::test]
async fn background_tasks_stop_when_the_mount_is_cleaned_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state_dir = dir.path().to_string_lossy().into_owned();
    let (plugin, mount) = leases(&[("state_dir", &state_dir), ("heartbeat_ms", "10")]).await;
    let beats = || {
        std::fs::read_to_string(dir.path().join("heartbeat"))
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(beats() > 3, "the task runs while mounted");
    mount.cleanup().await.expect("cleanup");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let after = beats();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(beats(), after, "the task stopped with the mount");
    assert!(
        plugin.health("plugin").await.is_ok(),
        "the process serves on"
    );
}

#[tokio::test]
async fn data_nested_deeper_than_the_decoder_allows_is_a_400_saying_so() {
    let (_plugin, mount) = userpass().await;
    let mut deep = json!([]);
    for _ in 0..200 {
        deep = json!([deep]);
    }
    let reply = mount
        .request("update", "login/alice", json!({ "password": deep }))
        .await
        .expect("a reply a Go host accepts");
    assert_eq!(
        reply.err.as_ref().map(|e| e.err_msg.as_str()),
        Some("invalid request")
    );
    let message = reply_data(&reply)["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.contains("nested too deeply"), "{message:?}");
}
