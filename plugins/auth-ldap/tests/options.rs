//! Config options that change how a login talks to the directory, and
//! renewal re-checking the user, against a real slapd through OpenBao.

mod common;

use common::{login, openbao, policies, service_config};
use serde_json::json;
use vault_plugin_test_support::slapd::{self, Slapd};

fn token_of(resp: &vault_plugin_test_support::openbao::ApiResponse) -> String {
    resp.body["auth"]["client_token"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn renewal_rechecks_the_directory_and_policies() {
    let slapd = Slapd::start();
    let bao = openbao();
    bao.write("auth/ldap/config", service_config(&slapd)).ok();
    bao.write("auth/ldap/groups/devs", json!({"policies": "dev"}))
        .ok();
    let alice = login(&bao, "alice", "alice-pass").ok();
    let token = token_of(&alice);
    let renew =
        |t: &str| bao.request_with_token("POST", "auth/token/renew-self", Some(json!({})), Some(t));
    assert_eq!(renew(&token).status, 200);

    // Her groups now map to other policies: the token is not renewed.
    bao.write("auth/ldap/groups/devs", json!({"policies": "dev,extra"}))
        .ok();
    let refused = renew(&token);
    assert_ne!(refused.status, 200, "{}", refused.body);
    assert!(
        refused.errors().contains("policies have changed"),
        "{}",
        refused.errors()
    );

    // A fresh login picks the new mapping up and renews.
    let again = login(&bao, "alice", "alice-pass").ok();
    assert_eq!(policies(&again), ["default", "dev", "extra"]);
    assert_eq!(renew(&token_of(&again)).status, 200);
}

#[test]
fn discoverdn_anonymous_group_search_and_username_alias() {
    let slapd = Slapd::start();
    let bao = openbao();
    // No service account: the user is found with an anonymous search
    // (slapd lets anonymous read groups, not users: the search fails and
    // the login is refused as a bad bind).
    bao.write(
        "auth/ldap/config",
        json!({
            "url": slapd.url(),
            "discoverdn": true,
            "userdn": slapd::USERS_DN,
            "userattr": "uid",
            "groupdn": slapd::GROUPS_DN,
            "groupfilter": "(member={{.UserDN}})",
        }),
    )
    .ok();
    let resp = login(&bao, "alice", "alice-pass");
    assert_eq!(resp.status, 400, "{}", resp.body);

    // Built bind DN, groups read anonymously, alias = the username.
    bao.write(
        "auth/ldap/config",
        json!({"discoverdn": false, "anonymous_group_search": true, "username_as_alias": true}),
    )
    .ok();
    bao.write("auth/ldap/groups/devs", json!({"policies": "dev"}))
        .ok();
    let alice = login(&bao, "Alice", "alice-pass").ok();
    assert_eq!(policies(&alice), ["default", "dev"]);
    let entity = alice.body["auth"]["entity_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let aliases =
        bao.read(&format!("identity/entity/id/{entity}")).ok().body["data"]["aliases"].clone();
    assert_eq!(aliases[0]["name"], json!("alice"), "{aliases}");
}

#[test]
fn alias_is_the_user_attribute_and_groups_become_group_aliases() {
    let slapd = Slapd::start();
    let bao = openbao();
    let mut config = service_config(&slapd);
    config["userattr"] = json!("uid");
    bao.write("auth/ldap/config", config).ok();
    let carol = login(&bao, "CAROL", "carol-pass").ok();
    let entity = carol.body["auth"]["entity_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let data = bao.read(&format!("identity/entity/id/{entity}")).ok().body["data"].clone();
    assert_eq!(data["aliases"][0]["name"], json!("carol"), "{data}");
    // External groups bound to the LDAP group names pick carol up.
    let accessor = bao.read("sys/auth").ok().body["data"]["ldap/"]["accessor"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let group = bao
        .write(
            "identity/group",
            json!({"name": "admins-ext", "type": "external", "policies": "ext-admin"}),
        )
        .ok();
    let group_id = group.body["data"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    bao.write(
        "identity/group-alias",
        json!({"name": "admins", "mount_accessor": accessor, "canonical_id": group_id}),
    )
    .ok();
    let carol = login(&bao, "carol", "carol-pass").ok();
    let token = token_of(&carol);
    let me = bao
        .request_with_token("GET", "auth/token/lookup-self", None, Some(&token))
        .ok();
    assert!(
        me.body["data"]["identity_policies"]
            .to_string()
            .contains("ext-admin"),
        "{}",
        me.body
    );
}

#[test]
fn case_sensitive_names_and_paged_group_search() {
    let slapd = Slapd::start();
    let bao = openbao();
    let mut config = service_config(&slapd);
    config["case_sensitive_names"] = json!(true);
    config["max_page_size"] = json!(1);
    bao.write("auth/ldap/config", config).ok();
    bao.write("auth/ldap/groups/Devs", json!({"policies": "wrong-case"}))
        .ok();
    bao.write("auth/ldap/groups/devs", json!({"policies": "dev"}))
        .ok();
    bao.write("auth/ldap/groups/admins", json!({"policies": "admin"}))
        .ok();
    assert_eq!(
        bao.list("auth/ldap/groups").ok().body["data"]["keys"],
        json!(["Devs", "admins", "devs"])
    );
    // carol is in two groups, read one page of one entry at a time.
    let carol = login(&bao, "carol", "carol-pass").ok();
    assert_eq!(policies(&carol), ["admin", "default", "dev"]);
}

#[test]
fn null_binds_are_refused_unless_allowed() {
    let slapd = Slapd::start();
    let bao = openbao();
    let mut config = service_config(&slapd);
    config["deny_null_bind"] = json!(false);
    bao.write("auth/ldap/config", config).ok();
    // The operator allowed passwordless binds; slapd still refuses an
    // unauthenticated bind, so the login fails as a bad bind, not a 500.
    let resp = login(&bao, "alice", "");
    assert_eq!(resp.status, 400, "{}", resp.body);
    assert_eq!(
        resp.errors(),
        "ldap operation failed: failed to bind as user"
    );
}
