//! A real OpenLDAP server (`slapd`) on free loopback ports, loaded with a
//! small directory from `fixtures/slapd/`, for tests of the LDAP auth plugin.
//!
//! Each [`Slapd`] gets its own temp dir (config, schema, certificates, an
//! MDB database and `slapd.log`) and two ports: [`Slapd::url`] speaks plain
//! LDAP and offers StartTLS, [`Slapd::ldaps_url`] is LDAP over TLS. The
//! server certificate (SANs `127.0.0.1` and `localhost`) comes from a
//! throwaway CA, [`Slapd::ca_pem`], which also signs a client certificate.
//!
//! The directory (`fixtures/slapd/directory.ldif`), under [`BASE_DN`]:
//!
//! | entry | password | groups (`memberOf`) |
//! |---|---|---|
//! | [`BIND_DN`] (service account) | [`BIND_PASSWORD`] | |
//! | `uid=alice` (`alice@example.org`) | `alice-pass` | devs |
//! | `uid=bob` (`bob@example.org`) | `bob-pass` | ops |
//! | `uid=carol` (`carol@example.org`) | `carol-pass` | devs, admins |
//! | `uid=ann\,lee` (no UPN) | `ann-pass` | ops |
//! | `uid=dave` (`dave@example.org`) | `dave-pass` | none |
//!
//! Users are `inetOrgPerson` with `userPrincipalName` and `sAMAccountName`
//! (from `fixtures/slapd/ad-like.schema`). Groups are `groupOfNames` under
//! [`GROUPS_DN`]: `devs`, `ops`, `admins`, and `engineering`, whose only
//! member is the devs group. `cn=legacy` is a `posixGroup` with
//! `memberUid: alice`. Anonymous clients may bind and read the groups; the
//! service account and every user may read everything but passwords.
//! [`ADMIN_DN`] may change anything, and the memberof overlay keeps
//! `memberOf` in step with such changes.
//!
//! Faults are methods: [`Slapd::stop`] (connections refused),
//! [`Slapd::restart`] (back, same ports, same data), [`Slapd::freeze`]
//! (connections accepted, nothing answered) and [`Slapd::thaw`].
//!
//! ```no_run
//! use vault_plugin_test_support::slapd::{self, Slapd};
//!
//! let ldap = Slapd::start();
//! // Configure the plugin with url = ldap.url(), starttls = true,
//! // certificate = ldap.ca_pem(), binddn = slapd::BIND_DN,
//! // bindpass = slapd::BIND_PASSWORD, userdn = slapd::USERS_DN, ...
//! ldap.stop();
//! // ... logins fail ...
//! ldap.restart();
//! ```
//!
//! Two things about slapd that tests meet: it writes a DN's escaped comma as
//! `\2C` (`uid=ann\2Clee,ou=users,...`), so compare DNs, not strings; and it
//! takes only a DN as a simple bind name, so an AD-style bind as
//! `alice@example.org` is refused with `invalidDNSyntax`.

use std::fs::{File, OpenOptions};
use std::io::Read as _;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use crate::process::{self, Signal};

pub const BASE_DN: &str = "dc=example,dc=org";
pub const USERS_DN: &str = "ou=users,dc=example,dc=org";
pub const GROUPS_DN: &str = "ou=groups,dc=example,dc=org";
/// The service account the plugin binds as to search.
pub const BIND_DN: &str = "cn=vault-svc,ou=services,dc=example,dc=org";
pub const BIND_PASSWORD: &str = "svc-secret";
/// The domain of the users' `userPrincipalName` values.
pub const UPN_DOMAIN: &str = "example.org";
/// The directory manager (slapd's `rootdn`): outside the ACLs, for tests
/// that change entries while slapd runs.
pub const ADMIN_DN: &str = "cn=admin,dc=example,dc=org";
pub const ADMIN_PASSWORD: &str = "admin-secret";

/// The subject of [`Slapd::client_cert_pem`]; a SASL EXTERNAL bind with that
/// certificate authenticates as `dn:cn=vault-client`.
pub const CLIENT_CERT_CN: &str = "vault-client";

// Built in, so the fixture does not depend on where the sources are when the
// test runs.
const CONF_TEMPLATE: &str = include_str!("../fixtures/slapd/slapd.conf");
const SCHEMA: &str = include_str!("../fixtures/slapd/ad-like.schema");
const DIRECTORY: &str = include_str!("../fixtures/slapd/directory.ldif");

// Debian's layout (packages `slapd` and `ldap-utils`).
const SLAPD: &str = "/usr/sbin/slapd";
const SCHEMA_DIR: &str = "/etc/ldap/schema";
const MODULE_DIR: &str = "/usr/lib/ldap";

const LOG_FILE: &str = "slapd.log";

const INSTALL_HINT: &str = "install OpenLDAP with `apt-get install slapd ldap-utils` \
     (Debian/Ubuntu; set SLAPD_BIN to use a slapd elsewhere, with slapadd beside it)";

/// How long slapd may take to start listening; it usually needs a few
/// dozen milliseconds.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// slapd sizes its connection table by the open-files limit, so a generous
/// inherited limit (a million on some CI hosts) costs hundreds of megabytes.
const MAX_OPEN_FILES: u32 = 4096;

/// A running (or stopped) private slapd. Dropping it kills slapd and
/// removes its files.
pub struct Slapd {
    dir: tempfile::TempDir,
    slapd: PathBuf,
    ldap_port: u16,
    ldaps_port: u16,
    ca_pem: String,
    client_cert_pem: String,
    client_key_pem: String,
    child: Mutex<Option<Child>>,
}

impl Slapd {
    /// Writes the config, certificates and database into a fresh temp dir,
    /// then starts slapd and returns once it listens on both ports.
    ///
    /// # Panics
    /// If slapd is missing (saying how to install it) or does not start
    /// (with its log).
    pub fn start() -> Slapd {
        let slapd = slapd_binary();
        let slapadd = slapd.with_file_name("slapadd");
        if !slapadd.is_file() {
            panic!(
                "slapadd was not found at {}; {INSTALL_HINT}",
                slapadd.display()
            );
        }
        for dir in [SCHEMA_DIR, MODULE_DIR] {
            if !Path::new(dir).is_dir() {
                panic!("OpenLDAP's {dir} is missing; {INSTALL_HINT}");
            }
        }

        let dir = tempfile::Builder::new()
            .prefix("slapd-test")
            .tempdir()
            .expect("temp dir");
        let root = dir.path();
        let certs = Certificates::new();
        write(root, "ca.pem", &certs.ca_pem);
        write(root, "server.pem", &certs.server_cert_pem);
        write(root, "server-key.pem", &certs.server_key_pem);
        write(root, "ad-like.schema", SCHEMA);
        write(root, "directory.ldif", DIRECTORY);
        let conf = CONF_TEMPLATE
            .replace("@SCHEMA_DIR@", SCHEMA_DIR)
            .replace("@MODULE_DIR@", MODULE_DIR)
            .replace("@DIR@", &root.display().to_string());
        write(root, "slapd.conf", &conf);
        std::fs::create_dir(root.join("data")).expect("database dir");

        // slapadd writes the database directly, before slapd holds it.
        let loaded = Command::new(&slapadd)
            .arg("-f")
            .arg(root.join("slapd.conf"))
            .arg("-l")
            .arg(root.join("directory.ldif"))
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}; {INSTALL_HINT}", slapadd.display()));
        if !loaded.status.success() {
            panic!(
                "slapadd could not load the fixture directory ({}):\n{}{}",
                loaded.status,
                String::from_utf8_lossy(&loaded.stdout),
                String::from_utf8_lossy(&loaded.stderr)
            );
        }

        for _attempt in 0..3 {
            let (ldap_port, ldaps_port) = two_free_ports();
            match run(&slapd, root, ldap_port, ldaps_port) {
                Ok(child) => {
                    return Slapd {
                        dir,
                        slapd,
                        ldap_port,
                        ldaps_port,
                        ca_pem: certs.ca_pem,
                        client_cert_pem: certs.client_cert_pem,
                        client_key_pem: certs.client_key_pem,
                        child: Mutex::new(Some(child)),
                    };
                }
                // Another process took a port between our probe and slapd's
                // bind: try two others, with the same files.
                Err(Lost::Port) => {}
                Err(Lost::Exited(why)) => {
                    panic!("slapd did not start ({why}); its log:\n{}", read_log(root))
                }
            }
        }
        panic!(
            "slapd could not bind free ports three times running; its log:\n{}",
            read_log(root)
        );
    }

    /// A config for Vault's LDAP auth method against this directory over
    /// ldap://: it searches as the service account and finds groups by
    /// `member`.
    pub fn auth_config(&self) -> serde_json::Value {
        serde_json::json!({
            "url": self.url(),
            "binddn": BIND_DN,
            "bindpass": BIND_PASSWORD,
            "userdn": USERS_DN,
            "userattr": "uid",
            "groupdn": GROUPS_DN,
            "groupfilter": "(&(objectClass=groupOfNames)(member={{.UserDN}}))",
            "groupattr": "cn",
        })
    }

    /// `ldap://127.0.0.1:<port>`: plain LDAP, with StartTLS available.
    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.ldap_port)
    }

    /// `ldaps://127.0.0.1:<port>`: LDAP over TLS from the first byte.
    pub fn ldaps_url(&self) -> String {
        format!("ldaps://127.0.0.1:{}", self.ldaps_port)
    }

    /// The port of [`Slapd::url`].
    pub fn port(&self) -> u16 {
        self.ldap_port
    }

    /// The port of [`Slapd::ldaps_url`].
    pub fn ldaps_port(&self) -> u16 {
        self.ldaps_port
    }

    /// The throwaway CA that signed the server certificate (SANs
    /// `127.0.0.1` and `localhost`) and the client certificate.
    pub fn ca_pem(&self) -> String {
        self.ca_pem.clone()
    }

    /// A client certificate (CN [`CLIENT_CERT_CN`]) signed by the same CA.
    /// slapd asks for one but does not require it.
    pub fn client_cert_pem(&self) -> String {
        self.client_cert_pem.clone()
    }

    /// The client certificate's private key, PKCS#8 PEM.
    pub fn client_key_pem(&self) -> String {
        self.client_key_pem.clone()
    }

    /// slapd's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child().as_ref().map(Child::id)
    }

    /// The fixture's temp dir: `slapd.conf`, the PEM files, `data/`,
    /// `slapd.log`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills slapd (SIGKILL, as a crash would) and returns once both ports
    /// refuse connections. The database stays for [`Slapd::restart`].
    pub fn stop(&self) {
        let mut child = self.child();
        if let Some(mut running) = child.take() {
            let _ = running.kill();
            let _ = running.wait();
        }
        drop(child);
        let closed = process::wait_for(Duration::from_secs(5), || {
            (!listening(self.ldap_port) && !listening(self.ldaps_port)).then_some(())
        });
        if closed.is_none() {
            panic!(
                "ports {} and {} still listen after slapd was killed",
                self.ldap_port, self.ldaps_port
            );
        }
    }

    /// Starts slapd again (stopping it first if it runs) on the same ports
    /// with the same data; returns once it listens.
    ///
    /// # Panics
    /// If it does not come back, for instance because another process took
    /// one of its ports meanwhile.
    pub fn restart(&self) {
        self.stop();
        match run(
            &self.slapd,
            self.dir.path(),
            self.ldap_port,
            self.ldaps_port,
        ) {
            Ok(child) => *self.child() = Some(child),
            Err(Lost::Port) => panic!(
                "slapd could not bind its ports {} and {} again; its log:\n{}",
                self.ldap_port,
                self.ldaps_port,
                self.log()
            ),
            Err(Lost::Exited(why)) => {
                panic!("slapd did not restart ({why}); its log:\n{}", self.log())
            }
        }
    }

    /// Stops slapd with SIGSTOP: the kernel still completes TCP handshakes,
    /// but nothing answers, so clients hang until their own timeouts.
    ///
    /// # Panics
    /// If slapd is not running.
    pub fn freeze(&self) {
        self.signal(Signal::SIGSTOP);
    }

    /// Lets a frozen slapd run again (SIGCONT); it then answers what
    /// queued up meanwhile.
    pub fn thaw(&self) {
        self.signal(Signal::SIGCONT);
    }

    /// How many TCP connections slapd has accepted so far, across restarts
    /// (its `ACCEPT` log lines). The fixture itself never connects, so every
    /// one is a client's.
    pub fn accepted_connections(&self) -> usize {
        self.log()
            .lines()
            .filter(|line| line.contains(" ACCEPT from "))
            .count()
    }

    /// Everything slapd has logged (at the `stats` level: connections,
    /// binds, searches and their results), across restarts.
    pub fn log(&self) -> String {
        read_log(self.dir.path())
    }

    /// Waits until a log line satisfies `matches`; returns it.
    pub fn wait_for_log(
        &self,
        timeout: Duration,
        matches: impl Fn(&str) -> bool,
    ) -> Option<String> {
        process::wait_for(timeout, || {
            self.log().lines().find(|l| matches(l)).map(str::to_string)
        })
    }

    fn child(&self) -> MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn signal(&self, signal: Signal) {
        match self.pid() {
            Some(pid) => process::signal(pid, signal),
            None => panic!("slapd is stopped; cannot send it {signal}"),
        }
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child().take() {
            // SIGKILL also ends a frozen slapd.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs slapd from the files in `root` on the given ports and waits until
/// both listen.
fn run(slapd: &Path, root: &Path, ldap_port: u16, ldaps_port: u16) -> Result<Child, Lost> {
    let log_path = root.join(LOG_FILE);
    let logged_before = std::fs::metadata(&log_path).map_or(0, |m| m.len());
    // Appending keeps earlier runs' lines: accepted_connections counts
    // across restarts.
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .expect("slapd log");
    let urls = format!("ldap://127.0.0.1:{ldap_port}/ ldaps://127.0.0.1:{ldaps_port}/");
    // `exec` keeps slapd's pid the child's, so kill and SIGSTOP reach it. A
    // hard limit below ours makes `ulimit` fail, and is low enough anyway.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            r#"ulimit -n {MAX_OPEN_FILES} 2>/dev/null; exec "$0" "$@""#
        ))
        .arg(slapd)
        // In the foreground, logging at the stats level to stderr only.
        .args(["-d", "stats", "-s", "0"])
        .args(["-h", &urls])
        .arg("-f")
        .arg(root.join("slapd.conf"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("slapd log handle"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run sh to start slapd: {e}"));

    // slapd logs "slapd starting" before it calls listen(), and a probe
    // connection would show up in accepted_connections(), so readiness
    // is read from the kernel's socket table instead.
    let up = process::wait_for(START_TIMEOUT, || {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(Err(status));
        }
        (listening(ldap_port) && listening(ldaps_port)).then_some(Ok(()))
    });
    match up {
        Some(Ok(())) => Ok(child),
        Some(Err(status)) => {
            let this_run = read_log(root)
                .get(usize::try_from(logged_before).unwrap_or(0)..)
                .unwrap_or_default()
                .to_owned();
            if this_run.contains("Address already in use") {
                Err(Lost::Port)
            } else {
                Err(Lost::Exited(status.to_string()))
            }
        }
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Err(Lost::Exited(format!(
                "not listening after {START_TIMEOUT:?}"
            )))
        }
    }
}

/// Why a slapd run did not come up.
enum Lost {
    Port,
    Exited(String),
}

/// A loopback URL where nothing listens, for failover tests: connections to
/// it are refused at once.
///
/// The port is below 1024, a range that ports from `bind(0)` (which every
/// fixture uses) never come from, and checked to refuse connections now.
pub fn dead_url() -> String {
    // Successive calls give different URLs, so a list of dead servers has
    // distinct entries.
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    for _ in 0..DEAD_PORTS.len() {
        let index = NEXT.fetch_add(1, Ordering::Relaxed) % DEAD_PORTS.len();
        let port = DEAD_PORTS[index];
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let refused = matches!(
            TcpStream::connect_timeout(&addr, Duration::from_secs(1)),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
        );
        if refused {
            return format!("ldap://127.0.0.1:{port}");
        }
    }
    panic!("every candidate dead port {DEAD_PORTS:?} on 127.0.0.1 accepts connections");
}

/// Low ports with no service in common use today.
const DEAD_PORTS: &[u16] = &[1, 3, 5, 8, 10, 14, 16, 24, 26, 28, 30, 32];

/// Whether OpenLDAP's slapd is installed where [`Slapd::start`] looks.
pub fn available() -> bool {
    std::env::var_os("SLAPD_BIN")
        .map_or_else(|| PathBuf::from(SLAPD), PathBuf::from)
        .is_file()
        && Path::new(SCHEMA_DIR).is_dir()
}

fn slapd_binary() -> PathBuf {
    let path = std::env::var_os("SLAPD_BIN").map_or_else(|| PathBuf::from(SLAPD), PathBuf::from);
    if !path.is_file() {
        panic!("slapd was not found at {}; {INSTALL_HINT}", path.display());
    }
    path
}

fn read_log(root: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut file) = File::open(root.join(LOG_FILE)) {
        let _ = file.read_to_string(&mut text);
    }
    text
}

fn write(dir: &Path, name: &str, contents: &str) {
    std::fs::write(dir.join(name), contents)
        .unwrap_or_else(|e| panic!("write {name} into the slapd temp dir: {e}"));
}

fn two_free_ports() -> (u16, u16) {
    let first = crate::openbao::free_port();
    loop {
        let second = crate::openbao::free_port();
        if second != first {
            return (first, second);
        }
    }
}

/// Whether something listens on 127.0.0.1:`port`, from the kernel's socket
/// table, without connecting.
fn listening(port: u16) -> bool {
    const LISTEN: &str = "0A";
    // The kernel prints the address as a native-endian number of its
    // network-order bytes, and the port in plain hex.
    let address = u32::from_ne_bytes(Ipv4Addr::LOCALHOST.octets());
    let local = format!("{address:08X}:{port:04X}");
    std::fs::read_to_string("/proc/net/tcp").is_ok_and(|table| {
        table.lines().skip(1).any(|line| {
            let mut fields = line.split_whitespace().skip(1);
            fields.next() == Some(local.as_str()) && fields.nth(1) == Some(LISTEN)
        })
    })
}

/// The fixture's throwaway PKI, as PEM.
struct Certificates {
    ca_pem: String,
    server_cert_pem: String,
    server_key_pem: String,
    client_cert_pem: String,
    client_key_pem: String,
}

impl Certificates {
    fn new() -> Self {
        use rcgen::{
            BasicConstraints, CertificateParams, DistinguishedName, DnType,
            ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
            PKCS_ECDSA_P256_SHA256,
        };
        const RCGEN: &str = "rcgen makes the slapd fixture's certificates";
        let now = SystemTime::now();
        let not_before = now - Duration::from_secs(60);
        let not_after = now + Duration::from_secs(365 * 24 * 3600);
        let name = |cn: &str| {
            let mut dn = DistinguishedName::new();
            dn.push(DnType::CommonName, cn);
            dn
        };

        let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect(RCGEN);
        let mut ca = CertificateParams::default();
        ca.distinguished_name = name("vault-plugin-test-support slapd CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        ca.not_before = not_before.into();
        ca.not_after = not_after.into();
        let ca_cert = ca.self_signed(&ca_key).expect(RCGEN);
        let issuer = Issuer::new(ca, ca_key);

        let leaf = |sans: Vec<String>, cn: &str, usage: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect(RCGEN);
            let mut params = CertificateParams::new(sans).expect(RCGEN);
            params.distinguished_name = name(cn);
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.extended_key_usages = vec![usage];
            params.not_before = not_before.into();
            params.not_after = not_after.into();
            let cert = params.signed_by(&key, &issuer).expect(RCGEN);
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert_pem, server_key_pem) = leaf(
            vec!["127.0.0.1".to_owned(), "localhost".to_owned()],
            "127.0.0.1",
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client_cert_pem, client_key_pem) = leaf(
            Vec::new(),
            CLIENT_CERT_CN,
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        Certificates {
            ca_pem: ca_cert.pem(),
            server_cert_pem,
            server_key_pem,
            client_cert_pem,
            client_key_pem,
        }
    }
}
