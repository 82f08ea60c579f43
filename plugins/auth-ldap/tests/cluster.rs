//! Our LDAP method in a 3-node OpenBao cluster: logins through every node,
//! a group mapping changed through one node used by the plugin on every
//! other (InvalidateKey), also by a standby that becomes the leader.

mod common;

use std::time::Duration;

use common::{PLUGIN, VERSION, login, policies, service_config};
use serde_json::{Value, json};
use vault_plugin_test_support::api::Api;
use vault_plugin_test_support::binaries::{AUTH_LDAP, release_binary};
use vault_plugin_test_support::cluster::OpenBaoCluster;
use vault_plugin_test_support::openbao::PluginKind;
use vault_plugin_test_support::process;
use vault_plugin_test_support::slapd::Slapd;

/// The policies as `node` reads them, once it has applied the write of
/// `index`.
fn group_policies(node: &Api, index: Option<&str>) -> Value {
    node.read_after("auth/ldap/groups/devs", index).body["data"]["policies"].clone()
}

#[test]
fn a_group_mapping_changed_on_one_node_is_used_by_every_node_and_the_next_leader() {
    let slapd = Slapd::start();
    let mut cluster = OpenBaoCluster::start(3);
    cluster.register_plugin(
        PluginKind::Auth,
        PLUGIN,
        &release_binary(AUTH_LDAP),
        VERSION,
    );
    let active = cluster.active();
    let leader = cluster.node(active);
    leader.enable_auth("ldap", PLUGIN, VERSION).ok();
    leader
        .write("auth/ldap/config", service_config(&slapd))
        .ok();
    leader
        .write("auth/ldap/groups/devs", json!({"policies": "dev-one"}))
        .ok();
    for i in 0..cluster.size() {
        process::wait_for(Duration::from_secs(10), || {
            (cluster.node(i).read("auth/ldap/groups/devs").status == 200).then_some(())
        })
        .unwrap_or_else(|| panic!("node{i} never served the mount"));
        let resp = login(cluster.node(i), "alice", "alice-pass");
        assert_eq!(resp.status, 200, "login through node{i}: {}", resp.body);
        assert!(
            policies(&resp).contains(&"dev-one".to_string()),
            "{:?}",
            policies(&resp)
        );
    }
    // Every standby's plugin has now read (and cached) the mapping.
    for i in cluster.standbys() {
        assert_eq!(group_policies(cluster.node(i), None), json!(["dev-one"]));
    }

    let standbys = cluster.standbys();
    let write = cluster
        .node(standbys[0])
        .write("auth/ldap/groups/devs", json!({"policies": "dev-two"}));
    assert!(write.status < 300, "{}", write.body);
    let index = write.header("X-Vault-Index").map(str::to_string);
    for i in 0..cluster.size() {
        assert_eq!(
            group_policies(cluster.node(i), index.as_deref()),
            json!(["dev-two"]),
            "node{i} served a stale mapping"
        );
    }

    // The old leader dies; a former standby's plugin serves the logins now,
    // with the mapping it learned of through invalidation.
    cluster.kill(active);
    let new = cluster
        .wait_for_active(Duration::from_secs(30))
        .expect("no new leader");
    let resp = process::wait_for(Duration::from_secs(30), || {
        let resp = login(cluster.node(new), "alice", "alice-pass");
        (resp.status == 200).then_some(resp)
    })
    .expect("the new leader never served a login");
    let got = policies(&resp);
    assert!(
        got.contains(&"dev-two".to_string()) && !got.contains(&"dev-one".to_string()),
        "{got:?}"
    );
}
