//! What both pools share: the [`Executor`] trait the loop takes, the awaitable submit, and
//! the [`Counters`] snapshot.
//!
//! `Executor<J>` says "this pool can run jobs of kind `J`". A [`ThreadPool`](crate::ThreadPool)
//! runs closures (`J = impl FnOnce() -> R + Send`); a [`ProcessPool`](crate::ProcessPool) runs
//! calls of registered functions (`J = Call<A, R>`). `evloop`'s `run_in_executor` is generic
//! over it, so the loop takes either pool, and other runtimes can too.
//!
//! Submitting never blocks a loop through this trait: `try_submit_job` refuses when a bounded
//! queue is full and `poll_space` says when to retry; [`SubmitJob`] combines them into a
//! future (the awaitable submit).

use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::error::{JobError, TrySubmitError};
use crate::job::JobHandle;

/// A pool that can run jobs of kind `J` (a closure, or a registered process call).
pub trait Executor<J>: Send + Sync {
    /// What the job produces.
    type Output: Send + 'static;

    /// Queues `job`, blocking while a bounded queue is full (back-pressure).
    ///
    /// # Errors
    ///
    /// [`JobError::ShutDown`] after `shutdown`, [`JobError::BrokenPool`] if the pool broke.
    fn submit_job(&self, job: J) -> Result<JobHandle<Self::Output>, JobError>;

    /// Queues `job` without blocking; a full queue hands it back.
    ///
    /// # Errors
    ///
    /// [`TrySubmitError::Full`] when the bounded queue is full, [`TrySubmitError::Refused`]
    /// when the pool is shut down or broken.
    fn try_submit_job(&self, job: J) -> Result<JobHandle<Self::Output>, TrySubmitError<J>>;

    /// Like [`try_submit_job`](Executor::try_submit_job), with the job to run inside `scope`
    /// (evloop uses it to run a thread job in its caller's task context; a trace recorder can
    /// draw each job as a slice on its worker's track).
    ///
    /// Where the scope runs:
    /// - [`ThreadPool`](crate::ThreadPool): on the worker thread, around the closure.
    /// - [`ProcessPool`](crate::ProcessPool): in the parent, on the supervisor thread of the
    ///   worker slot that runs the job, around the job's run in its worker process: from just
    ///   before the call is sent (it is marked running by then) to just after its handle is
    ///   resolved. A scope that panics or never calls the job does not lose it there: the job
    ///   runs after the scope and resolves normally, and the panic is swallowed (see
    ///   [`JobScope`]).
    ///
    /// A job that never runs (cancelled while queued, refused, cancelled by a shutdown, a
    /// process call that cannot be encoded) drops its scope without entering it. The default
    /// implementation, for pools whose jobs cannot carry a scope, drops it unused.
    ///
    /// # Errors
    ///
    /// As [`try_submit_job`](Executor::try_submit_job); a refused job drops its scope.
    fn try_submit_job_scoped(
        &self,
        job: J,
        scope: JobScope,
    ) -> Result<JobHandle<Self::Output>, TrySubmitError<J>> {
        drop(scope);
        self.try_submit_job(job)
    }

    /// A name for `job` in traces and reports: the closure's type by default; a process
    /// pool names the registered function.
    fn job_name(&self, job: &J) -> &'static str {
        let _ = job;
        std::any::type_name::<J>()
    }

    /// `Ready` when the queue has room (or the pool refuses everything, so a retry returns
    /// at once); otherwise registers `cx`'s waker to be woken when a slot frees up.
    fn poll_space(&self, cx: &mut Context<'_>) -> Poll<()>;

    /// Queues `job`, waiting without blocking the thread while the queue is full.
    fn submit_async(&self, job: J) -> SubmitJob<'_, Self, J>
    where
        Self: Sized,
    {
        SubmitJob {
            pool: self,
            job: Some(job),
        }
    }
}

/// What a job runs inside: set up before the job, torn down after it (see
/// [`Executor::try_submit_job_scoped`]).
///
/// The function receives the job as `&mut dyn FnMut()` and must call it exactly once, in
/// between its set-up and tear-down; calls after the first do nothing. Where it runs and what
/// happens when it misbehaves depends on the pool:
///
/// | | [`ThreadPool`](crate::ThreadPool) | [`ProcessPool`](crate::ProcessPool) |
/// |---|---|---|
/// | runs on | the worker thread, around the closure | the supervisor thread of the job's worker slot, around the job's run in the worker process |
/// | the scope never calls the job | the job fails with [`JobError::Panicked`] | the job runs after the scope, and resolves normally |
/// | the scope panics | the job fails with [`JobError::Panicked`] (the scope's message), even if it had run | the panic is swallowed (the panic hook reports it); the job runs after the scope if it had not, and resolves normally |
///
/// The process pool is lenient because the scope is the parent's business, not the job's: a
/// supervisor must neither die nor drop a call that is already marked running.
///
/// # Examples
///
/// ```
/// use evloop_pools::{Executor, JobScope, ThreadPool};
/// let pool = ThreadPool::new();
/// let scope = JobScope::new(|job| {
///     println!("before the job");
///     job();
///     println!("after the job");
/// });
/// let handle = pool.try_submit_job_scoped(|| 6 * 7, scope).unwrap();
/// assert_eq!(handle.result(), Ok(42));
/// ```
///
/// A process job's scope runs in the parent, on a supervisor thread:
///
/// ```
/// use std::sync::mpsc;
/// use evloop_pools::{Executor, Function, JobScope, ProcessPool, Registry};
///
/// const SQUARE: Function<u64, u64> = Function::new("square");
/// fn registry() -> Registry {
///     Registry::new().register(SQUARE, |x| x * x)
/// }
///
/// fn main() {
///     evloop_pools::worker_main(registry);
///     let pool = ProcessPool::builder(registry()).thread_name_prefix("squares").build().unwrap();
///     let (tx, rx) = mpsc::channel();
///     let scope = JobScope::new(move |job| {
///         job();
///         let _ = tx.send(std::thread::current().name().map(str::to_owned));
///     });
///     let handle = pool.try_submit_job_scoped(SQUARE.call(7), scope).unwrap();
///     assert_eq!(handle.result(), Ok(49));
///     assert_eq!(rx.recv().unwrap().as_deref(), Some("squares-1"));
/// }
/// ```
pub struct JobScope(Box<ScopeFn>);

/// The function inside a [`JobScope`]: it is given the job and calls it once.
type ScopeFn = dyn FnOnce(&mut dyn FnMut()) + Send;

impl JobScope {
    /// A scope from a function that runs the job it is given once.
    pub fn new(scope: impl FnOnce(&mut dyn FnMut()) + Send + 'static) -> Self {
        JobScope(Box::new(scope))
    }

    /// Runs `job` inside the scope and returns its value.
    ///
    /// # Panics
    ///
    /// If the scope did not call the job (the pool turns this into `JobError::Panicked`).
    pub(crate) fn run<R>(self, job: impl FnOnce() -> R) -> R {
        let mut job = Some(job);
        let mut value = None;
        (self.0)(&mut || {
            if let Some(job) = job.take() {
                value = Some(job());
            }
        });
        value.expect("a JobScope returned without running its job; fix: call the job it is given exactly once")
    }

    /// Runs `job` inside the scope and returns its value; if the scope returns or panics
    /// without calling it, runs it after the scope. The scope's panic is caught and dropped
    /// (the panic hook has reported it). The process pool's way: the job always runs once.
    ///
    /// # Panics
    ///
    /// Only if `job` itself panics (the panic goes on unwinding).
    pub(crate) fn run_or_after<R>(self, job: impl FnOnce() -> R) -> R {
        let mut job = Some(job);
        let mut value = None;
        let scoped = catch_unwind(AssertUnwindSafe(|| {
            (self.0)(&mut || {
                if let Some(job) = job.take() {
                    value = Some(job());
                }
            });
        }));
        if let Some(value) = value {
            return value;
        }
        match (job, scoped) {
            // The scope never called the job (it returned, or panicked first): run it now.
            (Some(job), _) => job(),
            // The job itself panicked inside the scope: keep unwinding.
            (None, Err(payload)) => resume_unwind(payload),
            (None, Ok(())) => panic!("a job panicked inside a JobScope that swallowed the panic"),
        }
    }
}

impl std::fmt::Debug for JobScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JobScope")
    }
}

/// The future of [`Executor::submit_async`]: resolves to the job's handle once it is queued.
#[must_use = "the job is only queued when this future is awaited"]
pub struct SubmitJob<'a, E, J> {
    /// The pool to submit to.
    pool: &'a E,
    /// The job, until it is queued.
    job: Option<J>,
}

impl<E, J> Unpin for SubmitJob<'_, E, J> {}

impl<E: Executor<J>, J> Future for SubmitJob<'_, E, J> {
    type Output = Result<JobHandle<E::Output>, JobError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let job = self.job.take().expect("SubmitJob polled after completion");
            match self.pool.try_submit_job(job) {
                Ok(handle) => return Poll::Ready(Ok(handle)),
                Err(TrySubmitError::Refused(_, error)) => return Poll::Ready(Err(error)),
                Err(TrySubmitError::Full(job)) => {
                    self.job = Some(job);
                    // Careful: register before retrying, so a slot freed in between wakes us.
                    if self.pool.poll_space(cx).is_pending() {
                        return Poll::Pending;
                    }
                }
            }
        }
    }
}

/// A snapshot of a pool's activity, from [`ThreadPool::counters`](crate::ThreadPool::counters)
/// or [`ProcessPool::counters`](crate::ProcessPool::counters). Racy by nature: each number was
/// true at some instant, and the numbers of one snapshot were read together under the pool's
/// lock. Reading them costs one lock; keeping them costs nothing beyond what the pools count
/// anyway.
///
/// A job here is one queue entry: a closure, a process call, or one `map` chunk of a process
/// pool (each input of a thread pool's `map` is a job of its own).
///
/// # Examples
///
/// ```
/// let pool = evloop_pools::ThreadPool::new();
/// pool.submit(|| ()).unwrap().result().unwrap();
/// let counters = pool.counters();
/// assert_eq!((counters.submitted, counters.completed, counters.queued), (1, 1, 0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Jobs waiting in the queue for a worker.
    pub queued: usize,
    /// Jobs being run: by a worker thread, or by a supervisor (starting its worker process
    /// for the job, or waiting for its reply).
    pub running: usize,
    /// Workers waiting for a job (process pools: supervisors, whether or not their worker
    /// process is alive).
    pub idle: usize,
    /// Live workers: threads of a thread pool, worker processes of a process pool.
    pub workers: usize,
    /// Jobs accepted into the queue since the pool began (refused submissions and process
    /// calls that could not be encoded are not counted). `submitted - completed - queued -
    /// running` jobs left without running: cancelled, or failed by a shutdown or a broken pool.
    pub submitted: u64,
    /// Jobs resolved by a worker (a value, a panic, or a worker death or timeout), since the
    /// pool began.
    pub completed: u64,
    /// Worker processes started to replace an ended one (death, timeout, abort, protocol
    /// error, `max_tasks_per_child`) or to retry a failed start. Always 0 for a thread pool,
    /// whose idle threads that exit are not replaced but started again on demand.
    pub restarts: u64,
}

/// A shared pool is an executor too, so loops on several threads can hold one `Arc` each.
impl<J, E: Executor<J>> Executor<J> for std::sync::Arc<E> {
    type Output = E::Output;

    fn submit_job(&self, job: J) -> Result<JobHandle<Self::Output>, JobError> {
        (**self).submit_job(job)
    }

    fn try_submit_job(&self, job: J) -> Result<JobHandle<Self::Output>, TrySubmitError<J>> {
        (**self).try_submit_job(job)
    }

    fn try_submit_job_scoped(
        &self,
        job: J,
        scope: JobScope,
    ) -> Result<JobHandle<Self::Output>, TrySubmitError<J>> {
        (**self).try_submit_job_scoped(job, scope)
    }

    fn poll_space(&self, cx: &mut Context<'_>) -> Poll<()> {
        (**self).poll_space(cx)
    }

    fn job_name(&self, job: &J) -> &'static str {
        (**self).job_name(job)
    }
}
