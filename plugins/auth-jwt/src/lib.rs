//! JWT/OIDC auth for Vault and OpenBao, a drop-in for vault-plugin-auth-jwt.

pub mod backend;
pub mod claims;
pub mod config;
pub mod discovery;
pub mod glob;
pub mod http;
pub mod jose;
pub mod jwks;
pub mod login;
pub mod oidc;
pub mod path_config;
pub mod path_login;
pub mod path_oidc;
pub mod path_role;
pub mod provider;
pub mod role;

use std::sync::Arc;

use vault_plugin_sdk::backend::{BackendType, SpecialPaths, factory};
use vault_plugin_sdk::framework::Framework;

async fn invalidate(backend: &backend::JwtAuth, key: &str) {
    backend.invalidate(key);
}

/// Serves the plugin to the host (the binary's whole `main`).
pub fn serve() -> std::process::ExitCode {
    vault_plugin_sdk::serve(
        vault_plugin_sdk::plugin_info!(),
        factory(|config| async move {
            let state = backend::JwtAuth::new(Arc::clone(&config.system));
            let mut paths = path_login::paths();
            paths.extend(path_role::paths());
            paths.extend(path_config::paths());
            paths.extend(path_oidc::paths());
            Ok(Framework::new(BackendType::Auth, state)
                .help("The JWT backend plugin allows authentication using JWTs (including OIDC).")
                .special_paths(SpecialPaths {
                    unauthenticated: vec![
                        "login".into(),
                        "oidc/auth_url".into(),
                        "oidc/callback".into(),
                    ],
                    seal_wrap_storage: vec!["config".into()],
                    ..SpecialPaths::default()
                })
                .paths(paths)
                .auth_renew(path_login::renew)
                .invalidate(invalidate)
                .build()?)
        }),
    )
}
