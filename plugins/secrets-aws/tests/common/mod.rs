//! Shared set-up: moto, and an OpenBao dev server with the release binary
//! mounted at `aws/` and configured against moto.

#![allow(dead_code)]

use serde_json::{Value, json};
use vault_plugin_test_support::binaries::{SECRETS_AWS, release_binary};
use vault_plugin_test_support::moto::Moto;
use vault_plugin_test_support::openbao::{ApiResponse, OpenBao, PluginKind};

pub const VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));
pub const PLUGIN: &str = "aws-rs";

/// Moto, and OpenBao with the plugin at `aws/` (not configured yet).
pub fn mounted() -> (Moto, OpenBao) {
    let moto = Moto::start();
    let bao = OpenBao::start();
    bao.register_plugin(
        PluginKind::Secret,
        PLUGIN,
        &release_binary(SECRETS_AWS),
        VERSION,
    );
    bao.enable_secrets("aws", PLUGIN, VERSION).ok();
    (moto, bao)
}

/// The root config pointing both services at `endpoint`.
pub fn root_config(endpoint: &str) -> Value {
    json!({
        "access_key": "AKIAROOTEXAMPLE",
        "secret_key": "root-secret-example",
        "region": "us-east-1",
        "iam_endpoint": endpoint,
        "sts_endpoint": endpoint,
        "max_retries": 0,
    })
}

/// Moto and OpenBao with the plugin mounted and configured against moto.
pub fn configured() -> (Moto, OpenBao) {
    let (moto, bao) = mounted();
    bao.write("aws/config/root", root_config(moto.endpoint()))
        .ok();
    (moto, bao)
}

/// The users moto holds whose names the engine made (`vault-` prefix).
pub fn vault_users(moto: &Moto) -> Vec<String> {
    moto.user_names()
        .into_iter()
        .filter(|u| u.starts_with("vault-"))
        .collect()
}

/// `bao lease revoke <lease_id>`.
pub fn revoke(bao: &OpenBao, lease_id: &str) -> ApiResponse {
    bao.write("sys/leases/revoke", json!({ "lease_id": lease_id }))
}

/// The 400's error text, asserting it is a 400.
#[track_caller]
pub fn bad_request(resp: ApiResponse) -> String {
    assert_eq!(
        resp.status, 400,
        "expected 400, got {}: {}",
        resp.status, resp.body
    );
    resp.errors()
}
