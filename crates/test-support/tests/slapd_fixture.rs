//! The slapd fixture, checked with OpenLDAP's own clients (`ldapsearch`,
//! `ldapwhoami`, `ldapmodify` from Debian's `ldap-utils`), so a fault in the
//! fixture is not hidden by a fault in the plugin's LDAP client.

use std::io::{ErrorKind, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vault_plugin_test_support::process;
use vault_plugin_test_support::slapd::{
    self, ADMIN_DN, ADMIN_PASSWORD, BASE_DN, BIND_DN, BIND_PASSWORD, GROUPS_DN, Slapd, USERS_DN,
};

const ALICE_DN: &str = "uid=alice,ou=users,dc=example,dc=org";

/// An OpenLDAP client run, isolated from the machine's `ldap.conf` and
/// `~/.ldaprc`, trusting only the files it is given.
struct Client {
    dir: tempfile::TempDir,
    env: Vec<(&'static str, PathBuf)>,
}

impl Client {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("client temp dir");
        let empty = dir.path().join("ldap.conf");
        std::fs::write(&empty, "").expect("empty ldap.conf");
        Client {
            env: vec![("LDAPCONF", empty.clone()), ("HOME", dir.path().into())],
            dir,
        }
    }

    /// Trusts `ca_pem` for StartTLS and LDAPS.
    fn trusting(ldap: &Slapd) -> Self {
        Self::new().with_file("LDAPTLS_CACERT", "ca.pem", &ldap.ca_pem())
    }

    fn with_file(mut self, var: &'static str, name: &str, contents: &str) -> Self {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).expect("client file");
        self.env.push((var, path));
        self
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .env_remove("LDAPNOINIT")
            .env("LDAPTLS_REQCERT", "demand")
            .envs(self.env.iter().map(|(k, v)| (k, v.as_os_str())))
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        command
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        self.command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run {program}: {e}; install it with `apt-get install ldap-utils`")
            })
    }

    /// `ldapwhoami` with a simple bind (anonymous when `dn` is empty).
    fn whoami(&self, url: &str, extra: &[&str], dn: &str, password: &str) -> Output {
        let mut args = vec!["-x", "-H", url];
        args.extend_from_slice(extra);
        if !dn.is_empty() {
            args.extend_from_slice(&["-D", dn, "-w", password]);
        }
        self.run("ldapwhoami", &args)
    }

    /// `ldapsearch -LLL` bound as `dn` (anonymous when empty); returns the
    /// LDIF.
    #[track_caller]
    fn search(
        &self,
        url: &str,
        (dn, password): (&str, &str),
        base: &str,
        filter: &str,
        attrs: &[&str],
    ) -> String {
        let mut args = vec!["-LLL", "-o", "ldif_wrap=no", "-x", "-H", url];
        if !dn.is_empty() {
            args.extend_from_slice(&["-D", dn, "-w", password]);
        }
        args.extend_from_slice(&["-b", base, filter]);
        args.extend_from_slice(attrs);
        let out = self.run("ldapsearch", &args);
        assert!(
            out.status.success(),
            "ldapsearch {args:?} failed: {}",
            text(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Applies an LDIF change as the directory manager.
    #[track_caller]
    fn modify(&self, url: &str, ldif: &str) {
        let mut child = self
            .command("ldapmodify")
            .args(["-x", "-H", url, "-D", ADMIN_DN, "-w", ADMIN_PASSWORD])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run ldapmodify");
        child
            .stdin
            .take()
            .expect("ldapmodify stdin")
            .write_all(ldif.as_bytes())
            .expect("write the change");
        let out = child.wait_with_output().expect("ldapmodify output");
        assert!(out.status.success(), "ldapmodify failed: {}", text(&out));
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[track_caller]
fn assert_whoami(out: &Output, expected: &str) {
    assert!(out.status.success(), "ldapwhoami failed: {}", text(out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), expected);
}

/// The values of `attr` in an LDIF answer, in order.
fn values(ldif: &str, attr: &str) -> Vec<String> {
    let prefix = format!("{attr}: ");
    ldif.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(str::to_owned)
        .collect()
}

fn svc() -> (&'static str, &'static str) {
    (BIND_DN, BIND_PASSWORD)
}

/// A TLS handshake with the LDAPS port, trusting only `ca_pem` and
/// checking the certificate against `name`.
#[track_caller]
fn tls_handshake(ca_pem: &str, name: &str, port: u16) {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, ServerName};

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).expect("CA PEM"))
        .expect("CA certificate");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let server_name = ServerName::try_from(name.to_owned()).expect("server name");
    let mut tls = rustls::ClientConnection::new(Arc::new(config), server_name).expect("TLS client");
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect to LDAPS");
    tcp.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    while tls.is_handshaking() {
        tls.complete_io(&mut tcp)
            .unwrap_or_else(|e| panic!("TLS handshake as {name}: {e}"));
    }
}

fn refused(port: u16) -> bool {
    matches!(
        TcpStream::connect(("127.0.0.1", port)),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused
    )
}

#[test]
fn starts_quickly_on_its_own_ports() {
    let started = Instant::now();
    let ldap = Slapd::start();
    let took = started.elapsed();
    eprintln!("Slapd::start took {took:?}");
    assert!(took < Duration::from_secs(2), "start took {took:?}");
    assert_eq!(ldap.url(), format!("ldap://127.0.0.1:{}", ldap.port()));
    assert!(ldap.ldaps_url().starts_with("ldaps://127.0.0.1:"));
    assert_ne!(ldap.url(), ldap.ldaps_url().replacen("ldaps", "ldap", 1));
    let other = Slapd::start();
    assert_ne!(ldap.port(), other.port());
    let pid = ldap.pid().expect("slapd runs");
    // The open-files cap reached slapd itself, not only the shell before it.
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let open_files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("open files line");
    let soft: u64 = open_files
        .split_whitespace()
        .nth(3)
        .and_then(|v| v.parse().ok())
        .expect("soft limit");
    assert!(soft <= 4096, "{open_files}");
}

#[test]
fn service_account_binds_and_reads_everything_but_passwords() {
    let ldap = Slapd::start();
    let client = Client::new();
    assert_whoami(
        &client.whoami(&ldap.url(), &[], BIND_DN, BIND_PASSWORD),
        &format!("dn:{BIND_DN}"),
    );
    let wrong = client.whoami(&ldap.url(), &[], BIND_DN, "nope");
    assert!(!wrong.status.success());
    assert!(
        text(&wrong).contains("Invalid credentials (49)"),
        "{}",
        text(&wrong)
    );

    let users = client.search(
        &ldap.url(),
        svc(),
        USERS_DN,
        "(objectClass=inetOrgPerson)",
        &["uid", "userPassword"],
    );
    let mut uids = values(&users, "uid");
    uids.sort();
    assert_eq!(uids, ["alice", "ann,lee", "bob", "carol", "dave"]);
    assert!(values(&users, "userPassword").is_empty(), "{users}");

    let groups = client.search(&ldap.url(), svc(), GROUPS_DN, "(cn=*)", &["cn"]);
    let mut cns = values(&groups, "cn");
    cns.sort();
    assert_eq!(cns, ["admins", "devs", "engineering", "legacy", "ops"]);
}

#[test]
fn users_bind_with_their_passwords() {
    let ldap = Slapd::start();
    let client = Client::new();
    for (dn, password) in [
        (ALICE_DN, "alice-pass"),
        ("uid=bob,ou=users,dc=example,dc=org", "bob-pass"),
        ("uid=carol,ou=users,dc=example,dc=org", "carol-pass"),
        ("uid=dave,ou=users,dc=example,dc=org", "dave-pass"),
    ] {
        assert_whoami(
            &client.whoami(&ldap.url(), &[], dn, password),
            &format!("dn:{dn}"),
        );
        assert!(
            !client
                .whoami(&ldap.url(), &[], dn, "wrong")
                .status
                .success()
        );
    }
    // slapd answers with its own spelling of the escaped comma.
    assert_whoami(
        &client.whoami(
            &ldap.url(),
            &[],
            r"uid=ann\,lee,ou=users,dc=example,dc=org",
            "ann-pass",
        ),
        r"dn:uid=ann\2Clee,ou=users,dc=example,dc=org",
    );
    // A user reads the directory, but not even their own password.
    let own = client.search(
        &ldap.url(),
        (ALICE_DN, "alice-pass"),
        ALICE_DN,
        "(objectClass=*)",
        &["cn", "mail", "userPassword"],
    );
    assert_eq!(values(&own, "cn"), ["Alice Smith"]);
    assert_eq!(values(&own, "mail"), ["alice@example.org"]);
    assert!(values(&own, "userPassword").is_empty());
}

#[test]
fn anonymous_binds_and_reads_only_groups() {
    let ldap = Slapd::start();
    let client = Client::new();
    assert_whoami(&client.whoami(&ldap.url(), &[], "", ""), "anonymous");

    let groups = client.search(&ldap.url(), ("", ""), GROUPS_DN, "(cn=devs)", &["member"]);
    assert_eq!(
        values(&groups, "member"),
        [ALICE_DN, "uid=carol,ou=users,dc=example,dc=org"]
    );
    // Users are hidden: slapd says there is no such base.
    let users = client.run(
        "ldapsearch",
        &[
            "-LLL",
            "-x",
            "-H",
            &ldap.url(),
            "-b",
            USERS_DN,
            "(uid=alice)",
        ],
    );
    assert!(!String::from_utf8_lossy(&users.stdout).contains("alice"));
    assert!(
        text(&users).contains("No such object (32)"),
        "{}",
        text(&users)
    );

    // An unauthenticated bind (a DN, no password) is refused, as by default.
    let unauthenticated = client.whoami(&ldap.url(), &[], ALICE_DN, "");
    assert!(!unauthenticated.status.success());
    assert!(
        text(&unauthenticated).contains("unauthenticated bind"),
        "{}",
        text(&unauthenticated)
    );
}

#[test]
fn starttls_with_the_ca() {
    let ldap = Slapd::start();
    let trusted = Client::trusting(&ldap);
    assert_whoami(
        &trusted.whoami(&ldap.url(), &["-ZZ"], BIND_DN, BIND_PASSWORD),
        &format!("dn:{BIND_DN}"),
    );
    assert!(ldap.log().contains("STARTTLS"), "{}", ldap.log());

    // The client certificate is not a CA: trusting it alone must fail.
    let untrusted =
        Client::new().with_file("LDAPTLS_CACERT", "not-a-ca.pem", &ldap.client_cert_pem());
    let out = untrusted.whoami(&ldap.url(), &["-ZZ"], BIND_DN, BIND_PASSWORD);
    assert!(!out.status.success(), "{}", text(&out));
}

#[test]
fn ldaps_with_the_ca() {
    let ldap = Slapd::start();
    let trusted = Client::trusting(&ldap);
    assert_whoami(
        &trusted.whoami(&ldap.ldaps_url(), &[], ALICE_DN, "alice-pass"),
        &format!("dn:{ALICE_DN}"),
    );
    // The certificate names localhost as well as 127.0.0.1. (libldap checks
    // the machine's hostname when told `localhost`, so rustls checks here.)
    for name in ["localhost", "127.0.0.1"] {
        tls_handshake(&ldap.ca_pem(), name, ldap.ldaps_port());
    }

    let untrusted =
        Client::new().with_file("LDAPTLS_CACERT", "not-a-ca.pem", &ldap.client_cert_pem());
    let out = untrusted.whoami(&ldap.ldaps_url(), &[], ALICE_DN, "alice-pass");
    assert!(!out.status.success(), "{}", text(&out));
}

#[test]
fn client_certificate_is_accepted() {
    let ldap = Slapd::start();
    assert!(
        ldap.client_key_pem()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    let client = Client::trusting(&ldap)
        .with_file("LDAPTLS_CERT", "client.pem", &ldap.client_cert_pem())
        .with_file("LDAPTLS_KEY", "client-key.pem", &ldap.client_key_pem());
    // SASL EXTERNAL takes the identity from the verified client certificate.
    let out = client.run(
        "ldapwhoami",
        &["-Q", "-Y", "EXTERNAL", "-H", &ldap.ldaps_url()],
    );
    assert_whoami(&out, &format!("dn:cn={}", slapd::CLIENT_CERT_CN));
}

#[test]
fn users_carry_member_of() {
    let ldap = Slapd::start();
    let client = Client::new();
    let member_of = |uid: &str| {
        let ldif = client.search(
            &ldap.url(),
            svc(),
            USERS_DN,
            &format!("(uid={uid})"),
            &["memberOf"],
        );
        values(&ldif, "memberOf")
    };
    let group = |cn: &str| format!("cn={cn},{GROUPS_DN}");
    assert_eq!(member_of("alice"), [group("devs")]);
    assert_eq!(member_of("bob"), [group("ops")]);
    assert_eq!(member_of("carol"), [group("devs"), group("admins")]);
    assert_eq!(member_of(r"ann\2clee"), [group("ops")]);
    assert!(member_of("dave").is_empty());

    // The nested group: engineering holds devs, which carries memberOf too.
    let devs = client.search(
        &ldap.url(),
        svc(),
        &group("devs"),
        "(objectClass=*)",
        &["memberOf"],
    );
    assert_eq!(values(&devs, "memberOf"), [group("engineering")]);
    let found = client.search(
        &ldap.url(),
        svc(),
        USERS_DN,
        &format!("(memberOf={})", group("devs")),
        &["uid"],
    );
    assert_eq!(values(&found, "uid"), ["alice", "carol"]);

    // The posix group names members by uid.
    let legacy = client.search(
        &ldap.url(),
        svc(),
        GROUPS_DN,
        "(memberUid=alice)",
        &["cn", "gidNumber"],
    );
    assert_eq!(values(&legacy, "cn"), ["legacy"]);
    assert_eq!(values(&legacy, "gidNumber"), ["5001"]);

    // Changes while slapd runs go through the overlay.
    client.modify(
        &ldap.url(),
        &format!(
            "dn: {}\nchangetype: modify\nadd: member\nmember: uid=dave,{USERS_DN}\n",
            group("ops")
        ),
    );
    assert_eq!(member_of("dave"), [group("ops")]);
}

#[test]
fn upn_and_sam_account_name_equality() {
    let ldap = Slapd::start();
    let client = Client::new();
    let found = client.search(
        &ldap.url(),
        svc(),
        USERS_DN,
        "(userPrincipalName=alice@example.org)",
        &["uid", "userPrincipalName"],
    );
    assert_eq!(values(&found, "uid"), ["alice"]);
    assert_eq!(
        values(&found, "userPrincipalName"),
        [format!("alice@{}", slapd::UPN_DOMAIN)]
    );
    // Case-insensitive, as in Active Directory.
    let found = client.search(
        &ldap.url(),
        svc(),
        BASE_DN,
        "(userPrincipalName=BOB@Example.ORG)",
        &["uid"],
    );
    assert_eq!(values(&found, "uid"), ["bob"]);
    let found = client.search(
        &ldap.url(),
        svc(),
        BASE_DN,
        "(sAMAccountName=Carol)",
        &["uid"],
    );
    assert_eq!(values(&found, "uid"), ["carol"]);
    let found = client.search(
        &ldap.url(),
        svc(),
        BASE_DN,
        "(userPrincipalName=*@example.org)",
        &["uid"],
    );
    assert_eq!(values(&found, "uid").len(), 4);
}

#[test]
fn stop_refuses_and_restart_keeps_data() {
    let ldap = Slapd::start();
    let client = Client::new();
    let (ldap_port, ldaps_port) = (ldap.port(), ldap.ldaps_port());
    client.modify(
        &ldap.url(),
        "dn: uid=dave,ou=users,dc=example,dc=org\nchangetype: modify\nreplace: description\ndescription: written before the restart\n",
    );

    ldap.stop();
    assert!(ldap.pid().is_none());
    assert!(refused(ldap_port) && refused(ldaps_port));
    let down = client.whoami(&ldap.url(), &[], BIND_DN, BIND_PASSWORD);
    assert!(
        text(&down).contains("Can't contact LDAP server"),
        "{}",
        text(&down)
    );
    ldap.stop(); // stopping twice is harmless

    ldap.restart();
    assert_eq!((ldap.port(), ldap.ldaps_port()), (ldap_port, ldaps_port));
    assert_whoami(
        &client.whoami(&ldap.url(), &[], ALICE_DN, "alice-pass"),
        &format!("dn:{ALICE_DN}"),
    );
    let dave = client.search(&ldap.url(), svc(), USERS_DN, "(uid=dave)", &["description"]);
    assert_eq!(values(&dave, "description"), ["written before the restart"]);
    assert_whoami(
        &Client::trusting(&ldap).whoami(&ldap.ldaps_url(), &[], BIND_DN, BIND_PASSWORD),
        &format!("dn:{BIND_DN}"),
    );

    // restart() on a running server bounces it.
    let pid = ldap.pid();
    ldap.restart();
    assert_ne!(ldap.pid(), pid);
    assert_whoami(&client.whoami(&ldap.url(), &[], "", ""), "anonymous");
}

#[test]
fn freeze_hangs_clients_until_thaw() {
    let ldap = Slapd::start();
    let client = Client::new();
    ldap.freeze();
    let mut pending = client
        .command("ldapwhoami")
        .args(["-x", "-H", &ldap.url(), "-D", BIND_DN, "-w", BIND_PASSWORD])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ldapwhoami");
    std::thread::sleep(Duration::from_millis(700));
    let early = pending.try_wait().expect("poll ldapwhoami");
    if early.is_some() {
        ldap.thaw();
    }
    assert!(early.is_none(), "a frozen slapd answered: {early:?}");
    // The TCP handshake completed: the kernel queued the connection.
    assert!(!refused(ldap.port()));

    ldap.thaw();
    let answered = process::wait_for(Duration::from_secs(10), || {
        pending.try_wait().expect("poll ldapwhoami")
    });
    if answered.is_none() {
        let _ = pending.kill();
    }
    let out = pending.wait_with_output().expect("ldapwhoami output");
    assert_whoami(&out, &format!("dn:{BIND_DN}"));
}

#[test]
fn counts_accepted_connections() {
    let ldap = Slapd::start();
    assert_eq!(ldap.accepted_connections(), 0);
    let client = Client::new();
    for _ in 0..3 {
        assert_whoami(&client.whoami(&ldap.url(), &[], "", ""), "anonymous");
    }
    assert_eq!(ldap.accepted_connections(), 3);
    ldap.restart();
    assert_whoami(&client.whoami(&ldap.url(), &[], "", ""), "anonymous");
    assert_eq!(ldap.accepted_connections(), 4, "{}", ldap.log());
}

#[test]
fn dead_url_refuses() {
    let first = slapd::dead_url();
    let second = slapd::dead_url();
    assert_ne!(first, second);
    for url in [first, second] {
        let port: u16 = url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port in the URL");
        assert!(refused(port), "{url}");
        let out = Client::new().whoami(&url, &[], "", "");
        assert!(
            text(&out).contains("Can't contact LDAP server"),
            "{}",
            text(&out)
        );
    }
}

#[test]
fn drop_kills_slapd_and_removes_its_files() {
    let ldap = Slapd::start();
    let pid = ldap.pid().expect("slapd runs");
    let dir: PathBuf = ldap.dir().to_owned();
    assert!(dir.join("slapd.conf").is_file());
    ldap.freeze(); // even a frozen one
    drop(ldap);
    assert!(!process::alive(pid));
    assert!(!Path::new(&dir).exists());
}
