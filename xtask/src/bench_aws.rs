//! The AWS secrets plugin's rows: credential issuance through OpenBao
//! against moto, beside the same AWS calls made directly to moto, so the
//! ratio is what OpenBao and the plugin add to the emulator's own work.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::json;
use vault_plugin_test_support::moto::Moto;
use vault_plugin_test_support::openbao::{OpenBao, PluginKind};

use crate::bench::{Row, median, ms, percentile, ratio};
use crate::plugins;

const PLUGIN: &str = "aws-rs";
const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

/// What one credential type costs: through OpenBao, and directly.
struct Contender<'a> {
    label: &'a str,
    path: &'a str,
    direct_calls: &'a str,
}

pub fn rows(bao_bin: &Path, moto_bin: &Path, quick: bool) -> anyhow::Result<Vec<Row>> {
    let issues = if quick { 20 } else { 100 };
    let plugin = plugins::by_package("vault-plugin-secrets-aws")?;
    let binary = plugin.binary().release_path();
    let version = format!("v{}", plugin.version);
    let moto = Moto::start_with(moto_bin);
    let bao = OpenBao::start_with(bao_bin);
    bao.register_plugin(PluginKind::Secret, PLUGIN, &binary, &version);
    bao.enable_secrets("aws", PLUGIN, &version).ok();
    bao.write(
        "aws/config/root",
        json!({
            "access_key": "AKIAROOTEXAMPLE",
            "secret_key": "root-secret-example",
            "region": "us-east-1",
            "iam_endpoint": moto.endpoint(),
            "sts_endpoint": moto.endpoint(),
        }),
    )
    .ok();
    let role_arn = moto.create_role("bench");
    bao.write(
        "aws/roles/user",
        json!({"credential_type": "iam_user", "policy_document": POLICY}),
    )
    .ok();
    bao.write(
        "aws/roles/assumed",
        json!({"credential_type": "assumed_role", "role_arns": role_arn}),
    )
    .ok();
    bao.write(
        "aws/roles/federated",
        json!({"credential_type": "federation_token", "policy_document": POLICY}),
    )
    .ok();

    let contenders = [
        Contender {
            label: "creds/ iam_user",
            path: "aws/creds/user",
            direct_calls: "CreateUser + PutUserPolicy + CreateAccessKey",
        },
        Contender {
            label: "sts/ assumed_role",
            path: "aws/sts/assumed",
            direct_calls: "AssumeRole",
        },
        Contender {
            label: "sts/ federation_token",
            path: "aws/sts/federated",
            direct_calls: "GetFederationToken",
        },
    ];
    let mut rows = Vec::new();
    for (i, c) in contenders.iter().enumerate() {
        let mut ours = Vec::with_capacity(issues);
        let mut direct = Vec::with_capacity(issues);
        // Interleaved, so both see the same machine; the first rounds warm
        // both paths up and are not counted.
        for n in 0..issues + 5 {
            let start = Instant::now();
            let resp = bao.read(c.path);
            let t_ours = start.elapsed();
            if resp.status != 200 {
                bail!("GET {} answered {}: {}", c.path, resp.status, resp.body);
            }
            let start = Instant::now();
            direct_issue(&moto, i, n, &role_arn)?;
            let t_direct = start.elapsed();
            if n >= 5 {
                ours.push(t_ours);
                direct.push(t_direct);
            }
        }
        rows.push(row(
            format!(
                "aws {}: issue, median (vs {} to moto)",
                c.label, c.direct_calls
            ),
            median(ours.clone()),
            median(direct.clone()),
        ));
        rows.push(row(
            format!("aws {}: issue, p90", c.label),
            percentile(ours, 0.9),
            percentile(direct, 0.9),
        ));
    }
    Ok(rows)
}

fn row(what: String, ours: Duration, theirs: Duration) -> Row {
    Row {
        what,
        ours: ms(ours),
        comparison: ms(theirs),
        ratio: ratio(ours, theirs),
    }
}

/// One AWS query call: service, action, parameters.
type Call<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);

/// The AWS calls behind contender `which`, made directly.
fn direct_issue(moto: &Moto, which: usize, n: usize, role_arn: &str) -> anyhow::Result<()> {
    let name = format!("direct-{which}-{n}");
    let calls: Vec<Call> = match which {
        0 => vec![
            ("iam", "CreateUser", vec![("UserName", name.as_str())]),
            (
                "iam",
                "PutUserPolicy",
                vec![
                    ("UserName", name.as_str()),
                    ("PolicyName", "bench"),
                    ("PolicyDocument", POLICY),
                ],
            ),
            ("iam", "CreateAccessKey", vec![("UserName", name.as_str())]),
        ],
        1 => vec![(
            "sts",
            "AssumeRole",
            vec![("RoleArn", role_arn), ("RoleSessionName", name.as_str())],
        )],
        _ => vec![(
            "sts",
            "GetFederationToken",
            vec![("Name", name.as_str()), ("Policy", POLICY)],
        )],
    };
    for (service, action, params) in calls {
        let (status, body) = moto.call(service, action, &params);
        if status != 200 {
            bail!("{service} {action} answered {status}: {body}");
        }
    }
    Ok(())
}
