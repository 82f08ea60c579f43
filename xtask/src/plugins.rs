//! The binaries the project ships and tests.
//!
//! A plugin crate ships when its `Cargo.toml` says so:
//!
//! ```toml
//! [package.metadata.vault-plugin]
//! short = "ldap"          # the name `--plugins` takes
//! type = "auth"           # the catalog type: auth or secret
//! catalog-name = "ldap-rs"
//! ```
//!
//! so adding a crate to the workspace (as `cargo xtask new-plugin` does) is
//! all it takes to add it to `dist`, `dev` and the suite's release build.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::Value;

/// The workspace xtask works on: the one holding the current directory, as
/// `cargo xtask` runs it from anywhere inside, else the one it was built in.
pub fn workspace_root() -> PathBuf {
    let here = std::env::current_dir().ok();
    here.iter()
        .flat_map(|dir| dir.ancestors())
        .find(|dir| {
            dir.join("xtask").is_dir()
                && std::fs::read_to_string(dir.join("Cargo.toml"))
                    .is_ok_and(|t| t.lines().any(|l| l.trim() == "[workspace]"))
        })
        .map(Path::to_path_buf)
        .unwrap_or_else(vault_plugin_test_support::workspace_root)
}

/// Cargo's target directory for [`workspace_root`].
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// One buildable plugin binary.
#[derive(Clone, Debug)]
pub struct PluginBinary {
    pub package: String,
    /// `--bin` or `--example`.
    pub kind: &'static str,
    pub target: String,
}

impl PluginBinary {
    fn example(name: &str) -> Self {
        PluginBinary {
            package: "vault-plugin-sdk".into(),
            kind: "--example",
            target: name.into(),
        }
    }

    /// Where the release build puts it.
    pub fn release_path(&self) -> PathBuf {
        let dir = target_dir().join("release");
        match self.kind {
            "--example" => dir.join("examples").join(&self.target),
            _ => dir.join(&self.target),
        }
    }
}

/// A plugin the project releases.
#[derive(Clone, Debug)]
pub struct Shipped {
    /// The name `--plugins` takes.
    pub short: String,
    pub package: String,
    pub binary: String,
    /// The catalog type: `auth` or `secret`.
    pub kind: String,
    /// The catalog name the plugin's README registers it under.
    pub catalog_name: String,
    pub version: String,
}

impl Shipped {
    pub fn binary(&self) -> PluginBinary {
        PluginBinary {
            package: self.package.clone(),
            kind: "--bin",
            target: self.binary.clone(),
        }
    }
}

/// The SDK's example plugins: mounted by the SDK's tests and the benchmarks,
/// never shipped.
pub fn sdk_examples() -> Vec<PluginBinary> {
    ["kv", "leases", "userpass"]
        .into_iter()
        .map(PluginBinary::example)
        .collect()
}

/// Every shipped plugin of the workspace, in workspace order. The workspace
/// does not change while xtask runs: `cargo metadata` runs once.
pub fn shipped() -> anyhow::Result<Vec<Shipped>> {
    static SHIPPED: std::sync::OnceLock<Vec<Shipped>> = std::sync::OnceLock::new();
    if let Some(known) = SHIPPED.get() {
        return Ok(known.clone());
    }
    let found = shipped_in(&workspace_root())?;
    Ok(SHIPPED.get_or_init(|| found).clone())
}

/// The shipped plugins of the workspace at `root`.
pub fn shipped_in(root: &Path) -> anyhow::Result<Vec<Shipped>> {
    let output = Command::new(cargo())
        .current_dir(root)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .context("running cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: Value =
        serde_json::from_slice(&output.stdout).context("parsing cargo metadata")?;
    let mut found = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let meta = &package["metadata"]["vault-plugin"];
        if meta.is_null() {
            continue;
        }
        let name = package["name"].as_str().unwrap_or_default();
        let field = |key: &str| -> anyhow::Result<String> {
            meta[key].as_str().map(str::to_string).with_context(|| {
                format!("{name}: [package.metadata.vault-plugin] needs a string `{key}`")
            })
        };
        let kind = field("type")?;
        if kind != "auth" && kind != "secret" {
            bail!(
                "{name}: [package.metadata.vault-plugin] type must be auth or secret, not {kind:?}"
            );
        }
        let binary = package["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| {
                t["kind"]
                    .as_array()
                    .is_some_and(|k| k.contains(&"bin".into()))
            })
            .and_then(|t| t["name"].as_str())
            .with_context(|| format!("{name} ships as a plugin but has no binary target"))?;
        found.push(Shipped {
            short: field("short")?,
            package: name.to_string(),
            binary: binary.to_string(),
            kind,
            catalog_name: field("catalog-name")?,
            version: package["version"].as_str().unwrap_or_default().to_string(),
        });
    }
    Ok(found)
}

/// The plugins a `--plugins a,b` list names, in its order, each once.
pub fn choose(shipped: &[Shipped], list: &str) -> anyhow::Result<Vec<Shipped>> {
    let known = || {
        shipped
            .iter()
            .map(|p| p.short.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut chosen: Vec<Shipped> = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some(p) = shipped.iter().find(|p| p.short == name) else {
            bail!("unknown plugin {name:?}; known plugins: {}", known());
        };
        if !chosen.iter().any(|c| c.short == p.short) {
            chosen.push(p.clone());
        }
    }
    if chosen.is_empty() {
        bail!("--plugins is empty; known plugins: {}", known());
    }
    Ok(chosen)
}

/// What the test suite mounts: the SDK examples and every shipped plugin.
pub fn all() -> anyhow::Result<Vec<PluginBinary>> {
    let mut all = sdk_examples();
    all.extend(shipped()?.iter().map(Shipped::binary));
    Ok(all)
}

/// The shipped plugin built from `package`.
pub fn by_package(package: &str) -> anyhow::Result<Shipped> {
    shipped()?
        .into_iter()
        .find(|p| p.package == package)
        .with_context(|| format!("{package} is not a shipped plugin of the workspace"))
}

/// Builds every binary of [`all`] in the release profile. Commands build
/// this one set even when they need fewer: cargo unifies dependency features
/// over the packages of a build, so a smaller set compiles the dependencies
/// (the AWS SDK among them) a second time, with other features.
pub fn build_release_all() -> anyhow::Result<()> {
    build_release(&all()?)
}

/// Builds the given binaries in the release profile, in one cargo call.
pub fn build_release(binaries: &[PluginBinary]) -> anyhow::Result<()> {
    let mut cmd = Command::new(cargo());
    cmd.current_dir(workspace_root())
        .args(["build", "--release"]);
    for b in binaries {
        cmd.args(["-p", &b.package, b.kind, &b.target]);
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
