//! Shared set-up: an OpenBao dev server with our plugin mounted at
//! `auth/ours` and OpenBao's built-in Go `jwt` method at `auth/theirs`.

#![allow(dead_code)]

use serde_json::{Value, json};
use vault_plugin_test_support::binaries::{AUTH_JWT, release_binary};
use vault_plugin_test_support::jwt::now;
use vault_plugin_test_support::openbao::{Api, ApiResponse, OpenBao, PluginKind};

pub const VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));
pub const PLUGIN: &str = "jwt-rs";

/// OpenBao with ours at `auth/ours` (and, with `builtin`, Go's at
/// `auth/theirs`).
pub fn openbao(builtin: bool) -> OpenBao {
    let bao = OpenBao::start();
    bao.register_plugin(PluginKind::Auth, PLUGIN, &release_binary(AUTH_JWT), VERSION);
    bao.enable_auth("ours", PLUGIN, VERSION).ok();
    if builtin {
        bao.request("POST", "sys/auth/theirs", Some(json!({"type": "jwt"})))
            .ok();
    }
    bao
}

/// Claims valid for five minutes.
pub fn claims(extra: Value) -> Value {
    let mut c = json!({"iat": now(), "exp": now() + 300, "nbf": now() - 5});
    if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            if v.is_null() {
                c.remove(k);
            } else {
                c.insert(k.clone(), v.clone());
            }
        }
    }
    c
}

pub fn login(bao: &Api, mount: &str, role: &str, jwt: &str) -> ApiResponse {
    let mut body = json!({ "jwt": jwt });
    if !role.is_empty() {
        body["role"] = json!(role);
    }
    bao.request_with_token("POST", &format!("auth/{mount}/login"), Some(body), None)
}
