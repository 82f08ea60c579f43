//! Oversized and hostile input through OpenBao: a 10 MB token, a
//! 100,000-entry list, JSON nested past the decoders' limits. Each is a 400;
//! the plugin process survives them without lasting memory growth, and what
//! was stored stays as it was.

mod common;

use common::{PLUGIN, VERSION, claims, login, openbao};
use serde_json::json;
use vault_plugin_test_support::hostile::{self, RssBaseline};
use vault_plugin_test_support::jwt::{Alg, SigningKey};

#[test]
fn oversized_input_is_a_400_and_leaves_nothing_behind() {
    hostile::on_big_stack(oversized_input);
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
    let rss = RssBaseline::of(pids[0]);
    for _ in 0..10 {
        refuse_huge();
    }

    // OpenBao refuses it before the plugin sees it (at most 1,000 strings
    // per request body by default, `max_request_json_strings`); a host that
    // lets it through meets the SDK's limit of 10,000 entries per list.
    let many = hostile::numbered("aud", 100_000);
    let refused = bao.write(
        "auth/ours/role/r",
        json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": many}),
    );
    assert_eq!(refused.status, 400, "{}", refused.body);

    for depth in [200, 1_000] {
        let deep = hostile::nested_arrays(depth);
        let refused = bao.write("auth/ours/role/r", json!({ "claim_mappings": deep }));
        assert_eq!(refused.status, 400, "depth {depth}: {}", refused.body);
    }

    assert_eq!(
        bao.plugin_pids(&command),
        pids,
        "the same process serves on"
    );
    rss.assert_no_lasting_growth();
    assert_eq!(bao.read("auth/ours/role/r").ok().body["data"], stored);
    login(&bao, "ours", "r", &token).ok();
}
