//! A strict go-plugin host in the test process: launches a plugin binary the
//! way Vault and OpenBao do, checks its handshake to the letter, connects
//! over mutual TLS, and serves storage and a system view through the broker.
//! It covers what a real server cannot show: wrong certificates, broken
//! handshakes, exact wire replies.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tonic::transport::{Channel, Server};
use tonic::{Request, Response, Status};
use vault_plugin_sdk::proto::plugin::grpc_broker_client::GrpcBrokerClient;
use vault_plugin_sdk::proto::plugin::grpc_controller_client::GrpcControllerClient;
use vault_plugin_sdk::proto::plugin::{ConnInfo, Empty as PluginEmpty};
use vault_plugin_sdk::proto::{health, logical, multiplexing, pb};
use vault_plugin_sdk::server::{MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE, MULTIPLEX_ID_KEY};
use vault_plugin_sdk::transport::automtls::{self, Identity};
use vault_plugin_sdk::transport::{
    MAX_MESSAGE_SIZE, PluginListener, SocketGuard, TlsIncoming, dial_unix_tls,
};

use crate::process;

/// What went wrong between the host and the plugin.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("plugin printed no handshake line within {0:?} (stderr: {1})")]
    NoHandshake(Duration, String),
    #[error("bad handshake line {line:?}: {problem}")]
    BadHandshake { line: String, problem: String },
    #[error("connecting to the plugin: {0}")]
    Connect(#[from] tonic::transport::Error),
    #[error("gRPC call failed: {0}")]
    Call(#[from] Status),
    #[error("setup failed: {0}")]
    Setup(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("TLS: {0}")]
    Tls(#[from] automtls::TlsSetupError),
    #[error("a Go host would refuse this reply: {0}")]
    Refused(String),
}

/// What a Go host's translation of a reply (Vault's `pb/translation.go`)
/// refuses: JSON fields it decodes unconditionally, and leases without an
/// issue time.
fn check_reply(reply: &pb::HandleRequestReply) -> Result<(), HostError> {
    let Some(resp) = &reply.response else {
        return Ok(());
    };
    let json = |what: &str, text: &str| {
        serde_json::from_str::<serde_json::Value>(text)
            .map(|_| ())
            .map_err(|e| HostError::Refused(format!("{what} {text:?} is not JSON: {e}")))
    };
    let lease = |what: &str, lease: &Option<pb::LeaseOptions>| match lease {
        Some(l) if l.issue_time.is_some() => Ok(()),
        _ => Err(HostError::Refused(format!(
            "{what} lease has no issue time (proto: invalid nil Timestamp)"
        ))),
    };
    json("response data", &resp.data)?;
    if let Some(secret) = &resp.secret {
        json("secret internal data", &secret.internal_data)?;
        lease("secret", &secret.lease_options)?;
    }
    if let Some(auth) = &resp.auth {
        json("auth internal data", &auth.internal_data)?;
        lease("auth", &auth.lease_options)?;
    }
    Ok(())
}

/// The parsed handshake line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    pub core_version: u32,
    pub app_version: u32,
    pub network: String,
    pub address: String,
    pub protocol: String,
    pub server_cert_der: Vec<u8>,
    pub multiplex: Option<bool>,
}

/// Parses a handshake line as go-plugin's client does, but strictly: six
/// fields (seven only when the host asked about multiplexing), core version
/// 1, app version 5, a unix socket, gRPC, and a certificate in unpadded
/// standard base64.
pub fn parse_handshake(line: &str, multiplex_asked: bool) -> Result<Handshake, HostError> {
    let bad = |problem: &str| HostError::BadHandshake {
        line: line.to_string(),
        problem: problem.to_string(),
    };
    let fields: Vec<&str> = line.split('|').collect();
    let expected = if multiplex_asked { 7 } else { 6 };
    if fields.len() != expected {
        return Err(bad(&format!(
            "{} fields, expected {expected}",
            fields.len()
        )));
    }
    let core_version = fields[0]
        .parse()
        .map_err(|_| bad("core version is not a number"))?;
    if core_version != 1 {
        return Err(bad("core version must be 1"));
    }
    let app_version = fields[1]
        .parse()
        .map_err(|_| bad("app version is not a number"))?;
    if app_version != 5 {
        return Err(bad("app version must be 5"));
    }
    if fields[2] != "unix" {
        return Err(bad("network must be unix"));
    }
    if !Path::new(fields[3]).is_absolute() {
        return Err(bad("address must be an absolute socket path"));
    }
    if fields[4] != "grpc" {
        return Err(bad("protocol must be grpc"));
    }
    if fields[5].ends_with('=') {
        return Err(bad(
            "certificate must be unpadded base64 (Go's RawStdEncoding)",
        ));
    }
    let server_cert_der = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(fields[5])
        .map_err(|e| bad(&format!("certificate is not base64: {e}")))?;
    if server_cert_der.is_empty() {
        return Err(bad("no server certificate: AutoMTLS is mandatory"));
    }
    let multiplex = match fields.get(6) {
        None => None,
        Some(&"true") => Some(true),
        Some(&"false") => Some(false),
        Some(_) => return Err(bad("multiplex field must be true or false")),
    };
    Ok(Handshake {
        core_version,
        app_version,
        network: fields[2].to_string(),
        address: fields[3].to_string(),
        protocol: fields[4].to_string(),
        server_cert_der,
        multiplex,
    })
}

/// How to start a plugin. By default: what OpenBao 2.7.2 sets (the cookie,
/// protocol 5, AutoMTLS with a fresh host certificate), in an otherwise
/// empty environment, with the socket in a temp dir of this launch.
pub struct Launch {
    binary: PathBuf,
    env: BTreeMap<String, String>,
    identity: Arc<Identity>,
}

impl Launch {
    pub fn new(binary: &Path) -> Self {
        let identity = Arc::new(Identity::generate().expect("host certificate"));
        let mut env = BTreeMap::new();
        env.insert(MAGIC_COOKIE_KEY.to_string(), MAGIC_COOKIE_VALUE.to_string());
        env.insert("PLUGIN_PROTOCOL_VERSIONS".to_string(), "5".to_string());
        env.insert(
            "PLUGIN_CLIENT_CERT".to_string(),
            automtls::pem_encode(&identity.cert),
        );
        env.insert(
            "VAULT_PLUGIN_AUTOMTLS_ENABLED".to_string(),
            "true".to_string(),
        );
        Launch {
            binary: binary.to_path_buf(),
            env,
            identity,
        }
    }

    /// Sets an environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.insert(key.to_string(), value.to_string());
        self
    }

    /// Removes an environment variable the launch would set.
    pub fn without(mut self, key: &str) -> Self {
        self.env.remove(key);
        self
    }

    /// Starts the process; nothing is checked yet.
    pub fn spawn(self) -> Spawned {
        let socket_dir = tempfile::Builder::new()
            .prefix("host")
            .tempdir()
            .expect("socket dir");
        let mut command = Command::new(&self.binary);
        command
            .env_clear()
            .envs(&self.env)
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if !self.env.contains_key("PLUGIN_UNIX_SOCKET_DIR") {
            command.env("PLUGIN_UNIX_SOCKET_DIR", socket_dir.path());
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.binary.display()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut stderr_reader = None;
        if let Some(mut pipe) = child.stderr.take() {
            let sink = stderr.clone();
            stderr_reader = Some(std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }));
        }
        let (line_tx, line_rx) = std::sync::mpsc::channel();
        if let Some(pipe) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    match line {
                        Ok(line) => {
                            if line_tx.send(line).is_err() {
                                break;
                            }
                        }
                        Err(_) => break,
                    }
                }
            });
        }
        Spawned {
            child,
            identity: self.identity,
            multiplex_asked: self.env.contains_key("PLUGIN_MULTIPLEX_GRPC"),
            stdout: line_rx,
            stderr,
            stderr_reader,
            socket_dir,
        }
    }
}

/// A started plugin process, before the host connects.
pub struct Spawned {
    child: Child,
    identity: Arc<Identity>,
    multiplex_asked: bool,
    stdout: std::sync::mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
    socket_dir: tempfile::TempDir,
}

impl Spawned {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The first stdout line.
    pub fn handshake_line(&mut self, timeout: Duration) -> Result<String, HostError> {
        self.stdout
            .recv_timeout(timeout)
            .map_err(|_| HostError::NoHandshake(timeout, self.stderr()))
    }

    /// Any further stdout line (there must be none).
    pub fn next_stdout_line(&mut self, timeout: Duration) -> Option<String> {
        self.stdout.recv_timeout(timeout).ok()
    }

    /// What the plugin wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits for the process to exit; once it has, `stderr` holds all of it.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let status = process::wait_for(timeout, || self.child.try_wait().ok().flatten())?;
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
        Some(status)
    }

    /// Reads and checks the handshake, then connects over mutual TLS.
    pub async fn connect(mut self) -> Result<Plugin, HostError> {
        let line = self.handshake_line(Duration::from_secs(10))?;
        let handshake = parse_handshake(&line, self.multiplex_asked)?;
        let plugin_cert =
            rustls::pki_types::CertificateDer::from(handshake.server_cert_der.clone());
        let tls = Arc::new(automtls::client_config(
            &self.identity,
            plugin_cert.clone(),
        )?);
        let channel = dial_unix_tls(PathBuf::from(&handshake.address), tls).await?;

        // Open the broker stream as go-plugin's client does right away.
        let (broker_tx, broker_rx) = mpsc::channel::<ConnInfo>(16);
        let outbound = tokio_stream::wrappers::ReceiverStream::new(broker_rx);
        let mut inbound = GrpcBrokerClient::new(channel.clone())
            .start_stream(outbound)
            .await?
            .into_inner();
        tokio::spawn(async move { while let Some(Ok(_)) = inbound.next().await {} });

        Ok(Plugin {
            spawned: self,
            handshake,
            channel,
            plugin_cert,
            broker_tx,
            next_broker_id: AtomicU32::new(1),
        })
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plugin the host is connected to.
pub struct Plugin {
    spawned: Spawned,
    pub handshake: Handshake,
    channel: Channel,
    plugin_cert: rustls::pki_types::CertificateDer<'static>,
    broker_tx: mpsc::Sender<ConnInfo>,
    next_broker_id: AtomicU32,
}

impl Plugin {
    pub fn pid(&self) -> u32 {
        self.spawned.pid()
    }

    pub fn stderr(&self) -> String {
        self.spawned.stderr()
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.spawned.wait_exit(timeout)
    }

    /// The host's connection to the plugin.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    pub fn backend(&self) -> pb::backend_client::BackendClient<Channel> {
        pb::backend_client::BackendClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE)
    }

    /// The version the plugin reports over `logical.PluginVersion`.
    pub async fn version(&self) -> Result<String, HostError> {
        let reply = logical::plugin_version_client::PluginVersionClient::new(self.channel.clone())
            .version(logical::Empty {})
            .await?;
        Ok(reply.into_inner().plugin_version)
    }

    pub async fn multiplexing_supported(&self) -> Result<bool, HostError> {
        let reply = multiplexing::plugin_multiplexing_client::PluginMultiplexingClient::new(
            self.channel.clone(),
        )
        .multiplexing_support(multiplexing::MultiplexingSupportRequest {})
        .await?;
        Ok(reply.into_inner().supported)
    }

    /// The health status the plugin reports for `service`.
    pub async fn health(&self, service: &str) -> Result<i32, Status> {
        let reply = health::health_client::HealthClient::new(self.channel.clone())
            .check(health::HealthCheckRequest {
                service: service.to_string(),
            })
            .await?;
        Ok(reply.into_inner().status)
    }

    /// Asks the plugin to stop (go-plugin's controller).
    pub async fn shutdown(&self) -> Result<(), HostError> {
        GrpcControllerClient::new(self.channel.clone())
            .shutdown(PluginEmpty {})
            .await?;
        Ok(())
    }

    /// Tries to connect presenting `identity` instead of the certificate the
    /// plugin was launched with.
    pub async fn connect_as(&self, identity: &Identity) -> Result<Channel, HostError> {
        let tls = Arc::new(automtls::client_config(identity, self.plugin_cert.clone())?);
        Ok(dial_unix_tls(PathBuf::from(&self.handshake.address), tls).await?)
    }

    /// Sets up a mount as the host does: a broker listener serving storage and
    /// a system view, announced on the broker stream, then `Setup` under
    /// `multiplex_id`.
    pub async fn mount(&self, multiplex_id: &str) -> Result<Mount, HostError> {
        self.mount_with(multiplex_id, HashMap::new()).await
    }

    /// Like [`Plugin::mount`], with the mount's options (`config` of Setup).
    pub async fn mount_with(
        &self,
        multiplex_id: &str,
        config: HashMap<String, String>,
    ) -> Result<Mount, HostError> {
        let broker_id = self.next_broker_id.fetch_add(1, Ordering::SeqCst);
        let (listener, guard) =
            PluginListener::bind(Some(self.spawned.socket_dir.path()), None)?.into_parts();
        let address = listener
            .local_addr()?
            .as_pathname()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let tls = Arc::new(automtls::server_config(
            &self.spawned.identity,
            self.plugin_cert.clone(),
        )?);
        let storage = Arc::new(MemoryStorage::default());
        let incoming = TlsIncoming::start(listener, tls);
        let server = Server::builder()
            .add_service(
                pb::storage_server::StorageServer::from_arc(storage.clone())
                    .max_decoding_message_size(MAX_MESSAGE_SIZE)
                    .max_encoding_message_size(MAX_MESSAGE_SIZE),
            )
            .add_service(pb::system_view_server::SystemViewServer::new(
                FixedSystemView,
            ));
        let task = tokio::spawn(server.serve_with_incoming(incoming));
        self.broker_tx
            .send(ConnInfo {
                service_id: broker_id,
                network: "unix".into(),
                address,
                knock: None,
            })
            .await
            .map_err(|_| HostError::Setup("broker stream closed".into()))?;
        let mount = Mount {
            id: multiplex_id.to_string(),
            storage,
            backend: self.backend(),
            _broker: BrokerSide {
                task,
                _guard: guard,
            },
        };
        let reply = self
            .backend()
            .setup(mount.call(pb::SetupArgs {
                broker_id,
                config,
                backend_uuid: format!("uuid-{multiplex_id}"),
            }))
            .await?
            .into_inner();
        if !reply.err.is_empty() {
            return Err(HostError::Setup(reply.err));
        }
        Ok(mount)
    }
}

struct BrokerSide {
    task: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
    _guard: SocketGuard,
}

impl Drop for BrokerSide {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One mount of the plugin, with the storage the host keeps for it.
pub struct Mount {
    pub id: String,
    pub storage: Arc<MemoryStorage>,
    backend: pb::backend_client::BackendClient<Channel>,
    _broker: BrokerSide,
}

impl Mount {
    /// Wraps a message with this mount's `multiplex_id`.
    pub fn call<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        if let Ok(value) = self.id.parse() {
            request.metadata_mut().insert(MULTIPLEX_ID_KEY, value);
        }
        request
    }

    fn wire_request(operation: &str, path: &str, data: &serde_json::Value) -> pb::Request {
        pb::Request {
            id: "test-request".into(),
            operation: operation.into(),
            path: path.into(),
            data: if data.is_null() {
                String::new()
            } else {
                data.to_string()
            },
            mount_point: "test/".into(),
            ..pb::Request::default()
        }
    }

    /// Sends one request to the backend.
    pub async fn request(
        &self,
        operation: &str,
        path: &str,
        data: serde_json::Value,
    ) -> Result<pb::HandleRequestReply, HostError> {
        let reply = self
            .backend
            .clone()
            .handle_request(self.call(pb::HandleRequestArgs {
                storage_id: 0,
                request: Some(Self::wire_request(operation, path, &data)),
            }))
            .await?
            .into_inner();
        check_reply(&reply)?;
        Ok(reply)
    }

    /// Asks whether the target of a write exists.
    pub async fn existence(
        &self,
        operation: &str,
        path: &str,
    ) -> Result<pb::HandleExistenceCheckReply, HostError> {
        let reply = self
            .backend
            .clone()
            .handle_existence_check(self.call(pb::HandleExistenceCheckArgs {
                storage_id: 0,
                request: Some(Self::wire_request(
                    operation,
                    path,
                    &serde_json::Value::Null,
                )),
            }))
            .await?;
        Ok(reply.into_inner())
    }

    /// The backend type the plugin reports for this mount.
    pub async fn backend_type(&self) -> Result<u32, HostError> {
        Ok(self
            .backend
            .clone()
            .r#type(self.call(pb::Empty {}))
            .await?
            .into_inner()
            .r#type)
    }

    /// Tells the backend a key changed elsewhere, as a standby's host does
    /// after the active node writes it.
    pub async fn invalidate(&self, key: &str) -> Result<(), HostError> {
        self.backend
            .clone()
            .invalidate_key(self.call(pb::InvalidateKeyArgs { key: key.into() }))
            .await?;
        Ok(())
    }

    /// Tears the mount down as the host does on unmount.
    pub async fn cleanup(&self) -> Result<(), HostError> {
        self.backend
            .clone()
            .cleanup(self.call(pb::Empty {}))
            .await?;
        Ok(())
    }
}

/// The JSON data of a reply's response.
pub fn reply_data(reply: &pb::HandleRequestReply) -> serde_json::Value {
    reply
        .response
        .as_ref()
        .filter(|r| !r.data.is_empty())
        .and_then(|r| serde_json::from_str(&r.data).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// Storage kept in memory by the test host.
#[derive(Default)]
pub struct MemoryStorage {
    entries: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemoryStorage {
    /// A snapshot of every key.
    pub fn keys(&self) -> Vec<String> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }

    /// Writes `key` behind the plugin's back, as another node would.
    pub fn set(&self, key: &str, value: Vec<u8>) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_string(), value);
    }

    pub fn value(&self, key: &str) -> Option<Vec<u8>> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }
}

#[tonic::async_trait]
impl pb::storage_server::Storage for MemoryStorage {
    async fn list(
        &self,
        request: Request<pb::StorageListArgs>,
    ) -> Result<Response<pb::StorageListReply>, Status> {
        let prefix = request.into_inner().prefix;
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let mut keys: Vec<String> = Vec::new();
        for key in entries.keys().filter(|k| k.starts_with(&prefix)) {
            let rest = &key[prefix.len()..];
            let item = match rest.find('/') {
                Some(i) => rest[..=i].to_string(),
                None => rest.to_string(),
            };
            if keys.last() != Some(&item) {
                keys.push(item);
            }
        }
        keys.dedup();
        Ok(Response::new(pb::StorageListReply {
            keys,
            err: String::new(),
        }))
    }

    async fn list_page(
        &self,
        _: Request<pb::StorageListPageArgs>,
    ) -> Result<Response<pb::StorageListReply>, Status> {
        Err(Status::unimplemented("ListPage"))
    }

    async fn get(
        &self,
        request: Request<pb::StorageGetArgs>,
    ) -> Result<Response<pb::StorageGetReply>, Status> {
        let key = request.into_inner().key;
        let entry = self.value(&key).map(|value| pb::StorageEntry {
            key,
            value,
            seal_wrap: false,
        });
        Ok(Response::new(pb::StorageGetReply {
            entry,
            err: String::new(),
        }))
    }

    async fn put(
        &self,
        request: Request<pb::StoragePutArgs>,
    ) -> Result<Response<pb::StoragePutReply>, Status> {
        let entry = request
            .into_inner()
            .entry
            .ok_or_else(|| Status::invalid_argument("put without an entry"))?;
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(entry.key, entry.value);
        Ok(Response::new(pb::StoragePutReply::default()))
    }

    async fn delete(
        &self,
        request: Request<pb::StorageDeleteArgs>,
    ) -> Result<Response<pb::StorageDeleteReply>, Status> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&request.into_inner().key);
        Ok(Response::new(pb::StorageDeleteReply::default()))
    }

    async fn is_transactional(
        &self,
        _: Request<pb::Empty>,
    ) -> Result<Response<pb::StorageIsTransactionalReply>, Status> {
        Ok(Response::new(pb::StorageIsTransactionalReply {
            transactional: false,
        }))
    }

    async fn begin_read_only_tx(
        &self,
        _: Request<pb::Empty>,
    ) -> Result<Response<pb::StorageBeginTxReply>, Status> {
        Err(Status::unimplemented("transactions"))
    }

    async fn begin_tx(
        &self,
        _: Request<pb::Empty>,
    ) -> Result<Response<pb::StorageBeginTxReply>, Status> {
        Err(Status::unimplemented("transactions"))
    }

    async fn commit(
        &self,
        _: Request<pb::StorageCommitTxArgs>,
    ) -> Result<Response<pb::StorageCommitTxReply>, Status> {
        Err(Status::unimplemented("transactions"))
    }

    async fn rollback(
        &self,
        _: Request<pb::StorageRollbackTxArgs>,
    ) -> Result<Response<pb::StorageRollbackTxReply>, Status> {
        Err(Status::unimplemented("transactions"))
    }
}

/// The test host's system view: fixed answers, like a dev server's defaults.
pub struct FixedSystemView;

/// The dev server's default and maximum lease TTL (768h), in nanoseconds.
pub const DEFAULT_TTL_NANOS: i64 = 768 * 3600 * 1_000_000_000;

#[tonic::async_trait]
impl pb::system_view_server::SystemView for FixedSystemView {
    async fn default_lease_ttl(
        &self,
        _: Request<pb::Empty>,
    ) -> Result<Response<pb::TtlReply>, Status> {
        Ok(Response::new(pb::TtlReply {
            ttl: DEFAULT_TTL_NANOS,
        }))
    }
    async fn max_lease_ttl(&self, _: Request<pb::Empty>) -> Result<Response<pb::TtlReply>, Status> {
        Ok(Response::new(pb::TtlReply {
            ttl: DEFAULT_TTL_NANOS,
        }))
    }
    async fn tainted(&self, _: Request<pb::Empty>) -> Result<Response<pb::TaintedReply>, Status> {
        Ok(Response::new(pb::TaintedReply { tainted: false }))
    }
    async fn caching_disabled(
        &self,
        _: Request<pb::Empty>,
    ) -> Result<Response<pb::CachingDisabledReply>, Status> {
        Ok(Response::new(pb::CachingDisabledReply { disabled: false }))
    }
    async fn replication_state(
        &self,
        _: Request<pb::Empty>,
    ) -> Result<Response<pb::ReplicationStateReply>, Status> {
        Ok(Response::new(pb::ReplicationStateReply { state: 0 }))
    }
    async fn response_wrap_data(
        &self,
        _: Request<pb::ResponseWrapDataArgs>,
    ) -> Result<Response<pb::ResponseWrapDataReply>, Status> {
        Err(Status::unimplemented("ResponseWrapData"))
    }
    async fn mlock_enabled(
        &self,
        _: Request<pb::Empty>,
    ) -> Result<Response<pb::MlockEnabledReply>, Status> {
        Ok(Response::new(pb::MlockEnabledReply { enabled: false }))
    }
    async fn local_mount(
        &self,
        _: Request<pb::Empty>,
    ) -> Result<Response<pb::LocalMountReply>, Status> {
        Ok(Response::new(pb::LocalMountReply { local: false }))
    }
    async fn entity_info(
        &self,
        _: Request<pb::EntityInfoArgs>,
    ) -> Result<Response<pb::EntityInfoReply>, Status> {
        Ok(Response::new(pb::EntityInfoReply::default()))
    }
    async fn plugin_env(
        &self,
        _: Request<pb::Empty>,
    ) -> Result<Response<pb::PluginEnvReply>, Status> {
        Ok(Response::new(pb::PluginEnvReply {
            plugin_environment: Some(logical::PluginEnvironment {
                vault_version: "0.0.0-test-host".into(),
                ..Default::default()
            }),
            err: String::new(),
        }))
    }
    async fn groups_for_entity(
        &self,
        _: Request<pb::EntityInfoArgs>,
    ) -> Result<Response<pb::GroupsForEntityReply>, Status> {
        Ok(Response::new(pb::GroupsForEntityReply::default()))
    }
    async fn generate_password_from_policy(
        &self,
        _: Request<pb::GeneratePasswordFromPolicyRequest>,
    ) -> Result<Response<pb::GeneratePasswordFromPolicyReply>, Status> {
        Err(Status::unimplemented("GeneratePasswordFromPolicy"))
    }
    async fn cluster_info(
        &self,
        _: Request<pb::Empty>,
    ) -> Result<Response<pb::ClusterInfoReply>, Status> {
        Ok(Response::new(pb::ClusterInfoReply::default()))
    }
    async fn generate_identity_token(
        &self,
        _: Request<pb::GenerateIdentityTokenRequest>,
    ) -> Result<Response<pb::GenerateIdentityTokenResponse>, Status> {
        Err(Status::unimplemented("GenerateIdentityToken"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_handshake_parsing() {
        let good = "1|5|unix|/tmp/plugin1|grpc|AAEC";
        assert!(parse_handshake(good, false).is_ok());
        let refused = [
            "1|5|unix|/tmp/plugin1|grpc|AAEC|true",
            "1|4|unix|/tmp/plugin1|grpc|AAEC",
            "2|5|unix|/tmp/plugin1|grpc|AAEC",
            "1|5|tcp|/tmp/plugin1|grpc|AAEC",
            "1|5|unix|relative|grpc|AAEC",
            "1|5|unix|/tmp/plugin1|netrpc|AAEC",
            "1|5|unix|/tmp/plugin1|grpc|",
            "1|5|unix|/tmp/plugin1|grpc|AAE=",
            "1|5|unix|/tmp/plugin1|grpc",
        ];
        for line in refused {
            assert!(
                parse_handshake(line, false).is_err(),
                "{line} must be refused"
            );
        }
        assert_eq!(
            parse_handshake("1|5|unix|/tmp/p|grpc|AAEC|false", true)
                .expect("seven fields when asked")
                .multiplex,
            Some(false)
        );
    }
}
