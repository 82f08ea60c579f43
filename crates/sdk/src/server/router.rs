//! Dispatches each gRPC call to its service by the service name in the
//! path (`/pb.Backend/HandleRequest` → `pb.Backend`). A plugin serves a fixed
//! handful of services, so a `match` does what tonic's axum-based router
//! would, without axum in every plugin binary or in every call's path.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::codegen::http;
use tonic::server::NamedService;
use tower::{Service, ServiceExt};

use super::backend_service::{BackendService, MultiplexingService};
use super::broker::Broker;
use super::services::{ControllerService, HealthService, StdioService};
use crate::proto::health::health_server::HealthServer;
use crate::proto::logical::plugin_version_server::PluginVersionServer;
use crate::proto::multiplexing::plugin_multiplexing_server::PluginMultiplexingServer;
use crate::proto::pb::backend_server::BackendServer;
use crate::proto::plugin::grpc_broker_server::GrpcBrokerServer;
use crate::proto::plugin::grpc_controller_server::GrpcControllerServer;
use crate::proto::plugin::grpc_stdio_server::GrpcStdioServer;

type Reply = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

/// Every service a plugin serves.
#[derive(Clone)]
pub struct PluginRouter {
    pub health: HealthServer<HealthService>,
    pub broker: GrpcBrokerServer<Broker>,
    pub controller: GrpcControllerServer<ControllerService>,
    pub stdio: GrpcStdioServer<StdioService>,
    pub backend: BackendServer<BackendService>,
    pub version: PluginVersionServer<BackendService>,
    pub multiplexing: PluginMultiplexingServer<MultiplexingService>,
}

fn route<S>(service: S, request: http::Request<Body>) -> Reply
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    Box::pin(service.oneshot(request))
}

impl Service<http::Request<Body>> for PluginRouter {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Reply;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Every generated service is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let service = request
            .uri()
            .path()
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default();
        match service {
            BackendServer::<BackendService>::NAME => route(self.backend.clone(), request),
            HealthServer::<HealthService>::NAME => route(self.health.clone(), request),
            GrpcBrokerServer::<Broker>::NAME => route(self.broker.clone(), request),
            GrpcControllerServer::<ControllerService>::NAME => {
                route(self.controller.clone(), request)
            }
            GrpcStdioServer::<StdioService>::NAME => route(self.stdio.clone(), request),
            PluginVersionServer::<BackendService>::NAME => route(self.version.clone(), request),
            PluginMultiplexingServer::<MultiplexingService>::NAME => {
                route(self.multiplexing.clone(), request)
            }
            other => {
                let status = tonic::Status::unimplemented(format!("unknown service {other}"));
                Box::pin(std::future::ready(Ok(status.into_http())))
            }
        }
    }
}
