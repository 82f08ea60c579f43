//! `config/root`, `config/lease` and `roles/` through OpenBao: what an
//! operator writes, what reads give back, and the 400s for bad input.

mod common;

use common::{bad_request, configured, mounted, root_config};
use serde_json::json;

#[test]
fn root_config_reads_back_without_the_secret_key_and_keeps_omitted_fields() {
    let (moto, bao) = mounted();
    assert_eq!(bao.read("aws/config/root").status, 404);
    bao.write("aws/config/root", root_config(moto.endpoint()))
        .ok();
    let data = bao.read("aws/config/root").ok().body["data"].clone();
    assert_eq!(data["access_key"], "AKIAROOTEXAMPLE");
    assert_eq!(data["iam_endpoint"], moto.endpoint());
    assert_eq!(data["max_retries"], 0);
    assert!(data.get("secret_key").is_none(), "{data}");
    assert!(!data.to_string().contains("root-secret-example"));
    let template = data["username_template"].as_str().unwrap_or_default();
    assert!(template.contains("vault-%s-%s-%s"), "{template}");

    // An update keeps what it leaves out.
    bao.write("aws/config/root", json!({"region": "eu-west-1"}))
        .ok();
    let data = bao.read("aws/config/root").ok().body["data"].clone();
    assert_eq!(data["region"], "eu-west-1");
    assert_eq!(data["access_key"], "AKIAROOTEXAMPLE");

    let err = bad_request(bao.write(
        "aws/config/root",
        json!({"username_template": "{{ nosuch }}"}),
    ));
    assert!(err.contains("username_template"), "{err}");
    let err = bad_request(bao.write(
        "aws/config/root",
        json!({"sts_fallback_endpoints": "http://127.0.0.1:1"}),
    ));
    assert!(err.contains("same length"), "{err}");
}

#[test]
fn lease_config_takes_go_durations_and_reads_them_back_in_go_notation() {
    let (_moto, bao) = configured();
    bao.write(
        "aws/config/lease",
        json!({"lease": "30m", "lease_max": "2h"}),
    )
    .ok();
    let data = bao.read("aws/config/lease").ok().body["data"].clone();
    assert_eq!(data, json!({"lease": "30m0s", "lease_max": "2h0m0s"}));
    let err = bad_request(bao.write(
        "aws/config/lease",
        json!({"lease": "1d", "lease_max": "2h"}),
    ));
    assert!(err.contains("Invalid lease"), "{err}");
    let err = bad_request(bao.write("aws/config/lease", json!({"lease": "1h"})));
    assert!(err.contains("'lease_max' is a required parameter"), "{err}");
}

#[test]
fn roles_are_validated_compacted_listed_and_deleted() {
    let (_moto, bao) = configured();
    bao.write(
        "aws/roles/deploy",
        json!({
            "credential_type": "iam_user",
            "policy_document": "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": []\n}",
            "policy_arns": "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "iam_tags": ["team=web"],
            "user_path": "/vault/",
        }),
    )
    .ok();
    let data = bao.read("aws/roles/deploy").ok().body["data"].clone();
    assert_eq!(data["credential_type"], "iam_user");
    assert_eq!(
        data["policy_document"],
        r#"{"Version":"2012-10-17","Statement":[]}"#
    );
    assert_eq!(
        data["policy_arns"],
        json!(["arn:aws:iam::aws:policy/ReadOnlyAccess"])
    );
    assert_eq!(data["iam_tags"], json!({"team": "web"}));
    assert_eq!(data["user_path"], "/vault/");
    assert_eq!(data["role_arns"], json!(null));

    let err = bad_request(bao.write("aws/roles/bad", json!({"credential_type": "root_keys"})));
    assert!(
        err.contains("unrecognized credential type: root_keys"),
        "{err}"
    );
    let err = bad_request(bao.write(
        "aws/roles/bad",
        json!({"credential_type": "iam_user", "policy_document": "{not json"}),
    ));
    assert!(err.contains("cannot parse policy document"), "{err}");
    let err = bad_request(bao.write(
        "aws/roles/bad",
        json!({"credential_type": "iam_user", "role_arns": "arn:aws:iam::123456789012:role/x"}),
    ));
    assert!(err.contains("cannot supply role_arns"), "{err}");
    let err = bad_request(bao.write(
        "aws/roles/bad",
        json!({"credential_type": "assumed_role", "default_sts_ttl": "2h", "max_sts_ttl": "1h"}),
    ));
    assert!(err.contains("default_sts_ttl"), "{err}");
    assert_eq!(bao.read("aws/roles/bad").status, 404);

    // The deprecated `arn` field still makes a legacy role, with a warning.
    let resp = bao
        .write(
            "aws/roles/legacy",
            json!({"arn": "arn:aws:iam::123456789012:role/old"}),
        )
        .ok();
    assert!(
        resp.body["warnings"].to_string().contains("legacy"),
        "{}",
        resp.body
    );
    let data = bao.read("aws/roles/legacy").ok().body["data"].clone();
    assert_eq!(data["credential_type"], "assumed_role");

    let keys = bao.list("aws/roles").ok().body["data"]["keys"].clone();
    assert_eq!(keys, json!(["deploy", "legacy"]));
    bao.delete("aws/roles/deploy").ok();
    assert_eq!(bao.read("aws/roles/deploy").status, 404);
}

#[test]
fn oversized_policy_documents_are_a_short_400() {
    let (_moto, bao) = configured();
    let role =
        json!({"credential_type": "iam_user", "policy_document": r#"{"Version":"2012-10-17"}"#});
    bao.write("aws/roles/r", role).ok();
    let stored = bao.read("aws/roles/r").ok().body["data"].clone();

    // Not JSON: the error quotes the start of it, not 10 MB.
    let garbage = "x".repeat(10 << 20);
    let err = bad_request(bao.write("aws/roles/r", json!({"policy_document": garbage})));
    assert!(
        err.starts_with("cannot parse policy document: \"xxx"),
        "{}",
        &err[..80.min(err.len())]
    );
    assert!(err.len() < 400, "a {}-byte error", err.len());

    // JSON, but longer than any policy IAM takes.
    let long = format!(
        r#"{{"Version":"2012-10-17","Sid":"{}"}}"#,
        "A".repeat(10 << 20)
    );
    let err = bad_request(bao.write("aws/roles/r", json!({"policy_document": long})));
    assert!(
        err.contains("IAM takes at most 10240"),
        "{}",
        &err[..200.min(err.len())]
    );
    let just_over = format!(r#"{{"Sid":"{}"}}"#, "A".repeat(10_240));
    let err = bad_request(bao.write("aws/roles/r", json!({"policy_document": just_over})));
    assert!(
        err.starts_with("policy_document has 10250 characters"),
        "{err}"
    );

    // Nested past serde_json's limit, inside the document and as the body.
    let deep = format!("{}{}", "[".repeat(1_000), "]".repeat(1_000));
    let err = bad_request(bao.write("aws/roles/r", json!({"policy_document": deep})));
    assert!(err.starts_with("cannot parse policy document"), "{err}");
    let mut nested = json!({});
    for _ in 0..200 {
        nested = json!({ "k": nested });
    }
    bad_request(bao.write("aws/roles/r", json!({"iam_tags": nested})));

    assert_eq!(bao.read("aws/roles/r").ok().body["data"], stored);
}
