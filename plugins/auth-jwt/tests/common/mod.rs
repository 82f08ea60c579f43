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

/// Asks for an authorization URL and returns it.
pub fn start_login(bao: &OpenBao, mount: &str, body: Value) -> String {
    auth_url(bao, mount, body).ok().body["data"]["auth_url"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

pub fn callback(bao: &OpenBao, mount: &str, params: &[(String, String)]) -> ApiResponse {
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect();
    bao.request_with_token(
        "GET",
        &format!("auth/{mount}/oidc/callback?{}", query.join("&")),
        None,
        None,
    )
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn auth_url(bao: &OpenBao, mount: &str, body: Value) -> ApiResponse {
    bao.request_with_token(
        "POST",
        &format!("auth/{mount}/oidc/auth_url"),
        Some(body),
        None,
    )
}
