//! LDAP auth for Vault and OpenBao, a drop-in for Vault's built-in LDAP auth
//! method, with pooled connections.

pub mod backend;
pub mod config;
pub mod connection;
pub mod directory;
pub mod dn;
pub mod escape;
pub mod names;
pub mod path_config;
pub mod path_groups;
pub mod path_login;
pub mod path_rotate_root;
pub mod path_users;
pub mod pool;
pub mod template;
pub mod tls;

use std::sync::Arc;

use vault_plugin_sdk::backend::{BackendType, SpecialPaths, factory};
use vault_plugin_sdk::framework::Framework;

async fn invalidate(backend: &backend::LdapAuth, key: &str) {
    backend.invalidate(key);
}

/// Serves the plugin to the host (the binary's whole `main`).
pub fn serve() -> std::process::ExitCode {
    vault_plugin_sdk::serve(
        vault_plugin_sdk::plugin_info!(),
        factory(|config| async move {
            let state = backend::LdapAuth::new(Arc::clone(&config.system));
            let mut paths = path_config::paths();
            paths.extend(path_rotate_root::paths());
            paths.extend(path_groups::paths());
            paths.extend(path_users::paths());
            paths.extend(path_login::paths());
            Ok(Framework::new(BackendType::Auth, state)
                .help(
                    "The \"ldap\" credential provider allows authentication querying a LDAP \
                     server, checking username and password, and associating groups to set of \
                     policies.",
                )
                .special_paths(SpecialPaths {
                    unauthenticated: vec!["login/*".into()],
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
