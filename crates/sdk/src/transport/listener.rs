use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;

/// A client that connects but never finishes its TLS handshake must not hold
/// resources for long.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The unix socket the host connects to. Removes its socket (and the private
/// directory it made) when dropped.
pub struct PluginListener {
    pub listener: UnixListener,
    pub path: PathBuf,
    _private_dir: Option<tempfile::TempDir>,
}

impl PluginListener {
    /// Listens in `dir` (the host's `PLUGIN_UNIX_SOCKET_DIR`) or, without one,
    /// in a fresh directory only this user can enter. With a `group`
    /// (`PLUGIN_UNIX_SOCKET_GROUP`, a name or a numeric id) the socket is
    /// handed to that group and made group-writable, as go-plugin does.
    pub fn bind(dir: Option<&Path>, group: Option<&str>) -> io::Result<Self> {
        let (dir_path, private_dir) = match dir {
            Some(dir) => (dir.to_path_buf(), None),
            None => {
                let private = tempfile::Builder::new().prefix("plugin").tempdir()?;
                (private.path().to_path_buf(), Some(private))
            }
        };
        let path = unique_socket_path(&dir_path)?;
        let listener = UnixListener::bind(&path)?;
        if let Some(group) = group {
            set_socket_group(&path, group)?;
        }
        Ok(PluginListener {
            listener,
            path,
            _private_dir: private_dir,
        })
    }
}

impl PluginListener {
    /// Splits off the guard that removes the socket when the plugin stops.
    pub fn into_parts(self) -> (UnixListener, SocketGuard) {
        (
            self.listener,
            SocketGuard {
                path: self.path,
                _private_dir: self._private_dir,
            },
        )
    }
}

/// Removes the socket (and the private directory it lives in) when dropped.
pub struct SocketGuard {
    path: PathBuf,
    _private_dir: Option<tempfile::TempDir>,
}

impl Drop for SocketGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn unique_socket_path(dir: &Path) -> io::Result<PathBuf> {
    // Reserve a unique name the way go-plugin does (create a temp file, then
    // replace it with the socket).
    let file = tempfile::Builder::new().prefix("plugin").tempfile_in(dir)?;
    let path = file.path().to_path_buf();
    drop(file);
    Ok(path)
}

fn set_socket_group(path: &Path, group: &str) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let gid = match group.parse::<u32>() {
        Ok(gid) => gid,
        Err(_) => nix::unistd::Group::from_name(group)
            .map_err(io::Error::from)?
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("PLUGIN_UNIX_SOCKET_GROUP: no group named {group:?}"),
                )
            })?
            .gid
            .as_raw(),
    };
    std::os::unix::fs::chown(path, None, Some(gid))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
}

/// A TLS connection from the host, ready for tonic.
pub struct TlsConnection(TlsStream<UnixStream>);

impl tonic::transport::server::Connected for TlsConnection {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for TlsConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

/// Connections that completed the mutual-TLS handshake. A refused peer (a
/// wrong certificate, plaintext, a stalled handshake) is logged and dropped;
/// it never reaches gRPC.
pub struct TlsIncoming;

impl TlsIncoming {
    pub fn start(
        listener: UnixListener,
        config: Arc<rustls::ServerConfig>,
    ) -> ReceiverStream<io::Result<TlsConnection>> {
        let (tx, rx) = mpsc::channel(16);
        let acceptor = TlsAcceptor::from(config);
        tokio::spawn(async move {
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(err) => {
                        tracing::warn!(error = %err, "accepting a host connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send(Ok(TlsConnection(tls))).await;
                        }
                        Ok(Err(err)) => {
                            tracing::warn!(error = %err, "refused a connection: TLS handshake failed");
                        }
                        Err(_) => {
                            tracing::warn!("refused a connection: TLS handshake timed out");
                        }
                    }
                });
            }
        });
        ReceiverStream::new(rx)
    }
}
