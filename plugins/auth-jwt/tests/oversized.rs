//! Oversized and hostile input through OpenBao: a 10 MB token, a
//! 100,000-entry list, JSON nested past the decoders' limits. Each is a 400;
//! the plugin process survives them without lasting memory growth, and what
//! was stored stays as it was.

mod common;

use common::{PLUGIN, VERSION, claims, login, openbao};
use serde_json::{Value, json};
use vault_plugin_test_support::jwt::{Alg, SigningKey};
use vault_plugin_test_support::process;

/// What the allocator may add after the warm-up rounds. glibc keeps the
/// memory large requests used and reuses it (its mmap threshold rises after
/// large frees), but each worker thread's arena keeps its own, so RSS levels
/// off in steps of a request's peak (about 22 MiB seen here). Ten 10 MB
/// tokens kept, as a leak would keep them, is over 100 MiB.
const MAX_GROWTH_KIB: u64 = 64 * 1024;

#[test]
fn oversized_input_is_a_400_and_leaves_nothing_behind() {
    // Building and sending JSON 1,000 levels deep recurses that deep here
    // too: more than a test thread's stack.
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(oversized_input)
        .expect("spawn")
        .join()
        .expect("the checks pass");
}

fn oversized_input() {
    let bao = openbao(false);
    let key = SigningKey::generate(Alg::RS256, "big");
    bao.write(
        "auth/ours/config",
        json!({"jwt_validation_pubkeys": [key.public_pem()]}),
    )
    .ok();
    let role = json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": ["app"]});
    bao.write("auth/ours/role/r", role).ok();
    let token = key.sign(&claims(json!({"sub": "s", "aud": "app"})));
    login(&bao, "ours", "r", &token).ok();
    let stored = bao.read("auth/ours/role/r").ok().body["data"].clone();

    let command = format!("{PLUGIN}-{VERSION}");
    let pids = bao.plugin_pids(&command);
    assert_eq!(pids.len(), 1, "{pids:?}");
    let huge = format!("eyJ{}.e30.c2ln", "A".repeat(10 << 20));
    let refuse_huge = || {
        let refused = login(&bao, "ours", "r", &huge);
        assert_eq!(refused.status, 400, "{}", refused.errors());
        assert!(
            refused.errors().contains("malformed token"),
            "{}",
            refused.errors()
        );
    };
    for _ in 0..4 {
        refuse_huge();
    }
    let rss_before = process::rss_kib(pids[0]).expect("plugin RSS");
    for _ in 0..10 {
        refuse_huge();
    }

    // OpenBao refuses it before the plugin sees it (at most 1,000 strings
    // per request body by default, `max_request_json_strings`); a host that
    // lets it through meets the SDK's limit of 10,000 entries per list.
    let many: Vec<String> = (0..100_000).map(|i| format!("aud-{i}")).collect();
    let refused = bao.write(
        "auth/ours/role/r",
        json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": many}),
    );
    assert_eq!(refused.status, 400, "{}", refused.body);

    for depth in [200, 1_000] {
        let mut deep = json!([]);
        for _ in 0..depth {
            deep = Value::Array(vec![deep]);
        }
        let refused = bao.write("auth/ours/role/r", json!({ "claim_mappings": deep }));
        assert_eq!(refused.status, 400, "depth {depth}: {}", refused.body);
    }

    assert_eq!(
        bao.plugin_pids(&command),
        pids,
        "the same process serves on"
    );
    let rss_after = process::rss_kib(pids[0]).expect("plugin RSS");
    assert!(
        rss_after <= rss_before + MAX_GROWTH_KIB,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
    assert_eq!(bao.read("auth/ours/role/r").ok().body["data"], stored);
    login(&bao, "ours", "r", &token).ok();
}
