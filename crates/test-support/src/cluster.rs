//! A real OpenBao cluster on loopback: nodes with integrated (raft) storage,
//! each configured from `fixtures/openbao/node.hcl`, unsealed by a static
//! key, sharing one plugin directory. Nodes can be SIGKILLed and started
//! again on their data; everything stops on drop.
//!
//! A cluster of one is a server with persistent storage, for what the dev
//! server cannot show: a crash and a restart that must find everything.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::api::{Api, PluginKind};
use crate::openbao::{bao_binary, free_port, install_plugin, read_log};
use crate::{evidence, process};

const NODE_TEMPLATE: &str = include_str!("../fixtures/openbao/node.hcl");

/// Joined nodes become voters only after autopilot's 10 s stabilization;
/// formation takes about 12.5 s, and a slow machine gets headroom.
const FORMATION_TIMEOUT: Duration = Duration::from_secs(60);

/// What `sys/health` answers, by status code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeState {
    Active,
    Standby,
    Sealed,
    Uninitialized,
    /// Not answering at all (killed, or still starting).
    Down,
    Other(u16),
}

pub struct OpenBaoCluster {
    bao: PathBuf,
    root: PathBuf,
    plugin_dir: PathBuf,
    nodes: Vec<Node>,
    _dir: tempfile::TempDir,
}

struct Node {
    config: PathBuf,
    log_path: PathBuf,
    api: Api,
    child: Option<Child>,
}

impl OpenBaoCluster {
    /// Starts `size` nodes, initializes the first, and waits until every
    /// node is unsealed and every joined node is a voter.
    ///
    /// # Panics
    /// If `bao` is missing (with how to install it) or the cluster does not
    /// form in time (with the nodes' logs).
    pub fn start(size: usize) -> Self {
        assert!(size >= 1, "a cluster needs a node");
        let dir = tempfile::Builder::new()
            .prefix("openbao-cluster")
            .tempdir()
            .expect("temp dir");
        // OpenBao refuses plugin directories reached through a symlink.
        let root = dir.path().canonicalize().expect("canonical temp dir");
        let plugin_dir = root.join("plugins");
        std::fs::create_dir(&plugin_dir).expect("plugin dir");
        let seal_key = root.join("seal.key");
        std::fs::write(&seal_key, random_key()).expect("seal key");

        let ports: Vec<(u16, u16)> = (0..size).map(|_| (free_port(), free_port())).collect();
        let retry_join: String = ports
            .iter()
            .map(|(api, _)| {
                format!("  retry_join {{\n    leader_api_addr = \"http://127.0.0.1:{api}\"\n  }}\n")
            })
            .collect();
        let nodes = ports
            .iter()
            .enumerate()
            .map(|(i, (api_port, cluster_port))| {
                let node_dir = root.join(format!("node{i}"));
                let data_dir = node_dir.join("data");
                std::fs::create_dir_all(&data_dir).expect("node data dir");
                let config = node_dir.join("config.hcl");
                let text = NODE_TEMPLATE
                    .replace("@API_PORT@", &api_port.to_string())
                    .replace("@CLUSTER_PORT@", &cluster_port.to_string())
                    .replace("@PLUGIN_DIR@", &plugin_dir.display().to_string())
                    .replace("@DATA_DIR@", &data_dir.display().to_string())
                    .replace("@NODE_ID@", &format!("node{i}"))
                    .replace("@SEAL_KEY@", &seal_key.display().to_string())
                    // A single server has no one to join.
                    .replace("@RETRY_JOIN@", if size > 1 { &retry_join } else { "" });
                std::fs::write(&config, text).expect("node config");
                Node {
                    config,
                    log_path: node_dir.join("server.log"),
                    api: Api::new(format!("http://127.0.0.1:{api_port}"), ""),
                    child: None,
                }
            })
            .collect();
        let mut cluster = OpenBaoCluster {
            bao: bao_binary(),
            root,
            plugin_dir,
            nodes,
            _dir: dir,
        };
        for i in 0..size {
            cluster.spawn(i);
        }
        cluster.initialize();
        cluster
    }

    fn spawn(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log_path)
            .expect("node log");
        let child = Command::new(&self.bao)
            .arg("server")
            .arg(format!("-config={}", node.config.display()))
            .arg("-log-level=debug")
            .env("HOME", &self.root)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bao.display()));
        node.child = Some(child);
    }

    fn initialize(&mut self) {
        self.wait_for("node0 to listen", |c| {
            (c.state(0) == NodeState::Uninitialized).then_some(())
        });
        // Auto-unseal: recovery keys instead of unseal keys.
        let init = self.nodes[0].api.request_with_token(
            "PUT",
            "sys/init",
            Some(serde_json::json!({"recovery_shares": 1, "recovery_threshold": 1})),
            None,
        );
        let token = init.body["root_token"]
            .as_str()
            .unwrap_or_else(|| panic!("sys/init failed: {}\n{}", init.body, self.logs()))
            .to_string();
        for node in &mut self.nodes {
            node.api = Api::new(node.api.addr().to_string(), token.clone());
        }
        self.wait_for("node0 to become active", |c| {
            (c.state(0) == NodeState::Active).then_some(())
        });
        let size = self.nodes.len();
        self.wait_for("every node to join as a voter", |c| {
            let standbys = (1..size).all(|i| c.state(i) == NodeState::Standby);
            (standbys && c.voters(0) == size).then_some(())
        });
    }

    fn wait_for<T>(&self, what: &str, mut check: impl FnMut(&Self) -> Option<T>) -> T {
        process::wait_for(FORMATION_TIMEOUT, || check(self))
            .unwrap_or_else(|| panic!("timed out waiting for {what}; logs:\n{}", self.logs()))
    }

    /// How many voters node `i` counts in the raft configuration.
    fn voters(&self, i: usize) -> usize {
        let config = self.nodes[i].api.read("sys/storage/raft/configuration");
        config.body["data"]["config"]["servers"]
            .as_array()
            .map(|servers| servers.iter().filter(|s| s["voter"] == true).count())
            .unwrap_or(0)
    }

    pub fn size(&self) -> usize {
        self.nodes.len()
    }

    /// Node `i`'s API, called with the root token.
    pub fn node(&self, i: usize) -> &Api {
        &self.nodes[i].api
    }

    /// Node `i`'s server process, while it runs.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.nodes[i].child.as_ref().map(Child::id)
    }

    /// What node `i`'s `sys/health` says.
    pub fn state(&self, i: usize) -> NodeState {
        match self.nodes[i]
            .api
            .request_with_token("GET", "sys/health", None, None)
            .status
        {
            200 => NodeState::Active,
            429 => NodeState::Standby,
            503 => NodeState::Sealed,
            501 => NodeState::Uninitialized,
            0 => NodeState::Down,
            other => NodeState::Other(other),
        }
    }

    /// The active node, waiting up to `timeout` for one.
    pub fn wait_for_active(&self, timeout: Duration) -> Option<usize> {
        process::wait_for(timeout, || {
            (0..self.nodes.len()).find(|&i| self.state(i) == NodeState::Active)
        })
    }

    /// The active node now.
    ///
    /// # Panics
    /// If none is active within the formation timeout.
    pub fn active(&self) -> usize {
        self.wait_for("an active node", |c| {
            (0..c.nodes.len()).find(|&i| c.state(i) == NodeState::Active)
        })
    }

    /// The nodes that are not active.
    pub fn standbys(&self) -> Vec<usize> {
        let active = self.active();
        (0..self.nodes.len()).filter(|&i| i != active).collect()
    }

    /// Kills node `i` with SIGKILL, as a crash would.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts node `i` again on its data and waits until it is unsealed.
    pub fn restart(&mut self, i: usize) -> Duration {
        let started = Instant::now();
        self.spawn(i);
        self.wait_for("the restarted node to unseal", |c| {
            matches!(c.state(i), NodeState::Active | NodeState::Standby).then_some(())
        });
        started.elapsed()
    }

    /// Copies `binary` into the shared plugin directory as
    /// `<name>-<version>` and registers it by SHA-256 through the active
    /// node. Returns the SHA-256.
    pub fn register_plugin(
        &self,
        kind: PluginKind,
        name: &str,
        binary: &Path,
        version: &str,
    ) -> String {
        let (command, sha256) = install_plugin(&self.plugin_dir, name, binary, version);
        self.node(self.active())
            .register_in_catalog(kind, name, &command, &sha256, version)
            .ok();
        sha256
    }

    /// Pids of node `i`'s child processes running the plugin `command`.
    pub fn plugin_pids(&self, i: usize, command: &str) -> Vec<u32> {
        self.pid(i)
            .map(|pid| process::children_running(pid, command))
            .unwrap_or_default()
    }

    /// Node `i`'s log so far.
    pub fn log(&self, i: usize) -> String {
        read_log(&self.nodes[i].log_path)
    }

    fn logs(&self) -> String {
        (0..self.nodes.len())
            .map(|i| format!("--- node{i}\n{}", self.log(i)))
            .collect()
    }
}

impl Drop for OpenBaoCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(child) = &node.child {
                process::terminate(child.id());
            }
        }
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let stopped = process::wait_for(Duration::from_secs(5), || {
                    matches!(child.try_wait(), Ok(Some(_))).then_some(())
                });
                if stopped.is_none() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
            evidence::save_log("openbao-cluster", &node.log_path);
        }
    }
}

/// 32 random bytes: the static seal's AES-256 key.
fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .expect("read /dev/urandom");
    key
}
