//! `cargo xtask dist` as a release manager and an operator use it: build,
//! check the artifacts, register them in a real OpenBao with the generated
//! `register.sh`, mount them, and upgrade a mount with no failed request.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vault_plugin_test_support::jwt::{Alg, SigningKey, now};
use vault_plugin_test_support::openbao::{OpenBao, bao_binary, sha256_file};

/// The dist builds share target/dist-build: one at a time, so a build of
/// another version cannot replace a binary between its build and its copy.
static BUILD: Mutex<()> = Mutex::new(());

fn xtask(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("run xtask");
    eprintln!(
        "xtask {args:?}:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Runs `xtask dist` with `args` into a new temp dir; returns it.
fn dist(args: &[&str]) -> tempfile::TempDir {
    let out = tempfile::Builder::new()
        .prefix("xtask-dist")
        .tempdir()
        .expect("temp dir");
    let out_arg = out.path().to_str().expect("utf-8 temp path").to_string();
    let mut all = vec!["dist", "--out", &out_arg];
    all.extend_from_slice(args);
    let started = Instant::now();
    let output = {
        let _one_build = BUILD.lock().unwrap_or_else(|e| e.into_inner());
        xtask(&all)
    };
    eprintln!("dist {args:?} took {:?}", started.elapsed());
    assert!(output.status.success(), "xtask dist {args:?} failed");
    out
}

fn manifest(out: &Path) -> Value {
    let text = std::fs::read_to_string(out.join("manifest.json")).expect("manifest.json");
    serde_json::from_str(&text).expect("manifest.json is JSON")
}

fn plugin<'a>(manifest: &'a Value, name: &str) -> &'a Value {
    manifest["plugins"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("{name} in {manifest:#}"))
}

/// Copies the release's binaries into the server's plugin directory (as an
/// operator does) and runs `register.sh bao` against it.
fn install(bao: &OpenBao, out: &Path) {
    for p in manifest(out)["plugins"].as_array().expect("plugins") {
        let command = p["command"].as_str().expect("command");
        std::fs::copy(out.join(command), bao.plugin_dir().join(command)).expect("copy binary");
    }
    let bao_bin = bao_binary();
    let bin_dir = bao_bin.parent().expect("bao's directory");
    let path = std::env::join_paths(std::iter::once(PathBuf::from(bin_dir)).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .expect("PATH");
    let run = Command::new(out.join("register.sh"))
        .arg("bao")
        .env("PATH", path)
        .env("BAO_ADDR", bao.addr())
        .env("BAO_TOKEN", bao.root_token())
        .output()
        .expect("run register.sh");
    assert!(
        run.status.success(),
        "register.sh bao: {}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn help_and_unknown_plugins() {
    let help = xtask(&["dist", "--help"]);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--plugins jwt,ldap,aws"));

    let unknown = xtask(&["dist", "--plugins", "jwt,kerberos"]);
    assert!(!unknown.status.success());
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        err.contains("\"kerberos\"") && err.contains("jwt, ldap, aws"),
        "{err}"
    );
}

/// The dist output, registered by `register.sh` in a real OpenBao by SHA-256
/// and version, mounts; the checksums and the manifest describe the files.
#[test]
#[ignore = "long: a clean release build of two plugins (~5 min); run with `cargo test -p xtask -- --ignored`"]
fn the_release_registers_and_mounts_in_openbao() {
    let out = dist(&["--plugins", "jwt,ldap"]);
    let out = out.path();
    let manifest = manifest(out);
    let version = manifest["version"].as_str().expect("version").to_string();
    assert_eq!(manifest["plugins"].as_array().map(Vec::len), Some(2));

    let sums = std::fs::read_to_string(out.join("SHA256SUMS")).expect("SHA256SUMS");
    assert_eq!(sums.lines().count(), 4, "{sums}");
    for line in sums.lines() {
        let (sha, file) = line.split_once("  ").expect("`<sha>  <file>`");
        assert_eq!(sha256_file(&out.join(file)), sha, "{file}");
    }
    for p in manifest["plugins"].as_array().expect("plugins") {
        let command = p["command"].as_str().expect("command");
        // The version registered is the one the binary reports.
        let reported = Command::new(out.join(command))
            .arg("--version")
            .output()
            .expect("--version");
        let reported = String::from_utf8_lossy(&reported.stdout);
        assert!(
            reported.trim().ends_with(&format!(" {version}")),
            "{reported}"
        );
        assert_eq!(p["version"].as_str(), Some(version.as_str()));
        assert_eq!(
            p["sha256"].as_str(),
            Some(sha256_file(&out.join(command)).as_str())
        );
        let archive = p["archive"]["name"].as_str().expect("archive");
        let listing = Command::new("tar")
            .arg("-tzf")
            .arg(out.join(archive))
            .output()
            .expect("tar");
        assert!(String::from_utf8_lossy(&listing.stdout).contains(command));
        for field in ["rustc", "git_commit", "target"] {
            assert!(manifest[field].as_str().is_some_and(|s| !s.is_empty()));
        }
    }

    let bao = OpenBao::start();
    install(&bao, out);
    for (name, mount) in [("jwt-rs", "jwt"), ("ldap-rs", "ldap")] {
        let entry = plugin(&manifest, name);
        let registered = bao
            .read(&format!(
                "sys/plugins/catalog/auth/{name}?version={version}"
            ))
            .ok();
        assert_eq!(registered.body["data"]["sha256"], entry["sha256"]);
        bao.enable_auth(mount, name, &version).ok();
        let mounted = bao.read(&format!("sys/auth/{mount}")).ok();
        assert_eq!(mounted.body["data"]["running_plugin_version"], version);
        let sha = mounted.body["data"]["running_sha256"].clone();
        assert_eq!(sha, entry["sha256"]);
    }
    // The plugins answer through the mounts (help comes from the plugin).
    for mount in ["jwt", "ldap"] {
        let help = bao.read(&format!("auth/{mount}/config?help=1")).ok();
        assert!(help.body["help"].is_string(), "{}", help.body);
    }
}

/// The CI proof of reproducibility, for the JWT plugin only: all three
/// would double CI's longest build. `cargo xtask dist --check-reproducible`
/// checks them all.
#[test]
#[ignore = "long: two clean release builds (~8 min); run with `cargo test -p xtask -- --ignored`"]
fn two_clean_builds_are_byte_identical() {
    let out = dist(&["--plugins", "jwt", "--check-reproducible"]);
    let manifest = manifest(out.path());
    assert!(plugin(&manifest, "jwt-rs")["sha256"].is_string());
}

/// Zero-downtime upgrade as operators do it: two versions registered side
/// by side, a mount pinned to the old one, `auth tune -plugin-version=<new>`
/// and `plugin reload`, while logins keep flowing; none fails, and the
/// mount reports the new running version.
#[test]
#[ignore = "long: two release builds of a plugin (~3 min); run with `cargo test -p xtask -- --ignored`"]
fn a_mount_upgrades_with_no_failed_request() {
    let old = dist(&["--plugins", "jwt"]);
    let old_version = manifest(old.path())["version"]
        .as_str()
        .expect("version")
        .to_string();
    // The next patch version: what an operator upgrades to.
    let parts: Vec<u64> = old_version
        .trim_start_matches('v')
        .split(['.', '-', '+'])
        .take(3)
        .map(|p| p.parse().expect("numeric version"))
        .collect();
    let new_version = format!("v{}.{}.{}", parts[0], parts[1], parts[2] + 1);
    let new = dist(&["--plugins", "jwt", "--version", &new_version]);

    let bao = OpenBao::start();
    install(&bao, old.path());
    install(&bao, new.path());
    // Pinned through `config.plugin_version`, as `auth enable -plugin-version`
    // sends it: OpenBao 2.7.2 ignores a top-level `plugin_version` and then
    // picks the newest registered version.
    bao.request(
        "POST",
        "sys/auth/jwt",
        Some(json!({"type": "jwt-rs", "config": {"plugin_version": old_version}})),
    )
    .ok();
    let key = SigningKey::generate(Alg::RS256, "k1");
    bao.write(
        "auth/jwt/config",
        json!({"jwt_validation_pubkeys": [key.public_pem()]}),
    )
    .ok();
    bao.write(
        "auth/jwt/role/app",
        json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": ["vault"]}),
    )
    .ok();
    let running = |bao: &OpenBao| {
        bao.read("sys/auth/jwt").ok().body["data"]["running_plugin_version"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(running(&bao), old_version);

    let bao = Arc::new(bao);
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..2)
        .map(|i| {
            let (bao, stop, ok, failures) =
                (bao.clone(), stop.clone(), ok.clone(), failures.clone());
            let key = key.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let claims = json!({"sub": format!("user{i}"), "aud": "vault",
                        "iat": now(), "nbf": now() - 5, "exp": now() + 300});
                    let resp = bao.write(
                        "auth/jwt/login",
                        json!({"role": "app", "jwt": key.sign(&claims)}),
                    );
                    if resp.status == 200 && resp.body["auth"]["client_token"].is_string() {
                        ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failures
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(format!("{}: {}", resp.status, resp.body));
                    }
                }
            })
        })
        .collect();

    let wait_for_logins = |n: usize| {
        let target = ok.load(Ordering::Relaxed) + n;
        let deadline = Instant::now() + Duration::from_secs(30);
        while ok.load(Ordering::Relaxed) < target && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for_logins(20);
    bao.write("sys/auth/jwt/tune", json!({"plugin_version": new_version}))
        .ok();
    let before_reload = ok.load(Ordering::Relaxed);
    bao.write(
        "sys/plugins/reload/backend",
        json!({"plugin": "jwt-rs", "scope": ""}),
    )
    .ok();
    wait_for_logins(50);
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("client thread");
    }

    let failures = failures.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let logins = ok.load(Ordering::Relaxed);
    eprintln!(
        "{logins} logins ({before_reload} before the reload), {} failed",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "failed during the upgrade: {failures:#?}"
    );
    assert!(
        logins > before_reload + 40,
        "logins kept flowing after the reload"
    );
    assert_eq!(running(&bao), new_version);
    let mounted = bao.read("sys/auth/jwt").ok();
    assert_eq!(
        mounted.body["data"]["running_sha256"],
        plugin(&manifest(new.path()), "jwt-rs")["sha256"]
    );
    // Only the new binary runs now.
    let old_command = format!("vault-plugin-auth-jwt-{old_version}");
    let gone = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        bao.plugin_pids(&old_command).is_empty()
    });
    assert!(gone, "the old version's process exited");
}
