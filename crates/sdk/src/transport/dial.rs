use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::UnixStream;
use tokio_rustls::TlsConnector;
use tonic::transport::{Channel, Endpoint, Uri};

/// Opens a gRPC channel to a unix socket over mutual TLS. The server name is
/// `localhost`, as go-plugin's certificates say.
pub async fn dial_unix_tls(
    path: PathBuf,
    config: Arc<rustls::ClientConfig>,
) -> Result<Channel, tonic::transport::Error> {
    let connector = TlsConnector::from(config);
    // The URI is never resolved: the connector below decides where to go.
    let endpoint = Endpoint::from_static("http://localhost");
    endpoint
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            let connector = connector.clone();
            async move {
                let tls = handshake(path, connector).await?;
                Ok::<_, std::io::Error>(TokioIo::new(tls))
            }
        }))
        .await
}

/// A gRPC channel to a unix socket over mutual TLS whose first connection is
/// already being made in the background: the caller goes on at once, and the
/// first call waits for the handshake only if it is not done yet. A mount's
/// broker dial is a full P-521 handshake; started this way it overlaps the
/// host's own work on the mount. Reconnects dial as usual.
pub fn pre_dialed_unix_tls(path: PathBuf, config: Arc<rustls::ClientConfig>) -> Channel {
    let connector = TlsConnector::from(config);
    let first = tokio::spawn(handshake(path.clone(), connector.clone()));
    let first = Arc::new(Mutex::new(Some(first)));
    Endpoint::from_static("http://localhost").connect_with_connector_lazy(tower::service_fn(
        move |_: Uri| {
            let pending = first.lock().unwrap_or_else(PoisonError::into_inner).take();
            let (path, connector) = (path.clone(), connector.clone());
            async move {
                let tls = match pending {
                    Some(dialing) => dialing.await.map_err(std::io::Error::other)??,
                    None => handshake(path, connector).await?,
                };
                Ok::<_, std::io::Error>(TokioIo::new(tls))
            }
        },
    ))
}

async fn handshake(
    path: PathBuf,
    connector: TlsConnector,
) -> std::io::Result<tokio_rustls::client::TlsStream<UnixStream>> {
    let stream = UnixStream::connect(&path).await?;
    let name = ServerName::try_from("localhost")
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let started = std::time::Instant::now();
    let tls = connector.connect(name, stream).await?;
    tracing::debug!(
        took_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        kind = ?tls.get_ref().1.handshake_kind(),
        "broker TLS handshake"
    );
    Ok(tls)
}
