//! The binaries the project ships and tests.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};

/// One buildable plugin binary.
pub struct PluginBinary {
    pub package: &'static str,
    /// `--bin` or `--example`.
    pub kind: &'static str,
    pub target: &'static str,
}

/// Everything the test suite mounts. The shipped plugins join this list as
/// they land.
pub const ALL: &[PluginBinary] = &[
    PluginBinary {
        package: "vault-plugin-sdk",
        kind: "--example",
        target: "kv",
    },
    PluginBinary {
        package: "vault-plugin-sdk",
        kind: "--example",
        target: "leases",
    },
    PluginBinary {
        package: "vault-plugin-sdk",
        kind: "--example",
        target: "userpass",
    },
    PluginBinary {
        package: "vault-plugin-auth-jwt",
        kind: "--bin",
        target: "vault-plugin-auth-jwt",
    },
    PluginBinary {
        package: "vault-plugin-auth-ldap",
        kind: "--bin",
        target: "vault-plugin-auth-ldap",
    },
    PluginBinary {
        package: "vault-plugin-secrets-aws",
        kind: "--bin",
        target: "vault-plugin-secrets-aws",
    },
];

impl PluginBinary {
    /// Where the release build puts it.
    pub fn release_path(&self) -> PathBuf {
        let dir = vault_plugin_test_support::target_dir().join("release");
        match self.kind {
            "--example" => dir.join("examples").join(self.target),
            _ => dir.join(self.target),
        }
    }
}

/// Builds the given binaries in the release profile, in one cargo call.
pub fn build_release(binaries: &[&PluginBinary]) -> anyhow::Result<()> {
    let mut cmd = Command::new(cargo());
    cmd.current_dir(vault_plugin_test_support::workspace_root())
        .args(["build", "--release"]);
    for b in binaries {
        cmd.args(["-p", b.package, b.kind, b.target]);
    }
    let status = cmd.status().context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --release failed");
    }
    Ok(())
}

pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string())
}

/// A plugin the project releases, by the short name `cargo xtask dist` takes.
pub struct Shipped {
    pub short: &'static str,
    pub package: &'static str,
    pub binary: &'static str,
    /// The catalog type: `auth` or `secret`.
    pub kind: &'static str,
    /// The catalog name the plugin's README registers it under.
    pub catalog_name: &'static str,
}

/// What `cargo xtask dist` can build; the SDK examples in [`ALL`] are not shipped.
pub const SHIPPED: &[Shipped] = &[
    Shipped {
        short: "jwt",
        package: "vault-plugin-auth-jwt",
        binary: "vault-plugin-auth-jwt",
        kind: "auth",
        catalog_name: "jwt-rs",
    },
    Shipped {
        short: "ldap",
        package: "vault-plugin-auth-ldap",
        binary: "vault-plugin-auth-ldap",
        kind: "auth",
        catalog_name: "ldap-rs",
    },
    Shipped {
        short: "aws",
        package: "vault-plugin-secrets-aws",
        binary: "vault-plugin-secrets-aws",
        kind: "secret",
        catalog_name: "aws-rs",
    },
];
