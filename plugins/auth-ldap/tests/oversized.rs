//! Oversized and hostile input through OpenBao: a 10 MB password and
//! username, a 100,000-entry list, JSON nested past the decoders' limits.
//! Each is a 400 before anything reaches the directory; the plugin process
//! survives without lasting memory growth; what was stored stays.

mod common;

use common::{PLUGIN, VERSION, login, openbao, service_config};
use serde_json::json;
use vault_plugin_test_support::hostile::{self, RssBaseline};
use vault_plugin_test_support::slapd::Slapd;

#[test]
fn oversized_input_is_a_400_and_leaves_nothing_behind() {
    hostile::on_big_stack(oversized_input);
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
    let rss = RssBaseline::of(pids[0]);
    for _ in 0..10 {
        refuse_huge();
    }

    let many = hostile::numbered("policy", 100_000);
    let refused = bao.write("auth/ldap/groups/devs", json!({ "policies": many }));
    assert_eq!(refused.status, 400, "{}", refused.body);
    for depth in [200, 1_000] {
        let deep = hostile::nested_arrays(depth);
        let refused = bao.write("auth/ldap/users/alice", json!({ "groups": deep }));
        assert_eq!(refused.status, 400, "depth {depth}: {}", refused.body);
    }

    assert_eq!(bao.plugin_pids(&format!("{PLUGIN}-{VERSION}")), pids);
    rss.assert_no_lasting_growth();
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
