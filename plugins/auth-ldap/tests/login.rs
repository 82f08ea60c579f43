//! Logins through OpenBao against a real slapd: the user search and bind,
//! group mappings, user mappings, TLS, failover and bad input.

mod common;

use common::{login, openbao, policies, service_config};
use serde_json::json;
use vault_plugin_test_support::slapd::{self, Slapd, dead_url};

#[test]
fn config_round_trip_never_returns_secrets() {
    let slapd = Slapd::start();
    let bao = openbao();
    let mut config = service_config(&slapd);
    config["client_tls_cert"] = json!(slapd.client_cert_pem());
    config["client_tls_key"] = json!(slapd.client_key_pem());
    config["token_policies"] = json!("base");
    bao.write("auth/ldap/config", config).ok();
    let read = bao.read("auth/ldap/config").ok();
    let data = &read.body["data"];
    assert_eq!(data["url"], json!(slapd.url()));
    assert_eq!(data["binddn"], json!(slapd::BIND_DN));
    assert_eq!(data["userattr"], json!("uid"));
    assert_eq!(data["deny_null_bind"], json!(true));
    assert_eq!(data["case_sensitive_names"], json!(false));
    assert_eq!(data["tls_min_version"], json!("tls12"));
    assert_eq!(data["request_timeout"], json!(3));
    assert_eq!(data["token_policies"], json!(["base"]));
    let text = read.body.to_string();
    assert!(
        !text.contains(slapd::BIND_PASSWORD),
        "bindpass leaked: {text}"
    );
    assert!(!text.contains("PRIVATE KEY"), "client key leaked");
    assert!(data.get("bindpass").is_none() && data.get("client_tls_key").is_none());

    // A partial update keeps what it does not name.
    bao.write("auth/ldap/config", json!({"userattr": "UID"}))
        .ok();
    let data = bao.read("auth/ldap/config").ok().body["data"].clone();
    assert_eq!(data["userattr"], json!("uid"));
    assert_eq!(data["binddn"], json!(slapd::BIND_DN));
}

#[test]
fn bad_config_is_refused_and_keeps_the_stored_one() {
    let slapd = Slapd::start();
    let bao = openbao();
    bao.write("auth/ldap/config", service_config(&slapd)).ok();
    let cases = [
        (
            json!({"certificate": "not a pem"}),
            "failed to parse server tls cert",
        ),
        (
            json!({"userfilter": "({{.UserAttr}}={{.Username}"}),
            "invalid userfilter",
        ),
        (json!({"groupfilter": "{{.Nope}}"}), "invalid groupfilter"),
        (
            json!({"tls_min_version": "tls99"}),
            "invalid 'tls_min_version'",
        ),
        (
            json!({"tls_min_version": "tls13", "tls_max_version": "tls12"}),
            "'tls_max_version' must be greater than or equal to 'tls_min_version'",
        ),
        (
            json!({"client_tls_cert": slapd.client_cert_pem()}),
            "both client_tls_cert and client_tls_key must be set",
        ),
        (json!({"request_timeout": "banana"}), "request_timeout"),
    ];
    for (body, want) in cases {
        let resp = bao.write("auth/ldap/config", body.clone());
        assert_eq!(resp.status, 400, "{body}: {}", resp.body);
        assert!(resp.errors().contains(want), "{body}: {}", resp.errors());
    }
    assert_eq!(
        login(&bao, "alice", "alice-pass").status,
        200,
        "stored config was lost"
    );
}

#[test]
fn logins_map_ldap_groups_and_local_users_to_policies() {
    let slapd = Slapd::start();
    let bao = openbao();
    let mut config = service_config(&slapd);
    config["token_policies"] = json!("base");
    bao.write("auth/ldap/config", config).ok();
    bao.write(
        "auth/ldap/groups/devs",
        json!({"policies": "dev-read,Dev-Write"}),
    )
    .ok();
    bao.write("auth/ldap/groups/ops", json!({"policies": ["ops"]}))
        .ok();
    bao.write(
        "auth/ldap/groups/local-admins",
        json!({"policies": "admin"}),
    )
    .ok();
    bao.write(
        "auth/ldap/users/Bob",
        json!({"groups": "Local-Admins", "policies": "bob-own"}),
    )
    .ok();

    let alice = login(&bao, "alice", "alice-pass").ok();
    assert_eq!(
        policies(&alice),
        ["base", "default", "dev-read", "dev-write"]
    );
    assert_eq!(alice.body["auth"]["metadata"]["username"], json!("alice"));
    assert!(alice.body["warnings"].is_null(), "{}", alice.body);

    // Names are case-insensitive by default: the stored names are lowercase.
    let bob = login(&bao, "BOB", "bob-pass").ok();
    assert_eq!(
        policies(&bob),
        ["admin", "base", "bob-own", "default", "ops"]
    );
    assert_eq!(
        bao.read("auth/ldap/users/bob").ok().body["data"]["groups"],
        json!("local-admins")
    );
    let groups = bao.list("auth/ldap/groups").ok();
    assert_eq!(
        groups.body["data"]["keys"],
        json!(["devs", "local-admins", "ops"])
    );
    assert_eq!(
        bao.list("auth/ldap/users").ok().body["data"]["keys"],
        json!(["bob"])
    );

    // A user in no group still logs in, with a warning.
    let dave = login(&bao, "dave", "dave-pass").ok();
    assert_eq!(policies(&dave), ["base", "default"]);
    assert!(
        dave.body["warnings"]
            .to_string()
            .contains("no LDAP groups found")
    );

    // Deleting a mapping by any case removes it.
    bao.delete("auth/ldap/groups/DEVS").ok();
    let alice = login(&bao, "alice", "alice-pass").ok();
    assert_eq!(policies(&alice), ["base", "default"]);

    // The token works and renews.
    let token = alice.body["auth"]["client_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let renewed = bao.request_with_token(
        "POST",
        "auth/token/renew-self",
        Some(json!({})),
        Some(&token),
    );
    assert_eq!(renewed.status, 200, "{}", renewed.body);
}

#[test]
fn wrong_password_unknown_user_and_injection_all_fail_alike() {
    let slapd = Slapd::start();
    let bao = openbao();
    bao.write("auth/ldap/config", service_config(&slapd)).ok();
    for (user, password) in [
        ("alice", "wrong"),
        ("nobody", "alice-pass"),
        ("*", "alice-pass"),
        ("al*", "alice-pass"),
        ("alice)(uid=*", "alice-pass"),
        ("*)(|(uid=*", "alice-pass"),
        ("alice\\00", "alice-pass"),
    ] {
        let resp = login(&bao, user, password);
        assert_eq!(resp.status, 400, "{user}: {}", resp.body);
        assert_eq!(
            resp.errors(),
            "ldap operation failed: failed to bind as user",
            "{user}"
        );
    }
    // An empty password is refused before any bind.
    let before = slapd.accepted_connections();
    let resp = login(&bao, "alice", "");
    assert_eq!(resp.status, 400);
    assert!(
        resp.errors().contains("password cannot be of zero length"),
        "{}",
        resp.errors()
    );
    assert_eq!(
        slapd.accepted_connections(),
        before,
        "an empty password reached the server"
    );
    // The user with DN specials logs in (escaped in the filter and DN).
    assert_eq!(login(&bao, "ann,lee", "ann-pass").status, 200);
}

#[test]
fn bind_dn_built_from_the_username_is_escaped() {
    let slapd = Slapd::start();
    let bao = openbao();
    bao.write(
        "auth/ldap/config",
        json!({
            "url": slapd.url(),
            "userdn": slapd::USERS_DN,
            "userattr": "uid",
            "groupdn": slapd::GROUPS_DN,
            "groupfilter": "(member={{.UserDN}})",
        }),
    )
    .ok();
    let ann = login(&bao, "ann,lee", "ann-pass").ok();
    // Without a service account the alias is the bind DN built, escaped.
    assert_eq!(ann.body["auth"]["metadata"]["username"], json!("ann,lee"),);
    assert_eq!(login(&bao, "alice", "alice-pass").status, 200);
    // A username that tries to add an RDN stays one value.
    let resp = login(&bao, "alice,ou=services", "alice-pass");
    assert_eq!(resp.status, 400);
}

#[test]
fn memberof_and_userfilter_variants() {
    let slapd = Slapd::start();
    let bao = openbao();
    let mut config = service_config(&slapd);
    // Groups from the user's own memberOf values.
    config["groupdn"] = json!(slapd::USERS_DN);
    config["groupfilter"] = json!("(&(objectClass=inetOrgPerson)(uid={{.Username}}))");
    config["groupattr"] = json!("memberOf");
    config["userfilter"] = json!("(&(objectClass=inetOrgPerson)({{.UserAttr}}={{.Username}}))");
    bao.write("auth/ldap/config", config).ok();
    bao.write("auth/ldap/groups/admins", json!({"policies": "admin"}))
        .ok();
    bao.write("auth/ldap/groups/devs", json!({"policies": "dev"}))
        .ok();
    let carol = login(&bao, "carol", "carol-pass").ok();
    assert_eq!(policies(&carol), ["admin", "default", "dev"]);

    // A memberUid-style posix group via the default group filter.
    let mut config = service_config(&slapd);
    config["groupfilter"] = json!("(|(memberUid={{.Username}})(member={{.UserDN}}))");
    bao.write("auth/ldap/config", config).ok();
    bao.write("auth/ldap/groups/legacy", json!({"policies": "legacy"}))
        .ok();
    let alice = login(&bao, "alice", "alice-pass").ok();
    assert_eq!(policies(&alice), ["default", "dev", "legacy"]);

    // A user filter that ignores userattr gets the reference's warning.
    let warned = bao.write(
        "auth/ldap/config",
        json!({"userfilter": "(mail={{.Username}})"}),
    );
    assert!(
        warned.body["warnings"]
            .to_string()
            .contains("does not consider userattr")
    );
}

#[test]
fn starttls_and_ldaps_need_the_ca() {
    let slapd = Slapd::start();
    let bao = openbao();
    for (url, starttls) in [(slapd.url(), true), (slapd.ldaps_url(), false)] {
        let mut config = service_config(&slapd);
        config["url"] = json!(url);
        config["starttls"] = json!(starttls);
        config["insecure_tls"] = json!(false);
        config["certificate"] = json!("");
        bao.write("auth/ldap/config", config.clone()).ok();
        let refused = login(&bao, "alice", "alice-pass");
        assert_eq!(
            refused.status, 400,
            "{url} without the CA: {}",
            refused.body
        );
        assert!(
            !refused.errors().contains("failed to bind as user"),
            "{}",
            refused.errors()
        );

        config["certificate"] = json!(slapd.ca_pem());
        bao.write("auth/ldap/config", config.clone()).ok();
        assert_eq!(
            login(&bao, "alice", "alice-pass").status,
            200,
            "{url} with the CA"
        );

        // insecure_tls skips verification (the operator's explicit choice).
        config["certificate"] = json!("");
        config["insecure_tls"] = json!(true);
        bao.write("auth/ldap/config", config).ok();
        assert_eq!(
            login(&bao, "alice", "alice-pass").status,
            200,
            "{url} insecure"
        );
    }
}

#[test]
fn fails_over_from_a_dead_url_and_survives_a_restart() {
    let slapd = Slapd::start();
    let bao = openbao();
    let mut config = service_config(&slapd);
    config["url"] = json!(format!("{},{}", dead_url(), slapd.url()));
    bao.write("auth/ldap/config", config).ok();
    assert_eq!(login(&bao, "alice", "alice-pass").status, 200);

    slapd.stop();
    let down = login(&bao, "alice", "alice-pass");
    assert_eq!(down.status, 400, "{}", down.body);
    assert!(
        down.errors().contains("error connecting to host"),
        "{}",
        down.errors()
    );

    slapd.restart();
    // Pooled connections died with the server; logins work again without remounting.
    assert_eq!(login(&bao, "alice", "alice-pass").status, 200);
    assert_eq!(login(&bao, "bob", "bob-pass").status, 200);
}

#[test]
fn a_hung_server_fails_within_the_request_timeout_and_stalls_no_other_mount() {
    let slapd = Slapd::start();
    let healthy = Slapd::start();
    let bao = openbao();
    let mut config = service_config(&slapd);
    config["request_timeout"] = json!(3);
    config["connection_timeout"] = json!(3);
    bao.write("auth/ldap/config", config).ok();
    // A second mount, served by the same (multiplexed) plugin process.
    bao.enable_auth("other", common::PLUGIN, common::VERSION)
        .ok();
    bao.write("auth/other/config", service_config(&healthy))
        .ok();
    let login_other = || {
        bao.request_with_token(
            "POST",
            "auth/other/login/bob",
            Some(json!({ "password": "bob-pass" })),
            None,
        )
    };
    assert_eq!(login(&bao, "alice", "alice-pass").status, 200);
    assert_eq!(login_other().status, 200);
    slapd.freeze();
    let (resp, took) = std::thread::scope(|scope| {
        let hung = scope.spawn(|| {
            let started = std::time::Instant::now();
            let resp = login(&bao, "alice", "alice-pass");
            (resp, started.elapsed())
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        for _ in 0..10 {
            let started = std::time::Instant::now();
            assert_eq!(login_other().status, 200);
            assert!(
                started.elapsed() < std::time::Duration::from_secs(1),
                "the other mount waited on the hung server: {:?}",
                started.elapsed()
            );
        }
        hung.join().expect("the hung login")
    });
    slapd.thaw();
    assert_eq!(resp.status, 400, "{}", resp.body);
    // One operation runs into request_timeout (3 s); a timeout is not
    // retried, so the login ends well before twice that.
    assert!(
        took < std::time::Duration::from_millis(5500),
        "login hung for {took:?}"
    );
    assert_eq!(login(&bao, "alice", "alice-pass").status, 200);
}

#[test]
fn pooled_logins_reuse_connections() {
    let slapd = Slapd::start();
    let bao = openbao();
    bao.write("auth/ldap/config", service_config(&slapd)).ok();
    assert_eq!(login(&bao, "alice", "alice-pass").status, 200);
    let after_first = slapd.accepted_connections();
    for _ in 0..10 {
        assert_eq!(login(&bao, "alice", "alice-pass").status, 200);
    }
    assert_eq!(
        slapd.accepted_connections(),
        after_first,
        "logins dialled new connections"
    );

    // Pool size 0 is the reference's behaviour: one connection per login,
    // which searches, binds as the user and searches the groups.
    bao.write("auth/ldap/config", json!({"connection_pool_size": 0}))
        .ok();
    bao.write("auth/ldap/groups/devs", json!({"policies": "dev-read"}))
        .ok();
    let before = slapd.accepted_connections();
    for _ in 0..5 {
        let resp = login(&bao, "alice", "alice-pass").ok();
        assert_eq!(policies(&resp), ["default", "dev-read"]);
    }
    assert_eq!(
        slapd.accepted_connections(),
        before + 5,
        "an unpooled login should dial exactly once"
    );
    assert_eq!(login(&bao, "alice", "wrong").status, 400);
}

#[test]
fn rotate_root_changes_the_service_password() {
    let slapd = Slapd::start();
    let bao = openbao();
    bao.write("auth/ldap/config", service_config(&slapd)).ok();
    bao.write("auth/ldap/config/rotate-root", json!({})).ok();
    // Logins still work with the new password, and the old one is gone.
    assert_eq!(login(&bao, "alice", "alice-pass").status, 200);
    let old = std::process::Command::new("ldapwhoami")
        .args([
            "-x",
            "-H",
            &slapd.url(),
            "-D",
            slapd::BIND_DN,
            "-w",
            slapd::BIND_PASSWORD,
        ])
        .output()
        .map(|o| o.status.success());
    assert_eq!(
        old.ok(),
        Some(false),
        "the old service password still binds"
    );
    assert!(
        !bao.read("auth/ldap/config")
            .ok()
            .body
            .to_string()
            .contains("bindpass")
    );
}

#[test]
fn no_secret_reaches_the_server_log() {
    let slapd = Slapd::start();
    let bao = openbao();
    let mut config = service_config(&slapd);
    config["client_tls_cert"] = json!(slapd.client_cert_pem());
    config["client_tls_key"] = json!(slapd.client_key_pem());
    config["url"] = json!(slapd.ldaps_url());
    config["certificate"] = json!(slapd.ca_pem());
    bao.write("auth/ldap/config", config).ok();
    assert_eq!(login(&bao, "alice", "alice-pass").status, 200);
    assert_eq!(login(&bao, "alice", "wrong-alice-pass").status, 400);
    assert_eq!(login(&bao, "nobody", "nobody-pass").status, 400);
    let key_body: String = slapd
        .client_key_pem()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    // The server runs at debug level and relays the plugin's own log.
    let log = bao.log();
    assert!(
        log.contains("vault-plugin-auth-ldap") || log.contains("ldap-rs"),
        "no plugin lines in the log"
    );
    for secret in [
        "alice-pass",
        "nobody-pass",
        slapd::BIND_PASSWORD,
        &key_body[..40],
    ] {
        assert!(!log.contains(secret), "{secret:?} is in the server log");
    }
}
