//! Our plugin in a 3-node OpenBao cluster with integrated storage: logins
//! through every node, writes on one node seen by the plugin on every other
//! (InvalidateKey), and a new leader serving logins after the old one is
//! killed.

mod common;

use std::time::{Duration, Instant};

use common::{PLUGIN, VERSION, claims, login};
use serde_json::{Value, json};
use vault_plugin_test_support::api::{Api, ApiResponse};
use vault_plugin_test_support::binaries::{AUTH_JWT, release_binary};
use vault_plugin_test_support::cluster::OpenBaoCluster;
use vault_plugin_test_support::jwt::{Alg, SigningKey};
use vault_plugin_test_support::openbao::PluginKind;
use vault_plugin_test_support::process;

const ISSUER: &str = "https://issuer.cluster.test";
const COMMAND: &str = concat!("jwt-rs-v", env!("CARGO_PKG_VERSION"));

/// A cluster with ours at `auth/jwt`, a key and a role `svc`; every node's
/// plugin has answered once.
fn cluster_with_role(key: &SigningKey) -> OpenBaoCluster {
    let cluster = OpenBaoCluster::start(3);
    cluster.register_plugin(PluginKind::Auth, PLUGIN, &release_binary(AUTH_JWT), VERSION);
    let active = cluster.node(cluster.active());
    active.enable_auth("jwt", PLUGIN, VERSION).ok();
    active
        .write(
            "auth/jwt/config",
            json!({
                "jwt_validation_pubkeys": [key.public_pem()],
                "jwt_supported_algs": ["ES256"],
                "bound_issuer": ISSUER,
            }),
        )
        .ok();
    active
        .write(
            "auth/jwt/role/svc",
            json!({
                "role_type": "jwt",
                "user_claim": "sub",
                "bound_audiences": ["svc"],
                "token_policies": ["policy-one"],
            }),
        )
        .ok();
    // Standbys mount the plugin when the mount table reaches them.
    for i in 0..cluster.size() {
        process::wait_for(Duration::from_secs(10), || {
            (cluster.node(i).read("auth/jwt/role/svc").status == 200).then_some(())
        })
        .unwrap_or_else(|| panic!("node{i} never served the mount"));
    }
    cluster
}

fn token(key: &SigningKey, sub: &str) -> String {
    key.sign(&claims(json!({"iss": ISSUER, "aud": "svc", "sub": sub})))
}

fn policies(resp: &ApiResponse) -> Value {
    resp.body["auth"]["policies"].clone()
}

/// The policies as `node` reads them, once it has applied the write of
/// `index`.
fn role_policies(node: &Api, index: Option<&str>) -> Value {
    node.read_after("auth/jwt/role/svc", index).body["data"]["token_policies"].clone()
}

#[test]
fn every_node_serves_logins_and_sees_writes_made_on_another() {
    let key = SigningKey::generate(Alg::ES256, "cluster");
    let cluster = cluster_with_role(&key);
    for i in 0..cluster.size() {
        let resp = login(
            cluster.node(i),
            "jwt",
            "svc",
            &token(&key, &format!("user{i}")),
        );
        assert_eq!(resp.status, 200, "login through node{i}: {}", resp.body);
        assert_eq!(policies(&resp), json!(["default", "policy-one"]));
    }
    // Every node's plugin now holds the role in its cache.
    for i in cluster.standbys() {
        assert_eq!(role_policies(cluster.node(i), None), json!(["policy-one"]));
    }

    // Changed through one standby (OpenBao forwards the write to the
    // active node); the other nodes' plugins learn of it only through
    // InvalidateKey.
    let standbys = cluster.standbys();
    let writer = cluster.node(standbys[0]);
    let write = writer.write(
        "auth/jwt/role/svc",
        json!({"role_type": "jwt", "token_policies": ["policy-two"]}),
    );
    assert!(write.status < 300, "{}", write.body);
    let index = write.header("X-Vault-Index").map(str::to_string);
    for i in 0..cluster.size() {
        assert_eq!(
            role_policies(cluster.node(i), index.as_deref()),
            json!(["policy-two"]),
            "node{i} served a stale role"
        );
        let resp = login(cluster.node(i), "jwt", "svc", &token(&key, "after"));
        assert_eq!(policies(&resp), json!(["default", "policy-two"]), "node{i}");
    }
}

#[test]
fn a_new_leader_serves_logins_after_the_old_one_is_killed() {
    let key = SigningKey::generate(Alg::ES256, "cluster");
    let mut cluster = cluster_with_role(&key);
    let old = cluster.active();
    let orphans = cluster.plugin_pids(old, COMMAND);
    assert!(
        !orphans.is_empty(),
        "the active node runs no plugin process"
    );

    cluster.kill(old);
    let killed = Instant::now();
    // OpenBao leaves a killed node's plugin processes behind; ours notice
    // their host is gone and exit.
    process::wait_for(Duration::from_secs(5), || {
        orphans.iter().all(|p| !process::alive(*p)).then_some(())
    })
    .expect("the plugin outlived its killed server");
    let orphans_gone = killed.elapsed();

    let new = cluster
        .wait_for_active(Duration::from_secs(30))
        .expect("no new leader");
    assert_ne!(new, old);
    let served = process::wait_for(Duration::from_secs(30), || {
        let resp = login(cluster.node(new), "jwt", "svc", &token(&key, "failover"));
        (resp.status == 200).then_some(resp)
    })
    .expect("the new leader never served a login");
    let failover = killed.elapsed();
    eprintln!(
        "plugin processes gone {orphans_gone:?}, new leader served a login {failover:?} after the kill"
    );
    assert!(
        orphans_gone <= Duration::from_secs(1),
        "took {orphans_gone:?}"
    );
    assert!(failover <= Duration::from_secs(15), "took {failover:?}");
    assert_eq!(policies(&served), json!(["default", "policy-one"]));

    // The new leader takes writes through the plugin, and the remaining
    // standby serves logins.
    let write = cluster.node(new).write(
        "auth/jwt/role/svc",
        json!({"role_type": "jwt", "token_policies": ["policy-three"]}),
    );
    assert!(write.status < 300, "{}", write.body);
    let other = (0..cluster.size())
        .find(|&i| i != old && i != new)
        .expect("a third node");
    let resp = login(cluster.node(other), "jwt", "svc", &token(&key, "standby"));
    assert_eq!(policies(&resp), json!(["default", "policy-three"]));

    // The killed node comes back on its data as a standby and catches up.
    let restarting = Instant::now();
    let unsealed = cluster.restart(old);
    process::wait_for(Duration::from_secs(10), || {
        (cluster.node(old).read("auth/jwt/role/svc").status == 200).then_some(())
    })
    .expect("the restarted node never served the mount");
    eprintln!(
        "the restarted node unsealed in {unsealed:?} and served the mount in {:?}",
        restarting.elapsed()
    );
    // A restarted node was seen answering 429 for over 10 s to the index of
    // a write made while it was down, so wait for the value itself (its
    // plugin process is new: nothing cached can be stale).
    process::wait_for(Duration::from_secs(10), || {
        (role_policies(cluster.node(old), None) == json!(["policy-three"])).then_some(())
    })
    .expect("the restarted node never caught up");
    let resp = login(cluster.node(old), "jwt", "svc", &token(&key, "rejoined"));
    assert_eq!(resp.status, 200, "{}", resp.body);
}
