//! `cargo xtask dev` as a newcomer uses it: every plugin mounted in a local
//! OpenBao, every command it prints works against it as printed, and
//! Ctrl-C stops the server and the stand-ins it started.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use vault_plugin_test_support::openbao::bao_binary;
use vault_plugin_test_support::process;

/// A release build of all plugins may come first on a cold cache.
const READY_WITHIN: Duration = Duration::from_secs(20 * 60);

#[test]
fn every_printed_command_works_and_ctrl_c_stops_everything() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("dev")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run xtask dev");
    let stdout = child.stdout.take().expect("stdout");
    let (lines, seen) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    loop {
        let line = seen
            .recv_timeout(READY_WITHIN)
            .unwrap_or_else(|e| panic!("xtask dev never said it was ready ({e}): {printed:#?}"));
        let done = line.starts_with("Ctrl-C stops everything");
        printed.push(line);
        if done {
            break;
        }
    }
    let ready = printed
        .iter()
        .find_map(|l| l.strip_prefix("xtask: dev ready at "))
        .unwrap_or_else(|| panic!("no ready line: {printed:#?}"));
    let addr = ready.split_whitespace().next().expect("address");
    assert!(ready.contains("jwt, ldap, aws"), "{ready}");
    let tries: Vec<&str> = printed
        .iter()
        .skip_while(|l| *l != "Try:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| l.trim())
        .collect();
    assert!(tries.len() >= 6, "{printed:#?}");

    let bao = bao_binary();
    let mut logins = 0;
    for command in &tries {
        let words: Vec<&str> = command.split_whitespace().collect();
        assert_eq!(words[0], "bao", "{command}");
        let out = Command::new(&bao)
            .args(&words[1..])
            .env("BAO_ADDR", addr)
            .env("BAO_TOKEN", "root")
            .output()
            .expect("run bao");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{command}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if command.contains("/login") {
            assert!(text.contains("token_policies"), "{command}: {text}");
            logins += 1;
        }
        if command.contains("/creds/") {
            assert!(text.contains("access_key"), "{command}: {text}");
        }
    }
    assert!(logins >= 3, "a login to try for jwt and ldap: {tries:#?}");

    let started = process::children_of(child.id());
    assert!(
        !started.is_empty(),
        "OpenBao and the stand-ins run under dev"
    );
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(sent.success());
    let status = process::wait_for(Duration::from_secs(30), || child.try_wait().ok().flatten())
        .expect("dev exits after Ctrl-C");
    assert!(status.success(), "{status}");
    for pid in started {
        assert!(
            process::wait_for(Duration::from_secs(5), || (!process::alive(pid))
                .then_some(()))
            .is_some(),
            "process {pid} outlived dev"
        );
    }
}
