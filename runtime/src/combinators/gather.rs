//! `gather`: run futures concurrently as tasks and collect their results in the order given
//! (asyncio's `gather`).
//!
//! [`gather`] spawns every future at once (eagerly, as asyncio wraps coroutines in tasks),
//! so the children run concurrently whether or not the [`Gather`] is awaited yet;
//! [`gather_tasks`] takes tasks that are already spawned. The children report their
//! completion through a [`DoneQueue`] (O(1) per child, no re-polling), and the values are
//! taken out of the tasks only at the end, in the order given.
//!
//! Invariants:
//! - `remaining` counts the children whose completion has not been popped yet;
//! - dropping a `Gather` that has not returned cancels each unfinished child exactly once;
//!   once it returned (values, or the first error) dropping it cancels nothing, as in asyncio
//!   where the other children keep running after gather raised.
//!
//! This file does not cancel siblings when a child fails: that is `TaskGroup`'s job.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::done_queue::DoneQueue;
use crate::current::running_loop;
use crate::error::{LoopError, TaskError};
use crate::task::Task;

/// Runs `futures` concurrently, each as a task, and returns their values in the order given
/// (asyncio's `gather`).
///
/// The tasks are spawned now, so they run even before the returned [`Gather`] is awaited.
/// It resolves to `Ok(values)` once every child returned, or to the error of the first child
/// (in completion order) that panicked or was cancelled. After that error the other children
/// **keep running**, detached (as in asyncio); use `TaskGroup` to cancel the siblings of a
/// failed child, or [`Gather::outcomes`] ([`gather_outcomes`]) to get every outcome.
/// Dropping the `Gather` before it resolved cancels every unfinished child.
///
/// Futures of different types can be gathered boxed (`Pin<Box<dyn Future<Output = T>>>`).
/// An empty input resolves to `Ok(vec![])` at once.
///
/// # Panics
///
/// Outside a running loop, with the [`LoopError::NoRunningLoop`] message (like
/// [`spawn`](crate::spawn)); use [`gather_tasks`] with tasks from
/// [`EventLoop::spawn`](crate::EventLoop::spawn) there.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let values = evloop::run(async {
///     let jobs = [3u64, 1, 2].map(|n| async move {
///         evloop::sleep(Duration::from_millis(n)).await;
///         n * 10
///     });
///     evloop::gather(jobs).await
/// })
/// .unwrap();
/// assert_eq!(values, Ok(vec![30, 10, 20])); // the order given, not the completion order
/// ```
#[track_caller]
pub fn gather<F>(futures: impl IntoIterator<Item = F>) -> Gather<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let lp =
        running_loop().unwrap_or_else(|| panic!("evloop::gather: {}", LoopError::NoRunningLoop));
    let at = std::panic::Location::caller();
    let tasks: Vec<Task<F::Output>> = futures
        .into_iter()
        .map(|future| lp.spawn_at(future, at))
        .collect();
    Gather::new(tasks)
}

/// Like [`gather`], but resolves to every child's outcome, in the order given, once all of
/// them finished (asyncio's `gather(..., return_exceptions=True)`). It is
/// `gather(futures).outcomes()`.
///
/// # Panics
///
/// Outside a running loop, like [`gather`].
///
/// # Examples
///
/// ```
/// use evloop::TaskError;
///
/// let outcomes = evloop::run(async {
///     let jobs: [fn(u8) -> u8; 2] = [|n| n + 1, |_| panic!("job failed")];
///     let futures = jobs.map(|job| async move { job(1) });
///     evloop::gather_outcomes(futures).await
/// })
/// .unwrap();
/// assert_eq!(outcomes, [Ok(2), Err(TaskError::Panicked("job failed".into()))]);
/// ```
#[track_caller]
pub fn gather_outcomes<F>(futures: impl IntoIterator<Item = F>) -> GatherOutcomes<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    gather(futures).outcomes()
}

/// Like [`gather`], for tasks already spawned (asyncio's `gather` accepts tasks too).
///
/// The same rules apply: values in the order given, the first error ends it and leaves the
/// other tasks running, and dropping the `Gather` before it resolved cancels the unfinished
/// tasks. It needs no running loop to be created.
///
/// # Panics
///
/// When polled, if one of the tasks had already been awaited to completion before it was
/// given here (its value is gone).
///
/// # Examples
///
/// ```
/// let lp = evloop::EventLoop::new().unwrap();
/// let tasks = vec![lp.spawn(async { 'a' }), lp.spawn(async { 'b' })];
/// assert_eq!(lp.run_until_complete(evloop::gather_tasks(tasks)).unwrap(), Ok(vec!['a', 'b']));
/// lp.close().unwrap();
/// ```
pub fn gather_tasks<T: 'static>(tasks: impl IntoIterator<Item = Task<T>>) -> Gather<T> {
    Gather::new(tasks.into_iter().collect())
}

/// The future of [`gather`] and [`gather_tasks`]: `Ok(values)` in the order given, or the
/// first child's error.
///
/// Dropping it before it resolved cancels its unfinished children.
#[must_use = "a Gather cancels its children when dropped unawaited"]
pub struct Gather<T: 'static> {
    /// The children and their bookkeeping.
    children: Children<T>,
}

/// The future of [`gather_outcomes`] and [`Gather::outcomes`]: every child's outcome, in the
/// order given, once all finished.
///
/// Dropping it before it resolved cancels its unfinished children.
#[must_use = "a GatherOutcomes cancels its children when dropped unawaited"]
pub struct GatherOutcomes<T: 'static> {
    /// The children and their bookkeeping.
    children: Children<T>,
}

/// What both gather futures share: the children, their done queue, and the drop rule.
struct Children<T: 'static> {
    /// The children in the order given; a child's number in the done queue is its index.
    tasks: Vec<Task<T>>,
    /// Told by each child when it finishes.
    done: Rc<DoneQueue>,
    /// Children whose completion has not been popped from `done` yet.
    remaining: usize,
    /// Whether the future resolved: from then on, dropping it cancels nothing.
    returned: bool,
}

impl<T: 'static> Gather<T> {
    /// Watches `tasks`.
    fn new(tasks: Vec<Task<T>>) -> Self {
        Gather {
            children: Children {
                done: DoneQueue::watch(&tasks),
                remaining: tasks.len(),
                tasks,
                returned: false,
            },
        }
    }

    /// Turns this gather into one that resolves to every outcome instead of stopping at the
    /// first error (asyncio's `return_exceptions=True`).
    ///
    /// # Examples
    ///
    /// ```
    /// let outcomes = evloop::run(async {
    ///     let tasks = vec![evloop::spawn(async { 1 }), evloop::spawn(async { 2 })];
    ///     tasks[1].cancel();
    ///     evloop::gather_tasks(tasks).outcomes().await
    /// })
    /// .unwrap();
    /// assert_eq!(outcomes, [Ok(1), Err(evloop::TaskError::Cancelled)]);
    /// ```
    ///
    /// # Panics
    ///
    /// If this gather already resolved.
    pub fn outcomes(self) -> GatherOutcomes<T> {
        assert!(
            !self.children.returned,
            "Gather::outcomes called after the Gather resolved; fix: call it before awaiting"
        );
        GatherOutcomes {
            children: self.children,
        }
    }
}

impl<T: 'static> Children<T> {
    /// Pops finished children until every one finished (`Ready(None)`), or, with
    /// `stop_at_error`, until one ended with an error (`Ready(Some(its index))`).
    fn poll_done(&mut self, cx: &mut Context<'_>, stop_at_error: bool) -> Poll<Option<usize>> {
        assert!(
            !self.returned,
            "a gather future was polled after it resolved; fix: await it once"
        );
        while let Some(slot) = self.done.pop() {
            self.remaining -= 1;
            let task = &self.tasks[slot];
            if stop_at_error && (task.is_panicked() || task.is_cancelled()) {
                self.returned = true;
                return Poll::Ready(Some(slot));
            }
        }
        if self.remaining == 0 {
            self.returned = true;
            return Poll::Ready(None);
        }
        self.done.park(cx.waker());
        Poll::Pending
    }

    /// Every child's outcome, in the order given (all finished).
    fn take_outcomes(&mut self) -> impl Iterator<Item = Result<T, TaskError>> + '_ {
        self.tasks.drain(..).map(|task| take_outcome(&task))
    }
}

/// The outcome of a finished child.
fn take_outcome<T: 'static>(task: &Task<T>) -> Result<T, TaskError> {
    task.take_output().unwrap_or_else(|| {
        panic!(
            "a task given to gather had already been awaited to completion (its value is \
             gone); fix: give gather tasks that nobody awaited"
        )
    })
}

impl<T: 'static> Future for Gather<T> {
    type Output = Result<Vec<T>, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let children = &mut self.children;
        match children.poll_done(cx, true) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(failed)) => {
                let error = match take_outcome(&children.tasks[failed]) {
                    Err(error) => error,
                    Ok(_) => unreachable!("a failed child holds an error"),
                };
                Poll::Ready(Err(error))
            }
            Poll::Ready(None) => {
                let values = children.take_outcomes().map(|outcome| match outcome {
                    Ok(value) => value,
                    Err(_) => unreachable!("every child was checked for an error"),
                });
                Poll::Ready(Ok(values.collect()))
            }
        }
    }
}

impl<T: 'static> Future for GatherOutcomes<T> {
    type Output = Vec<Result<T, TaskError>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let children = &mut self.children;
        match children.poll_done(cx, false) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(_) => Poll::Ready(children.take_outcomes().collect()),
        }
    }
}

impl<T: 'static> Drop for Children<T> {
    fn drop(&mut self) {
        // Cancelled before it resolved: cancel what still runs (asyncio cancels gather's
        // children when gather is cancelled). `cancel` skips finished children.
        if !self.returned {
            for task in &self.tasks {
                task.cancel();
            }
        }
    }
}

impl<T: 'static> fmt::Debug for Gather<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.children.fmt("Gather", f)
    }
}

impl<T: 'static> fmt::Debug for GatherOutcomes<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.children.fmt("GatherOutcomes", f)
    }
}

impl<T: 'static> Children<T> {
    /// The shared `Debug` body.
    fn fmt(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(name)
            .field("children", &self.tasks.len())
            .field("remaining", &self.remaining)
            .field("returned", &self.returned)
            .finish()
    }
}
