use std::path::PathBuf;
use std::sync::Arc;

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
                let stream = UnixStream::connect(&path).await?;
                let name = ServerName::try_from("localhost")
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
                let started = std::time::Instant::now();
                let tls = connector.connect(name, stream).await?;
                // Each mount's broker dial is a full P-521 handshake (the
                // host's listeners cannot resume sessions): worth seeing.
                tracing::debug!(
                    took_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
                    kind = ?tls.get_ref().1.handshake_kind(),
                    "broker TLS handshake"
                );
                Ok::<_, std::io::Error>(TokioIo::new(tls))
            }
        }))
        .await
}
