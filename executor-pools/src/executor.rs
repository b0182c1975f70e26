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

    fn poll_space(&self, cx: &mut Context<'_>) -> Poll<()> {
        (**self).poll_space(cx)
    }
}
