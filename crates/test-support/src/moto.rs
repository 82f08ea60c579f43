//! A local AWS API emulator, moto (`moto_server`), on a free loopback port,
//! stopped on drop; a small IAM/STS query client to check through the
//! emulator's own API what a plugin made; and [`HoldingProxy`], which passes
//! calls to the emulator but holds chosen ones unanswered, to stop a plugin
//! half-way through a multi-call operation.
//!
//! moto does not check request signatures, so the client sends an
//! `Authorization` header that only names the service.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::openbao::free_port;

/// The moto release the project tests against (`cargo xtask test` installs
/// it into `target/tools/moto-venv`).
pub const MOTO_VERSION: &str = "5.2.5";

/// Where `moto_server` is: `MOTO_SERVER`, else the venv `cargo xtask test`
/// makes under the target directory (or the workspace's `target/`).
pub fn moto_server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let candidates = [
        crate::target_dir().join("tools/moto-venv/bin/moto_server"),
        crate::workspace_root().join("target/tools/moto-venv/bin/moto_server"),
    ];
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "moto_server was not found. Run `cargo xtask test`, which installs it with \
                 `pip install \"moto[server]=={MOTO_VERSION}\"` into target/tools/moto-venv, \
                 or set MOTO_SERVER to a moto_server binary."
            )
        })
}

/// A running emulator.
pub struct Moto {
    child: Child,
    endpoint: String,
    agent: ureq::Agent,
}

/// The account id moto answers with.
pub const ACCOUNT_ID: &str = "123456789012";

impl Moto {
    /// Starts `moto_server` and waits until it answers.
    ///
    /// # Panics
    /// If `moto_server` is missing (with how to install it) or does not start.
    pub fn start() -> Self {
        Self::start_with(&moto_server_binary())
    }

    /// Starts the given `moto_server` and waits until it answers.
    pub fn start_with(binary: &Path) -> Self {
        let port = free_port();
        let child = Command::new(binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .new_agent();
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            agent,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = moto
                .agent
                .get(format!("{}/moto-api/data.json", moto.endpoint))
                .call()
                .is_ok_and(|r| r.status() == 200);
            if ready {
                return moto;
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer on {} within 60 s",
                moto.endpoint
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `http://127.0.0.1:<port>`, for a plugin's IAM and STS endpoints.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Calls `action` of `service` (`iam` or `sts`) with form parameters;
    /// returns the HTTP status and the XML body.
    pub fn call(&self, service: &str, action: &str, params: &[(&str, &str)]) -> (u16, String) {
        let version = match service {
            "sts" => "2011-06-15",
            _ => "2010-05-08",
        };
        let mut form = vec![("Action", action), ("Version", version)];
        form.extend_from_slice(params);
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, \
             SignedHeaders=host, Signature=0"
        );
        let mut resp = self
            .agent
            .post(&self.endpoint)
            .header("Authorization", &auth)
            .send_form(form)
            .unwrap_or_else(|e| panic!("{service} {action} did not reach moto: {e}"));
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        (status, body)
    }

    /// Like [`Moto::call`] to IAM, panicking unless it succeeded.
    #[track_caller]
    pub fn iam(&self, action: &str, params: &[(&str, &str)]) -> String {
        let (status, body) = self.call("iam", action, params);
        assert_eq!(status, 200, "IAM {action} failed: {body}");
        body
    }

    /// The names of all IAM users.
    pub fn user_names(&self) -> Vec<String> {
        xml_values(&self.iam("ListUsers", &[]), "UserName")
    }

    /// Whether user `name` exists.
    pub fn user_exists(&self, name: &str) -> bool {
        self.call("iam", "GetUser", &[("UserName", name)]).0 == 200
    }

    /// The access key ids of user `name`.
    pub fn access_keys(&self, name: &str) -> Vec<String> {
        xml_values(
            &self.iam("ListAccessKeys", &[("UserName", name)]),
            "AccessKeyId",
        )
    }

    /// Creates user `name` with one access key; returns (key id, secret).
    pub fn create_user_with_key(&self, name: &str) -> (String, String) {
        self.iam("CreateUser", &[("UserName", name)]);
        let body = self.iam("CreateAccessKey", &[("UserName", name)]);
        let id = xml_values(&body, "AccessKeyId").pop().unwrap_or_default();
        let secret = xml_values(&body, "SecretAccessKey")
            .pop()
            .unwrap_or_default();
        (id, secret)
    }

    /// Creates a customer managed policy; returns its ARN.
    pub fn create_policy(&self, name: &str, document: &str) -> String {
        let body = self.iam(
            "CreatePolicy",
            &[("PolicyName", name), ("PolicyDocument", document)],
        );
        xml_values(&body, "Arn").pop().unwrap_or_default()
    }

    /// Creates a role anyone in the account may assume; returns its ARN.
    pub fn create_role(&self, name: &str) -> String {
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT_ID}:root"}},"Action":"sts:AssumeRole"}}]}}"#
        );
        let body = self.iam(
            "CreateRole",
            &[("RoleName", name), ("AssumeRolePolicyDocument", &trust)],
        );
        xml_values(&body, "Arn").pop().unwrap_or_default()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The text of every `<tag>…</tag>` in `xml`, in order.
pub fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else {
            break;
        };
        out.push(unescape(&after[..end]));
        rest = &after[end + close.len()..];
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// An HTTP/1.1 proxy in front of moto that forwards every request except
/// those whose body contains a chosen text (an `Action=...`): those it
/// reads and never answers, so the caller is stuck right there. It can also
/// play an emulator that went down: held requests and new connections are
/// closed without an answer.
pub struct HoldingProxy {
    endpoint: String,
    held: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    down: Arc<AtomicBool>,
    /// Connections left hanging, closed on drop.
    hanging: Arc<Mutex<Vec<TcpStream>>>,
}

impl HoldingProxy {
    /// Forwards to `upstream` (an `http://host:port` endpoint) and holds
    /// requests whose body contains `hold`.
    pub fn start(upstream: &str, hold: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let endpoint = format!("http://{}", listener.local_addr().expect("proxy address"));
        let upstream = upstream
            .strip_prefix("http://")
            .unwrap_or(upstream)
            .to_string();
        let held = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let down = Arc::new(AtomicBool::new(false));
        let hanging = Arc::new(Mutex::new(Vec::new()));
        let hold = hold.to_string();
        let (h, s, d, hang) = (
            Arc::clone(&held),
            Arc::clone(&stop),
            Arc::clone(&down),
            Arc::clone(&hanging),
        );
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                if d.load(Ordering::SeqCst) {
                    let _ = conn.shutdown(Shutdown::Both);
                    continue;
                }
                let (upstream, hold, h, hang) = (
                    upstream.clone(),
                    hold.clone(),
                    Arc::clone(&h),
                    Arc::clone(&hang),
                );
                std::thread::spawn(move || serve(conn, &upstream, &hold, &h, &hang));
            }
        });
        HoldingProxy {
            endpoint,
            held,
            stop,
            down,
            hanging,
        }
    }

    /// From now on, closes every connection without an answer, the held
    /// ones included.
    pub fn go_down(&self) {
        self.down.store(true, Ordering::SeqCst);
        self.close_held();
    }

    /// Forwards (and holds) again.
    pub fn come_back(&self) {
        self.down.store(false, Ordering::SeqCst);
    }

    fn close_held(&self) {
        if let Ok(mut conns) = self.hanging.lock() {
            for c in conns.drain(..) {
                let _ = c.shutdown(Shutdown::Both);
            }
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// How many requests it is holding.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }
}

impl Drop for HoldingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.endpoint.trim_start_matches("http://"));
        self.close_held();
    }
}

/// One request from `reader`: head (with `Connection: close` forced) and body.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut head = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().ok()?;
        }
        if lower.starts_with("connection:") {
            continue;
        }
        if line == "\r\n" {
            head.extend_from_slice(b"Connection: close\r\n\r\n");
            break;
        }
        head.extend_from_slice(line.as_bytes());
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((head, body))
}

fn serve(
    conn: TcpStream,
    upstream: &str,
    hold: &str,
    held: &AtomicUsize,
    hanging: &Mutex<Vec<TcpStream>>,
) {
    let Ok(mut writer) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(conn);
    if let Some((head, body)) = read_request(&mut reader) {
        if String::from_utf8_lossy(&body).contains(hold) {
            held.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut h) = hanging.lock() {
                h.push(writer);
            }
            return;
        }
        let Ok(mut up) = TcpStream::connect(upstream) else {
            return;
        };
        if up
            .write_all(&head)
            .and_then(|()| up.write_all(&body))
            .is_err()
        {
            return;
        }
        // Upstream closes after its answer (Connection: close), and so do
        // we: the client opens a new connection for its next call.
        let mut answer = Vec::new();
        if up.read_to_end(&mut answer).is_ok() {
            let _ = writer.write_all(&answer);
        }
    }
}
