//! The example plugin driven by the strict in-process host: the launch
//! contract, the handshake, AutoMTLS, the broker and multiplexing.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use vault_plugin_sdk::server::{MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE};
use vault_plugin_sdk::transport::automtls::{self, Identity};
use vault_plugin_test_support::binaries::{EXAMPLE_KV, release_binary};
use vault_plugin_test_support::host::{Launch, parse_handshake, reply_data};
use vault_plugin_test_support::process;

fn plugin() -> PathBuf {
    release_binary(EXAMPLE_KV)
}

/// go-plugin's ErrTypeInvalidRequest.
const INVALID_REQUEST: u32 = 7;

#[test]
fn refuses_to_run_without_the_cookie() {
    let out = Command::new(plugin()).env_clear().output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "nothing on stdout");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("This binary is a plugin. These are not meant to be executed directly."),
        "{stderr}"
    );
}

#[test]
fn refuses_the_database_plugin_cookie() {
    let out = Command::new(plugin())
        .env_clear()
        .env("VAULT_DATABASE_PLUGIN", MAGIC_COOKIE_VALUE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "6,5")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
}

#[test]
fn version_flag_needs_no_cookie() {
    for flag in ["--version", "-version"] {
        let out = Command::new(plugin())
            .env_clear()
            .arg(flag)
            .output()
            .expect("run");
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("vault-plugin-example-kv v{}", env!("CARGO_PKG_VERSION"))
        );
    }
}

#[test]
fn refuses_protocol_versions_it_does_not_speak() {
    let mut spawned = Launch::new(&plugin())
        .env("PLUGIN_PROTOCOL_VERSIONS", "3,4")
        .env("VAULT_PLUGIN_METADATA_MODE", "true")
        .without("PLUGIN_CLIENT_CERT")
        .spawn();
    let status = spawned.wait_exit(Duration::from_secs(5)).expect("exits");
    assert_eq!(status.code(), Some(1));
    assert!(
        spawned.handshake_line(Duration::from_millis(100)).is_err(),
        "no handshake"
    );
    assert!(
        spawned.stderr().contains("speaks only version 5"),
        "{}",
        spawned.stderr()
    );
}

#[test]
fn refuses_to_run_without_automtls() {
    let mut spawned = Launch::new(&plugin()).without("PLUGIN_CLIENT_CERT").spawn();
    assert_eq!(
        spawned
            .wait_exit(Duration::from_secs(5))
            .and_then(|s| s.code()),
        Some(1)
    );
    assert!(
        spawned.stderr().contains("requires AutoMTLS"),
        "{}",
        spawned.stderr()
    );
}

#[tokio::test]
async fn handshake_line_is_exactly_go_plugins() {
    let dir = tempfile::tempdir().expect("dir");
    let mut spawned = Launch::new(&plugin())
        .env("PLUGIN_UNIX_SOCKET_DIR", &dir.path().display().to_string())
        .spawn();
    let line = spawned
        .handshake_line(Duration::from_secs(10))
        .expect("handshake");
    let hs = parse_handshake(&line, false).expect("strict parse");
    assert!(hs.address.starts_with(&dir.path().display().to_string()));
    assert!(std::path::Path::new(&hs.address).exists(), "socket exists");
    // A fresh P-521 certificate, marked CA, for localhost.
    let p521 = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
    assert!(hs.server_cert_der.windows(7).any(|w| w == p521));
    assert!(
        spawned
            .next_stdout_line(Duration::from_millis(300))
            .is_none(),
        "one line only"
    );

    // Asked about go-plugin's multiplexed broker, it says no in a 7th field.
    let mut asked = Launch::new(&plugin())
        .env("PLUGIN_MULTIPLEX_GRPC", "true")
        .spawn();
    let line = asked
        .handshake_line(Duration::from_secs(10))
        .expect("handshake");
    assert_eq!(
        parse_handshake(&line, true).expect("parse").multiplex,
        Some(false)
    );
}

#[tokio::test]
async fn every_start_makes_a_new_certificate() {
    let a = Launch::new(&plugin()).spawn().connect().await.expect("a");
    let b = Launch::new(&plugin()).spawn().connect().await.expect("b");
    assert_ne!(a.handshake.server_cert_der, b.handshake.server_cert_der);
}

#[tokio::test]
async fn socket_group_is_honoured() {
    let dir = tempfile::tempdir().expect("dir");
    // Root may hand the socket to any group; others only to their own.
    let gid = std::fs::metadata(dir.path()).expect("meta").gid();
    let group = if nix::unistd::Uid::effective().is_root() {
        "1".to_string()
    } else {
        gid.to_string()
    };
    let mut spawned = Launch::new(&plugin())
        .env("PLUGIN_UNIX_SOCKET_DIR", &dir.path().display().to_string())
        .env("PLUGIN_UNIX_SOCKET_GROUP", &group)
        .spawn();
    let line = spawned
        .handshake_line(Duration::from_secs(10))
        .expect("handshake");
    let hs = parse_handshake(&line, false).expect("parse");
    let meta = std::fs::metadata(&hs.address).expect("socket");
    assert_eq!(meta.gid().to_string(), group);
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
}

#[tokio::test]
async fn a_wrong_client_certificate_is_refused() {
    let plugin = Launch::new(&plugin())
        .spawn()
        .connect()
        .await
        .expect("connect");
    assert_eq!(plugin.health("plugin").await.expect("health"), 1, "SERVING");
    let stranger = Identity::generate().expect("cert");
    let refused = match plugin.connect_as(&stranger).await {
        Err(_) => true,
        // TLS 1.3 reports the client's rejection on first use.
        Ok(channel) => vault_plugin_sdk::proto::health::health_client::HealthClient::new(channel)
            .check(vault_plugin_sdk::proto::health::HealthCheckRequest {
                service: "plugin".into(),
            })
            .await
            .is_err(),
    };
    assert!(refused, "a stranger's certificate must not be served");
    // The host's own connection still works.
    assert_eq!(plugin.health("plugin").await.expect("health"), 1);
}

#[tokio::test]
async fn reports_health_version_and_multiplexing() {
    let plugin = Launch::new(&plugin())
        .spawn()
        .connect()
        .await
        .expect("connect");
    assert_eq!(plugin.health("plugin").await.expect("plugin"), 1);
    assert_eq!(plugin.health("").await.expect("server"), 1);
    assert_eq!(
        plugin.health("nope").await.expect_err("unknown").code(),
        tonic::Code::NotFound
    );
    assert_eq!(
        plugin.version().await.expect("version"),
        format!("v{}", env!("CARGO_PKG_VERSION"))
    );
    assert!(plugin.multiplexing_supported().await.expect("mux"));
    // A service the plugin does not serve answers Unimplemented, as hosts
    // expect when they probe for optional services.
    let storage = vault_plugin_sdk::proto::pb::storage_client::StorageClient::new(plugin.channel())
        .get(vault_plugin_sdk::proto::pb::StorageGetArgs::default())
        .await
        .expect_err("the plugin serves no storage");
    assert_eq!(storage.code(), tonic::Code::Unimplemented);
}

#[tokio::test]
async fn storage_round_trips_through_the_broker() {
    let plugin = Launch::new(&plugin())
        .spawn()
        .connect()
        .await
        .expect("connect");
    let mount = plugin.mount("mount-a").await.expect("setup");
    assert_eq!(
        mount.backend_type().await.expect("type"),
        1,
        "secrets engine"
    );

    let reply = mount
        .request("update", "kv/app/db", json!({"password": "s3cret"}))
        .await
        .expect("write");
    assert!(reply.err.is_none(), "{reply:?}");
    assert_eq!(mount.storage.keys(), vec!["entries/app/db".to_string()]);

    let read = mount
        .request("read", "kv/app/db", json!(null))
        .await
        .expect("read");
    assert_eq!(reply_data(&read), json!({"password": "s3cret"}));
    let list = mount
        .request("list", "kv/app/", json!(null))
        .await
        .expect("list");
    assert_eq!(reply_data(&list), json!({"keys": ["db"]}));
    let top = mount
        .request("list", "kv/", json!(null))
        .await
        .expect("list top");
    assert_eq!(reply_data(&top), json!({"keys": ["app/"]}));

    mount
        .request("delete", "kv/app/db", json!(null))
        .await
        .expect("delete");
    assert!(mount.storage.keys().is_empty());
    let gone = mount
        .request("read", "kv/app/db", json!(null))
        .await
        .expect("read");
    assert!(
        gone.response.is_none() && gone.err.is_none(),
        "nothing there: {gone:?}"
    );
}

#[tokio::test]
async fn the_system_view_is_served_through_the_broker() {
    let plugin = Launch::new(&plugin())
        .spawn()
        .connect()
        .await
        .expect("connect");
    let mount = plugin.mount("m").await.expect("setup");
    let info = mount
        .request("read", "info", json!(null))
        .await
        .expect("read");
    let data = reply_data(&info);
    assert_eq!(data["default_lease_ttl"], 768 * 3600);
    assert_eq!(data["host_version"], "0.0.0-test-host");
}

#[tokio::test]
async fn multiplexed_mounts_keep_separate_storage() {
    let plugin = Launch::new(&plugin())
        .spawn()
        .connect()
        .await
        .expect("connect");
    let a = plugin.mount("a").await.expect("a");
    let b = plugin.mount("b").await.expect("b");
    a.request("update", "kv/only-in-a", json!({"v": 1}))
        .await
        .expect("write");
    assert_eq!(a.storage.keys().len(), 1);
    assert!(b.storage.keys().is_empty(), "b's storage untouched");
    let from_b = b
        .request("read", "kv/only-in-a", json!(null))
        .await
        .expect("read");
    assert!(from_b.response.is_none());

    // A call for a mount that was never set up is refused, not misrouted.
    a.cleanup().await.expect("cleanup a");
    let err = a
        .request("read", "kv/only-in-a", json!(null))
        .await
        .expect_err("a is gone");
    assert!(err.to_string().contains("no backend instance"), "{err}");
    // b lives on.
    b.request("update", "kv/x", json!({"v": 2}))
        .await
        .expect("b still serves");
}

#[tokio::test]
async fn existence_checks_decide_create_or_update() {
    let plugin = Launch::new(&plugin())
        .spawn()
        .connect()
        .await
        .expect("connect");
    let mount = plugin.mount("m").await.expect("setup");
    let before = mount.existence("create", "kv/k").await.expect("check");
    assert!(before.check_found && !before.exists);
    mount
        .request("create", "kv/k", json!({"v": 1}))
        .await
        .expect("create");
    let after = mount.existence("update", "kv/k").await.expect("check");
    assert!(after.check_found && after.exists);
    // Paths without a check say so, and the host treats the write as an update.
    let config = mount.existence("update", "config").await.expect("check");
    assert!(!config.check_found);
}

#[tokio::test]
async fn bad_input_is_an_invalid_request_naming_the_field() {
    let plugin = Launch::new(&plugin())
        .spawn()
        .connect()
        .await
        .expect("connect");
    let mount = plugin.mount("m").await.expect("setup");
    let reply = mount
        .request("update", "config", json!({"max_entries": "banana"}))
        .await
        .expect("call");
    let err = reply.err.clone().expect("an error");
    assert_eq!(err.err_type, INVALID_REQUEST);
    let msg = reply_data(&reply)["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        msg.contains("max_entries") && msg.contains("banana"),
        "{msg}"
    );

    // Data that is not JSON never reaches the handler.
    let raw = vault_plugin_sdk::proto::pb::HandleRequestArgs {
        storage_id: 0,
        request: Some(vault_plugin_sdk::proto::pb::Request {
            operation: "update".into(),
            path: "kv/x".into(),
            data: "{not json".into(),
            ..Default::default()
        }),
    };
    let reply = plugin
        .backend()
        .handle_request(mount.call(raw))
        .await
        .expect("call")
        .into_inner();
    assert_eq!(reply.err.expect("error").err_type, INVALID_REQUEST);
    assert!(mount.storage.keys().is_empty(), "nothing stored");
}

#[tokio::test]
async fn a_panicking_handler_fails_only_its_request() {
    let plugin = Launch::new(&plugin())
        .spawn()
        .connect()
        .await
        .expect("connect");
    let mount = plugin.mount("m").await.expect("setup");
    mount
        .request("update", "kv/keep", json!({"v": 1}))
        .await
        .expect("write");
    let crash = mount
        .request("update", "crash", json!({"x": 1}))
        .await
        .expect("reply");
    let err = crash.err.expect("an error");
    assert!(err.err_msg.contains("crashed"), "{}", err.err_msg);
    let read = mount
        .request("read", "kv/keep", json!(null))
        .await
        .expect("still serving");
    assert_eq!(reply_data(&read), json!({"v": 1}));
    let logged = process::wait_for(Duration::from_secs(2), || {
        plugin
            .stderr()
            .lines()
            .any(|l| l.contains("\"@level\":\"error\"") && l.contains("panicked"))
            .then_some(())
    });
    assert!(
        logged.is_some(),
        "the panic is one hclog error line: {}",
        plugin.stderr()
    );
}

#[tokio::test]
async fn messages_beyond_tonics_default_limit_pass() {
    let plugin = Launch::new(&plugin())
        .spawn()
        .connect()
        .await
        .expect("connect");
    let mount = plugin.mount("m").await.expect("setup");
    let big = "x".repeat(6 * 1024 * 1024);
    let reply = mount
        .request("update", "kv/big", json!({"blob": big}))
        .await
        .expect("6 MiB write");
    assert!(reply.err.is_none());
    let read = mount
        .request("read", "kv/big", json!(null))
        .await
        .expect("6 MiB read");
    assert_eq!(
        reply_data(&read)["blob"].as_str().map(str::len),
        Some(6 * 1024 * 1024)
    );
}

#[tokio::test]
async fn logs_are_hclog_json_on_stderr() {
    let plugin = Launch::new(&plugin())
        .spawn()
        .connect()
        .await
        .expect("connect");
    let mount = plugin.mount("m").await.expect("setup");
    mount
        .request("update", "kv/logged", json!({"secret": "hunter2"}))
        .await
        .expect("write");
    let found = process::wait_for(Duration::from_secs(2), || {
        plugin
            .stderr()
            .lines()
            .find(|l| l.contains("stored entry"))
            .map(str::to_string)
    })
    .expect("a log line for the write");
    let line: serde_json::Value = serde_json::from_str(&found).expect("JSON");
    assert_eq!(line["@level"], "info");
    assert_eq!(line["@module"], "vault-plugin-example-kv");
    assert_eq!(line["key"], "logged");
    assert_eq!(line["path"], "kv/logged");
    assert_eq!(line["operation"], "update");
    assert_eq!(line["@timestamp"].as_str().map(str::len), Some(27));
    for l in plugin.stderr().lines() {
        serde_json::from_str::<serde_json::Value>(l).expect("every stderr line is JSON");
        assert!(!l.contains("hunter2"), "request data never logged");
    }
}

#[tokio::test]
async fn cleanup_then_shutdown_stops_the_process() {
    let mut plugin = Launch::new(&plugin())
        .spawn()
        .connect()
        .await
        .expect("connect");
    let socket = plugin.handshake.address.clone();
    let mount = plugin.mount("m").await.expect("setup");
    mount.cleanup().await.expect("cleanup");
    plugin.shutdown().await.expect("shutdown");
    let status = plugin
        .wait_exit(Duration::from_secs(5))
        .expect("exits after Shutdown");
    assert!(status.success());
    assert!(plugin.stderr().contains("kv backend cleanup"));
    assert!(!std::path::Path::new(&socket).exists(), "socket removed");
}

#[tokio::test]
async fn ignores_sigint_and_stops_on_sigterm() {
    let mut plugin = Launch::new(&plugin())
        .spawn()
        .connect()
        .await
        .expect("connect");
    process::signal(plugin.pid(), process::Signal::SIGINT);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        plugin
            .health("plugin")
            .await
            .expect("still serving after SIGINT"),
        1
    );
    let start = Instant::now();
    process::terminate(plugin.pid());
    let status = plugin
        .wait_exit(Duration::from_secs(3))
        .expect("exits on SIGTERM");
    assert!(status.success());
    assert!(start.elapsed() < Duration::from_secs(3));
}

#[test]
fn exits_within_a_second_when_its_host_dies() {
    let host = Identity::generate().expect("cert");
    // A stand-in host: a shell that starts the plugin and waits.
    let mut shell = Command::new("sh")
        .arg("-c")
        .arg("\"$PLUGIN\" & echo \"pid $!\"; wait")
        .env("PLUGIN", plugin())
        .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5")
        .env("PLUGIN_CLIENT_CERT", automtls::pem_encode(&host.cert))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("shell");
    let stdout = shell.stdout.take().expect("stdout");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let mut pid = None;
    let mut handshake = false;
    while pid.is_none() || !handshake {
        let line = lines.next().expect("a line").expect("read");
        if let Some(p) = line.strip_prefix("pid ") {
            pid = p.trim().parse::<u32>().ok();
        } else if line.starts_with("1|5|unix|") {
            handshake = true;
        }
    }
    let pid = pid.expect("plugin pid");
    assert!(process::alive(pid));
    shell.kill().expect("kill the host");
    let _ = shell.wait();
    let start = Instant::now();
    let gone = process::wait_for(Duration::from_secs(3), || {
        (!process::alive(pid)).then_some(())
    });
    assert!(gone.is_some(), "the plugin outlived its host");
    assert!(
        start.elapsed() <= Duration::from_secs(1),
        "took {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn bad_input_in_an_existence_check_reaches_the_handler() {
    let plugin = Launch::new(&plugin())
        .spawn()
        .connect()
        .await
        .expect("connect");
    let mount = plugin.mount("m").await.expect("setup");
    let check = mount
        .existence("create", "kv/bad*key")
        .await
        .expect("check");
    assert!(check.err.is_none(), "no host-side 500: {check:?}");
    assert!(check.check_found && !check.exists);
}
