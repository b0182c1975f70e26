//! `ThreadPool`: Python's `ThreadPoolExecutor`, for blocking work off the loop.
//!
//! A pool is a FIFO queue of jobs and up to `max_workers` threads taking from it. Threads
//! start on demand and exit after an idle timeout (`worker.rs` has the growth rule and the
//! worker loop); a bounded queue gives back-pressure. A job is a closure; its
//! [`JobHandle`] resolves to the closure's value, or to `JobError::Panicked` if it panicked
//! (the worker lives on). Dropping the pool shuts it down and joins its threads.
//!
//! Jobs run on plain threads: blocking there is the point. A running job cannot be preempted;
//! `JobHandle::abort` resolves its handle at once and discards the value it returns later,
//! unless the job was submitted with a [`CancelToken`] it polls (`submit_with_token`).

mod builder;
mod map;
mod worker;

use std::any::type_name;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::task::{Context, Poll};

use parking_lot::Mutex;

pub use builder::ThreadPoolBuilder;
pub use map::MapResults;

use crate::debug::watch;
use crate::error::{panic_message, JobError, TrySubmitError};
use crate::executor::{Counters, Executor, JobScope, SubmitJob};
use crate::job::{job as job_pair, CancelToken, JobHandle, Promise};
use worker::{Aftermath, Inner, PoolState, Work};

/// A pool of threads for blocking jobs (concurrent.futures' `ThreadPoolExecutor`).
///
/// Share one pool between threads or loops through an `Arc` (it is `Send + Sync`; `Arc<ThreadPool>`
/// is an [`Executor`] too).
///
/// # Examples
///
/// ```
/// use evloop_pools::ThreadPool;
///
/// let pool = ThreadPool::builder().max_workers(2).build();
/// let jobs: Vec<_> = (1..=3).map(|i| pool.submit(move || i * 10).unwrap()).collect();
/// let values: Vec<i32> = jobs.into_iter().map(|job| job.result().unwrap()).collect();
/// assert_eq!(values, [10, 20, 30]);
/// pool.shutdown(true, false);
/// ```
pub struct ThreadPool {
    /// The state shared with the worker threads.
    inner: Arc<Inner>,
}

impl ThreadPool {
    /// A pool with the default options (see [`ThreadPoolBuilder::new`]).
    pub fn new() -> ThreadPool {
        ThreadPoolBuilder::new().build()
    }

    /// A builder to choose the options.
    pub fn builder() -> ThreadPoolBuilder {
        ThreadPoolBuilder::new()
    }

    /// The pool behind a builder.
    pub(crate) fn from_builder(config: ThreadPoolBuilder) -> ThreadPool {
        ThreadPool {
            inner: Arc::new(Inner {
                state: Mutex::new(PoolState {
                    queue: Default::default(),
                    workers: 0,
                    idle: 0,
                    running: 0,
                    completed: 0,
                    submitted: 0,
                    shutdown: false,
                    broken: None,
                    space_wakers: Vec::new(),
                    threads: Vec::new(),
                    next_thread: 0,
                }),
                work_ready: Default::default(),
                space_ready: Default::default(),
                queued: Default::default(),
                label: crate::debug::pool_label(
                    config.debug,
                    "ThreadPool",
                    &config.thread_name_prefix,
                ),
                config,
            }),
        }
    }

    /// The most worker threads this pool runs at once.
    pub fn max_workers(&self) -> usize {
        self.inner.config.max_workers
    }

    /// Whether the pool is in debug mode (asyncio's `get_debug`; see
    /// [`ThreadPoolBuilder::debug`]).
    pub fn get_debug(&self) -> bool {
        self.inner.config.debug
    }

    /// Queues `f` and returns its handle; blocks while a bounded queue is full.
    ///
    /// # Errors
    ///
    /// [`JobError::ShutDown`] after [`shutdown`](Self::shutdown); [`JobError::BrokenPool`]
    /// if an initializer failed.
    pub fn submit<F, R>(&self, f: F) -> Result<JobHandle<R>, JobError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.enqueue_blocking(type_name::<F>(), |promise| {
            Box::new(Plain {
                f,
                promise,
                scope: None,
            })
        })
    }

    /// Queues `f`, handing it a [`CancelToken`] that `JobHandle::abort` trips: a long job
    /// polls it to stop early (cooperative cancellation).
    ///
    /// # Errors
    ///
    /// As [`submit`](Self::submit).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = evloop_pools::ThreadPool::new();
    /// let job = pool.submit_with_token(|token| {
    ///     let mut rounds = 0;
    ///     while !token.is_cancelled() {
    ///         rounds += 1;
    ///         std::thread::sleep(Duration::from_millis(1));
    ///     }
    ///     rounds
    /// }).unwrap();
    /// while !job.is_running() { std::thread::yield_now(); }
    /// assert!(job.abort());
    /// assert_eq!(job.result(), Err(evloop_pools::JobError::Cancelled));
    /// ```
    pub fn submit_with_token<F, R>(&self, f: F) -> Result<JobHandle<R>, JobError>
    where
        F: FnOnce(CancelToken) -> R + Send + 'static,
        R: Send + 'static,
    {
        self.enqueue_blocking(type_name::<F>(), |promise| {
            Box::new(WithToken {
                f,
                promise,
                scope: None,
            })
        })
    }

    // ANCHOR: try_enqueue
    /// Queues `make`'s job without blocking if there is room; otherwise hands `job` back.
    /// `name` names the job in debug reports.
    fn try_enqueue<J, R>(
        &self,
        name: &'static str,
        job: J,
        make: impl FnOnce(J, Promise<R>) -> Box<dyn Work>,
    ) -> Result<JobHandle<R>, TrySubmitError<J>> {
        let mut state = self.inner.state.lock();
        if let Some(error) = Inner::refusal(&state) {
            return Err(TrySubmitError::Refused(job, error));
        }
        if self.inner.is_full(&state) {
            return Err(TrySubmitError::Full(job));
        }
        let (promise, handle) = job_pair(watch(&self.inner.label, name));
        let aftermath = self.inner.push(&mut state, make(job, promise));
        drop(state);
        aftermath.finish();
        Ok(handle)
    }
    // ANCHOR_END: try_enqueue

    /// Queues `f` without blocking; a full queue hands it back.
    ///
    /// # Errors
    ///
    /// [`TrySubmitError::Full`] with `f` when the bounded queue is full;
    /// [`TrySubmitError::Refused`] with `f` after shutdown or when the pool is broken.
    pub fn try_submit<F, R>(&self, f: F) -> Result<JobHandle<R>, TrySubmitError<F>>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.try_enqueue(type_name::<F>(), f, |f, promise| {
            Box::new(Plain {
                f,
                promise,
                scope: None,
            })
        })
    }

    /// Queues `f`, waiting (without blocking the thread) while a bounded queue is full.
    pub fn submit_async<F, R>(&self, f: F) -> SubmitJob<'_, Self, F>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        Executor::submit_async(self, f)
    }

    /// Waits for room, then queues the job `make` builds around its promise. `name` names
    /// the job in debug reports.
    fn enqueue_blocking<R>(
        &self,
        name: &'static str,
        make: impl FnOnce(Promise<R>) -> Box<dyn Work>,
    ) -> Result<JobHandle<R>, JobError> {
        let mut state = self.inner.state.lock();
        loop {
            if let Some(error) = Inner::refusal(&state) {
                return Err(error);
            }
            if !self.inner.is_full(&state) {
                break;
            }
            self.inner.space_ready.wait(&mut state);
        }
        let (promise, handle) = job_pair(watch(&self.inner.label, name));
        let aftermath = self.inner.push(&mut state, make(promise));
        drop(state);
        aftermath.finish();
        Ok(handle)
    }

    /// Runs `f` on every input in the pool; the results come back in input order
    /// (Python's `Executor.map`). Every job is queued before this returns (blocking on a
    /// full bounded queue); dropping the results cancels the jobs not yet started.
    ///
    /// # Errors
    ///
    /// As [`submit`](Self::submit); jobs already queued are then cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = evloop_pools::ThreadPool::new();
    /// let squares: Vec<u64> = pool.map(|x: u64| x * x, 1..=4).unwrap().map(Result::unwrap).collect();
    /// assert_eq!(squares, [1, 4, 9, 16]);
    /// ```
    pub fn map<A, R, F>(
        &self,
        f: F,
        inputs: impl IntoIterator<Item = A>,
    ) -> Result<MapResults<R>, JobError>
    where
        F: Fn(A) -> R + Send + Sync + 'static,
        A: Send + 'static,
        R: Send + 'static,
    {
        let f = Arc::new(f);
        let mut handles = Vec::new();
        for input in inputs {
            let f = f.clone();
            let job = move || f(input);
            // Each input is a job of its own, named after `f` in debug reports.
            match self.enqueue_blocking(type_name::<F>(), |promise| {
                Box::new(Plain {
                    f: job,
                    promise,
                    scope: None,
                })
            }) {
                Ok(handle) => handles.push(handle),
                Err(error) => {
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
    /// cancelled; otherwise they still run. With `wait`, blocks until every worker thread has
    /// finished and is joined. Calling it again is harmless.
    pub fn shutdown(&self, wait: bool, cancel_pending: bool) {
        let (aftermath, threads) = {
            let mut state = self.inner.state.lock();
            state.shutdown = true;
            let mut aftermath = Aftermath {
                wakers: state.space_wakers.drain(..).collect(),
                ..Aftermath::default()
            };
            if cancel_pending {
                self.inner
                    .queued
                    .store(0, std::sync::atomic::Ordering::Relaxed);
                aftermath.failed = state
                    .queue
                    .drain(..)
                    .map(|work| (work, JobError::Cancelled))
                    .collect();
            }
            self.inner.work_ready.notify_all();
            self.inner.space_ready.notify_all();
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
            if thread.thread().id() == me {
                // Careful: a job that shuts its own pool down cannot join its own thread; keep
                // its handle, so a later shutdown (or the drop) on another thread joins it.
                self.inner.state.lock().threads.push(thread);
            } else {
                let _ = thread.join();
            }
        }
    }

    /// Whether `shutdown` was called.
    pub fn is_shutdown(&self) -> bool {
        self.inner.state.lock().shutdown
    }

    /// Why the pool is broken, if it is (an initializer failed).
    pub fn broken(&self) -> Option<String> {
        self.inner.state.lock().broken.clone()
    }

    /// A snapshot of the queue and the workers: `workers` counts live worker threads, `idle`
    /// those waiting for a job, `running` those running one; `restarts` is always 0 (see
    /// [`Counters`] for each field).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = evloop_pools::ThreadPool::new();
    /// let job = pool.submit(|| 1).unwrap();
    /// assert_eq!(job.result(), Ok(1));
    /// let counters = pool.counters();
    /// assert_eq!((counters.submitted, counters.completed), (1, 1));
    /// assert_eq!(counters.workers, 1);
    /// ```
    pub fn counters(&self) -> Counters {
        let state = self.inner.state.lock();
        Counters {
            queued: state.queue.len(),
            running: state.running,
            idle: state.idle,
            workers: state.workers,
            submitted: state.submitted,
            completed: state.completed,
            restarts: 0,
        }
    }
}

impl Default for ThreadPool {
    fn default() -> Self {
        ThreadPool::new()
    }
}

// ANCHOR: thread_pool_drop
impl Drop for ThreadPool {
    /// Shuts down and joins every worker (queued jobs still run).
    fn drop(&mut self) {
        self.shutdown(true, false);
    }
}
// ANCHOR_END: thread_pool_drop

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPool")
            .field("max_workers", &self.max_workers())
            .field("counters", &self.counters())
            .finish()
    }
}

impl<F, R> Executor<F> for ThreadPool
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    type Output = R;

    fn submit_job(&self, job: F) -> Result<JobHandle<R>, JobError> {
        self.submit(job)
    }

    fn try_submit_job(&self, job: F) -> Result<JobHandle<R>, TrySubmitError<F>> {
        self.try_submit(job)
    }

    fn try_submit_job_scoped(
        &self,
        job: F,
        scope: JobScope,
    ) -> Result<JobHandle<R>, TrySubmitError<F>> {
        self.try_enqueue(type_name::<F>(), job, |f, promise| {
            Box::new(Plain {
                f,
                promise,
                scope: Some(scope),
            })
        })
    }

    fn poll_space(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.poll_room(cx)
    }
}

impl ThreadPool {
    /// `Executor::poll_space` for every job kind.
    fn poll_room(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.inner.state.lock();
        if Inner::refusal(&state).is_some() || !self.inner.is_full(&state) {
            return Poll::Ready(());
        }
        crate::queue::wait_for_room(&mut state.space_wakers, cx.waker());
        Poll::Pending
    }
}

/// A thread job that takes a [`CancelToken`]: give it to `run_in_executor` (or any
/// [`Executor`] user) so that aborting the job, or dropping the loop's future, trips the token.
///
/// # Examples
///
/// ```
/// use evloop_pools::{Cancellable, Executor, ThreadPool};
/// let pool = ThreadPool::new();
/// let job = pool.submit_job(Cancellable(|token: evloop_pools::CancelToken| token.is_cancelled())).unwrap();
/// assert_eq!(job.result(), Ok(false));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Cancellable<F>(pub F);

impl<F, R> Executor<Cancellable<F>> for ThreadPool
where
    F: FnOnce(CancelToken) -> R + Send + 'static,
    R: Send + 'static,
{
    type Output = R;

    fn submit_job(&self, job: Cancellable<F>) -> Result<JobHandle<R>, JobError> {
        self.submit_with_token(job.0)
    }

    fn try_submit_job(
        &self,
        job: Cancellable<F>,
    ) -> Result<JobHandle<R>, TrySubmitError<Cancellable<F>>> {
        self.try_enqueue(type_name::<F>(), job, |job, promise| {
            Box::new(WithToken {
                f: job.0,
                promise,
                scope: None,
            })
        })
    }

    fn try_submit_job_scoped(
        &self,
        job: Cancellable<F>,
        scope: JobScope,
    ) -> Result<JobHandle<R>, TrySubmitError<Cancellable<F>>> {
        self.try_enqueue(type_name::<F>(), job, |job, promise| {
            Box::new(WithToken {
                f: job.0,
                promise,
                scope: Some(scope),
            })
        })
    }

    fn poll_space(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.poll_room(cx)
    }
}

/// A plain closure job.
struct Plain<F, R> {
    /// The closure.
    f: F,
    /// Its handle's other side.
    promise: Promise<R>,
    /// What the closure runs inside, if the submitter gave one (`try_submit_job_scoped`).
    scope: Option<JobScope>,
}

// ANCHOR: plain_run
impl<F, R> Work for Plain<F, R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    fn run(self: Box<Self>, finished: &mut dyn FnMut()) {
        let Plain { f, promise, scope } = *self;
        if !promise.start() {
            return;
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| match scope {
            Some(scope) => scope.run(f),
            None => f(),
        }))
        .map_err(|payload| JobError::Panicked(panic_message(&*payload)));
        finished();
        promise.complete(outcome);
    }

    fn fail(self: Box<Self>, error: JobError) {
        self.promise.complete(Err(error));
    }
}
// ANCHOR_END: plain_run

/// A closure job that takes a cancellation token.
struct WithToken<F, R> {
    /// The closure.
    f: F,
    /// Its handle's other side.
    promise: Promise<R>,
    /// What the closure runs inside, if the submitter gave one (`try_submit_job_scoped`).
    scope: Option<JobScope>,
}

// ANCHOR: with_token_run
impl<F, R> Work for WithToken<F, R>
where
    F: FnOnce(CancelToken) -> R + Send + 'static,
    R: Send + 'static,
{
    fn run(self: Box<Self>, finished: &mut dyn FnMut()) {
        let WithToken { f, promise, scope } = *self;
        if !promise.start() {
            return;
        }
        let token = CancelToken::new();
        let tripped = token.clone();
        promise.set_stopper(move || tripped.cancel());
        let outcome = catch_unwind(AssertUnwindSafe(|| match scope {
            Some(scope) => scope.run(|| f(token)),
            None => f(token),
        }))
        .map_err(|payload| JobError::Panicked(panic_message(&*payload)));
        finished();
        promise.complete(outcome);
    }

    fn fail(self: Box<Self>, error: JobError) {
        self.promise.complete(Err(error));
    }
}
// ANCHOR_END: with_token_run
