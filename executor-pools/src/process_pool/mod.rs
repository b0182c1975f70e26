//! `ProcessPool`: Python's `ProcessPoolExecutor`, for CPU-heavy work off the loop.
//!
//! A process job is a [`Call`] of a function registered by name in a [`Registry`]: closures
//! cannot cross a process boundary, names and bytes can. The caller's thread encodes the
//! argument (postcard) and queues the job; a supervisor thread sends it to its worker process
//! and waits for the encoded value; the job's [`JobHandle`] resolves to the decoded value.
//!
//! # Why processes, and what they buy
//!
//! - CPU work in a worker process runs truly in parallel and cannot stall the loop.
//! - Each worker runs one job at a time, so a crash (abort, segfault, `exit`, SIGKILL) fails
//!   exactly that job with `JobError::WorkerDied`, and a fresh worker takes its place (Python
//!   breaks the whole pool; [`ProcessPoolBuilder::break_on_worker_death`] restores that).
//! - A running job can be stopped for real: `JobHandle::abort` and timeouts kill its worker.
//!
//! # Map of this module
//!
//! | concept | file |
//! |---|---|
//! | the public API | `mod.rs` ([`ProcessPool`]), `builder.rs` ([`ProcessPoolBuilder`]) |
//! | names, calls, registries, signatures | `registry.rs` |
//! | frames and messages | `protocol.rs` |
//! | the child side ([`worker_main`]) | `worker.rs` |
//! | starting and reaping a worker | `spawn.rs` |
//! | the queue and the counts | `state.rs` |
//! | a queued job, the abort switch | `job.rs` |
//! | one thread per worker slot | `supervisor.rs` |
//!
//! # Limits
//!
//! - Linux only (abstract Unix sockets, `/proc` in the tests).
//! - The worker program must call [`worker_main`] first in `main`; `build` refuses to
//!   re-execute a program that did not.
//! - Arguments and values are encoded with postcard: a `Vec<u8>` is a sequence of `u8`s to
//!   serde, encoded byte by byte; for large byte payloads use a type serialized with
//!   `serialize_bytes` (as `serde_bytes::ByteBuf` is).
//! - The parent relies on Rust's default of ignoring SIGPIPE: a write to a dead worker then
//!   fails with `EPIPE` (the job gets `WorkerDied`) instead of killing the parent.
//! - A running job is stopped by killing its worker; nothing in the job code runs after that
//!   (no destructors, no flushing of its own buffers).

mod builder;
mod job;
mod protocol;
mod registry;
mod spawn;
mod state;
mod supervisor;
mod worker;

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use parking_lot::MutexGuard;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use builder::ProcessPoolBuilder;
pub use registry::{Call, Function, Registry};
pub use worker::worker_main;

use crate::debug::watch;
use crate::error::{JobError, TrySubmitError};
use crate::executor::{Counters, Executor, JobScope, SubmitJob};
use crate::job::{job, JobHandle};
use crate::thread_pool::MapResults;
use job::{Element, Job};
use protocol::Blob;
use registry::check_call;
use state::{Inner, PoolState};

/// A pool of worker processes for CPU-heavy jobs (concurrent.futures' `ProcessPoolExecutor`).
///
/// Dropping the pool never blocks: queued jobs are cancelled, running jobs are stopped (their
/// workers killed, their handles resolve `Cancelled`), and the supervisor threads reap every
/// worker in the background. Call [`shutdown(true, false)`](Self::shutdown) to let the work
/// finish and wait for it.
///
/// # Examples
///
/// ```
/// use evloop_pools::{Function, ProcessPool, Registry};
///
/// const SQUARE: Function<u64, u64> = Function::new("square");
///
/// fn registry() -> Registry {
///     Registry::new().register(SQUARE, |x| x * x)
/// }
///
/// fn main() {
///     evloop_pools::worker_main(registry); // first: a worker never returns from here
///     let pool = ProcessPool::new(registry()).unwrap();
///     let job = pool.submit(SQUARE.call(12)).unwrap();
///     assert_eq!(job.result(), Ok(144));
///     let squares: Vec<u64> = pool.map(SQUARE, 1..=4, 2).unwrap().map(Result::unwrap).collect();
///     assert_eq!(squares, [1, 4, 9, 16]);
///     pool.shutdown(true, false);
/// }
/// ```
pub struct ProcessPool {
    /// The state shared with the supervisor threads.
    inner: Arc<Inner>,
}

impl ProcessPool {
    /// A pool with the default options (see [`ProcessPoolBuilder::new`]).
    ///
    /// # Errors
    ///
    /// As [`ProcessPoolBuilder::build`].
    pub fn new(registry: Registry) -> Result<ProcessPool, JobError> {
        ProcessPoolBuilder::new(registry).build()
    }

    /// A builder to choose the options.
    pub fn builder(registry: Registry) -> ProcessPoolBuilder {
        ProcessPoolBuilder::new(registry)
    }

    /// The pool behind a checked builder.
    pub(crate) fn from_builder(config: ProcessPoolBuilder) -> ProcessPool {
        ProcessPool {
            inner: Arc::new(Inner::new(config)),
        }
    }

    /// The most worker processes this pool runs at once.
    pub fn max_workers(&self) -> usize {
        self.inner.config.max_workers
    }

    /// Queues `call` and returns its handle; blocks while a bounded queue is full.
    ///
    /// A call that cannot be encoded, or whose function is not registered with these types,
    /// is not queued: its handle resolves to [`JobError::Protocol`] at once.
    ///
    /// # Errors
    ///
    /// [`JobError::ShutDown`] after [`shutdown`](Self::shutdown); [`JobError::BrokenPool`]
    /// if the pool broke.
    pub fn submit<A, R>(&self, call: Call<A, R>) -> Result<JobHandle<R>, JobError>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        let encoded = self.encode(call.function, &call.args);
        let state = self.wait_for_room()?;
        Ok(self.enqueue(state, &call, encoded, None))
    }

    // ANCHOR: try_submit
    /// Queues `call` without blocking; a full queue hands it back.
    ///
    /// # Errors
    ///
    /// [`TrySubmitError::Full`] with `call` when the bounded queue is full;
    /// [`TrySubmitError::Refused`] with `call` after shutdown or when the pool is broken.
    pub fn try_submit<A, R>(
        &self,
        call: Call<A, R>,
    ) -> Result<JobHandle<R>, TrySubmitError<Call<A, R>>>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        self.try_submit_in(call, None)
    }

    /// `try_submit`, with the call's run on its worker to go inside `scope` (dropped unused if
    /// the call is refused or cannot be encoded).
    fn try_submit_in<A, R>(
        &self,
        call: Call<A, R>,
        scope: Option<JobScope>,
    ) -> Result<JobHandle<R>, TrySubmitError<Call<A, R>>>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        let encoded = self.encode(call.function, &call.args);
        let state = self.inner.state.lock();
        let refused = match Inner::refusal(&state) {
            Some(error) => TrySubmitError::Refused(call, error),
            None if self.inner.is_full(&state) => TrySubmitError::Full(call),
            None => return Ok(self.enqueue(state, &call, encoded, scope)),
        };
        // Careful: the scope is user code; drop it after the lock.
        drop(state);
        drop(scope);
        Err(refused)
    }
    // ANCHOR_END: try_submit

    /// Queues `call`, waiting (without blocking the thread) while a bounded queue is full.
    pub fn submit_async<A, R>(&self, call: Call<A, R>) -> SubmitJob<'_, Self, Call<A, R>>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        Executor::submit_async(self, call)
    }

    /// Runs `function` on every input; the results come back in input order (Python's
    /// `Executor.map`). Inputs are sent in chunks of `chunksize` (at least 1), one job per
    /// chunk, but each input has its own outcome: a panic on one input fails only that one.
    /// Dropping the results cancels the inputs not yet started. `abort` of an input whose
    /// chunk is running resolves that input `Cancelled`; the chunk's worker is killed once
    /// every input of the chunk was aborted. Chunks run under the pool's `default_timeout`.
    ///
    /// # Errors
    ///
    /// As [`submit`](Self::submit); the inputs already queued are then cancelled.
    pub fn map<A, R>(
        &self,
        function: Function<A, R>,
        inputs: impl IntoIterator<Item = A>,
        chunksize: usize,
    ) -> Result<MapResults<R>, JobError>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        let chunksize = chunksize.max(1);
        let mut handles = Vec::new();
        let mut chunk = Vec::new();
        let mut inputs = inputs.into_iter().peekable();
        while let Some(input) = inputs.next() {
            // Encode the input; one that cannot be encoded fails alone.
            let (promise, handle) = job::<R>(watch(&self.inner.label, function.name()));
            handles.push(handle);
            match self.encode(function, &input) {
                Ok(payload) => chunk.push(Element {
                    payload,
                    settle: Box::new(promise),
                }),
                Err(why) => {
                    promise.complete(Err(JobError::Protocol(why)));
                }
            }
            // Queue a full chunk, or the last one.
            if chunk.len() == chunksize || (inputs.peek().is_none() && !chunk.is_empty()) {
                let job = Job {
                    function: function.name(),
                    timeout: None,
                    batch: true,
                    elements: std::mem::take(&mut chunk),
                    scope: None,
                };
                let queued = self.wait_for_room().map(|mut state| {
                    let aftermath = self.inner.push(&mut state, job);
                    drop(state);
                    aftermath.finish();
                });
                if let Err(error) = queued {
                    handles.iter().for_each(|handle| {
                        handle.cancel();
                    });
                    return Err(error);
                }
            }
        }
        Ok(MapResults::new(handles))
    }

    /// Stops taking jobs (Python's `shutdown`). With `cancel_pending`, queued jobs are
    /// cancelled; otherwise they still run. With `wait`, blocks until every supervisor has
    /// finished, which means every worker has exited and was reaped. Calling it again is
    /// harmless.
    pub fn shutdown(&self, wait: bool, cancel_pending: bool) {
        let (aftermath, threads) = {
            let mut state = self.inner.state.lock();
            let aftermath = self.inner.shut(&mut state, cancel_pending);
            let threads = if wait {
                std::mem::take(&mut state.threads)
            } else {
                Vec::new()
            };
            (aftermath, threads)
        };
        aftermath.finish();
        let me = std::thread::current().id();
        for thread in threads {
            // Careful: a done callback (run by a supervisor) that shuts the pool down cannot
            // join its own thread.
            if thread.thread().id() != me {
                let _ = thread.join();
            }
        }
    }

    /// Whether `shutdown` was called.
    pub fn is_shutdown(&self) -> bool {
        self.inner.state.lock().shutdown
    }

    /// Why the pool is broken, if it is (workers keep failing to start, registries differ, or
    /// a worker died with `break_on_worker_death`).
    pub fn broken(&self) -> Option<String> {
        self.inner.state.lock().broken.clone()
    }

    /// A snapshot of the queue and the workers: `workers` counts live worker processes,
    /// `idle` the supervisors waiting for a job, `running` those busy with one (starting its
    /// worker, or waiting for its reply), and `restarts` the worker starts that replaced an
    /// ended worker (death, timeout, abort, protocol error, `max_tasks_per_child`) or retried
    /// a failed start. A `map` chunk counts as one job. See [`Counters`] for each field.
    pub fn counters(&self) -> Counters {
        let state = self.inner.state.lock();
        Counters {
            queued: state.queue.len(),
            running: state.running,
            idle: state.idle,
            workers: state.pids.len(),
            submitted: state.submitted,
            completed: state.completed,
            restarts: state.restarts,
        }
    }

    /// Whether the pool is in debug mode (asyncio's `get_debug`; see
    /// [`ProcessPoolBuilder::debug`]).
    pub fn get_debug(&self) -> bool {
        self.inner.config.debug
    }

    /// The process ids of the live workers.
    pub fn worker_pids(&self) -> Vec<u32> {
        self.inner.state.lock().pids.values().copied().collect()
    }

    // ANCHOR: encode
    /// Encodes an argument of `function`, checking it is registered with these types.
    fn encode<A: Serialize, R>(&self, function: Function<A, R>, args: &A) -> Result<Blob, String> {
        check_call(&self.inner.signatures, function)?;
        postcard::to_allocvec(args).map(Blob).map_err(|error| {
            format!(
                "could not encode the argument of `{}`: {error}",
                function.name()
            )
        })
    }
    // ANCHOR_END: encode

    /// Locks the state once the pool accepts a job and the queue has room.
    fn wait_for_room(&self) -> Result<MutexGuard<'_, PoolState>, JobError> {
        let mut state = self.inner.state.lock();
        loop {
            if let Some(error) = Inner::refusal(&state) {
                return Err(error);
            }
            if !self.inner.is_full(&state) {
                return Ok(state);
            }
            self.inner.space_ready.wait(&mut state);
        }
    }

    // ANCHOR: enqueue
    /// Queues a one-call job (or resolves its handle at once if it could not be encoded, and
    /// drops `scope` unused). Takes the locked state (refusal and room checked) and releases it.
    fn enqueue<A, R>(
        &self,
        mut state: MutexGuard<'_, PoolState>,
        call: &Call<A, R>,
        encoded: Result<Blob, String>,
        scope: Option<JobScope>,
    ) -> JobHandle<R>
    where
        R: DeserializeOwned + Send + 'static,
    {
        let (promise, handle) = job::<R>(watch(&self.inner.label, call.function.name()));
        match encoded {
            Ok(payload) => {
                let job = Job {
                    function: call.function.name(),
                    timeout: call.timeout,
                    batch: false,
                    elements: vec![Element {
                        payload,
                        settle: Box::new(promise),
                    }],
                    scope,
                };
                let aftermath = self.inner.push(&mut state, job);
                drop(state);
                aftermath.finish();
            }
            Err(why) => {
                drop(state);
                drop(scope);
                promise.complete(Err(JobError::Protocol(why)));
            }
        }
        handle
    }
    // ANCHOR_END: enqueue
}

// ANCHOR: process_pool_drop
impl Drop for ProcessPool {
    /// Never blocks: cancels the queue, stops running jobs (their workers are killed), and
    /// leaves the supervisors to reap every worker and exit in the background.
    fn drop(&mut self) {
        self.inner.terminate();
    }
}
// ANCHOR_END: process_pool_drop

impl fmt::Debug for ProcessPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessPool")
            .field("max_workers", &self.max_workers())
            .field("counters", &self.counters())
            .finish()
    }
}

impl<A, R> Executor<Call<A, R>> for ProcessPool
where
    A: Serialize,
    R: DeserializeOwned + Send + 'static,
{
    type Output = R;

    fn submit_job(&self, job: Call<A, R>) -> Result<JobHandle<R>, JobError> {
        self.submit(job)
    }

    fn try_submit_job(&self, job: Call<A, R>) -> Result<JobHandle<R>, TrySubmitError<Call<A, R>>> {
        self.try_submit(job)
    }

    /// The scope runs on the supervisor thread of the slot that runs the call, around its
    /// run in the worker process (see [`Executor::try_submit_job_scoped`]).
    fn try_submit_job_scoped(
        &self,
        job: Call<A, R>,
        scope: JobScope,
    ) -> Result<JobHandle<R>, TrySubmitError<Call<A, R>>> {
        self.try_submit_in(job, Some(scope))
    }

    fn job_name(&self, job: &Call<A, R>) -> &'static str {
        job.function().name()
    }

    fn poll_space(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.inner.state.lock();
        if Inner::refusal(&state).is_some() || !self.inner.is_full(&state) {
            return Poll::Ready(());
        }
        crate::queue::wait_for_room(&mut state.space_wakers, cx.waker());
        Poll::Pending
    }
}
