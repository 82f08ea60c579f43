//! The Samba AD fixture, checked with `ldapsearch` and `ldapwhoami`
//! (Debian's ldap-utils) as an operator would check a DC before pointing
//! Vault's LDAP auth method at it: the answers the plugin relies on.
//!
//! Every test starts the DC, so they take turns (see the module docs of
//! `samba_ad`); each sees the domain as the fixture describes it.

use std::collections::BTreeSet;
use std::process::{Command, Output};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use vault_plugin_test_support::samba_ad::{self, SambaAd};

const IN_CHAIN: &str = "1.2.840.113556.1.4.1941";

fn ldap_tool(tool: &str, dc: &SambaAd, args: &[&str]) -> Output {
    Command::new(tool)
        .args(["-x", "-o", "nettimeout=10"])
        .args(args)
        // Trust only the DC's CA, and insist on it.
        .env("LDAPTLS_CACERT", dc.ca_file())
        .env("LDAPTLS_REQCERT", "demand")
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {tool} ({e}): install ldap-utils (`apt-get install ldap-utils`)")
        })
}

/// `ldapsearch` printing plain LDIF, unwrapped.
fn ldapsearch(dc: &SambaAd, args: &[&str]) -> Output {
    let mut all = vec!["-LLL", "-o", "ldif-wrap=no"];
    all.extend_from_slice(args);
    ldap_tool("ldapsearch", dc, &all)
}

#[track_caller]
fn success(output: Output) -> String {
    assert!(
        output.status.success(),
        "exit {}: {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// An admin's search under the base DN; returns the LDIF.
fn admin_search(dc: &SambaAd, base: &str, scope: &str, filter: &str, attrs: &[&str]) -> String {
    let mut args = vec![
        "-H",
        "ldap://127.0.0.1:389",
        "-D",
        samba_ad::ADMIN_BIND_DN,
        "-w",
        samba_ad::ADMIN_PASSWORD,
        "-b",
        base,
        "-s",
        scope,
        filter,
    ];
    args.extend_from_slice(attrs);
    success(ldapsearch(dc, &args))
}

/// The values of `attr` in LDIF: `attr: text`, or `attr:: base64` as the
/// base64. Search references (`# refldap://…`) and other comments are not
/// entries' lines, so they never match.
fn values(ldif: &str, attr: &str) -> Vec<String> {
    ldif.lines()
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case(attr)
                .then(|| value.trim_start_matches(':').trim().to_owned())
        })
        .collect()
}

fn dns(ldif: &str) -> BTreeSet<String> {
    values(ldif, "dn").into_iter().collect()
}

fn upn(login: &str) -> String {
    format!("{login}@{}", samba_ad::UPN_DOMAIN)
}

#[test]
fn alice_binds_with_her_upn() {
    let dc = SambaAd::start();
    let alice = dc.user_dn("alice");
    assert_eq!(alice, format!("CN=Alice Smith,{}", samba_ad::USERS_DN));
    assert_eq!(dc.url(), "ldap://127.0.0.1:389");

    // Bound as alice@samdom.example.test, she reads her own entry.
    let own = success(ldapsearch(
        &dc,
        &[
            "-H",
            &dc.url(),
            "-D",
            &upn("alice"),
            "-w",
            samba_ad::ALICE_PASSWORD,
            "-b",
            &alice,
            "-s",
            "base",
            "(objectClass=*)",
            "sAMAccountName",
            "userPrincipalName",
            "cn",
        ],
    ));
    assert_eq!(values(&own, "dn"), [alice.as_str()]);
    assert_eq!(values(&own, "sAMAccountName"), ["alice"]);
    assert_eq!(values(&own, "userPrincipalName"), [upn("alice")]);
    assert_eq!(values(&own, "cn"), ["Alice Smith"]);

    // A wrong password: invalid credentials, with AD's sub-code 52e.
    let wrong = ldapsearch(
        &dc,
        &[
            "-H",
            &dc.url(),
            "-D",
            &upn("alice"),
            "-w",
            samba_ad::BOB_PASSWORD,
            "-b",
            "",
            "-s",
            "base",
        ],
    );
    assert_eq!(wrong.status.code(), Some(49), "{wrong:?}");
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("data 52e"),
        "{wrong:?}"
    );

    // Samba has no "Who am I?" operation: ldapwhoami's bind succeeds and
    // its extended operation is refused, while a bad bind stops at 49.
    let whoami = |password: &str| {
        ldap_tool(
            "ldapwhoami",
            &dc,
            &["-H", &dc.url(), "-D", &upn("alice"), "-w", password],
        )
    };
    let good = whoami(samba_ad::ALICE_PASSWORD);
    assert!(
        String::from_utf8_lossy(&good.stderr).contains("1.3.6.1.4.1.4203.1.11.3"),
        "{good:?}"
    );
    assert_eq!(whoami("Wr0ng-Passw0rd!").status.code(), Some(49));

    // The NetBIOS form and the DN bind too, all three users, and the
    // fixture's own bind agrees.
    let netbios = format!("{}\\alice", samba_ad::NETBIOS_DOMAIN);
    assert_eq!(dc.simple_bind(&netbios, samba_ad::ALICE_PASSWORD), 0);
    assert_eq!(dc.simple_bind(&alice, samba_ad::ALICE_PASSWORD), 0);
    assert_eq!(dc.simple_bind(&upn("bob"), samba_ad::BOB_PASSWORD), 0);
    assert_eq!(dc.simple_bind(&upn("eve"), samba_ad::EVE_PASSWORD), 0);
    assert_eq!(dc.simple_bind(&upn("eve"), samba_ad::ALICE_PASSWORD), 49);
}

#[test]
fn in_chain_rule_finds_nested_groups() {
    let dc = SambaAd::start();
    let groups = |login: &str, rule: &str| {
        let filter = format!("(&(objectClass=group)(member{rule}={}))", dc.user_dn(login));
        dns(&admin_search(
            &dc,
            samba_ad::BASE_DN,
            "sub",
            &filter,
            &["dn"],
        ))
    };
    let set =
        |names: &[&str]| -> BTreeSet<String> { names.iter().map(|g| dc.group_dn(g)).collect() };
    let in_chain = format!(":{IN_CHAIN}:");

    // engineering holds devs, not alice: only the in-chain rule finds it.
    assert_eq!(groups("alice", ""), set(&["devs"]));
    assert_eq!(groups("alice", &in_chain), set(&["devs", "engineering"]));
    assert_eq!(groups("bob", &in_chain), set(&["ops"]));
    assert_eq!(groups("eve", &in_chain), set(&[]));

    // memberOf, which a plain AD config reads, is direct membership only.
    let entry = admin_search(
        &dc,
        &dc.user_dn("alice"),
        "base",
        "(objectClass=*)",
        &["memberOf"],
    );
    assert_eq!(values(&entry, "memberOf"), [dc.group_dn("devs")]);
}

#[test]
fn token_groups_hold_direct_and_nested_groups() {
    let dc = SambaAd::start();
    let sid = |group: &str| {
        let entry = admin_search(
            &dc,
            &dc.group_dn(group),
            "base",
            "(objectClass=*)",
            &["objectSid"],
        );
        let sids = values(&entry, "objectSid");
        assert_eq!(sids.len(), 1, "{entry}");
        sids[0].clone()
    };
    // tokenGroups is constructed, so only a base-scope search returns it;
    // the user's own bind may read it, as use_token_groups does.
    let token_groups = |login: &str, password: &str| -> BTreeSet<String> {
        let entry = success(ldapsearch(
            &dc,
            &[
                "-H",
                &dc.url(),
                "-D",
                &upn(login),
                "-w",
                password,
                "-b",
                &dc.user_dn(login),
                "-s",
                "base",
                "(objectClass=*)",
                "tokenGroups",
            ],
        ));
        values(&entry, "tokenGroups").into_iter().collect()
    };
    let (devs, engineering, ops) = (sid("devs"), sid("engineering"), sid("ops"));

    let alice = token_groups("alice", samba_ad::ALICE_PASSWORD);
    assert!(
        alice.contains(&devs) && alice.contains(&engineering),
        "{alice:?}"
    );
    assert!(!alice.contains(&ops), "{alice:?}");
    let bob = token_groups("bob", samba_ad::BOB_PASSWORD);
    assert!(bob.contains(&ops) && !bob.contains(&devs), "{bob:?}");
    // Eve's token still has Domain Users (and BUILTIN\Users): never empty.
    let eve = token_groups("eve", samba_ad::EVE_PASSWORD);
    assert!(!eve.is_empty());
    assert!(
        eve.is_disjoint(&BTreeSet::from([devs, engineering, ops])),
        "{eve:?}"
    );
}

#[test]
fn sam_account_name_search_finds_the_user() {
    let dc = SambaAd::start();
    for login in ["alice", "bob", "eve"] {
        let found = admin_search(
            &dc,
            samba_ad::USERS_DN,
            "sub",
            &format!("(&(objectClass=user)(sAMAccountName={login}))"),
            &["userPrincipalName"],
        );
        assert_eq!(values(&found, "dn"), [dc.user_dn(login)], "{found}");
        assert_eq!(values(&found, "userPrincipalName"), [upn(login)]);
    }
    // From the base DN too, as groupdn/userdn often are on AD; the
    // Configuration partition comes back as a search reference, which is not
    // an entry.
    let found = admin_search(
        &dc,
        samba_ad::BASE_DN,
        "sub",
        "(sAMAccountName=alice)",
        &["dn"],
    );
    assert_eq!(values(&found, "dn"), [dc.user_dn("alice")], "{found}");
}

#[test]
fn ldaps_and_starttls_verify_with_the_fixture_ca() {
    let dc = SambaAd::start();
    assert_eq!(dc.ldaps_url(), "ldaps://127.0.0.1:636");
    assert_eq!(
        std::fs::read_to_string(dc.ca_file()).expect("CA file"),
        dc.ca_pem()
    );
    assert!(dc.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    let bind = |url: &str, start_tls: bool| {
        let mut args = vec![
            "-H",
            url,
            "-D",
            "alice@samdom.example.test",
            "-w",
            samba_ad::ALICE_PASSWORD,
            "-b",
            "",
            "-s",
            "base",
            "(objectClass=*)",
            "dnsHostName",
        ];
        if start_tls {
            args.push("-ZZ");
        }
        ldapsearch(&dc, &args)
    };
    let ldaps = success(bind(&dc.ldaps_url(), false));
    assert_eq!(values(&ldaps, "dnsHostName"), [samba_ad::DC_HOSTNAME]);
    success(bind(&dc.url(), true));

    // Without the fixture's CA the certificate does not verify.
    let untrusted = Command::new("ldapsearch")
        .args([
            "-x",
            "-o",
            "nettimeout=10",
            "-H",
            &dc.ldaps_url(),
            "-b",
            "",
            "-s",
            "base",
        ])
        .env("LDAPTLS_CACERT", "/etc/ssl/certs/ca-certificates.crt")
        .env("LDAPTLS_REQCERT", "demand")
        .output()
        .expect("run ldapsearch");
    assert!(!untrusted.status.success(), "{untrusted:?}");
}

#[test]
fn every_start_has_the_fixture_domain_and_starts_take_turns() {
    {
        let dc = SambaAd::start();
        dc.samba_tool(&["user", "disable", "eve"]);
        assert_eq!(dc.simple_bind(&upn("eve"), samba_ad::EVE_PASSWORD), 49);
        // A second DC on this thread would wait for itself: it panics instead.
        let second = std::panic::catch_unwind(SambaAd::start);
        assert!(second.is_err());
    }

    // Two threads at once: the second DC runs only after the first stops.
    let barrier = Arc::new(Barrier::new(2));
    let epoch = Instant::now();
    let runs: Vec<(Duration, Duration)> = (0..2)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                let dc = SambaAd::start();
                let up = epoch.elapsed();
                // The earlier change is gone: eve is enabled again.
                assert_eq!(dc.simple_bind(&upn("eve"), samba_ad::EVE_PASSWORD), 0);
                std::thread::sleep(Duration::from_millis(200));
                let down = epoch.elapsed();
                drop(dc);
                (up, down)
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|thread| thread.join().expect("a DC thread"))
        .collect();
    let (first, second) = if runs[0].0 < runs[1].0 {
        (runs[0], runs[1])
    } else {
        (runs[1], runs[0])
    };
    assert!(first.1 < second.0, "the DCs overlapped: {runs:?}");
}
