//! `sts/` and `creds/` for the STS credential types through OpenBao against
//! moto: what comes back, the lease (not renewable, the requested TTL), and
//! the 400s for a role ARN or TTL the role does not allow.

mod common;

use common::{bad_request, configured, revoke, vault_users};
use serde_json::json;

#[test]
fn assumed_role_gives_the_role_session_with_the_requested_ttl() {
    let (moto, bao) = configured();
    let dev = moto.create_role("dev");
    let ops = moto.create_role("ops");
    bao.write(
        "aws/roles/assume",
        json!({
            "credential_type": "assumed_role",
            "role_arns": [dev.clone(), ops.clone()],
            "max_sts_ttl": "2h",
        }),
    )
    .ok();

    let resp = bao
        .write(
            "aws/sts/assume",
            json!({"role_arn": ops, "ttl": "30m", "role_session_name": "ci job"}),
        )
        .ok();
    let data = &resp.body["data"];
    assert!(
        data["access_key"].as_str().is_some_and(|k| !k.is_empty()),
        "{data}"
    );
    assert!(
        data["security_token"]
            .as_str()
            .is_some_and(|k| !k.is_empty()),
        "{data}"
    );
    // moto's session ARN names the role and the (normalised) session name.
    let arn = data["arn"].as_str().unwrap_or_default();
    assert!(arn.contains("assumed-role/ops/ci_job"), "{arn}");
    assert_eq!(resp.body["renewable"], false);
    let ttl = resp.body["lease_duration"].as_i64().unwrap_or_default();
    assert!((1700..=1800).contains(&ttl), "lease {ttl}");
    // Revoking an STS lease is accepted (STS credentials expire on their own).
    revoke(&bao, resp.body["lease_id"].as_str().unwrap_or_default()).ok();

    // Two allowed ARNs and none asked for: the caller must choose.
    let err = bad_request(bao.read("aws/sts/assume"));
    assert!(err.contains("did not supply a role_arn"), "{err}");
    let err = bad_request(bao.write(
        "aws/sts/assume",
        json!({"role_arn": "arn:aws:iam::123456789012:role/admin"}),
    ));
    assert!(
        err.contains("role_arn") && err.contains("not in allowed role arns"),
        "{err}"
    );
    let err = bad_request(bao.write("aws/sts/assume", json!({"role_arn": dev, "ttl": "3h"})));
    assert!(err.contains("ttl"), "{err}");
    // Assuming a role makes no IAM user.
    assert!(vault_users(&moto).is_empty());
}

#[test]
fn an_unreachable_sts_endpoint_is_a_clear_error_not_a_crash() {
    let (moto, bao) = configured();
    let role = moto.create_role("dev");
    let mut config = common::root_config(moto.endpoint());
    config["sts_endpoint"] = json!("http://127.0.0.1:1");
    bao.write("aws/config/root", config).ok();
    bao.write(
        "aws/roles/assume",
        json!({"credential_type": "assumed_role", "role_arns": role}),
    )
    .ok();
    let err = bad_request(bao.read("aws/sts/assume"));
    assert!(err.starts_with("Error assuming role: "), "{err}");
    // The plugin is still there and answers.
    bao.read("aws/roles/assume").ok();
}

#[test]
fn federation_and_session_tokens_are_issued_as_leases_that_do_not_renew() {
    let (_moto, bao) = configured();
    bao.write(
        "aws/roles/fed",
        json!({
            "credential_type": "federation_token",
            "policy_document": r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
            "default_sts_ttl": "20m",
        }),
    )
    .ok();
    let resp = bao.read("aws/creds/fed").ok();
    assert!(
        resp.body["data"]["security_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert_eq!(resp.body["renewable"], false);
    let lease_id = resp.body["lease_id"].as_str().unwrap_or_default();
    let renew = bao.write("sys/leases/renew", json!({"lease_id": lease_id}));
    assert_eq!(renew.status, 400, "{}", renew.body);

    bao.write(
        "aws/roles/nopolicy",
        json!({"credential_type": "federation_token"}),
    )
    .ok();
    let err = bad_request(bao.read("aws/sts/nopolicy"));
    assert!(
        err.contains("must specify at least one of policy_arns or policy_document"),
        "{err}"
    );

    bao.write(
        "aws/roles/session",
        json!({"credential_type": "session_token", "mfa_serial_number": "arn:aws:iam::123456789012:mfa/ops"}),
    )
    .ok();
    let resp = bao
        .write(
            "aws/sts/session",
            json!({"mfa_code": "123456", "ttl": "15m"}),
        )
        .ok();
    assert!(
        resp.body["data"]["access_key"]
            .as_str()
            .is_some_and(|k| !k.is_empty())
    );
    assert_eq!(resp.body["renewable"], false);
    assert!(
        !resp.body.to_string().contains("123456"),
        "the MFA code came back"
    );
}
