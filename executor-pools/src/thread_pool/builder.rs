//! `ThreadPoolBuilder`: the options of a thread pool, with Python's defaults.

use std::sync::Arc;
use std::time::Duration;

use super::ThreadPool;

/// A thread pool initializer: runs once at the start of each worker thread; an `Err` (or a
/// panic) breaks the pool.
pub(crate) type Initializer = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// Options of a [`ThreadPool`] (ThreadPoolExecutor's constructor arguments, plus an idle
/// timeout and a bounded queue).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let pool = evloop_pools::ThreadPool::builder()
///     .max_workers(4)
///     .thread_name_prefix("io")
///     .idle_timeout(Some(Duration::from_secs(1)))
///     .queue_capacity(Some(100))
///     .build();
/// assert_eq!(pool.max_workers(), 4);
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct ThreadPoolBuilder {
    /// The most worker threads alive at once.
    pub(crate) max_workers: usize,
    /// Worker threads are named `{prefix}-{n}`.
    pub(crate) thread_name_prefix: String,
    /// Run at the start of every worker; a failure breaks the pool.
    pub(crate) initializer: Option<Initializer>,
    /// How long a worker waits for a job before it exits (`None`: until shutdown).
    pub(crate) idle_timeout: Option<Duration>,
    /// The most queued (not yet running) jobs; `None` is unbounded.
    pub(crate) queue_capacity: Option<usize>,
    /// Stack size of worker threads (`None`: Rust's default).
    pub(crate) stack_size: Option<usize>,
    /// How long an idle worker spins for a new job before it sleeps (zero: never).
    pub(crate) spin: Duration,
    /// Debug mode: report job errors nobody retrieved (`debug.rs`).
    pub(crate) debug: bool,
}

// ANCHOR: default_max_workers
/// Python's default: `min(32, os.cpu_count() + 4)`.
pub(crate) fn default_max_workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores + 4).min(32)
}
// ANCHOR_END: default_max_workers

impl Default for ThreadPoolBuilder {
    fn default() -> Self {
        ThreadPoolBuilder {
            max_workers: default_max_workers(),
            thread_name_prefix: "evloop-pool".to_string(),
            initializer: None,
            idle_timeout: Some(Duration::from_secs(10)),
            queue_capacity: None,
            stack_size: None,
            spin: crate::queue::default_spin(),
            debug: crate::debug::debug_from_env(),
        }
    }
}

impl ThreadPoolBuilder {
    /// The default options: `max_workers` = min(32, cores + 4) (Python's rule), threads named
    /// `evloop-pool-{n}`, no initializer, idle workers exit after 10 s (tokio's blocking-pool
    /// keep-alive), an unbounded queue, debug mode if `EVLOOP_DEBUG` asks for it
    /// ([`debug_from_env`](crate::debug_from_env)).
    pub fn new() -> Self {
        Self::default()
    }

    /// The most worker threads alive at once (at least 1).
    pub fn max_workers(mut self, n: usize) -> Self {
        self.max_workers = n.max(1);
        self
    }

    /// Names worker threads `{prefix}-{n}` (Python's `thread_name_prefix`).
    pub fn thread_name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.thread_name_prefix = prefix.into();
        self
    }

    /// Runs `init` at the start of each worker thread. If it returns `Err` or panics, the pool
    /// is broken: queued jobs and later submissions fail with `JobError::BrokenPool`, naming
    /// the message (Python's `BrokenThreadPool`).
    pub fn initializer(
        mut self,
        init: impl Fn() -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.initializer = Some(Arc::new(init));
        self
    }

    /// How long an idle worker waits for a job before it exits; a new one starts on demand.
    /// `None` keeps workers until shutdown (Python's behaviour).
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Bounds the queue of waiting jobs: `submit` then blocks, `try_submit` hands the job
    /// back, and `submit_async` waits, while it is full. `None` (the default) is unbounded.
    pub fn queue_capacity(mut self, capacity: Option<usize>) -> Self {
        self.queue_capacity = capacity.map(|c| c.max(1));
        self
    }

    /// How long an idle worker spins, watching the queue, before it sleeps: 50 µs by default
    /// on a multi-core machine, zero on one core. Spinning saves a futex wake and a scheduler
    /// hop per job when jobs arrive back to back; `Duration::ZERO` turns it off.
    pub fn spin(mut self, duration: Duration) -> Self {
        self.spin = duration;
        self
    }

    /// Debug mode (asyncio's): a job that ends with an error other than `Cancelled` (a
    /// panic) that nobody took from its [`JobHandle`](crate::JobHandle) (by `result`,
    /// `result_timeout` or `.await`) is reported once, when both its handle and the job are
    /// gone, by a `log::warn!` with target `evloop_pools::debug` naming the closure's type,
    /// the pool and the error. Values dropped unretrieved are not reported. The default is
    /// [`debug_from_env`](crate::debug_from_env); off, it costs nothing per job.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = evloop_pools::ThreadPool::builder().debug(true).build();
    /// assert!(pool.get_debug());
    /// // Dropped unawaited, this panic is logged as "job exception was never retrieved".
    /// drop(pool.submit(|| -> u32 { panic!("boom") }).unwrap());
    /// ```
    pub fn debug(mut self, yes: bool) -> Self {
        self.debug = yes;
        self
    }

    /// The stack size of worker threads, in bytes.
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Creates the pool. No thread starts until the first job arrives.
    pub fn build(self) -> ThreadPool {
        ThreadPool::from_builder(self)
    }
}
