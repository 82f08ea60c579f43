//! Vault's `pb.Backend`, `logical.PluginVersion` and `PluginMultiplexing`
//! services. One process may serve several mounts: each `Setup` creates a
//! backend under the caller's `multiplex_id`, every later call is routed by
//! it, and `Cleanup` drops it.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use tonic::{Request, Response, Status};
use tracing::Instrument;

use super::broker::Broker;
use crate::backend::{Backend, BackendConfig, Existence, Factory};
use crate::convert::{error_to_wire, request_from_wire, response_to_wire};
use crate::logical::Error;
use crate::proto::logical::plugin_version_server::PluginVersion;
use crate::proto::logical::{Empty as VersionEmpty, VersionReply};
use crate::proto::multiplexing::plugin_multiplexing_server::PluginMultiplexing;
use crate::proto::multiplexing::{MultiplexingSupportRequest, MultiplexingSupportResponse};
use crate::proto::pb;
use crate::storage::{GrpcStorage, Storage};
use crate::system_view::GrpcSystemView;
use crate::tasks::Tasks;

/// The gRPC metadata key naming the mount a call is for.
pub const MULTIPLEX_ID_KEY: &str = "multiplex_id";

/// Calls without a multiplex id (hosts that do not multiplex) share this slot.
const SINGLE: &str = "single";

struct Instance {
    backend: Arc<dyn Backend>,
    storage: Arc<dyn Storage>,
    tasks: Tasks,
}

/// The backend side of the plugin, shared by all mounts it serves.
#[derive(Clone)]
pub struct BackendService {
    factory: Factory,
    broker: Broker,
    version: Arc<str>,
    instances: Arc<RwLock<HashMap<String, Arc<Instance>>>>,
}

fn multiplex_id<T>(request: &Request<T>) -> Result<String, Status> {
    let ids: Vec<_> = request
        .metadata()
        .get_all(MULTIPLEX_ID_KEY)
        .iter()
        .collect();
    match ids.as_slice() {
        [] => Ok(SINGLE.to_string()),
        [id] => match id.to_str() {
            Ok("") | Err(_) => Err(Status::invalid_argument("empty multiplex ID in metadata")),
            Ok(id) => Ok(id.to_string()),
        },
        more => Err(Status::invalid_argument(format!(
            "unexpected number of IDs in metadata: ({})",
            more.len()
        ))),
    }
}

impl BackendService {
    pub fn new(factory: Factory, broker: Broker, version: &str) -> Self {
        BackendService {
            factory,
            broker,
            version: Arc::from(version),
            instances: Arc::default(),
        }
    }

    fn instance<T>(&self, request: &Request<T>) -> Result<Arc<Instance>, Status> {
        let id = multiplex_id(request)?;
        self.instances
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned()
            .ok_or_else(|| Status::failed_precondition("no backend instance found"))
    }

    /// Every mount's backend, for a final cleanup when the process stops.
    pub fn drain(&self) -> Vec<(Arc<dyn Backend>, Tasks)> {
        self.instances
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .map(|(_, inst)| (inst.backend.clone(), inst.tasks.clone()))
            .collect()
    }
}

/// Runs a backend call so that a panic fails this request, not the
/// connection every other request shares. (A spawned task would isolate it
/// too, at the cost of a hop between threads on every request.)
async fn isolated<T: Send + 'static>(
    fut: impl Future<Output = Result<T, Error>> + Send + 'static,
) -> Result<T, Error> {
    use futures_util::FutureExt;
    match std::panic::AssertUnwindSafe(fut).catch_unwind().await {
        Ok(result) => result,
        Err(_) => {
            tracing::error!("the request handler crashed");
            Err(Error::internal(
                "internal error: the plugin's request handler crashed",
            ))
        }
    }
}

fn request_span(request: &pb::Request) -> tracing::Span {
    tracing::info_span!(
        "request",
        mount = %request.mount_point,
        path = %request.path,
        operation = %request.operation,
    )
}

#[tonic::async_trait]
impl pb::backend_server::Backend for BackendService {
    async fn setup(
        &self,
        request: Request<pb::SetupArgs>,
    ) -> Result<Response<pb::SetupReply>, Status> {
        let id = multiplex_id(&request)?;
        let args = request.into_inner();
        let channel = match self.broker.dial(args.broker_id).await {
            Ok(channel) => channel,
            Err(err) => {
                return Ok(Response::new(pb::SetupReply {
                    err: err.to_string(),
                }));
            }
        };
        let storage: Arc<dyn Storage> = Arc::new(GrpcStorage::new(channel.clone()));
        let config = BackendConfig {
            storage: storage.clone(),
            system: Arc::new(GrpcSystemView::new(channel)),
            config: args.config,
            backend_uuid: args.backend_uuid,
            tasks: Tasks::new(),
        };
        let tasks = config.tasks.clone();
        match isolated((self.factory)(config)).await {
            Ok(backend) => {
                tracing::debug!(multiplex_id = %id, "backend set up");
                self.instances
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(
                        id,
                        Arc::new(Instance {
                            backend,
                            storage,
                            tasks,
                        }),
                    );
                Ok(Response::new(pb::SetupReply::default()))
            }
            Err(err) => Ok(Response::new(pb::SetupReply {
                err: err.to_string(),
            })),
        }
    }

    async fn initialize(
        &self,
        request: Request<pb::InitializeArgs>,
    ) -> Result<Response<pb::InitializeReply>, Status> {
        let inst = self.instance(&request)?;
        let storage = inst.storage.clone();
        let backend = inst.backend.clone();
        let result = isolated(async move { backend.initialize(storage).await }).await;
        Ok(Response::new(pb::InitializeReply {
            err: result.err().map(|e| error_to_wire(&e).1),
        }))
    }

    async fn handle_request(
        &self,
        request: Request<pb::HandleRequestArgs>,
    ) -> Result<Response<pb::HandleRequestReply>, Status> {
        let inst = self.instance(&request)?;
        let Some(wire) = request.into_inner().request else {
            return Err(Status::invalid_argument("HandleRequest without a request"));
        };
        let span = request_span(&wire);
        let result = match request_from_wire(wire, inst.storage.clone()) {
            Ok(req) => {
                let backend = inst.backend.clone();
                isolated(async move { backend.handle_request(req).await })
                    .instrument(span.clone())
                    .await
            }
            Err(err) => Err(Error::invalid(err.to_string())),
        };
        let reply = match result {
            Ok(response) => pb::HandleRequestReply {
                response: response.as_ref().map(response_to_wire),
                err: None,
            },
            Err(err) => {
                span.in_scope(|| match &err {
                    Error::Internal(_) | Error::Storage(_) => {
                        tracing::error!(error = %err, "request failed")
                    }
                    _ => tracing::debug!(error = %err, "request refused"),
                });
                let (response, err) = error_to_wire(&err);
                pb::HandleRequestReply {
                    response,
                    err: Some(err),
                }
            }
        };
        Ok(Response::new(reply))
    }

    async fn special_paths(
        &self,
        request: Request<pb::Empty>,
    ) -> Result<Response<pb::SpecialPathsReply>, Status> {
        let paths = self.instance(&request)?.backend.special_paths();
        Ok(Response::new(pb::SpecialPathsReply {
            paths: Some(pb::Paths {
                root: paths.root,
                unauthenticated: paths.unauthenticated,
                local_storage: paths.local_storage,
                seal_wrap_storage: paths.seal_wrap_storage,
                write_forwarded_storage: paths.write_forwarded_storage,
                ..pb::Paths::default()
            }),
        }))
    }

    async fn handle_existence_check(
        &self,
        request: Request<pb::HandleExistenceCheckArgs>,
    ) -> Result<Response<pb::HandleExistenceCheckReply>, Status> {
        let inst = self.instance(&request)?;
        let Some(wire) = request.into_inner().request else {
            return Err(Status::invalid_argument(
                "HandleExistenceCheck without a request",
            ));
        };
        let span = request_span(&wire);
        let result = match request_from_wire(wire, inst.storage.clone()) {
            Ok(req) => {
                let backend = inst.backend.clone();
                isolated(async move { backend.existence_check(req).await })
                    .instrument(span)
                    .await
            }
            Err(err) => Err(Error::invalid(err.to_string())),
        };
        let reply = match result {
            Ok(existence) => pb::HandleExistenceCheckReply {
                check_found: existence != Existence::NotChecked,
                exists: existence == Existence::Exists,
                err: None,
            },
            // The host turns any existence-check error into a bare 500
            // "internal error". Bad input is the handler's to refuse, with a
            // 400 that says what is wrong: let the write through to it.
            Err(Error::InvalidRequest(_)) => pb::HandleExistenceCheckReply {
                check_found: true,
                exists: false,
                err: None,
            },
            Err(err) => pb::HandleExistenceCheckReply {
                check_found: true,
                exists: false,
                err: Some(error_to_wire(&err).1),
            },
        };
        Ok(Response::new(reply))
    }

    async fn cleanup(&self, request: Request<pb::Empty>) -> Result<Response<pb::Empty>, Status> {
        let id = multiplex_id(&request)?;
        let removed = self
            .instances
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        let Some(inst) = removed else {
            return Err(Status::failed_precondition("no backend instance found"));
        };
        let backend = inst.backend.clone();
        let _ = isolated(async move {
            backend.cleanup().await;
            Ok(())
        })
        .await;
        inst.tasks.stop();
        tracing::debug!(multiplex_id = %id, "backend cleaned up");
        Ok(Response::new(pb::Empty {}))
    }

    async fn invalidate_key(
        &self,
        request: Request<pb::InvalidateKeyArgs>,
    ) -> Result<Response<pb::Empty>, Status> {
        let inst = self.instance(&request)?;
        let key = request.into_inner().key;
        let backend = inst.backend.clone();
        let _ = isolated(async move {
            backend.invalidate_key(&key).await;
            Ok(())
        })
        .await;
        Ok(Response::new(pb::Empty {}))
    }

    async fn r#type(&self, request: Request<pb::Empty>) -> Result<Response<pb::TypeReply>, Status> {
        let backend_type = self.instance(&request)?.backend.backend_type();
        Ok(Response::new(pb::TypeReply {
            r#type: backend_type.to_wire(),
        }))
    }
}

#[tonic::async_trait]
impl PluginVersion for BackendService {
    async fn version(&self, _: Request<VersionEmpty>) -> Result<Response<VersionReply>, Status> {
        Ok(Response::new(VersionReply {
            plugin_version: self.version.to_string(),
        }))
    }
}

/// Always multiplexes: a backend holds no process-wide state.
pub struct MultiplexingService;

#[tonic::async_trait]
impl PluginMultiplexing for MultiplexingService {
    async fn multiplexing_support(
        &self,
        _: Request<MultiplexingSupportRequest>,
    ) -> Result<Response<MultiplexingSupportResponse>, Status> {
        Ok(Response::new(MultiplexingSupportResponse {
            supported: true,
        }))
    }
}
