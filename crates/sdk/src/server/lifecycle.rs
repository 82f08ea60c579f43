//! When the plugin process stops: the host's Shutdown call, SIGTERM, or the
//! host process disappearing. SIGINT is ignored, as go-plugin does: a Ctrl-C
//! in the host's terminal reaches the whole process group, and the host
//! decides when its plugins stop.

use std::time::Duration;

use tokio::sync::watch;

/// How often the plugin checks that its host is still alive.
const PARENT_POLL: Duration = Duration::from_millis(200);

/// A one-way "stop now" signal, cheap to clone.
#[derive(Clone)]
pub struct Shutdown {
    tx: watch::Sender<bool>,
}

impl Shutdown {
    pub fn new() -> Self {
        Shutdown {
            tx: watch::Sender::new(false),
        }
    }

    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// Resolves once `trigger` has been called.
    pub async fn triggered(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|stop| *stop).await;
    }

    /// A stream that yields nothing and ends when the plugin stops: the
    /// open-ended half of a long-lived RPC (broker, stdio). Ending it lets
    /// the graceful stop wait only for calls really in flight.
    pub fn silent_stream<T: Send + 'static>(&self) -> UntilShutdown<T> {
        let this = self.clone();
        UntilShutdown {
            done: Box::pin(async move { this.triggered().await }),
            _item: std::marker::PhantomData,
        }
    }
}

/// See [`Shutdown::silent_stream`].
pub struct UntilShutdown<T> {
    done: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    _item: std::marker::PhantomData<fn() -> T>,
}

impl<T> tokio_stream::Stream for UntilShutdown<T> {
    type Item = T;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        self.done.as_mut().poll(cx).map(|()| None)
    }
}

/// Watches signals and the parent process; triggers `shutdown` when the
/// plugin should stop.
pub fn watch_process(shutdown: Shutdown) {
    use tokio::signal::unix::{SignalKind, signal};

    if let Ok(mut interrupts) = signal(SignalKind::interrupt()) {
        tokio::spawn(async move {
            let mut count = 0u64;
            while interrupts.recv().await.is_some() {
                count += 1;
                tracing::trace!(count, "plugin received interrupt signal, ignoring");
            }
        });
    }

    match signal(SignalKind::terminate()) {
        Ok(mut terms) => {
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                if terms.recv().await.is_some() {
                    tracing::debug!("received SIGTERM, shutting down");
                    shutdown.trigger();
                }
            });
        }
        Err(err) => tracing::warn!(error = %err, "cannot watch SIGTERM"),
    }

    // go-plugin leaves orphans when the host is SIGKILLed. We notice the
    // re-parenting (to init or a subreaper) and leave.
    let parent = std::os::unix::process::parent_id();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PARENT_POLL);
        loop {
            tick.tick().await;
            if std::os::unix::process::parent_id() != parent {
                tracing::warn!(parent, "the host process is gone, shutting down");
                shutdown.trigger();
                return;
            }
        }
    });
}
