//! Logins through OpenBao against a real Active Directory (a Samba DC),
//! configured the ways AD operators configure Vault's LDAP auth method:
//! binds as `user@domain`, nested groups through AD's in-chain matching
//! rule, the `tokenGroups` attribute, sAMAccountName logins and LDAPS.
//!
//! The machine has one DC at a time (its ports are fixed, so tests queue
//! for it), hence each test starts it once and checks several things.

mod common;

use common::{login, metadata, openbao, policies};
use serde_json::{Value, json};
use vault_plugin_test_support::openbao::{ApiResponse, OpenBao};
use vault_plugin_test_support::samba_ad::{self, SambaAd};

/// Groups having the user as a member directly or through other groups:
/// `1.2.840.113556.1.4.1941` is AD's LDAP_MATCHING_RULE_IN_CHAIN.
const IN_CHAIN_GROUP_FILTER: &str =
    "(&(objectClass=group)(member:1.2.840.113556.1.4.1941:={{.UserDN}}))";

/// What every failed password check answers, so that a login cannot tell an
/// unknown user from a wrong password.
const BIND_FAILED: &str = "ldap operation failed: failed to bind as user";

/// No service account: the user binds as `<username>@`[`samba_ad::UPN_DOMAIN`]
/// and then searches for their own entry and groups.
fn upn_config(url: &str) -> Value {
    json!({
        "url": url,
        "upndomain": samba_ad::UPN_DOMAIN,
        "userdn": samba_ad::BASE_DN,
        "groupdn": samba_ad::BASE_DN,
        "groupfilter": IN_CHAIN_GROUP_FILTER,
        "groupattr": "cn",
        "request_timeout": 5,
        "connection_timeout": 5,
    })
}

/// The Administrator searches for users by sAMAccountName.
fn service_config(dc: &SambaAd) -> Value {
    json!({
        "url": dc.url(),
        "binddn": samba_ad::ADMIN_BIND_DN,
        "bindpass": samba_ad::ADMIN_PASSWORD,
        "userdn": samba_ad::USERS_DN,
        "userattr": "samaccountname",
        "groupdn": samba_ad::BASE_DN,
        "groupfilter": IN_CHAIN_GROUP_FILTER,
        "groupattr": "cn",
        "request_timeout": 5,
        "connection_timeout": 5,
    })
}

fn assert_bind_failed(resp: &ApiResponse, what: &str) {
    assert_eq!(resp.status, 400, "{what}: {}", resp.body);
    assert_eq!(resp.errors(), BIND_FAILED, "{what}");
}

fn warnings(resp: &ApiResponse) -> String {
    resp.body["warnings"].to_string()
}

fn entity_id(resp: &ApiResponse) -> String {
    let id = resp.body["auth"]["entity_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!id.is_empty(), "the login made no entity: {}", resp.body);
    id
}

/// The names of the aliases of the entity a login's token belongs to: what
/// OpenBao's identity store made of the plugin's alias.
fn entity_alias_names(bao: &OpenBao, resp: &ApiResponse) -> Vec<String> {
    let entity = bao
        .read(&format!("identity/entity/id/{}", entity_id(resp)))
        .ok();
    entity.body["data"]["aliases"]
        .as_array()
        .map(|aliases| {
            aliases
                .iter()
                .filter_map(|a| a["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// An external identity group whose alias on the `ldap` mount is
/// `ldap_group`, as an operator makes to grant policies to an AD group
/// through identity; returns its id.
fn external_group(bao: &OpenBao, name: &str, ldap_group: &str) -> String {
    let mounts = bao.read("sys/auth").ok();
    let accessor = mounts.body["data"]["ldap/"]["accessor"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!accessor.is_empty(), "no ldap mount: {}", mounts.body);
    let group = bao
        .write("identity/group", json!({"name": name, "type": "external"}))
        .ok();
    let id = group.body["data"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    bao.write(
        "identity/group-alias",
        json!({"name": ldap_group, "mount_accessor": accessor, "canonical_id": id}),
    )
    .ok();
    id
}

fn group_members(bao: &OpenBao, group_id: &str) -> Vec<String> {
    bao.read(&format!("identity/group/id/{group_id}")).ok().body["data"]["member_entity_ids"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn upn_binds_find_nested_groups_through_the_in_chain_rule() {
    let bao = openbao();
    let dc = SambaAd::start();
    bao.write("auth/ldap/config", upn_config(&dc.url())).ok();
    bao.write("auth/ldap/groups/engineering", json!({"policies": "eng"}))
        .ok();
    bao.write("auth/ldap/groups/devs", json!({"policies": "dev"}))
        .ok();
    bao.write("auth/ldap/groups/ops", json!({"policies": "ops"}))
        .ok();

    // alice is in devs only; engineering comes through devs' membership.
    let alice = login(&bao, "alice", samba_ad::ALICE_PASSWORD).ok();
    assert_eq!(policies(&alice), ["default", "dev", "eng"]);
    assert_eq!(metadata(&alice, "username"), "alice");
    assert!(alice.body["warnings"].is_null(), "{}", alice.body);
    // Without a service account the alias is the name she bound as.
    assert_eq!(
        entity_alias_names(&bao, &alice),
        [format!("alice@{}", samba_ad::UPN_DOMAIN)]
    );

    let bob = login(&bao, "bob", samba_ad::BOB_PASSWORD).ok();
    assert_eq!(policies(&bob), ["default", "ops"]);

    // eve's only group is her primary group, Domain Users, which AD keeps in
    // primaryGroupID rather than in the group's member attribute.
    let eve = login(&bao, "eve", samba_ad::EVE_PASSWORD).ok();
    assert_eq!(policies(&eve), ["default"]);
    assert!(
        warnings(&eve).contains("no LDAP groups found"),
        "{}",
        eve.body
    );

    // Case and surrounding spaces (percent-encoded in the path) do not make
    // another user.
    let shouted = login(&bao, "%20ALICE%20", samba_ad::ALICE_PASSWORD).ok();
    assert_eq!(policies(&shouted), ["default", "dev", "eng"]);
    assert_eq!(entity_id(&shouted), entity_id(&alice));

    for (user, password) in [
        ("alice", "wrong"),
        ("alice", samba_ad::BOB_PASSWORD),
        ("nobody", samba_ad::ALICE_PASSWORD),
        // The bind name is built from the username: a filter wildcard or
        // another domain in it must not reach alice's account.
        ("*", samba_ad::ALICE_PASSWORD),
        ("al*", samba_ad::ALICE_PASSWORD),
        ("alice@samdom.example.test", samba_ad::ALICE_PASSWORD),
    ] {
        assert_bind_failed(&login(&bao, user, password), &format!("{user}/{password}"));
    }
}

#[test]
fn a_service_account_finds_users_by_samaccountname_and_groups_by_token_groups() {
    let bao = openbao();
    let dc = SambaAd::start();
    let mut config = service_config(&dc);
    config["use_token_groups"] = json!(true);
    bao.write("auth/ldap/config", config).ok();
    for (group, policy) in [
        ("engineering", "eng"),
        ("devs", "dev"),
        ("ops", "ops"),
        // AD's built-in primary group of every user, which tokenGroups lists
        // but no group's member attribute does.
        ("Domain%20Users", "everyone"),
    ] {
        bao.write(
            &format!("auth/ldap/groups/{group}"),
            json!({"policies": policy}),
        )
        .ok();
    }
    let engineering = external_group(&bao, "engineering-ext", "engineering");

    // tokenGroups is transitive: engineering without searching for it.
    let alice = login(&bao, "alice", samba_ad::ALICE_PASSWORD).ok();
    assert_eq!(policies(&alice), ["default", "dev", "eng", "everyone"]);
    assert_eq!(entity_alias_names(&bao, &alice), ["alice"]);
    // The AD group reached through nesting puts her in the identity group.
    assert_eq!(group_members(&bao, &engineering), [entity_id(&alice)]);

    let bob = login(&bao, "bob", samba_ad::BOB_PASSWORD).ok();
    assert_eq!(policies(&bob), ["default", "everyone", "ops"]);
    assert_eq!(entity_alias_names(&bao, &bob), ["bob"]);
    assert_eq!(group_members(&bao, &engineering), [entity_id(&alice)]);

    // Unlike the group filter, tokenGroups sees eve's primary group.
    let eve = login(&bao, "eve", samba_ad::EVE_PASSWORD).ok();
    assert_eq!(policies(&eve), ["default", "everyone"]);
    assert!(
        !warnings(&eve).contains("no LDAP groups found"),
        "{}",
        eve.body
    );

    // The user search escapes the username: no wildcard finds alice.
    for user in ["*", "al*", "alice)(samaccountname=*", "*)(|(cn=*"] {
        assert_bind_failed(
            &login(&bao, user, samba_ad::ALICE_PASSWORD),
            &format!("{user:?}"),
        );
    }
    assert_bind_failed(&login(&bao, "alice", "wrong"), "alice, wrong password");

    // A UPN that is not sAMAccountName@domain, as domains renamed or merged
    // have: logins by UPN find her by it; her sAMAccountName needs
    // enable_samaccountname_login.
    dc.samba_tool(&[
        "user",
        "rename",
        "alice",
        &format!("--upn=asmith@{}", samba_ad::UPN_DOMAIN),
    ]);
    bao.write(
        "auth/ldap/config",
        json!({"upndomain": samba_ad::UPN_DOMAIN}),
    )
    .ok();
    let by_upn = login(&bao, "asmith", samba_ad::ALICE_PASSWORD).ok();
    assert_eq!(policies(&by_upn), ["default", "dev", "eng", "everyone"]);
    assert_eq!(metadata(&by_upn, "username"), "asmith");
    // The alias is her sAMAccountName whatever she typed: the same entity.
    assert_eq!(entity_id(&by_upn), entity_id(&alice));
    assert_bind_failed(
        &login(&bao, "alice", samba_ad::ALICE_PASSWORD),
        "sAMAccountName login before it is enabled",
    );

    bao.write(
        "auth/ldap/config",
        json!({"enable_samaccountname_login": true}),
    )
    .ok();
    let by_account = login(&bao, "alice", samba_ad::ALICE_PASSWORD).ok();
    assert_eq!(policies(&by_account), ["default", "dev", "eng", "everyone"]);
    assert_eq!(metadata(&by_account, "username"), "alice");
    assert_eq!(entity_id(&by_account), entity_id(&alice));
    assert_eq!(entity_alias_names(&bao, &by_account), ["alice"]);
    assert_eq!(
        login(&bao, "asmith", samba_ad::ALICE_PASSWORD).status,
        200,
        "the UPN login stopped working"
    );
    // Both filters are escaped: a wildcard matches neither attribute.
    for user in ["*", "al*", "asm*"] {
        assert_bind_failed(
            &login(&bao, user, samba_ad::ALICE_PASSWORD),
            &format!("{user:?} with sAMAccountName logins"),
        );
    }
    assert_bind_failed(
        &login(&bao, "alice", samba_ad::BOB_PASSWORD),
        "alice with bob's password",
    );

    // The same with the in-chain group filter instead of tokenGroups.
    bao.write("auth/ldap/config", json!({"use_token_groups": false}))
        .ok();
    let filtered = login(&bao, "alice", samba_ad::ALICE_PASSWORD).ok();
    assert_eq!(policies(&filtered), ["default", "dev", "eng"]);
}

#[test]
fn ldaps_and_starttls_to_the_dc_need_its_ca() {
    let bao = openbao();
    let dc = SambaAd::start();
    bao.write("auth/ldap/groups/engineering", json!({"policies": "eng"}))
        .ok();
    for (url, starttls) in [(dc.ldaps_url(), false), (dc.url(), true)] {
        let mut config = upn_config(&url);
        config["starttls"] = json!(starttls);
        config["certificate"] = json!("");
        bao.write("auth/ldap/config", config.clone()).ok();
        let refused = login(&bao, "alice", samba_ad::ALICE_PASSWORD);
        assert_eq!(
            refused.status, 400,
            "{url} without the CA: {}",
            refused.body
        );
        // A certificate problem, not blamed on her password.
        let error = refused.errors();
        assert!(!error.contains(BIND_FAILED), "{url}: {error}");
        assert!(
            error.to_lowercase().contains("certificate"),
            "{url} without the CA: {error}"
        );

        config["certificate"] = json!(dc.ca_pem());
        bao.write("auth/ldap/config", config).ok();
        let alice = login(&bao, "alice", samba_ad::ALICE_PASSWORD).ok();
        assert_eq!(policies(&alice), ["default", "eng"], "{url}");
        assert_bind_failed(
            &login(&bao, "alice", "wrong"),
            &format!("{url}, wrong password"),
        );
    }
}
