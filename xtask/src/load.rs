//! Load on OpenBao's HTTP API from many threads, each with its own
//! keep-alive connection, taking operations from one shared counter: the
//! load generator of `bench` and `soak`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::anyhow;

/// What to do when an operation fails.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Stop every thread: a benchmark run with an error is lost.
    Stop,
    /// Count it and go on: a soak reports every error.
    Count,
}

/// One run's figures.
pub struct Run {
    pub ops: usize,
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
    pub errors: Vec<String>,
}

impl Run {
    pub fn rate(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    /// The first error, for a run that must have none.
    pub fn clean(self) -> anyhow::Result<Run> {
        match self.errors.first() {
            Some(err) => Err(anyhow!("{} errors, the first: {err}", self.errors.len())),
            None => Ok(self),
        }
    }
}

/// Runs `op(agent, i)` for `i` in `0..total` from `concurrency` threads.
/// An operation is one or more HTTP calls; its latency is all of them.
pub fn run<F>(total: usize, concurrency: usize, on_error: OnError, op: F) -> Run
where
    F: Fn(&ureq::Agent, usize) -> Result<(), String> + Sync,
{
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    let per_thread: Vec<(Vec<Duration>, Vec<String>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..concurrency)
            .map(|_| scope.spawn(|| worker(&next, total, on_error, &op)))
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| (Vec::new(), vec!["a load thread panicked".into()]))
            })
            .collect()
    });
    let elapsed = start.elapsed();
    let mut latencies = Vec::with_capacity(total);
    let mut errors = Vec::new();
    for (l, e) in per_thread {
        latencies.extend(l);
        errors.extend(e);
    }
    Run {
        ops: latencies.len(),
        elapsed,
        latencies,
        errors,
    }
}

fn worker<F>(
    next: &AtomicUsize,
    total: usize,
    on_error: OnError,
    op: &F,
) -> (Vec<Duration>, Vec<String>)
where
    F: Fn(&ureq::Agent, usize) -> Result<(), String>,
{
    let agent = agent();
    let (mut latencies, mut errors) = (Vec::new(), Vec::new());
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= total {
            return (latencies, errors);
        }
        let start = Instant::now();
        let result = op(&agent, i);
        latencies.push(start.elapsed());
        if let Err(err) = result {
            errors.push(err);
            if on_error == OnError::Stop {
                next.store(total, Ordering::Relaxed);
            }
        }
    }
}

/// A client that answers every status instead of raising it.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// Sends `body` (JSON text, or none for a GET) to `url`; the body of a 2xx
/// answer, or an error naming the call and the status.
pub fn call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> Result<String, String> {
    let result = match (method, body) {
        ("GET", _) => with_token(agent.get(url), token).call(),
        (_, body) => with_token(agent.post(url), token)
            .header("Content-Type", "application/json")
            .send(body.unwrap_or("{}")),
    };
    let (status, text) = match result {
        Ok(mut resp) => (
            resp.status().as_u16(),
            resp.body_mut().read_to_string().unwrap_or_default(),
        ),
        Err(e) => (0, e.to_string()),
    };
    if (200..300).contains(&status) {
        Ok(text)
    } else {
        Err(format!("{method} {url}: {status} {text}"))
    }
}

fn with_token<B>(request: ureq::RequestBuilder<B>, token: Option<&str>) -> ureq::RequestBuilder<B> {
    match token {
        Some(token) => request.header("X-Vault-Token", token),
        None => request,
    }
}
