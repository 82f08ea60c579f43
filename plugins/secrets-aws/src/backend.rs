//! The plugin's state: IAM/STS clients built from `config/root` and kept
//! until the config changes here or another node's write invalidates it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use vault_plugin_sdk::logical::{Error, Request};
use vault_plugin_sdk::system_view::SystemView;

use crate::client::{self, AwsClients};
use crate::path_config_root::{CONFIG_ROOT_KEY, RootConfig, read_config};
use crate::username_template::Template;

/// Clients and the parsed username template of one config version.
pub struct Resolved {
    pub clients: AwsClients,
    pub config: RootConfig,
    pub template: Template,
}

pub struct AwsBackend {
    pub system: Arc<dyn SystemView>,
    /// Writers of `config/root` (write, rotate-root) exclude each other and
    /// the readers that must see one consistent config.
    pub config_lock: tokio::sync::RwLock<()>,
    /// Static-role writes and rotations of one mount go one at a time: both
    /// read the stored key and then replace it.
    pub static_lock: tokio::sync::Mutex<()>,
    resolved: RwLock<Option<Arc<Resolved>>>,
    /// Bumped on every config change, so clients built from a config read
    /// before the change are not cached after it.
    generation: AtomicU64,
    /// WAL entries of requests that gave up on a half-made user whose own
    /// clean-up failed too (AWS unreachable): the next periodic tick rolls
    /// them back instead of waiting out the minimum age.
    abandoned: Mutex<HashSet<String>>,
}

impl AwsBackend {
    pub fn new(system: Arc<dyn SystemView>) -> Self {
        AwsBackend {
            system,
            config_lock: tokio::sync::RwLock::new(()),
            static_lock: tokio::sync::Mutex::new(()),
            resolved: RwLock::new(None),
            generation: AtomicU64::new(0),
            abandoned: Mutex::new(HashSet::new()),
        }
    }

    /// Marks WAL entry `wal_id` as given up by its request.
    pub fn abandon(&self, wal_id: String) {
        self.abandoned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(wal_id);
    }

    pub fn is_abandoned(&self, wal_id: &str) -> bool {
        self.abandoned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(wal_id)
    }

    /// Forgets an abandoned entry once it has been rolled back.
    pub fn rolled_back(&self, wal_id: &str) {
        self.abandoned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(wal_id);
    }

    /// The clients for the stored config (or the default chain without one).
    pub async fn resolved(&self, req: &Request) -> Result<Arc<Resolved>, Error> {
        if let Some(r) = self
            .resolved
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            return Ok(Arc::clone(r));
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let config = read_config(req).await?.unwrap_or_default();
        let template = Template::parse(config.template())
            .map_err(|e| Error::invalid(format!("unable to initialize username template: {e}")))?;
        let clients = client::build(&config).await;
        let resolved = Arc::new(Resolved {
            clients,
            config,
            template,
        });
        let mut slot = self
            .resolved
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if self.generation.load(Ordering::SeqCst) == generation {
            *slot = Some(Arc::clone(&resolved));
        }
        Ok(resolved)
    }

    pub fn forget_clients(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        *self
            .resolved
            .write()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// A key changed on another node: drop what was built from it.
pub async fn invalidate(backend: &AwsBackend, key: &str) {
    if key == CONFIG_ROOT_KEY {
        backend.forget_clients();
    }
}
