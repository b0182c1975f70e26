//! `ProcessPoolBuilder`: the options of a process pool, and the checks `build` makes before
//! any worker can start.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::protocol::Blob;
use super::registry::{check_call, Function, Registry, Signature};
use super::worker::{started_as_worker, worker_main_ran, NO_WORKER_MAIN_EXIT, WORKER_MAIN_MISSING};
use super::ProcessPool;
use crate::error::JobError;

/// Options of a [`ProcessPool`] (ProcessPoolExecutor's constructor arguments, plus timeouts,
/// a bounded queue, and the start-up policy).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use evloop_pools::{Function, ProcessPool, Registry};
///
/// const SQUARE: Function<u64, u64> = Function::new("square");
/// fn registry() -> Registry {
///     Registry::new().register(SQUARE, |x| x * x)
/// }
///
/// fn main() {
///     evloop_pools::worker_main(registry);
///     let pool = ProcessPool::builder(registry())
///         .max_workers(2)
///         .max_tasks_per_child(Some(100))
///         .default_timeout(Some(Duration::from_secs(30)))
///         .build()
///         .unwrap();
///     assert_eq!(pool.max_workers(), 2);
/// }
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct ProcessPoolBuilder {
    /// The parent's registry; only its signatures are kept, for the handshake and submits.
    pub(crate) registry: Registry,
    /// The most worker processes alive at once.
    pub(crate) max_workers: usize,
    /// A worker is replaced after this many jobs (`None`: never).
    pub(crate) max_tasks_per_child: Option<usize>,
    /// A registered function run once at every worker start: its name and encoded argument,
    /// or why the argument could not be encoded (reported by `build`).
    pub(crate) initializer: Option<(&'static str, Result<Blob, String>)>,
    /// The initializer's signature as the builder saw it, checked against the registry.
    pub(crate) initializer_check: Option<Result<(), String>>,
    /// A job with no timeout of its own is stopped after this long (`None`: never).
    pub(crate) default_timeout: Option<Duration>,
    /// The largest frame either side may send, in bytes.
    pub(crate) max_frame_size: usize,
    /// The most queued (not yet running) jobs; `None` is unbounded.
    pub(crate) queue_capacity: Option<usize>,
    /// The program to run as a worker (`None`: the current executable).
    pub(crate) program: Option<PathBuf>,
    /// Extra arguments for the worker program.
    pub(crate) args: Vec<OsString>,
    /// A worker must connect, shake hands and run its initializer within this.
    pub(crate) start_timeout: Duration,
    /// This many failed starts in a row break the pool.
    pub(crate) max_startup_failures: u32,
    /// A worker dying mid-job breaks the pool (Python's policy) instead of being replaced.
    pub(crate) break_on_worker_death: bool,
    /// Supervisor threads are named `{prefix}-{n}`.
    pub(crate) thread_name_prefix: String,
    /// Debug mode: report job errors nobody retrieved (`debug.rs`).
    pub(crate) debug: bool,
}

/// The default `max_frame_size`: 256 MiB.
pub(crate) const DEFAULT_MAX_FRAME_SIZE: usize = 256 << 20;

impl ProcessPoolBuilder {
    /// The default options for a pool running `registry`'s functions: one worker per core,
    /// workers never recycled, no initializer, no timeouts, 256 MiB frames, an unbounded queue,
    /// the current executable as the worker program, 10 s to start, 3 failed starts in a row
    /// break the pool, a dead worker is replaced, debug mode if `EVLOOP_DEBUG` asks for it
    /// ([`debug_from_env`](crate::debug_from_env)).
    pub fn new(registry: Registry) -> Self {
        ProcessPoolBuilder {
            registry,
            max_workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_tasks_per_child: None,
            initializer: None,
            initializer_check: None,
            default_timeout: None,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            queue_capacity: None,
            program: None,
            args: Vec::new(),
            start_timeout: Duration::from_secs(10),
            max_startup_failures: 3,
            break_on_worker_death: false,
            thread_name_prefix: "evloop-process-pool".to_string(),
            debug: crate::debug::debug_from_env(),
        }
    }

    /// The most worker processes alive at once (at least 1). Workers start on demand.
    pub fn max_workers(mut self, n: usize) -> Self {
        self.max_workers = n.max(1);
        self
    }

    /// Replaces a worker after it ran `n` jobs (Python's `max_tasks_per_child`), e.g. to
    /// bound a leak in the job code. `None` (the default) keeps workers for the pool's life.
    pub fn max_tasks_per_child(mut self, n: Option<usize>) -> Self {
        self.max_tasks_per_child = n.map(|n| n.max(1));
        self
    }

    /// Runs the registered `function` with `args` once at the start of every worker, before
    /// its first job. If it panics, the start failed (see
    /// [`max_startup_failures`](Self::max_startup_failures)).
    pub fn initializer<A: Serialize>(mut self, function: Function<A, ()>, args: A) -> Self {
        let encoded = postcard::to_allocvec(&args)
            .map(Blob)
            .map_err(|e| format!("the initializer's argument cannot be encoded: {e}"));
        self.initializer = Some((function.name(), encoded));
        self.initializer_check = Some(check_call(&self.registry.signatures(), function));
        self
    }

    /// Stops any job that runs longer than `timeout` (unless its call sets its own):
    /// its worker is killed and the handle resolves to `JobError::TimedOut`.
    pub fn default_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.default_timeout = timeout;
        self
    }

    /// The largest message either side may send, in bytes (default 256 MiB, at most 4 GiB).
    /// A larger argument fails its job with `JobError::Protocol` before anything is sent; a
    /// larger reply fails its job the same way, and its worker is replaced.
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes.clamp(64, u32::MAX as usize);
        self
    }

    /// Bounds the queue of waiting jobs: `submit` blocks, `try_submit` hands the call back,
    /// and `submit_async` waits, while it is full. `None` (the default) is unbounded.
    pub fn queue_capacity(mut self, capacity: Option<usize>) -> Self {
        self.queue_capacity = capacity.map(|c| c.max(1));
        self
    }

    /// Runs `program` as the worker instead of the current executable. Its `main` must call
    /// [`worker_main`](crate::worker_main) with a registry that matches this pool's.
    pub fn program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = Some(program.into());
        self
    }

    /// Extra command-line arguments for the worker program.
    pub fn args(mut self, args: Vec<OsString>) -> Self {
        self.args = args;
        self
    }

    /// How long a worker may take to start: run, connect, shake hands and run the
    /// initializer (default 10 s). A worker that takes longer is killed, and the start
    /// counts as failed.
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// Breaks the pool after `n` failed worker starts in a row (default 3, at least 1):
    /// queued and later jobs then fail with `JobError::BrokenPool`, and no worker is started
    /// again. A successful start resets the count.
    pub fn max_startup_failures(mut self, n: u32) -> Self {
        self.max_startup_failures = n.max(1);
        self
    }

    /// With `true`, a worker dying mid-job breaks the whole pool, as in Python. With `false`
    /// (the default), only that job fails (`JobError::WorkerDied`) and a fresh worker runs the
    /// next one.
    pub fn break_on_worker_death(mut self, yes: bool) -> Self {
        self.break_on_worker_death = yes;
        self
    }

    /// Names supervisor threads `{prefix}-{n}` (default `evloop-process-pool`).
    pub fn thread_name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.thread_name_prefix = prefix.into();
        self
    }

    /// Debug mode (asyncio's): a job that ends with an error other than `Cancelled` (a
    /// panic, a dead worker, a timeout, a protocol error, a broken pool) that nobody took from
    /// its [`JobHandle`](crate::JobHandle) (by `result`, `result_timeout` or `.await`) is
    /// reported once, when both its handle and the job are gone, by a `log::warn!` with target
    /// `evloop_pools::debug` naming the registered function, the pool and the error. Values
    /// dropped unretrieved are not reported. The default is
    /// [`debug_from_env`](crate::debug_from_env); off, it costs nothing per job.
    ///
    /// # Examples
    ///
    /// ```
    /// use evloop_pools::{Function, ProcessPool, Registry};
    ///
    /// const SQUARE: Function<u64, u64> = Function::new("square");
    /// fn registry() -> Registry {
    ///     Registry::new().register(SQUARE, |x| x * x)
    /// }
    ///
    /// fn main() {
    ///     evloop_pools::worker_main(registry);
    ///     let pool = ProcessPool::builder(registry()).debug(true).build().unwrap();
    ///     assert!(pool.get_debug());
    /// }
    /// ```
    pub fn debug(mut self, yes: bool) -> Self {
        self.debug = yes;
        self
    }

    // ANCHOR: build
    /// Creates the pool. No worker starts until the first job arrives.
    ///
    /// # Errors
    ///
    /// [`JobError::BrokenPool`] if the worker program is the current executable and
    /// [`worker_main`](crate::worker_main) never ran in this process, or if the initializer is
    /// not registered with matching types; [`JobError::Protocol`] if the initializer's
    /// argument cannot be encoded.
    pub fn build(self) -> Result<ProcessPool, JobError> {
        // A copy started as a worker that never called worker_main would recurse: stop it.
        if started_as_worker() && !worker_main_ran() {
            eprintln!("evloop-pools: {WORKER_MAIN_MISSING}");
            std::process::exit(NO_WORKER_MAIN_EXIT);
        }
        if self.program.is_none() && !worker_main_ran() {
            return Err(JobError::BrokenPool(WORKER_MAIN_MISSING.to_string()));
        }
        if let Some(Err(why)) = &self.initializer_check {
            return Err(JobError::BrokenPool(format!("the initializer: {why}")));
        }
        if let Some((_, Err(why))) = &self.initializer {
            return Err(JobError::Protocol(why.clone()));
        }
        Ok(ProcessPool::from_builder(self))
    }
    // ANCHOR_END: build

    /// The parent registry's signatures.
    pub(crate) fn signatures(&self) -> Vec<Signature> {
        self.registry.signatures()
    }
}
