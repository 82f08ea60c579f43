//! The go-plugin server: read the launch environment, listen on a unix
//! socket behind AutoMTLS, print the handshake line, serve until told to stop.

mod backend_service;
mod broker;
mod handshake;
mod launch;
mod lifecycle;
mod router;
mod services;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tonic::transport::Server;

pub use backend_service::MULTIPLEX_ID_KEY;
pub use handshake::handshake_line;
pub use launch::{LaunchConfig, LaunchError, MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE, NOT_A_PROGRAM};

use crate::backend::Factory;
use crate::proto::{health, logical, multiplexing, pb, plugin};
use crate::transport::{MAX_MESSAGE_SIZE, PluginListener, TlsIncoming, automtls};
use backend_service::{BackendService, MultiplexingService};
use broker::Broker;
use lifecycle::Shutdown;
use router::PluginRouter;
use services::{ControllerService, HealthService, StdioService};

/// How long in-flight requests get to finish once the plugin is told to stop.
const GRACE: Duration = Duration::from_secs(2);

/// Who the plugin is. Build it with [`plugin_info!`](crate::plugin_info) so
/// the name and version come from the plugin crate's `Cargo.toml`.
#[derive(Clone, Copy, Debug)]
pub struct PluginInfo {
    pub name: &'static str,
    /// The crate version, e.g. `0.1.0`.
    pub version: &'static str,
}

impl PluginInfo {
    /// The version as the catalog spells it, e.g. `v0.1.0`: what `-version`
    /// must say at registration.
    pub fn catalog_version(&self) -> String {
        format!("v{}", self.version.trim_start_matches('v'))
    }
}

/// Runs the plugin: call this from `main` and return its exit code.
///
/// ```no_run
/// use vault_plugin_sdk::backend::{factory, Backend, BackendType};
/// use vault_plugin_sdk::logical::{Error, Request, Response};
///
/// struct Echo;
///
/// #[vault_plugin_sdk::async_trait]
/// impl Backend for Echo {
///     fn backend_type(&self) -> BackendType { BackendType::Secrets }
///     async fn handle_request(&self, req: Request) -> Result<Option<Response>, Error> {
///         Ok(Some(Response::with_data(serde_json::json!({ "path": req.path }))))
///     }
/// }
///
/// fn main() -> std::process::ExitCode {
///     vault_plugin_sdk::serve(vault_plugin_sdk::plugin_info!(), factory(|_config| async { Ok(Echo) }))
/// }
/// ```
pub fn serve(info: PluginInfo, factory: Factory) -> ExitCode {
    if std::env::args()
        .skip(1)
        .any(|a| a == "--version" || a == "-version")
    {
        println!("{} {}", info.name, info.catalog_version());
        return ExitCode::SUCCESS;
    }
    let launch = match LaunchConfig::from_env(|key| std::env::var(key).ok()) {
        Ok(launch) => launch,
        Err(err) => {
            let text = err.to_string();
            eprint!("{text}");
            if !text.ends_with('\n') {
                eprintln!();
            }
            return ExitCode::FAILURE;
        }
    };
    crate::logging::init(info.name);
    // A panic is one error line in the host's log, not a plain-text
    // backtrace it would show line by line at debug level.
    std::panic::set_hook(Box::new(|panic| {
        tracing::error!(panic = %panic, "plugin code panicked");
    }));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            tracing::error!(error = %err, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run(info, factory, launch));
    runtime.shutdown_timeout(Duration::from_millis(100));
    code
}

/// Why serving failed before the host could connect.
#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error(transparent)]
    Tls(#[from] automtls::TlsSetupError),
    #[error("cannot listen on a unix socket: {0}")]
    Listen(#[from] std::io::Error),
}

async fn run(info: PluginInfo, factory: Factory, launch: LaunchConfig) -> ExitCode {
    match start(info, factory, launch).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "plugin failed to start");
            ExitCode::FAILURE
        }
    }
}

async fn start(info: PluginInfo, factory: Factory, launch: LaunchConfig) -> Result<(), StartError> {
    let host_cert = automtls::parse_pem_certificate(&launch.client_cert_pem)?;
    // Generating it on a thread of its own, beside the runtime's start-up,
    // measured slower (see ARCHITECTURE): it stays here.
    let identity = automtls::Identity::generate()?;
    let server_tls = Arc::new(automtls::server_config(&identity, host_cert.clone())?);
    let client_tls = Arc::new(automtls::client_config(&identity, host_cert)?);

    let (listener, socket_guard) =
        PluginListener::bind(launch.socket_dir.as_deref(), launch.socket_group.as_deref())?
            .into_parts();
    let socket_path = listener
        .local_addr()?
        .as_pathname()
        .map(|p| p.to_path_buf())
        .unwrap_or_default();

    let shutdown = Shutdown::new();
    lifecycle::watch_process(shutdown.clone());

    let broker = Broker::new(client_tls, shutdown.clone());
    let backend = BackendService::new(factory, broker.clone(), &info.catalog_version());
    let router = PluginRouter {
        health: health::health_server::HealthServer::new(HealthService {
            shutdown: shutdown.clone(),
        }),
        broker: plugin::grpc_broker_server::GrpcBrokerServer::new(broker),
        controller: plugin::grpc_controller_server::GrpcControllerServer::new(ControllerService {
            shutdown: shutdown.clone(),
        }),
        stdio: plugin::grpc_stdio_server::GrpcStdioServer::new(StdioService {
            shutdown: shutdown.clone(),
        }),
        backend: pb::backend_server::BackendServer::new(backend.clone())
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE),
        version: logical::plugin_version_server::PluginVersionServer::new(backend.clone()),
        multiplexing: multiplexing::plugin_multiplexing_server::PluginMultiplexingServer::new(
            MultiplexingService,
        ),
    };

    let incoming = TlsIncoming::start(listener, server_tls);
    let line = handshake_line(
        launch.protocol_version,
        &socket_path,
        identity.cert.as_ref(),
        launch.multiplex_grpc_asked,
    );
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{line}")?;
        stdout.flush()?;
    }
    tracing::debug!(address = %socket_path.display(), "plugin address");

    let stop = shutdown.clone();
    let server = tokio::spawn(Server::builder().serve_with_incoming_shutdown(
        router,
        incoming,
        async move { stop.triggered().await },
    ));
    shutdown.triggered().await;
    for (backend, tasks) in backend.drain() {
        let _ = tokio::time::timeout(GRACE, backend.cleanup()).await;
        tasks.stop();
    }
    // Long-lived streams (broker, stdio) never end on their own: give unary
    // calls in flight a moment, then go.
    let _ = tokio::time::timeout(GRACE, server).await;
    drop(socket_guard);
    tracing::debug!("plugin stopped");
    Ok(())
}
