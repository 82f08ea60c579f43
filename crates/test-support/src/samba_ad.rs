//! A real Samba Active Directory domain controller, for tests of LDAP auth
//! against AD as most operators run it: binds as `user@domain` (UPN),
//! `sAMAccountName` logins, the constructed `tokenGroups` attribute, and
//! nested groups through the in-chain matching rule
//! (`(member:1.2.840.113556.1.4.1941:=<user DN>)`).
//!
//! The domain ([`REALM`], base [`BASE_DN`]), made from
//! `fixtures/samba-ad/domain.ldif`:
//!
//! | login   | DN                                  | password           | groups                              |
//! |---------|-------------------------------------|--------------------|-------------------------------------|
//! | `alice` | `CN=Alice Smith,`[`USERS_DN`]       | [`ALICE_PASSWORD`] | `devs`, and `engineering` via `devs` |
//! | `bob`   | `CN=Bob Jones,`[`USERS_DN`]         | [`BOB_PASSWORD`]   | `ops`                               |
//! | `eve`   | `CN=Eve Adams,`[`USERS_DN`]         | [`EVE_PASSWORD`]   | none (only her primary group, Domain Users) |
//!
//! Each user's UPN is `<login>@`[`UPN_DOMAIN`]; the groups are global
//! security groups `CN=<name>,`[`USERS_DN`]. [`ADMIN_BIND_DN`] with
//! [`ADMIN_PASSWORD`] is the domain's Administrator, a bind DN that may read
//! everything.
//!
//! Samba's LDAP server listens on fixed ports (389 and 636 on 127.0.0.1) and
//! runs only as root, so this fixture differs from the others:
//!
//! - One DC at a time per machine. [`SambaAd::start`] takes an exclusive
//!   `flock` on `<target>/samba-ad/lock` and holds it until the value drops;
//!   another test, a thread of this process or a nextest process, waits for
//!   it. Every test therefore gets the domain to itself.
//! - The provisioned domain is cached under `<target>/samba-ad/`, keyed by a
//!   hash of the fixture files, this module's constants and Samba's version,
//!   so only the first start pays for `samba-tool domain provision` (10 to
//!   20 s; a start from the cache takes about a second). Each start runs a
//!   fresh copy of it (`<target>/samba-ad/run-*`), so a test may change the
//!   domain (see [`SambaAd::samba_tool`]) without the next one noticing.
//! - Samba reads its stdin from the fixture and exits when that closes, so a
//!   test process that dies, even by SIGKILL, takes its DC with it.
//!
//! Simple binds over plain LDAP are allowed (`ldap server require strong auth
//! = no`). LDAPS and StartTLS serve a certificate for `127.0.0.1`,
//! `localhost` and [`DC_HOSTNAME`] from a CA each start makes
//! ([`SambaAd::ca_pem`]).
//!
//! ```no_run
//! use vault_plugin_test_support::samba_ad::{self, SambaAd};
//!
//! let dc = SambaAd::start();
//! // The LDAP auth method configured for AD, as its documentation suggests:
//! let config = serde_json::json!({
//!     "url": dc.url(),
//!     "binddn": samba_ad::ADMIN_BIND_DN,
//!     "bindpass": samba_ad::ADMIN_PASSWORD,
//!     "userdn": samba_ad::USERS_DN,
//!     "userattr": "sAMAccountName",
//!     "upndomain": samba_ad::UPN_DOMAIN,
//!     "groupdn": samba_ad::BASE_DN,
//!     "groupfilter": "(&(objectClass=group)(member:1.2.840.113556.1.4.1941:={{.UserDN}}))",
//! });
//! // Logging in as alice with samba_ad::ALICE_PASSWORD then finds the groups
//! // devs and engineering.
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::thread::ThreadId;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use sha2::{Digest as _, Sha256};

use crate::process;

/// The Kerberos realm (the DNS domain, upper case).
pub const REALM: &str = "SAMDOM.EXAMPLE.TEST";
/// The NetBIOS domain, as in a `SAMDOM\alice` login.
pub const NETBIOS_DOMAIN: &str = "SAMDOM";
/// The domain suffix of the users' UPNs: the auth method's `upndomain`.
pub const UPN_DOMAIN: &str = "samdom.example.test";
/// The DC's own name, which its LDAPS certificate also carries.
pub const DC_HOSTNAME: &str = "dc1.samdom.example.test";
/// The domain's naming context.
pub const BASE_DN: &str = "DC=samdom,DC=example,DC=test";
/// AD's default container of users and groups; the fixture's are all here.
pub const USERS_DN: &str = "CN=Users,DC=samdom,DC=example,DC=test";
/// The domain's Administrator.
pub const ADMIN_BIND_DN: &str = "CN=Administrator,CN=Users,DC=samdom,DC=example,DC=test";
/// The Administrator's password.
pub const ADMIN_PASSWORD: &str = "Adm1n-Passw0rd!";
/// The password of `alice` (`CN=Alice Smith`, in `devs`, so in `engineering`).
pub const ALICE_PASSWORD: &str = "Al1ce-Passw0rd!";
/// The password of `bob` (`CN=Bob Jones`, in `ops`).
pub const BOB_PASSWORD: &str = "B0b-Passw0rd!";
/// The password of `eve` (`CN=Eve Adams`, in no group of her own).
pub const EVE_PASSWORD: &str = "Ev3-Passw0rd!";
/// Samba's LDAP port; fixed, hence one DC per machine at a time.
pub const LDAP_PORT: u16 = 389;
/// Samba's LDAPS port.
pub const LDAPS_PORT: u16 = 636;

/// How to get what the fixture runs.
pub const INSTALL_HINT: &str = "DEBIAN_FRONTEND=noninteractive apt-get install -y \
    --no-install-recommends samba samba-ad-dc samba-ad-provision winbind ldb-tools";

/// Part of the cache key: bump it when the code here makes the domain
/// differently, since the key already covers the fixture files and constants.
const FIXTURE_VERSION: &str = "samba-ad-1";

const DOMAIN_LDIF: &str = include_str!("../fixtures/samba-ad/domain.ldif");
const SMB_CONF: &str = include_str!("../fixtures/samba-ad/smb.conf");

/// (login, cn, password) of the users `domain.ldif` creates.
const USERS: [(&str, &str, &str); 3] = [
    ("alice", "Alice Smith", ALICE_PASSWORD),
    ("bob", "Bob Jones", BOB_PASSWORD),
    ("eve", "Eve Adams", EVE_PASSWORD),
];
const GROUPS: [&str; 3] = ["devs", "ops", "engineering"];

/// AD's userAccountControl for an enabled ordinary account.
const NORMAL_ACCOUNT: u32 = 512;

/// The thread holding this process's DC, so that a second start on the same
/// thread panics instead of waiting for itself forever.
static HOLDER: Mutex<Option<ThreadId>> = Mutex::new(None);

/// A running Samba AD DC with this machine's Samba lock held. Dropping it
/// stops Samba, deletes the run's copy of the domain and lets the next test
/// start one.
pub struct SambaAd {
    child: Child,
    /// Samba exits when this closes.
    stdin: Option<ChildStdin>,
    root: PathBuf,
    ca_pem: String,
    samba_tool: PathBuf,
    _dir: tempfile::TempDir,
    // Last, so it is released only after Samba is gone and its files deleted.
    _lock: Flock<File>,
}

impl SambaAd {
    /// Starts this machine's one Samba DC, waiting first for another test
    /// that has it, and returns once it answers an LDAP bind.
    ///
    /// # Panics
    /// If Samba is missing (saying how to install it), if not run as root,
    /// if something else listens on port 389, or if Samba does not start.
    pub fn start() -> SambaAd {
        let tools = Tools::find();
        assert!(
            nix::unistd::geteuid().is_root(),
            "the Samba AD fixture must run as root: Samba's DC refuses to run otherwise \
             (and its LDAP ports, 389 and 636, are privileged)"
        );
        let me = std::thread::current().id();
        assert!(
            *HOLDER.lock().unwrap_or_else(|e| e.into_inner()) != Some(me),
            "this thread already has the Samba DC: drop that SambaAd before starting another \
             (there is only one per machine)"
        );
        let lock = take_lock();
        let cached = cached_domain(&tools);

        let dir = run_dir();
        let root = dir.path().canonicalize().expect("canonical run directory");
        copy_tree(&cached, &root)
            .unwrap_or_else(|e| panic!("copy the cached domain {}: {e}", cached.display()));
        for sub in ["lock", "run", "log", "cache", "private/tls"] {
            fs::create_dir_all(root.join(sub)).expect("Samba's run directories");
        }
        let ca_pem = write_tls_files(&root.join("private/tls"));
        let conf = root.join("etc/smb.conf");
        fs::write(
            &conf,
            SMB_CONF.replace("@DIR@", &root.display().to_string()),
        )
        .expect("write smb.conf");

        assert!(
            TcpStream::connect_timeout(&ldap_addr(), Duration::from_millis(500)).is_err(),
            "something already listens on 127.0.0.1:{LDAP_PORT}, which the Samba AD fixture \
             needs (its ports are fixed): stop it (`ss -ltnp 'sport = :{LDAP_PORT}'` shows it)"
        );
        let log_path = root.join("samba.log");
        let log = File::create(&log_path).expect("Samba's log");
        let mut child = Command::new(&tools.samba)
            .arg("--configfile")
            .arg(&conf)
            .args(["--interactive", "--model=single", "--debuglevel=1"])
            .current_dir(&root)
            .stdin(Stdio::piped())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            // Its own group, so that Drop reaches anything it forks.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", tools.samba.display()));
        let stdin = child.stdin.take();

        let mut last = String::from("not tried yet");
        let up = process::wait_for(Duration::from_secs(60), || {
            if let Ok(Some(status)) = child.try_wait() {
                last = format!("samba exited: {status}");
                return Some(false);
            }
            match ldap_simple_bind(ldap_addr(), ADMIN_BIND_DN, ADMIN_PASSWORD) {
                Ok(0) => {}
                Ok(code) => {
                    last = format!("the Administrator's bind answered resultCode {code}");
                    return None;
                }
                Err(e) => {
                    last = format!("the Administrator's bind failed: {e}");
                    return None;
                }
            }
            let ldaps = SocketAddr::from((Ipv4Addr::LOCALHOST, LDAPS_PORT));
            if TcpStream::connect_timeout(&ldaps, Duration::from_secs(1)).is_err() {
                last = format!("LDAP answers but nothing listens on port {LDAPS_PORT}");
                return None;
            }
            Some(true)
        });
        if up != Some(true) {
            stop(&mut child, stdin);
            panic!(
                "the Samba DC did not start ({last}); its log:\n{}",
                fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        *HOLDER.lock().unwrap_or_else(|e| e.into_inner()) = Some(me);
        SambaAd {
            child,
            stdin,
            root,
            ca_pem,
            samba_tool: tools.samba_tool,
            _dir: dir,
            _lock: lock,
        }
    }

    /// `ldap://127.0.0.1:389`.
    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{LDAP_PORT}")
    }

    /// `ldaps://127.0.0.1:636`, whose certificate [`SambaAd::ca_pem`] verifies.
    pub fn ldaps_url(&self) -> String {
        format!("ldaps://127.0.0.1:{LDAPS_PORT}")
    }

    /// The PEM of the CA behind the LDAPS (and StartTLS) certificate, which
    /// names `127.0.0.1`, `localhost`, [`DC_HOSTNAME`] and [`UPN_DOMAIN`].
    /// A new CA each start.
    pub fn ca_pem(&self) -> String {
        self.ca_pem.clone()
    }

    /// A file holding [`SambaAd::ca_pem`], for tools such as `ldapsearch`
    /// (`LDAPTLS_CACERT`).
    pub fn ca_file(&self) -> PathBuf {
        self.root.join("private/tls/ca.pem")
    }

    /// The DN of a fixture user by login: `alice`, `bob` or `eve`, e.g.
    /// `CN=Alice Smith,CN=Users,DC=samdom,DC=example,DC=test`.
    ///
    /// # Panics
    /// For any other name.
    pub fn user_dn(&self, name: &str) -> String {
        let (_, cn, _) = USERS
            .iter()
            .find(|(login, ..)| login.eq_ignore_ascii_case(name))
            .unwrap_or_else(|| {
                panic!("the Samba AD fixture has no user {name:?}, only alice, bob and eve")
            });
        format!("CN={cn},{USERS_DN}")
    }

    /// The DN of a fixture group: `devs`, `ops` or `engineering`.
    ///
    /// # Panics
    /// For any other name.
    pub fn group_dn(&self, name: &str) -> String {
        let group = GROUPS
            .iter()
            .find(|g| g.eq_ignore_ascii_case(name))
            .unwrap_or_else(|| {
                panic!("the Samba AD fixture has no group {name:?}, only devs, ops and engineering")
            });
        format!("CN={group},{USERS_DN}")
    }

    /// Sends an LDAP simple bind as `name` (a DN, a UPN or `SAMDOM\login`)
    /// and returns the resultCode: 0 for success, 49 for invalid credentials.
    ///
    /// # Panics
    /// If the DC does not answer.
    pub fn simple_bind(&self, name: &str, password: &str) -> u8 {
        ldap_simple_bind(ldap_addr(), name, password)
            .unwrap_or_else(|e| panic!("LDAP bind as {name:?}: {e}"))
    }

    /// Runs `samba-tool <args>` on this DC's database and returns its
    /// output, to change the domain for one test, e.g.
    /// `["user", "disable", "eve"]` or `["group", "addmembers", "ops", "eve"]`.
    /// Samba serves the change at once; the next start has the fixture's
    /// domain again.
    ///
    /// # Panics
    /// If samba-tool fails.
    pub fn samba_tool(&self, args: &[&str]) -> String {
        let mut command = Command::new(&self.samba_tool);
        command
            .args(args)
            .arg("--configfile")
            .arg(self.root.join("etc/smb.conf"))
            .arg("-H")
            .arg(self.root.join("private/sam.ldb"));
        run(
            &mut command,
            &format!("samba-tool {}", args.join(" ")),
            None,
        )
    }

    /// Everything Samba has logged so far.
    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = File::open(self.root.join("samba.log")) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    /// Samba's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for SambaAd {
    fn drop(&mut self) {
        stop(&mut self.child, self.stdin.take());
        *HOLDER.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// Stops Samba: closing its stdin is its orderly shutdown; SIGKILL to its
/// process group if that does not work.
fn stop(child: &mut Child, stdin: Option<ChildStdin>) {
    drop(stdin);
    let exited = process::wait_for(Duration::from_secs(10), || {
        matches!(child.try_wait(), Ok(Some(_))).then_some(())
    });
    // Until it is reaped, its pid (the group's id) cannot be reused, so this
    // reaches only what it left behind.
    if let Ok(pgid) = i32::try_from(child.id()) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pgid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    if exited.is_none() {
        let _ = child.kill();
    }
    let _ = child.wait();
}

/// The programs the fixture runs.
struct Tools {
    samba: PathBuf,
    samba_tool: PathBuf,
    ldbmodify: PathBuf,
}

impl Tools {
    fn find() -> Tools {
        let find = |name: &str| {
            // Root's PATH has the sbin directories; a sudo'd or CI shell's may not.
            let path = std::env::var_os("PATH").unwrap_or_default();
            std::env::split_paths(&path)
                .chain(["/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
                .map(|dir| dir.join(name))
                .find(|candidate| candidate.is_file())
                .unwrap_or_else(|| {
                    panic!(
                        "`{name}` was not found: the Samba AD fixture needs Samba's AD DC. \
                         Install it (as root) with `{INSTALL_HINT}`"
                    )
                })
        };
        Tools {
            samba: find("samba"),
            samba_tool: find("samba-tool"),
            // ldb-tools: only suggested by Debian 12's current samba.
            ldbmodify: find("ldbmodify"),
        }
    }
}

fn ldap_addr() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, LDAP_PORT))
}

/// `<target>/samba-ad`: the lock and the cached domain.
fn state_dir() -> PathBuf {
    crate::target_dir().join("samba-ad")
}

fn take_lock() -> Flock<File> {
    let dir = state_dir();
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    let path = dir.join("lock");
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(&path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => return lock,
        Err((file, Errno::EWOULDBLOCK)) => {
            eprintln!(
                "samba_ad: waiting for another test's Samba DC to stop (lock {})",
                path.display()
            );
            file
        }
        Err((_, e)) => panic!("lock {}: {e}", path.display()),
    };
    loop {
        match Flock::lock(file, FlockArg::LockExclusive) {
            Ok(lock) => return lock,
            Err((again, Errno::EINTR)) => file = again,
            Err((_, e)) => panic!("lock {}: {e}", path.display()),
        }
    }
}

/// A fresh directory for this run's copy of the domain, under the target
/// dir rather than /tmp: a test process killed before its Drop leaves its
/// copy (tens of MB) behind, and the next start, holding the lock, knows
/// that no DC uses any other copy and deletes them.
fn run_dir() -> tempfile::TempDir {
    let state = state_dir();
    if let Ok(entries) = fs::read_dir(&state) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with("run-") {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
    tempfile::Builder::new()
        .prefix("run-")
        .tempdir_in(&state)
        .unwrap_or_else(|e| panic!("create a run directory in {}: {e}", state.display()))
}

fn provision_args(target: &Path) -> Vec<String> {
    vec![
        "domain".into(),
        "provision".into(),
        "--server-role=dc".into(),
        // No DNS server: clients use 127.0.0.1, and it would take port 53.
        "--dns-backend=NONE".into(),
        "--use-rfc2307".into(),
        format!("--realm={REALM}"),
        format!("--domain={NETBIOS_DOMAIN}"),
        // Not the machine's name, so the DC's DN is the same everywhere.
        "--host-name=dc1".into(),
        format!("--adminpass={ADMIN_PASSWORD}"),
        format!("--targetdir={}", target.display()),
        // Provisioning looks up the host's addresses; keep it to loopback.
        "--option=interfaces=lo".into(),
        "--option=bind interfaces only=yes".into(),
    ]
}

/// The provisioned and populated domain, made now if the cache lacks it.
/// Called with the lock held, so no other process provisions at once.
fn cached_domain(tools: &Tools) -> PathBuf {
    let state = state_dir();
    let key = cache_key(&samba_version(tools));
    let domain = state.join(format!("domain-{key}"));
    // Made under another name and renamed when complete, so it is whole.
    if domain.join("private/sam.ldb").is_file() {
        return domain;
    }
    // Earlier keys' domains (and a crashed provisioning) are tens of MB each.
    if let Ok(entries) = fs::read_dir(&state) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with("domain-") {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
    let started = Instant::now();
    let partial = state.join(format!("domain-{key}.partial"));
    fs::create_dir_all(&partial).unwrap_or_else(|e| panic!("create {}: {e}", partial.display()));
    run(
        Command::new(&tools.samba_tool).args(provision_args(&partial)),
        "samba-tool domain provision",
        None,
    );
    let sam_ldb = partial.join("private/sam.ldb");
    run(
        Command::new(&tools.ldbmodify).arg("-H").arg(&sam_ldb),
        "ldbmodify with fixtures/samba-ad/domain.ldif",
        Some(DOMAIN_LDIF),
    );
    run(
        Command::new(&tools.ldbmodify).arg("-H").arg(&sam_ldb),
        "ldbmodify setting the users' passwords",
        Some(&passwords_ldif()),
    );
    fs::rename(&partial, &domain)
        .unwrap_or_else(|e| panic!("rename {} to {}: {e}", partial.display(), domain.display()));
    eprintln!(
        "samba_ad: provisioned the test domain in {:.1?}, cached in {}",
        started.elapsed(),
        domain.display()
    );
    domain
}

/// Sets each user's password (AD's `unicodePwd`: the quoted password in
/// UTF-16LE) and enables the account, which AD made disabled for want of one.
fn passwords_ldif() -> String {
    USERS
        .iter()
        .map(|(_, cn, password)| {
            let quoted: Vec<u8> = format!("\"{password}\"")
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect();
            format!(
                "dn: CN={cn},{USERS_DN}\nchangetype: modify\nreplace: unicodePwd\n\
                 unicodePwd:: {}\n-\nreplace: userAccountControl\n\
                 userAccountControl: {NORMAL_ACCOUNT}\n\n",
                STANDARD.encode(quoted)
            )
        })
        .collect()
}

fn samba_version(tools: &Tools) -> String {
    run(
        Command::new(&tools.samba).arg("--version"),
        "samba --version",
        None,
    )
    .trim()
    .to_owned()
}

/// What the cached domain depends on: a change to any of it provisions anew.
fn cache_key(samba_version: &str) -> String {
    let mut hash = Sha256::new();
    let mut part = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_be_bytes());
        hash.update(bytes);
    };
    part(FIXTURE_VERSION.as_bytes());
    part(samba_version.as_bytes());
    for arg in provision_args(Path::new("@DIR@")) {
        part(arg.as_bytes());
    }
    part(DOMAIN_LDIF.as_bytes());
    part(passwords_ldif().as_bytes());
    hash.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Runs `command` to completion, feeding it `input`; returns its stdout.
///
/// # Panics
/// If it cannot run or fails, with its output.
fn run(command: &mut Command, what: &str, input: Option<&str>) -> String {
    let mut child = command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(input.as_bytes())
            .unwrap_or_else(|e| panic!("write to {what}: {e}"));
    }
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait for {what}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Copies the cached domain: files and directories (with their modes; the
/// private directory is 0700), symlinks as symlinks. The cache never ran a
/// server, so it holds no sockets.
fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    fs::set_permissions(to, fs::metadata(from)?.permissions())?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&source, &target)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&source)?, &target)?;
        } else {
            fs::copy(&source, &target)?;
        }
    }
    Ok(())
}

/// Writes `ca.pem`, `cert.pem` and `key.pem` (mode 0600, which Samba
/// insists on) into `dir`; returns the CA's PEM.
fn write_tls_files(dir: &Path) -> String {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
    };
    const RCGEN: &str = "rcgen makes the Samba DC's certificates";
    let now = SystemTime::now();
    let not_before = now - Duration::from_secs(3600);
    // A start's own CA: it need outlive only the test.
    let not_after = now + Duration::from_secs(30 * 24 * 3600);

    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect(RCGEN);
    let mut ca = CertificateParams::default();
    ca.distinguished_name = rcgen::DistinguishedName::new();
    ca.distinguished_name
        .push(DnType::CommonName, "vault-plugin-test-support Samba AD CA");
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

    let server_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect(RCGEN);
    let mut server = CertificateParams::new(vec![
        "127.0.0.1".to_owned(),
        "localhost".to_owned(),
        DC_HOSTNAME.to_owned(),
        UPN_DOMAIN.to_owned(),
    ])
    .expect(RCGEN);
    server.distinguished_name = rcgen::DistinguishedName::new();
    server
        .distinguished_name
        .push(DnType::CommonName, DC_HOSTNAME);
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.not_before = not_before.into();
    server.not_after = not_after.into();
    let server_cert = server.signed_by(&server_key, &issuer).expect(RCGEN);

    let write = |name: &str, text: &str, mode: u32| {
        let path = dir.join(name);
        OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(mode)
            .open(&path)
            .and_then(|mut file| file.write_all(text.as_bytes()))
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    };
    write("ca.pem", &ca_cert.pem(), 0o644);
    write("cert.pem", &server_cert.pem(), 0o644);
    write("key.pem", &server_key.serialize_pem(), 0o600);
    ca_cert.pem()
}

/// Sends one LDAP simple BindRequest (RFC 4511) and returns the
/// BindResponse's resultCode. Enough to know the DC is up and to check
/// credentials, without an LDAP client library or ldap-utils.
fn ldap_simple_bind(addr: SocketAddr, name: &str, password: &str) -> io::Result<u8> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let bind = [
        ber(0x02, &[3]),                // version
        ber(0x04, name.as_bytes()),     // name
        ber(0x80, password.as_bytes()), // [0] simple
    ]
    .concat();
    let message = [ber(0x02, &[1]), ber(0x60, &bind)].concat(); // messageID, [APPLICATION 0]
    stream.write_all(&ber(0x30, &message))?;

    let mut reply = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection without a BindResponse",
            ));
        }
        reply.extend_from_slice(&chunk[..n]);
        if let Some(code) = bind_result_code(&reply) {
            return Ok(code);
        }
        if reply.len() > 64 * 1024 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "no BindResponse in the server's answer",
            ));
        }
    }
}

/// A BER TLV with a definite length.
fn ber(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match u8::try_from(contents.len()) {
        Ok(len) if len < 0x80 => out.push(len),
        _ => {
            let len = contents.len().to_be_bytes();
            let skip = len.iter().take_while(|b| **b == 0).count();
            out.push(0x80 | (len.len() - skip) as u8);
            out.extend_from_slice(&len[skip..]);
        }
    }
    out.extend_from_slice(contents);
    out
}

/// The first BER TLV of `input` as (tag, contents, rest); `None` if it is
/// incomplete.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let (len, rest) = rest.split_at_checked(usize::from(first & 0x7f))?;
        let len = len.iter().try_fold(0usize, |acc, b| {
            acc.checked_mul(256)?.checked_add(usize::from(*b))
        })?;
        (len, rest)
    };
    let (contents, rest) = rest.split_at_checked(len)?;
    Some((tag, contents, rest))
}

/// The resultCode of an LDAPMessage holding a BindResponse.
fn bind_result_code(reply: &[u8]) -> Option<u8> {
    let (0x30, message, _) = tlv(reply)? else {
        return None;
    };
    let (0x02, _id, rest) = tlv(message)? else {
        return None;
    };
    let (0x61, response, _) = tlv(rest)? else {
        return None;
    };
    let (0x0a, code, _) = tlv(response)? else {
        return None;
    };
    code.last().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ber_lengths() {
        assert_eq!(ber(0x04, b"ab"), [0x04, 2, b'a', b'b']);
        let long = ber(0x04, &[0; 300]);
        assert_eq!(long[..4], [0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(long.len(), 304);
        let (tag, contents, rest) = tlv(&long).expect("a whole TLV");
        assert_eq!((tag, contents.len(), rest.len()), (0x04, 300, 0));
        assert_eq!(tlv(&long[..100]), None);
    }

    #[test]
    fn bind_response_result_codes() {
        // Samba's answer to a bind with a wrong password.
        let diagnostic = b"80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1";
        let response = [ber(0x0a, &[49]), ber(0x04, b""), ber(0x04, diagnostic)].concat();
        let reply = ber(0x30, &[ber(0x02, &[1]), ber(0x61, &response)].concat());
        assert_eq!(bind_result_code(&reply), Some(49));
        assert_eq!(bind_result_code(&reply[..reply.len() - 1]), None);
        let ok = ber(
            0x30,
            &[
                ber(0x02, &[1]),
                ber(
                    0x61,
                    &[ber(0x0a, &[0]), ber(0x04, b""), ber(0x04, b"")].concat(),
                ),
            ]
            .concat(),
        );
        assert_eq!(bind_result_code(&ok), Some(0));
    }

    #[test]
    fn passwords_ldif_encodes_unicode_pwd() {
        let ldif = passwords_ldif();
        // "\"Al1ce-Passw0rd!\"" in UTF-16LE, base64.
        let alice: Vec<u8> = "\"Al1ce-Passw0rd!\""
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert!(ldif.contains(&format!(
            "dn: CN=Alice Smith,{USERS_DN}\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: {}\n",
            STANDARD.encode(alice)
        )));
        assert_eq!(ldif.matches("userAccountControl: 512").count(), USERS.len());
    }
}
