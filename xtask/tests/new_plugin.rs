//! `cargo xtask new-plugin` as a contributor uses it, in a copy of the
//! workspace: both kinds of scaffold are formatted, join the workspace and
//! the release, build, and pass their own tests through a real OpenBao
//! with no edits.

use std::path::Path;
use std::process::{Command, Output};

use vault_plugin_test_support::openbao::bao_binary;

/// Directories of the workspace a copy leaves out: build output, the
/// release directory and git's.
const SKIPPED: [&str; 3] = ["target", "dist", ".git"];

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let name = entry.file_name();
        if SKIPPED.iter().any(|s| name == *s) {
            continue;
        }
        let kind = entry.file_type().expect("file type");
        let target = to.join(&name);
        if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

fn show(what: &str, output: &Output) -> String {
    format!(
        "{what}: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn xtask_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run xtask")
}

/// Cargo in the copy, building into the suite's own target directory so the
/// dependencies compiled already are reused.
fn cargo_in(dir: &Path, args: &[&str]) -> Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    Command::new(cargo)
        .current_dir(dir)
        .args(args)
        .env("CARGO_TARGET_DIR", vault_plugin_test_support::target_dir())
        .env(
            "PLUGIN_BIN_DIR",
            vault_plugin_test_support::target_dir().join("release"),
        )
        .env("BAO_BIN", bao_binary())
        .output()
        .expect("run cargo")
}

#[test]
fn help_names_both_kinds() {
    let help = xtask_in(Path::new("."), &["new-plugin", "--help"]);
    assert!(help.status.success(), "{}", show("help", &help));
    assert!(String::from_utf8_lossy(&help.stdout).contains("--kind auth|secrets"));
}

#[test]
fn bad_names_and_kinds_are_refused_before_anything_is_written() {
    let copy = tempfile::tempdir().expect("temp dir");
    copy_tree(&vault_plugin_test_support::workspace_root(), copy.path());
    let manifest = std::fs::read_to_string(copy.path().join("Cargo.toml")).expect("manifest");
    for (args, says) in [
        (
            vec!["new-plugin", "Secrets_Demo", "--kind", "secrets"],
            "NAME",
        ),
        (
            vec!["new-plugin", "secrets-demo", "--kind", "database"],
            "--kind",
        ),
        (vec!["new-plugin", "secrets-demo"], "--kind"),
        (vec!["new-plugin", "auth-jwt", "--kind", "auth"], "exists"),
        // Its short name, `aws`, is the AWS plugin's.
        (
            vec!["new-plugin", "aws", "--kind", "secrets"],
            "already ships",
        ),
    ] {
        let out = xtask_in(copy.path(), &args);
        assert!(!out.status.success(), "{}", show("new-plugin", &out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let after = std::fs::read_to_string(copy.path().join("Cargo.toml")).expect("manifest");
    assert_eq!(after, manifest, "nothing joined the workspace");
    assert_eq!(
        std::fs::read_dir(copy.path().join("plugins"))
            .expect("plugins/")
            .count(),
        std::fs::read_dir(vault_plugin_test_support::workspace_root().join("plugins"))
            .expect("plugins/")
            .count(),
        "no crate was written"
    );
}

#[test]
#[ignore = "long: compiles the SDK and both scaffolds in a copy of the workspace, release included (~2 min alone, ~7 min beside the suite); run with `cargo test -p xtask -- --ignored`"]
fn both_scaffolds_build_ship_and_pass_their_tests_unedited() {
    let copy = tempfile::tempdir().expect("temp dir");
    let root = copy.path();
    copy_tree(&vault_plugin_test_support::workspace_root(), root);

    for (name, kind) in [("secrets-sample", "secrets"), ("auth-sample2", "auth")] {
        let out = xtask_in(root, &["new-plugin", name, "--kind", kind]);
        assert!(out.status.success(), "{}", show("new-plugin", &out));
        for file in [
            "Cargo.toml",
            "README.md",
            "src/main.rs",
            "src/lib.rs",
            "tests/openbao.rs",
        ] {
            assert!(
                root.join("plugins").join(name).join(file).is_file(),
                "{file}"
            );
        }
    }
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("manifest");
    assert!(
        manifest.contains("\"plugins/secrets-sample\"")
            && manifest.contains("\"plugins/auth-sample2\""),
        "{manifest}"
    );
    let list = std::fs::read_to_string(root.join("plugins/README.md")).expect("plugin list");
    assert!(
        list.contains("`auth-sample2` → `vault-plugin-auth-sample2`"),
        "{list}"
    );

    // Formatted as CI wants it.
    let fmt = cargo_in(root, &["fmt", "--all", "--check"]);
    assert!(fmt.status.success(), "{}", show("cargo fmt --check", &fmt));

    // dist knows them by their short names (a dist of an unknown name
    // lists the known ones, without building anything). xtask works on the
    // workspace it is run in, here the copy.
    let dist = xtask_in(root, &["dist", "--plugins", "nope"]);
    let err = String::from_utf8_lossy(&dist.stderr);
    let known = err
        .split("known plugins: ")
        .nth(1)
        .unwrap_or_default()
        .trim();
    let mut known: Vec<&str> = known.split(", ").collect();
    known.sort_unstable();
    assert_eq!(
        known,
        ["aws", "jwt", "ldap", "sample", "sample2"],
        "{}",
        show("dist", &dist)
    );

    // The release binaries the tests mount, then the tests.
    let packages = [
        "-p",
        "vault-plugin-secrets-sample",
        "-p",
        "vault-plugin-auth-sample2",
    ];
    let mut build = vec!["build", "--release"];
    build.extend(packages);
    let built = cargo_in(root, &build);
    assert!(
        built.status.success(),
        "{}",
        show("cargo build --release", &built)
    );
    let mut test = vec!["test"];
    test.extend(packages);
    let tested = cargo_in(root, &test);
    let report = show("cargo test", &tested);
    assert!(tested.status.success(), "{report}");
    // Two tests per scaffold ran, through OpenBao.
    assert_eq!(
        report.matches("test result: ok. 2 passed").count(),
        2,
        "{report}"
    );
}
