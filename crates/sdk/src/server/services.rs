//! go-plugin's housekeeping services: health, controller, stdio.

use std::pin::Pin;

use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::lifecycle::Shutdown;
use crate::proto::health::health_check_response::ServingStatus;
use crate::proto::health::health_server::Health;
use crate::proto::health::{HealthCheckRequest, HealthCheckResponse};
use crate::proto::plugin::grpc_controller_server::GrpcController;
use crate::proto::plugin::grpc_stdio_server::GrpcStdio;
use crate::proto::plugin::{Empty, StdioData};

/// The service name go-plugin hosts probe.
const PLUGIN_SERVICE: &str = "plugin";

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Reports SERVING for the server as a whole and for "plugin".
pub struct HealthService {
    pub shutdown: Shutdown,
}

fn serving(service: &str) -> Result<HealthCheckResponse, Status> {
    if service.is_empty() || service == PLUGIN_SERVICE {
        Ok(HealthCheckResponse {
            status: ServingStatus::Serving as i32,
        })
    } else {
        Err(Status::not_found("unknown service"))
    }
}

#[tonic::async_trait]
impl Health for HealthService {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        serving(&request.get_ref().service).map(Response::new)
    }

    type WatchStream = BoxStream<HealthCheckResponse>;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        use tokio_stream::StreamExt;
        let first = serving(&request.get_ref().service)?;
        // The status never changes while we serve, so the stream stays open
        // after its first answer, until the plugin stops.
        let stream = tokio_stream::once(Ok(first)).chain(self.shutdown.silent_stream());
        Ok(Response::new(Box::pin(stream)))
    }
}

/// `Shutdown` asks the process to stop gracefully.
pub struct ControllerService {
    pub shutdown: Shutdown,
}

#[tonic::async_trait]
impl GrpcController for ControllerService {
    async fn shutdown(&self, _: Request<Empty>) -> Result<Response<Empty>, Status> {
        tracing::debug!("host asked the plugin to shut down");
        self.shutdown.trigger();
        Ok(Response::new(Empty {}))
    }
}

/// go-plugin forwards a plugin's stdout/stderr writes here. Ours never writes
/// to stdout after the handshake and logs straight to stderr (which the host
/// reads line by line), so the stream stays open and empty until the plugin
/// stops.
pub struct StdioService {
    pub shutdown: Shutdown,
}

#[tonic::async_trait]
impl GrpcStdio for StdioService {
    type StreamStdioStream = BoxStream<StdioData>;

    async fn stream_stdio(
        &self,
        _: Request<()>,
    ) -> Result<Response<Self::StreamStdioStream>, Status> {
        Ok(Response::new(Box::pin(self.shutdown.silent_stream())))
    }
}
