//! The example plugin's release binary registered by SHA-256 in a real
//! OpenBao dev server and used through its HTTP API, as an operator would.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;
use vault_plugin_test_support::binaries::{EXAMPLE_KV, release_binary};
use vault_plugin_test_support::openbao::{OpenBao, PluginKind};
use vault_plugin_test_support::process;

const NAME: &str = "example-kv";
const VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));
const COMMAND: &str = concat!("example-kv-v", env!("CARGO_PKG_VERSION"));

fn plugin() -> PathBuf {
    release_binary(EXAMPLE_KV)
}

/// A server with the example registered and mounted at `kv1/`.
fn server_with_mount() -> OpenBao {
    let bao = OpenBao::start();
    bao.register_plugin(PluginKind::Secret, NAME, &plugin(), VERSION);
    bao.enable_secrets("kv1", NAME, VERSION).ok();
    bao
}

fn one_plugin_pid(bao: &OpenBao) -> u32 {
    process::wait_for(Duration::from_secs(5), || {
        match bao.plugin_pids(COMMAND).as_slice() {
            [pid] => Some(*pid),
            _ => None,
        }
    })
    .unwrap_or_else(|| {
        panic!(
            "expected one plugin process, found {:?}",
            bao.plugin_pids(COMMAND)
        )
    })
}

#[test]
fn storage_paths_work_and_survive_a_reload() {
    let bao = server_with_mount();
    bao.write("kv1/kv/app/db", json!({"user": "app", "password": "pw"}))
        .ok();
    bao.write("kv1/kv/app/cache", json!({"url": "redis://x"}))
        .ok();
    let read = bao.read("kv1/kv/app/db").ok();
    assert_eq!(read.body["data"], json!({"user": "app", "password": "pw"}));
    let list = bao.list("kv1/kv/app").ok();
    assert_eq!(list.body["data"]["keys"], json!(["cache", "db"]));

    bao.delete("kv1/kv/app/cache").ok();
    assert_eq!(bao.read("kv1/kv/app/cache").status, 404);

    let before = one_plugin_pid(&bao);
    bao.write("sys/plugins/reload/backend", json!({"plugin": NAME}))
        .ok();
    let after = process::wait_for(Duration::from_secs(5), || {
        bao.plugin_pids(COMMAND).into_iter().find(|p| *p != before)
    });
    assert!(after.is_some(), "reload started a new process");
    let read = bao.read("kv1/kv/app/db").ok();
    assert_eq!(read.body["data"]["user"], "app");
}

#[test]
fn two_mounts_share_one_process_with_separate_storage() {
    let bao = server_with_mount();
    bao.enable_secrets("kv2", NAME, VERSION).ok();
    bao.write("kv1/kv/shared-name", json!({"mount": "one"}))
        .ok();
    bao.write("kv2/kv/shared-name", json!({"mount": "two"}))
        .ok();
    assert_eq!(
        bao.read("kv1/kv/shared-name").ok().body["data"]["mount"],
        "one"
    );
    assert_eq!(
        bao.read("kv2/kv/shared-name").ok().body["data"]["mount"],
        "two"
    );
    bao.delete("kv2/kv/shared-name").ok();
    assert_eq!(
        bao.read("kv1/kv/shared-name").ok().body["data"]["mount"],
        "one"
    );
    one_plugin_pid(&bao);
}

#[test]
fn a_sigkilled_plugin_is_relaunched_and_loses_nothing() {
    let bao = server_with_mount();
    bao.write("kv1/kv/durable", json!({"v": "kept"})).ok();
    let pid = one_plugin_pid(&bao);
    process::kill(pid);
    process::wait_for(Duration::from_secs(5), || {
        (!process::alive(pid)).then_some(())
    })
    .expect("killed");
    // The next request relaunches it.
    let read = process::wait_for(Duration::from_secs(10), || {
        let r = bao.read("kv1/kv/durable");
        (r.status == 200).then_some(r)
    })
    .expect("served again after the kill");
    assert_eq!(read.body["data"]["v"], "kept");
    assert_ne!(one_plugin_pid(&bao), pid);
}

#[test]
fn unmount_runs_cleanup_and_the_process_exits() {
    let bao = server_with_mount();
    let pid = one_plugin_pid(&bao);
    bao.delete("sys/mounts/kv1").ok();
    bao.wait_for_log(Duration::from_secs(5), |l| l.contains("kv backend cleanup"))
        .expect("Cleanup ran");
    process::wait_for(Duration::from_secs(5), || {
        (!process::alive(pid)).then_some(())
    })
    .expect("the plugin process exited after unmount");
}

#[test]
fn the_plugin_exits_within_a_second_of_its_server_dying() {
    let mut bao = server_with_mount();
    bao.write("kv1/kv/x", json!({"v": 1})).ok();
    let pid = one_plugin_pid(&bao);
    bao.kill();
    let start = Instant::now();
    process::wait_for(Duration::from_secs(5), || {
        (!process::alive(pid)).then_some(())
    })
    .expect("the plugin outlived its server");
    assert!(
        start.elapsed() <= Duration::from_secs(1),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn plugin_log_lines_appear_at_their_level() {
    let bao = server_with_mount();
    bao.write("kv1/kv/logged", json!({"secret": "do-not-log-me"}))
        .ok();
    bao.delete("kv1/kv/never-written").ok();
    let info = bao
        .wait_for_log(Duration::from_secs(5), |l| l.contains("stored entry"))
        .expect("info line");
    assert!(
        info.contains("[INFO]") && info.contains("key=logged"),
        "{info}"
    );
    let warn = bao
        .wait_for_log(Duration::from_secs(5), |l| {
            l.contains("delete of a missing entry")
        })
        .expect("warn line");
    assert!(warn.contains("[WARN]"), "{warn}");
    assert!(
        !bao.log().contains("do-not-log-me"),
        "request data never logged"
    );
}

#[test]
fn bad_input_is_a_400_naming_the_problem_and_never_a_crash() {
    let bao = server_with_mount();
    bao.write("kv1/kv/keep", json!({"v": 1})).ok();
    let pid = one_plugin_pid(&bao);

    let bad = bao.write("kv1/config", json!({"max_entries": "banana"}));
    assert_eq!(bad.status, 400);
    assert!(
        bad.errors().contains("max_entries") && bad.errors().contains("banana"),
        "{}",
        bad.errors()
    );

    let bad = bao.write("kv1/kv/bad*key", json!({"v": 1}));
    assert_eq!(bad.status, 400);
    assert!(bad.errors().contains("invalid key"), "{}", bad.errors());

    let bad = bao.write("kv1/kv/empty", json!({}));
    assert_eq!(bad.status, 400);
    assert!(
        bad.errors().contains("no data provided"),
        "{}",
        bad.errors()
    );

    bao.write("kv1/config", json!({"max_entries": 1})).ok();
    let full = bao.write("kv1/kv/second", json!({"v": 2}));
    assert_eq!(full.status, 400);
    assert!(full.errors().contains("max_entries"), "{}", full.errors());

    let crash = bao.write("kv1/crash", json!({"x": 1}));
    assert_eq!(crash.status, 500);

    assert_eq!(
        bao.read("kv1/kv/keep").ok().body["data"]["v"],
        1,
        "nothing lost"
    );
    assert_eq!(
        one_plugin_pid(&bao),
        pid,
        "the same process served throughout"
    );
    assert_eq!(bao.read("kv1/nowhere").status, 404, "unsupported path");
}

#[test]
fn the_system_view_reaches_the_plugin() {
    let bao = server_with_mount();
    let info = bao.read("kv1/info").ok();
    // A dev server's defaults: 768h leases, a replicated mount, version 2.7.2.
    assert_eq!(info.body["data"]["default_lease_ttl"], 768 * 3600);
    assert_eq!(info.body["data"]["max_lease_ttl"], 768 * 3600);
    assert_eq!(info.body["data"]["local_mount"], false);
    assert_eq!(
        info.body["data"]["host_version"],
        vault_plugin_test_support::openbao::OPENBAO_VERSION
    );
}

#[test]
fn registration_checks_the_reported_version() {
    let bao = OpenBao::start();
    // The right version registers, and the process launched to ask is gone.
    bao.register_plugin(PluginKind::Secret, NAME, &plugin(), VERSION);
    process::wait_for(Duration::from_secs(5), || {
        bao.plugin_pids(COMMAND).is_empty().then_some(())
    })
    .expect("registration leaves no plugin process behind");

    let sha = vault_plugin_test_support::openbao::sha256_file(&plugin());
    std::fs::copy(plugin(), bao.plugin_dir().join("kv-wrong-version")).expect("install");
    let refused = bao.write(
        "sys/plugins/catalog/secret/example-kv",
        json!({"sha256": sha, "command": "kv-wrong-version", "version": "v9.9.9"}),
    );
    assert_eq!(refused.status, 400);
    assert!(refused.errors().contains("version"), "{}", refused.errors());
}
