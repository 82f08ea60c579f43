//! `creds/` for `iam_user` roles through OpenBao, checked through moto's own
//! API: what a credential creates, that revoking the lease removes all of
//! it, renewal, and that a failure half-way (or a plugin killed half-way)
//! leaves no user behind.

mod common;

use std::time::{Duration, Instant};

use common::{bad_request, configured, revoke, root_config, vault_users};
use serde_json::json;
use vault_plugin_test_support::moto::{HoldingProxy, Moto, xml_values};
use vault_plugin_test_support::openbao::{Api, ApiResponse, OpenBao};

#[test]
fn a_credential_is_a_user_with_everything_the_role_names_and_revoke_removes_it_all() {
    let (moto, bao) = configured();
    let policy = moto.create_policy(
        "s3-read",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
    );
    moto.iam("CreateGroup", &[("GroupName", "devs")]);
    bao.write(
        "aws/config/lease",
        json!({"lease": "1h", "lease_max": "2h"}),
    )
    .ok();
    bao.write(
        "aws/roles/deploy",
        json!({
            "credential_type": "iam_user",
            "policy_arns": policy,
            "policy_document": r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}"#,
            "iam_groups": "devs",
            "iam_tags": {"team": "web"},
            "user_path": "/vault/",
        }),
    )
    .ok();

    let resp = bao.read("aws/creds/deploy").ok();
    let access_key = resp.body["data"]["access_key"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        !resp.body["data"]["secret_key"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );
    assert_eq!(resp.body["lease_duration"], 3600);
    assert_eq!(resp.body["renewable"], true);
    let lease_id = resp.body["lease_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let users = vault_users(&moto);
    assert_eq!(users.len(), 1, "{users:?}");
    let user = &users[0];
    // The default template: vault-<display name>-<role>-<unix time>-<random>.
    assert!(
        user.starts_with("vault-") && user.contains("-deploy-"),
        "{user}"
    );
    let got = moto.iam("GetUser", &[("UserName", user)]);
    assert_eq!(xml_values(&got, "Path"), ["/vault/"]);
    assert_eq!(moto.access_keys(user), [access_key]);
    let inline = moto.iam("ListUserPolicies", &[("UserName", user)]);
    assert_eq!(xml_values(&inline, "member"), ["deploy"]);
    let attached = moto.iam("ListAttachedUserPolicies", &[("UserName", user)]);
    assert_eq!(xml_values(&attached, "PolicyArn"), [policy]);
    let groups = moto.iam("ListGroupsForUser", &[("UserName", user)]);
    assert_eq!(xml_values(&groups, "GroupName"), ["devs"]);
    let tags = moto.iam("ListUserTags", &[("UserName", user)]);
    assert_eq!(xml_values(&tags, "Key"), ["team"]);

    // Renewal: within lease_max.
    let renewed = bao
        .write(
            "sys/leases/renew",
            json!({"lease_id": lease_id, "increment": 7200}),
        )
        .ok();
    let ttl = renewed.body["lease_duration"].as_i64().unwrap_or_default();
    assert!(ttl > 0 && ttl <= 7200, "{}", renewed.body);

    revoke(&bao, &lease_id).ok();
    assert!(!moto.user_exists(user), "revoke left {user}");
    let group = moto.iam("GetGroup", &[("GroupName", "devs")]);
    assert!(xml_values(&group, "UserName").is_empty(), "{group}");
    assert!(vault_users(&moto).is_empty());
}

#[test]
fn a_failure_after_the_user_exists_leaves_no_user_and_says_which_step() {
    let (moto, bao) = configured();
    bao.write(
        "aws/roles/broken",
        json!({
            "credential_type": "iam_user",
            "policy_arns": "arn:aws:iam::123456789012:policy/does-not-exist",
        }),
    )
    .ok();
    let err = bad_request(bao.read("aws/creds/broken"));
    assert!(err.contains("Error attaching user policy"), "{err}");
    assert!(err.contains("NoSuchEntity"), "{err}");
    assert!(vault_users(&moto).is_empty(), "{:?}", vault_users(&moto));
    // And the engine still works for a good role.
    bao.write("aws/roles/good", json!({"credential_type": "iam_user"}))
        .ok();
    bao.read("aws/creds/good").ok();
    assert_eq!(vault_users(&moto).len(), 1);
    assert!(bad_request(bao.read("aws/creds/missing")).contains("not found"));
}

/// A `creds/` request stuck between CreateUser and CreateAccessKey: IAM
/// calls go through a proxy that holds CreateAccessKey. Returns the proxy,
/// the request (answered on another thread) and the half-made user.
fn stuck_before_the_key(
    moto: &Moto,
    bao: &OpenBao,
) -> (HoldingProxy, std::thread::JoinHandle<ApiResponse>, String) {
    let proxy = HoldingProxy::start(moto.endpoint(), "Action=CreateAccessKey");
    let mut config = root_config(moto.endpoint());
    config["iam_endpoint"] = json!(proxy.endpoint());
    bao.write("aws/config/root", config).ok();
    bao.write("aws/roles/web", json!({"credential_type": "iam_user"}))
        .ok();
    let api = Api::clone(bao);
    let request = std::thread::spawn(move || api.read("aws/creds/web"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while proxy.held() == 0 {
        assert!(
            Instant::now() < deadline,
            "the plugin never asked for a key"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let users = vault_users(moto);
    assert_eq!(users.len(), 1, "{users:?}");
    (proxy, request, users[0].clone())
}

#[test]
fn a_plugin_killed_between_user_and_key_is_rolled_back_from_its_wal() {
    let (moto, bao) = configured();
    let (proxy, request, user) = stuck_before_the_key(&moto, &bao);
    for pid in bao.plugin_pids(&format!("{}-{}", common::PLUGIN, common::VERSION)) {
        vault_plugin_test_support::process::kill(pid);
    }
    let status = request.join().map(|r| r.status).unwrap_or(0);
    assert!(
        status >= 500 || status == 0,
        "the request should fail, got {status}"
    );
    assert!(moto.user_exists(&user), "nothing removed it yet");

    // The host's next periodic tick (every 60 s) relaunches the plugin,
    // which finds the dead process's WAL entry and removes the user.
    let deadline = Instant::now() + Duration::from_secs(150);
    while moto.user_exists(&user) {
        assert!(
            Instant::now() < deadline,
            "the WAL rollback left {}; server log:\n{}",
            user,
            bao.log()
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    assert!(vault_users(&moto).is_empty());
    drop(proxy);
}

#[test]
fn an_emulator_down_mid_issue_leaves_no_user_once_it_is_back() {
    let (moto, bao) = configured();
    // CreateUser passes; CreateAccessKey is held, then the "emulator" goes
    // down: the key call and the plugin's own clean-up both fail.
    let (proxy, request, user) = stuck_before_the_key(&moto, &bao);
    proxy.go_down();
    let resp = request.join().expect("the request thread");
    assert!(resp.status >= 400, "{}: {}", resp.status, resp.body);
    assert!(
        resp.errors().contains("Error creating access keys"),
        "the error names the step: {}",
        resp.errors()
    );
    assert!(moto.user_exists(&user), "nothing could remove it yet");

    // Back up: the next periodic tick (every 60 s) rolls the entry back;
    // the reference would wait out the WAL's minimum age (5 minutes).
    proxy.come_back();
    let deadline = Instant::now() + Duration::from_secs(90);
    while moto.user_exists(&user) {
        assert!(
            Instant::now() < deadline,
            "the half-made user {} survived; server log:\n{}",
            user,
            bao.log()
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    assert!(vault_users(&moto).is_empty());
}
