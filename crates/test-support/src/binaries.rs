//! The plugin binaries under test: release builds, as operators run them.
//!
//! `cargo xtask test` builds them first and points `PLUGIN_BIN_DIR` at them;
//! a plain `cargo test` builds them here (once per binary and process).

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// What to build: a plugin crate's binary, or an example of a crate.
#[derive(Clone, Copy, Debug)]
pub enum Artifact {
    Bin {
        package: &'static str,
        name: &'static str,
    },
    Example {
        package: &'static str,
        name: &'static str,
    },
}

/// The SDK's example key/value secrets engine.
pub const EXAMPLE_KV: Artifact = Artifact::Example {
    package: "vault-plugin-sdk",
    name: "kv",
};

/// The SDK's framework example: leased credentials, existence checks, WAL.
pub const EXAMPLE_LEASES: Artifact = Artifact::Example {
    package: "vault-plugin-sdk",
    name: "leases",
};

/// The SDK's framework example auth method: users, login, token settings.
pub const EXAMPLE_USERPASS: Artifact = Artifact::Example {
    package: "vault-plugin-sdk",
    name: "userpass",
};

/// The JWT/OIDC auth plugin.
pub const AUTH_JWT: Artifact = Artifact::Bin {
    package: "vault-plugin-auth-jwt",
    name: "vault-plugin-auth-jwt",
};

/// The LDAP auth plugin.
pub const AUTH_LDAP: Artifact = Artifact::Bin {
    package: "vault-plugin-auth-ldap",
    name: "vault-plugin-auth-ldap",
};

/// The AWS secrets plugin.
pub const SECRETS_AWS: Artifact = Artifact::Bin {
    package: "vault-plugin-secrets-aws",
    name: "vault-plugin-secrets-aws",
};

static BUILT: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// The path of the release binary, building it if needed.
///
/// # Panics
/// If the build fails: a test cannot go on without its plugin.
pub fn release_binary(artifact: Artifact) -> PathBuf {
    let (name, flag, package) = match artifact {
        Artifact::Bin { package, name } => (name, "--bin", package),
        Artifact::Example { package, name } => (name, "--example", package),
    };
    let file_name = match artifact {
        Artifact::Bin { .. } => name.to_string(),
        Artifact::Example { .. } => format!("examples/{name}"),
    };
    if let Some(dir) = std::env::var_os("PLUGIN_BIN_DIR") {
        let path = PathBuf::from(dir).join(&file_name);
        assert!(
            path.is_file(),
            "PLUGIN_BIN_DIR is set but {} is missing: run `cargo xtask test`",
            path.display()
        );
        return path;
    }
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let built = built.get_or_insert_with(HashSet::new);
    if !built.contains(&file_name) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(crate::workspace_root())
            .args(["build", "--release", "--quiet", "-p", package, flag, name])
            .status()
            .expect("run cargo build");
        assert!(
            status.success(),
            "cargo build --release {flag} {name} failed"
        );
        built.insert(file_name.clone());
    }
    crate::target_dir().join("release").join(file_name)
}
