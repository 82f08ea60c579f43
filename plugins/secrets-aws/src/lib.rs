//! AWS secrets for Vault and OpenBao, a drop-in for Vault's built-in AWS secrets engine.

use vault_plugin_sdk::backend::{BackendType, factory};
use vault_plugin_sdk::framework::Framework;

/// The plugin's state.
pub struct Backend;

/// Serves the plugin to the host (the binary's whole `main`).
pub fn serve() -> std::process::ExitCode {
    vault_plugin_sdk::serve(
        vault_plugin_sdk::plugin_info!(),
        factory(
            |_config| async move { Ok(Framework::new(BackendType::Secrets, Backend).build()?) },
        ),
    )
}
