//! The plugin process SIGKILLed while logins pour in: only the requests in
//! flight at that moment fail, OpenBao relaunches the plugin, and nothing
//! stored is lost.
//!
//! OpenBao learns of the death from a failing call, so "in flight" means
//! the requests on the dying connection plus those that reach it before
//! OpenBao redials (0 to a few dozen, all within milliseconds): every request
//! sent once that moment has passed is served.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{PLUGIN, VERSION, claims, login, openbao};
use serde_json::json;
use vault_plugin_test_support::jwt::{Alg, SigningKey};
use vault_plugin_test_support::process;

const WORKERS: usize = 8;
/// How soon after the kill OpenBao has noticed it and redialled.
const SETTLE: Duration = Duration::from_millis(500);

#[test]
fn a_plugin_killed_under_load_fails_only_the_requests_in_flight() {
    let bao = openbao(false);
    let key = SigningKey::generate(Alg::RS256, "k1");
    bao.write(
        "auth/ours/config",
        json!({"jwt_validation_pubkeys": [key.public_pem()], "bound_issuer": "https://load.test"}),
    )
    .ok();
    bao.write(
        "auth/ours/role/svc",
        json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": ["svc"], "token_policies": ["load"]}),
    )
    .ok();
    let config_before = bao.read("auth/ours/config").ok().body["data"].clone();
    let role_before = bao.read("auth/ours/role/svc").ok().body["data"].clone();
    let command = format!("{PLUGIN}-{VERSION}");
    let pids = bao.plugin_pids(&command);
    assert_eq!(pids.len(), 1, "{pids:?}");

    let stop = AtomicBool::new(false);
    let token = key.sign(&claims(
        json!({"iss": "https://load.test", "aud": "svc", "sub": "worker"}),
    ));
    let (killed_at, results) = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| {
                scope.spawn(|| {
                    let mut results: Vec<(Instant, Instant, u16, String)> = Vec::new();
                    while !stop.load(Ordering::SeqCst) {
                        let sent = Instant::now();
                        let resp = login(&bao, "ours", "svc", &token);
                        results.push((sent, Instant::now(), resp.status, resp.errors()));
                    }
                    results
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs(2));
        let killed_at = Instant::now();
        process::kill(pids[0]);
        std::thread::sleep(Duration::from_secs(3));
        stop.store(true, Ordering::SeqCst);
        let results: Vec<_> = workers
            .into_iter()
            .map(|w| w.join().expect("worker"))
            .collect();
        (killed_at, results)
    });

    let failed: Vec<_> = results.iter().flatten().filter(|r| r.2 != 200).collect();
    let all = results.iter().flatten();
    let before = all.clone().filter(|r| r.1 < killed_at).count();
    let after = all
        .clone()
        .filter(|r| r.0 > killed_at && r.2 == 200)
        .count();
    eprintln!(
        "{} logins, {before} answered before the kill, {after} served after it, {} failed: {:?}",
        all.count(),
        failed.len(),
        failed
            .iter()
            .map(|r| (r.0.saturating_duration_since(killed_at), r.2))
            .collect::<Vec<_>>()
    );
    assert!(
        before > 0 && after > 0,
        "load ran on both sides of the kill"
    );
    for (sent, _, status, errors) in &failed {
        assert!(
            *sent < killed_at + SETTLE,
            "a request failed long after the kill: {status} {errors}"
        );
        assert_eq!(*status, 500, "{errors}");
    }

    let relaunched = bao.plugin_pids(&command);
    assert_eq!(relaunched.len(), 1, "{relaunched:?}");
    assert_ne!(relaunched[0], pids[0]);
    assert_eq!(
        bao.read("auth/ours/config").ok().body["data"],
        config_before
    );
    assert_eq!(
        bao.read("auth/ours/role/svc").ok().body["data"],
        role_before
    );
}
