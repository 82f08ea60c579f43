//! The contract between the SDK and a plugin: one [`Backend`] per mount, made
//! by a factory from a [`BackendConfig`] (Go's `logical.Backend` and
//! `logical.Factory`).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;

use crate::logical::{Error, Request, Response};
use crate::storage::Storage;
use crate::system_view::SystemView;
use crate::tasks::Tasks;

/// Whether a plugin is a secrets engine or an auth method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendType {
    /// A secrets engine (`bao secrets enable`).
    Secrets,
    /// An auth method (`bao auth enable`).
    Auth,
}

impl BackendType {
    pub(crate) fn to_wire(self) -> u32 {
        match self {
            BackendType::Secrets => 1,
            BackendType::Auth => 2,
        }
    }

    /// The word the catalog uses: `secret` or `auth`.
    pub fn catalog_name(self) -> &'static str {
        match self {
            BackendType::Secrets => "secret",
            BackendType::Auth => "auth",
        }
    }
}

/// Path patterns the host treats specially (Go's `logical.Paths`). A trailing
/// `*` matches any suffix; `+` matches one path segment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpecialPaths {
    /// Only root tokens (or `sudo`) may call these.
    pub root: Vec<String>,
    /// Callable without a token (e.g. `login`).
    pub unauthenticated: Vec<String>,
    /// Stored only on the local cluster, not replicated.
    pub local_storage: Vec<String>,
    /// Stored with seal wrapping where the host supports it.
    pub seal_wrap_storage: Vec<String>,
    /// Writes forwarded to the primary (Vault Enterprise).
    pub write_forwarded_storage: Vec<String>,
}

/// The answer of an existence check, which decides whether a write is a
/// `create` or an `update`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existence {
    /// This path has no existence check: the host treats writes as updates.
    NotChecked,
    Exists,
    Missing,
}

/// Everything a backend gets when its mount is set up.
#[derive(Clone)]
pub struct BackendConfig {
    /// The mount's storage. Do not use it in the factory: when the host
    /// registers a plugin it sets it up with no usable storage.
    pub storage: Arc<dyn Storage>,
    pub system: Arc<dyn SystemView>,
    /// The mount's plugin config (`-options` / `config` of the mount).
    pub config: HashMap<String, String>,
    /// A UUID unique to this mount.
    pub backend_uuid: String,
    /// Background work for this mount; the SDK stops it after
    /// [`Backend::cleanup`].
    pub tasks: Tasks,
}

/// One mount's logic. Every method may be called concurrently.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    fn backend_type(&self) -> BackendType;

    fn special_paths(&self) -> SpecialPaths {
        SpecialPaths::default()
    }

    /// Called once the mount is ready: a good place to start background work.
    async fn initialize(&self, _storage: Arc<dyn Storage>) -> Result<(), Error> {
        Ok(())
    }

    /// Handles one request. `Ok(None)` means there is nothing at this path.
    async fn handle_request(&self, request: Request) -> Result<Option<Response>, Error>;

    /// Decides whether a write is a create or an update. An
    /// [`Error::InvalidRequest`] here counts as [`Existence::Missing`]: the
    /// handler then sees the write and refuses it with a 400 (the host would
    /// turn an existence-check error into a bare 500).
    async fn existence_check(&self, _request: Request) -> Result<Existence, Error> {
        Ok(Existence::NotChecked)
    }

    /// The mount goes away (unmount, reload, shutdown). Tasks started on
    /// [`BackendConfig::tasks`] are stopped right after this returns.
    async fn cleanup(&self) {}

    /// A storage key was changed by another node: drop what is cached from it.
    async fn invalidate_key(&self, _key: &str) {}
}

/// A future that builds a backend.
pub type BackendFuture = Pin<Box<dyn Future<Output = Result<Arc<dyn Backend>, Error>> + Send>>;

/// Builds one backend per mount.
pub type Factory = Arc<dyn Fn(BackendConfig) -> BackendFuture + Send + Sync>;

/// Wraps an async constructor as a [`Factory`].
pub fn factory<F, Fut, B>(make: F) -> Factory
where
    F: Fn(BackendConfig) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<B, Error>> + Send + 'static,
    B: Backend,
{
    Arc::new(move |config| {
        let fut = make(config);
        Box::pin(async move { fut.await.map(|b| Arc::new(b) as Arc<dyn Backend>) })
    })
}
