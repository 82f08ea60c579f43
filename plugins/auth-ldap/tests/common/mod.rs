//! Shared set-up: an OpenBao dev server with our plugin mounted at
//! `auth/ldap`, and a private slapd.

#![allow(dead_code)]

use serde_json::{Value, json};
use vault_plugin_test_support::binaries::{AUTH_LDAP, release_binary};
use vault_plugin_test_support::openbao::{Api, ApiResponse, OpenBao, PluginKind};
use vault_plugin_test_support::slapd::Slapd;

pub const VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));
pub const PLUGIN: &str = "ldap-rs";

/// OpenBao with ours mounted at `auth/ldap`.
pub fn openbao() -> OpenBao {
    let bao = OpenBao::start();
    bao.register_plugin(
        PluginKind::Auth,
        PLUGIN,
        &release_binary(AUTH_LDAP),
        VERSION,
    );
    bao.enable_auth("ldap", PLUGIN, VERSION).ok();
    bao
}

/// A config searching with the service account, groups by `member`.
pub fn service_config(slapd: &Slapd) -> Value {
    let mut config = slapd.auth_config();
    config["request_timeout"] = json!(3);
    config["connection_timeout"] = json!(3);
    config
}

pub fn login(bao: &Api, user: &str, password: &str) -> ApiResponse {
    bao.request_with_token(
        "POST",
        &format!("auth/ldap/login/{user}"),
        Some(json!({ "password": password })),
        None,
    )
}

/// The sorted policies of a successful login.
pub fn policies(resp: &ApiResponse) -> Vec<String> {
    let mut p: Vec<String> = resp.body["auth"]["policies"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    p.sort();
    p
}

/// The entity's group aliases' names seen through the token's lookup are not
/// returned by login; the login's metadata and alias are.
pub fn metadata(resp: &ApiResponse, key: &str) -> String {
    resp.body["auth"]["metadata"][key]
        .as_str()
        .unwrap_or_default()
        .to_string()
}
