//! AWS secrets for Vault and OpenBao, a drop-in for Vault's built-in AWS secrets engine:
//! IAM users with leased access keys, STS credentials (assumed roles, federation and
//! session tokens), static roles with rotated keys, and root-key rotation.

pub mod backend;
pub mod client;
pub mod iam_user;
pub mod path_config_lease;
pub mod path_config_root;
pub mod path_config_rotate_root;
pub mod path_roles;
pub mod path_static_creds;
pub mod path_static_roles;
pub mod path_user;
pub mod role;
pub mod rollback;
pub mod rotation;
pub mod secret_access_keys;
pub mod sts;
pub mod username_template;

use std::sync::Arc;

use vault_plugin_sdk::backend::{BackendType, SpecialPaths, factory};
use vault_plugin_sdk::framework::Framework;

use crate::backend::AwsBackend;
use crate::secret_access_keys::MIN_USER_ROLLBACK_AGE;

/// The host's periodic tick: finish what dead processes left half-made, then
/// rotate the static roles that are due.
async fn periodic(
    backend: &AwsBackend,
    req: &vault_plugin_sdk::logical::Request,
) -> Result<Option<vault_plugin_sdk::logical::Response>, vault_plugin_sdk::logical::Error> {
    let orphans = rollback::roll_back_orphans(backend, req).await;
    let rotated = rotation::rotate_due(backend, req).await;
    orphans?;
    rotated
}

/// Serves the plugin to the host (the binary's whole `main`).
pub fn serve() -> std::process::ExitCode {
    vault_plugin_sdk::serve(
        vault_plugin_sdk::plugin_info!(),
        factory(|config| async move {
            let mut paths = path_config_root::paths();
            paths.extend(path_config_rotate_root::paths());
            paths.extend(path_config_lease::paths());
            paths.extend(path_roles::paths());
            paths.extend(path_user::paths());
            paths.extend(path_static_roles::paths());
            paths.extend(path_static_creds::paths());
            let mut framework = Framework::new(
                BackendType::Secrets,
                AwsBackend::new(Arc::clone(&config.system)),
            )
            .help(
                "The AWS backend dynamically generates AWS access keys for a set of IAM \
                 policies. The AWS access keys have a configurable lease set and are \
                 automatically revoked at the end of the lease.\n\nAfter mounting this \
                 backend, credentials to generate IAM keys must be configured with the \
                 \"root\" path and policies must be written using the \"roles/\" endpoints \
                 before any access keys can be generated.",
            )
            .special_paths(SpecialPaths {
                local_storage: vec![],
                seal_wrap_storage: vec!["config/root".into()],
                ..SpecialPaths::default()
            })
            .paths(paths)
            .wal_rollback(rollback::roll_back, MIN_USER_ROLLBACK_AGE)
            .periodic(periodic)
            .invalidate(backend::invalidate);
            for secret in secret_access_keys::secret_types() {
                framework = framework.secret(secret);
            }
            Ok(framework.build()?)
        }),
    )
}
