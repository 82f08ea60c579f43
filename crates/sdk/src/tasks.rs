//! Background work tied to one mount: started by the backend, stopped by the
//! SDK when the host cleans the mount up (unmount, reload, shutdown), so no
//! task outlives the mount whose storage it uses.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::task::JoinSet;

/// A mount's background tasks. Cloning shares the set.
///
/// ```no_run
/// # fn demo(config: vault_plugin_sdk::backend::BackendConfig) {
/// config.tasks.spawn(async {
///     loop {
///         tokio::time::sleep(std::time::Duration::from_secs(60)).await;
///         // rotate something
///     }
/// });
/// # }
/// ```
#[derive(Clone, Default)]
pub struct Tasks {
    set: Arc<Mutex<Option<JoinSet<()>>>>,
}

impl Tasks {
    pub fn new() -> Self {
        Tasks {
            set: Arc::new(Mutex::new(Some(JoinSet::new()))),
        }
    }

    /// Runs `task` until it ends or the mount is cleaned up. After cleanup
    /// it is dropped without running.
    pub fn spawn<F: Future<Output = ()> + Send + 'static>(&self, task: F) {
        let mut set = self.set.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(set) = set.as_mut() {
            // Reap finished tasks so a long-lived mount's set stays small.
            while set.try_join_next().is_some() {}
            set.spawn(task);
        }
    }

    /// How many tasks are still running.
    pub fn running(&self) -> usize {
        let mut set = self.set.lock().unwrap_or_else(PoisonError::into_inner);
        match set.as_mut() {
            Some(set) => {
                while set.try_join_next().is_some() {}
                set.len()
            }
            None => 0,
        }
    }

    /// Aborts every task and refuses new ones.
    pub(crate) fn stop(&self) {
        let set = self
            .set
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut set) = set {
            set.abort_all();
            // Dropping the set detaches; aborted tasks end at their next
            // await point.
            drop(set);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn stop_ends_running_tasks_and_refuses_new_ones() {
        let tasks = Tasks::new();
        let ticks = Arc::new(AtomicUsize::new(0));
        let counter = ticks.clone();
        tasks.spawn(async move {
            loop {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(tasks.running(), 1);
        tasks.stop();
        tokio::time::sleep(Duration::from_millis(10)).await;
        let after = ticks.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(
            ticks.load(Ordering::SeqCst),
            after,
            "the task no longer runs"
        );
        tasks.spawn(async {});
        assert_eq!(tasks.running(), 0);
    }
}
