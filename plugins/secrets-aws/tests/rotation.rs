//! Key rotation through OpenBao against moto: `config/rotate-root`, and
//! static roles whose keys the periodic function rotates.

mod common;

use std::time::{Duration, Instant};

use common::{bad_request, configured, mounted, root_config};
use serde_json::json;

#[test]
fn rotate_root_leaves_exactly_one_key_the_engine_then_uses() {
    let (moto, bao) = mounted();
    let (old_id, old_secret) = moto.create_user_with_key("vault-root");
    let mut config = root_config(moto.endpoint());
    config["access_key"] = json!(old_id);
    config["secret_key"] = json!(old_secret);
    bao.write("aws/config/root", config).ok();

    let resp = bao.write("aws/config/rotate-root", json!({})).ok();
    let new_id = resp.body["data"]["access_key"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_ne!(new_id, old_id);
    assert_eq!(
        moto.access_keys("vault-root"),
        std::slice::from_ref(&new_id)
    );
    assert!(!resp.body.to_string().contains(&old_secret));
    let data = bao.read("aws/config/root").ok().body["data"].clone();
    assert_eq!(data["access_key"], new_id);

    // The engine's new client is the new key's user: a second rotation finds it.
    let again = bao.write("aws/config/rotate-root", json!({})).ok();
    let newer = again.body["data"]["access_key"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(moto.access_keys("vault-root"), [newer]);
}

#[test]
fn rotate_root_without_static_keys_is_refused() {
    let (moto, bao) = mounted();
    let mut config = root_config(moto.endpoint());
    config["access_key"] = json!("");
    config["secret_key"] = json!("");
    bao.write("aws/config/root", config).ok();
    let err = bad_request(bao.write("aws/config/rotate-root", json!({})));
    assert!(err.contains("access_key or secret_key is empty"), "{err}");
}

#[test]
fn static_creds_serve_the_current_key_and_rotate_when_due() {
    let (moto, bao) = configured();
    moto.iam("CreateUser", &[("UserName", "app")]);
    let err = bad_request(bao.write(
        "aws/static-roles/ghost",
        json!({"username": "nobody", "rotation_period": "1h"}),
    ));
    assert!(err.contains("unable to validate username"), "{err}");

    let role = bao
        .write(
            "aws/static-roles/app",
            json!({"username": "app", "rotation_period": "2s"}),
        )
        .ok();
    assert_eq!(role.body["data"]["rotation_period"], 2);
    assert_eq!(
        bao.list("aws/static-roles").ok().body["data"]["keys"],
        json!(["app"])
    );
    let first = bao.read("aws/static-creds/app").ok().body["data"].clone();
    let first_id = first["access_key"].as_str().unwrap_or_default().to_string();
    assert_eq!(moto.access_keys("app"), std::slice::from_ref(&first_id));
    assert_eq!(
        bao.read("aws/static-creds/app").ok().body["data"]["access_key"],
        first_id,
        "reads return the same key until it rotates"
    );

    // The host's periodic tick comes every 60 s.
    let deadline = Instant::now() + Duration::from_secs(150);
    let rotated = loop {
        let now = bao.read("aws/static-creds/app").ok().body["data"]["access_key"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if now != first_id {
            break now;
        }
        assert!(Instant::now() < deadline, "the key never rotated");
        std::thread::sleep(Duration::from_secs(2));
    };
    let keys = moto.access_keys("app");
    assert!(keys.contains(&rotated), "{keys:?}");
    assert!(keys.len() <= 2, "{keys:?}");

    bao.delete("aws/static-roles/app").ok();
    assert_eq!(bao.read("aws/static-creds/app").status, 404);
    assert!(!moto.access_keys("app").contains(&rotated));
}
