//! Hostile input for a plugin's oversized-input tests, and the check that it
//! left no lasting memory behind.

use serde_json::Value;

use crate::process;

/// What the allocator may keep after warm-up rounds of large requests.
/// glibc reuses the memory large requests used (its mmap threshold rises
/// after large frees), but each worker thread's arena keeps its own, so RSS
/// levels off in steps of one request's peak (about 22 MiB seen with 10 MB
/// bodies). Ten 10 MB bodies kept, as a leak would keep them, is over
/// 100 MiB.
pub const MAX_RETAINED_KIB: u64 = 64 * 1024;

/// Runs `test` on a thread with a 256 MiB stack: building and sending JSON
/// 1,000 levels deep recurses that deep in the test too.
///
/// # Panics
/// When `test` panics (the test fails with it).
pub fn on_big_stack(test: fn()) {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(test)
        .expect("spawn the test thread")
        .join()
        .expect("the checks pass");
}

/// `[[[…]]]`, `depth` arrays deep.
pub fn nested_arrays(depth: usize) -> Value {
    (0..depth).fold(Value::Array(Vec::new()), |inner, _| {
        Value::Array(vec![inner])
    })
}

/// `prefix-0`, `prefix-1`, … : `n` distinct strings for a list field.
pub fn numbered(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

/// A plugin process's RSS before a round of hostile requests.
pub struct RssBaseline {
    pid: u32,
    kib: u64,
}

impl RssBaseline {
    /// # Panics
    /// When the process's RSS cannot be read.
    pub fn of(pid: u32) -> Self {
        RssBaseline {
            pid,
            kib: process::rss_kib(pid).expect("the plugin's RSS"),
        }
    }

    /// # Panics
    /// When RSS grew by more than [`MAX_RETAINED_KIB`] since the baseline.
    #[track_caller]
    pub fn assert_no_lasting_growth(&self) {
        let now = process::rss_kib(self.pid).expect("the plugin's RSS");
        assert!(
            now <= self.kib + MAX_RETAINED_KIB,
            "RSS grew from {} KiB to {now} KiB",
            self.kib
        );
    }
}
