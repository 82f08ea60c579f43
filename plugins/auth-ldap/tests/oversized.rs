//! Oversized and hostile input through OpenBao: a 10 MB password and
//! username, a 100,000-entry list, JSON nested past the decoders' limits.
//! Each is a 400 before anything reaches the directory; the plugin process
//! survives without lasting memory growth; what was stored stays.

mod common;

use common::{PLUGIN, VERSION, login, openbao, service_config};
use serde_json::{Value, json};
use vault_plugin_test_support::process;
use vault_plugin_test_support::slapd::Slapd;

/// What the allocator may keep after warm-up rounds (see the JWT plugin's
/// oversized test): far below ten 10 MB requests kept.
const MAX_GROWTH_KIB: u64 = 64 * 1024;

#[test]
fn oversized_input_is_a_400_and_leaves_nothing_behind() {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(oversized_input)
        .expect("spawn")
        .join()
        .expect("the checks pass");
}

fn oversized_input() {
    let slapd = Slapd::start();
    let bao = openbao();
    bao.write("auth/ldap/config", service_config(&slapd)).ok();
    bao.write("auth/ldap/groups/devs", json!({"policies": "dev"}))
        .ok();
    login(&bao, "alice", "alice-pass").ok();
    let stored = bao.read("auth/ldap/groups/devs").ok().body["data"].clone();
    let config = bao.read("auth/ldap/config").ok().body["data"].clone();
    let pids = bao.plugin_pids(&format!("{PLUGIN}-{VERSION}"));
    assert_eq!(pids.len(), 1, "{pids:?}");

    let huge = "p".repeat(10 << 20);
    let dials = slapd.accepted_connections();
    let refuse_huge = || {
        let refused = login(&bao, "alice", &huge);
        assert_eq!(refused.status, 400, "{}", refused.errors());
        assert!(
            refused.errors().contains("password"),
            "{}",
            refused.errors()
        );
        let refused = bao.request_with_token(
            "POST",
            "auth/ldap/login/someone",
            Some(json!({"password": "x", "username": huge})),
            None,
        );
        assert_eq!(refused.status, 400, "{}", refused.errors());
    };
    for _ in 0..4 {
        refuse_huge();
    }
    let rss_before = process::rss_kib(pids[0]).expect("plugin RSS");
    for _ in 0..10 {
        refuse_huge();
    }

    let many: Vec<String> = (0..100_000).map(|i| format!("policy-{i}")).collect();
    let refused = bao.write("auth/ldap/groups/devs", json!({ "policies": many }));
    assert_eq!(refused.status, 400, "{}", refused.body);
    for depth in [200, 1_000] {
        let mut deep = json!([]);
        for _ in 0..depth {
            deep = Value::Array(vec![deep]);
        }
        let refused = bao.write("auth/ldap/users/alice", json!({ "groups": deep }));
        assert_eq!(refused.status, 400, "depth {depth}: {}", refused.body);
    }

    assert_eq!(bao.plugin_pids(&format!("{PLUGIN}-{VERSION}")), pids);
    let rss_after = process::rss_kib(pids[0]).expect("plugin RSS");
    assert!(
        rss_after <= rss_before + MAX_GROWTH_KIB,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
    assert_eq!(
        slapd.accepted_connections(),
        dials,
        "oversized logins reached the directory"
    );
    assert_eq!(bao.read("auth/ldap/groups/devs").ok().body["data"], stored);
    assert_eq!(bao.read("auth/ldap/config").ok().body["data"], config);
    let resp = login(&bao, "alice", "alice-pass").ok();
    assert!(common::policies(&resp).contains(&"dev".to_string()));
}
