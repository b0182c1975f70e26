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
    /// on the worker (evloop uses it to run a thread job in its caller's task context).
    ///
    /// A pool whose jobs can carry a scope (a [`ThreadPool`](crate::ThreadPool)) runs the job
    /// through it; the default, which a [`ProcessPool`](crate::ProcessPool) keeps, drops the
    /// scope unused, since its jobs run in another process.
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

/// What a thread job runs inside: set up on the worker thread before the job, torn down after
/// it (see [`Executor::try_submit_job_scoped`]).
///
/// The function receives the job as `&mut dyn FnMut()` and must call it exactly once, in
/// between its set-up and tear-down. A scope that never calls it makes the job fail with
/// [`JobError::Panicked`].
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

/// A snapshot of a pool's activity (racy by nature: each number was true at some instant).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Jobs waiting in the queue.
    pub queued: usize,
    /// Jobs a worker is running.
    pub running: usize,
    /// Workers waiting for a job.
    pub idle: usize,
    /// Live workers (threads or processes).
    pub workers: usize,
    /// Jobs resolved by a worker (a value, a panic, or a worker death), since the pool began.
    pub completed: u64,
    /// Workers replaced after dying or reaching `max_tasks_per_child` (process pools).
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
}
