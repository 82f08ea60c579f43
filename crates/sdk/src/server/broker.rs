//! go-plugin's classic broker, plugin side. The host announces each side
//! channel it listens on as a `ConnInfo` on the `StartStream` stream; `dial`
//! waits for the announcement with the wanted id and connects to it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio_stream::{Stream, StreamExt};
use tonic::transport::Channel;
use tonic::{Request, Response, Status, Streaming};

use super::lifecycle::Shutdown;
use crate::proto::plugin::ConnInfo;
use crate::proto::plugin::grpc_broker_server::GrpcBroker;
use crate::transport::pre_dialed_unix_tls;

/// go-plugin waits this long for the host to announce a broker id.
const DIAL_TIMEOUT: Duration = Duration::from_secs(5);

/// Reaching a host side channel failed.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("timed out waiting for the host to announce broker connection {0}")]
    Timeout(u32),
    #[error("broker connection {id}: unsupported network {network:?}")]
    Network { id: u32, network: String },
}

enum Slot {
    Announced(ConnInfo),
    Waiting(oneshot::Sender<ConnInfo>),
}

/// Shared by the gRPC service (which receives announcements) and the backend
/// server (which dials).
#[derive(Clone)]
pub struct Broker {
    slots: Arc<Mutex<HashMap<u32, Slot>>>,
    tls: Arc<rustls::ClientConfig>,
    shutdown: Shutdown,
}

impl Broker {
    pub fn new(tls: Arc<rustls::ClientConfig>, shutdown: Shutdown) -> Self {
        Broker {
            slots: Arc::default(),
            tls,
            shutdown,
        }
    }

    fn announce(&self, info: ConnInfo) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        match slots.remove(&info.service_id) {
            Some(Slot::Waiting(tx)) => {
                let _ = tx.send(info);
            }
            _ => {
                slots.insert(info.service_id, Slot::Announced(info));
            }
        }
    }

    async fn wait_for(&self, id: u32) -> Result<ConnInfo, BrokerError> {
        let rx = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            match slots.remove(&id) {
                Some(Slot::Announced(info)) => return Ok(info),
                _ => {
                    let (tx, rx) = oneshot::channel();
                    slots.insert(id, Slot::Waiting(tx));
                    rx
                }
            }
        };
        match tokio::time::timeout(DIAL_TIMEOUT, rx).await {
            Ok(Ok(info)) => Ok(info),
            _ => {
                self.slots
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&id);
                Err(BrokerError::Timeout(id))
            }
        }
    }

    /// A channel to the side channel the host announced as `id`; its TLS
    /// handshake runs in the background (a failed one fails the first call).
    pub async fn dial(&self, id: u32) -> Result<Channel, BrokerError> {
        let info = self.wait_for(id).await?;
        if info.network != "unix" {
            return Err(BrokerError::Network {
                id,
                network: info.network,
            });
        }
        Ok(pre_dialed_unix_tls(
            PathBuf::from(info.address),
            self.tls.clone(),
        ))
    }
}

type ConnInfoStream = Pin<Box<dyn Stream<Item = Result<ConnInfo, Status>> + Send>>;

#[tonic::async_trait]
impl GrpcBroker for Broker {
    type StartStreamStream = ConnInfoStream;

    async fn start_stream(
        &self,
        request: Request<Streaming<ConnInfo>>,
    ) -> Result<Response<Self::StartStreamStream>, Status> {
        let mut inbound = request.into_inner();
        let broker = self.clone();
        tokio::spawn(async move {
            while let Some(Ok(info)) = inbound.next().await {
                tracing::trace!(id = info.service_id, network = %info.network, "broker: host announced a connection");
                broker.announce(info);
            }
        });
        // We never announce services of our own, and ending our half would
        // end the host's stream: it stays open and silent until we stop.
        Ok(Response::new(Box::pin(self.shutdown.silent_stream())))
    }
}
