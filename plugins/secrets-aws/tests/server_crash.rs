//! OpenBao itself SIGKILLed, on persistent (raft) storage: our plugin
//! processes exit by themselves, and the restarted server finds the config,
//! the roles and the leases, which still revoke cleanly.

mod common;

use std::time::{Duration, Instant};

use common::{PLUGIN, VERSION, root_config, vault_users};
use serde_json::json;
use vault_plugin_test_support::binaries::{SECRETS_AWS, release_binary};
use vault_plugin_test_support::cluster::OpenBaoCluster;
use vault_plugin_test_support::moto::Moto;
use vault_plugin_test_support::openbao::PluginKind;
use vault_plugin_test_support::process;

const COMMAND: &str = concat!("aws-rs-v", env!("CARGO_PKG_VERSION"));
const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}"#;

#[test]
fn a_killed_server_restarts_with_every_config_role_and_lease() {
    let moto = Moto::start();
    let mut server = OpenBaoCluster::start(1);
    server.register_plugin(
        PluginKind::Secret,
        PLUGIN,
        &release_binary(SECRETS_AWS),
        VERSION,
    );
    let bao = server.node(0).clone();
    bao.enable_secrets("aws", PLUGIN, VERSION).ok();
    bao.write("aws/config/root", root_config(moto.endpoint()))
        .ok();
    bao.write(
        "aws/config/lease",
        json!({"lease": "1h", "lease_max": "2h"}),
    )
    .ok();
    bao.write(
        "aws/roles/deploy",
        json!({"credential_type": "iam_user", "policy_document": POLICY}),
    )
    .ok();
    let lease_ids: Vec<String> = (0..2)
        .map(|_| {
            let creds = bao.read("aws/creds/deploy").ok();
            creds.body["lease_id"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(vault_users(&moto).len(), 2);
    let config_before = bao.read("aws/config/root").ok().body["data"].clone();
    let lease_before = bao.read("aws/config/lease").ok().body["data"].clone();
    let role_before = bao.read("aws/roles/deploy").ok().body["data"].clone();

    let plugins = server.plugin_pids(0, COMMAND);
    assert!(!plugins.is_empty(), "no plugin process runs");
    server.kill(0);
    let killed = Instant::now();
    process::wait_for(Duration::from_secs(5), || {
        plugins.iter().all(|p| !process::alive(*p)).then_some(())
    })
    .expect("the plugin outlived its server");
    let gone = killed.elapsed();
    assert!(
        gone <= Duration::from_secs(1),
        "plugins exited after {gone:?}"
    );

    let restarted = server.restart(0);
    eprintln!("plugins gone {gone:?} after the kill; the server was back in {restarted:?}");
    server
        .wait_for_active(Duration::from_secs(30))
        .expect("active again");
    assert_eq!(bao.read("aws/config/root").ok().body["data"], config_before);
    assert_eq!(bao.read("aws/config/lease").ok().body["data"], lease_before);
    assert_eq!(bao.read("aws/roles/deploy").ok().body["data"], role_before);
    for lease_id in &lease_ids {
        let lookup = bao.write("sys/leases/lookup", json!({"lease_id": lease_id}));
        assert_eq!(lookup.status, 200, "lease {lease_id} lost: {}", lookup.body);
    }

    // Revoking a lease from before the crash removes its user; a new
    // credential works as before.
    bao.write("sys/leases/revoke", json!({"lease_id": lease_ids[0]}))
        .ok();
    assert_eq!(vault_users(&moto).len(), 1);
    bao.write("sys/leases/revoke", json!({"lease_id": lease_ids[1]}))
        .ok();
    assert!(vault_users(&moto).is_empty(), "{:?}", vault_users(&moto));
    let creds = bao.read("aws/creds/deploy").ok();
    assert_eq!(creds.body["lease_duration"], 3600);
    assert_eq!(vault_users(&moto).len(), 1);
}
