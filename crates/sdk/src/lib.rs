//! Write HashiCorp Vault and OpenBao external plugins in Rust.
//!
//! A plugin is a binary whose `main` hands a [`backend::Factory`] to
//! [`serve`]. The SDK speaks go-plugin (handshake, AutoMTLS, broker) and
//! Vault's backend protocol; the backend sees only the plain types of
//! [`logical`], [`storage`] and [`system_view`].
//!
//! See [`serve`] for a complete plugin.

pub mod backend;
mod convert;
pub mod framework;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod go_time;
pub mod logging;
pub mod logical;
#[doc(hidden)]
pub mod proto;
pub mod server;
pub mod storage;
pub mod system_view;
pub mod tasks;
#[doc(hidden)]
pub mod transport;

pub use async_trait::async_trait;
pub use server::{PluginInfo, serve};

/// The calling crate's [`PluginInfo`], from its `Cargo.toml` name and version.
///
/// `VAULT_PLUGIN_VERSION` set at build time replaces the version: it is how
/// `cargo xtask dist --version` builds a release whose binary, `register.sh`
/// and manifest all say the same version, and how the upgrade test gets two
/// binaries that report different versions (the host refuses to register a
/// version the binary does not report).
#[macro_export]
macro_rules! plugin_info {
    () => {
        $crate::server::PluginInfo {
            name: env!("CARGO_PKG_NAME"),
            version: match option_env!("VAULT_PLUGIN_VERSION") {
                Some(version) => version,
                None => env!("CARGO_PKG_VERSION"),
            },
        }
    };
}
