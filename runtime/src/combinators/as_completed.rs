//! `as_completed`: the outcomes of a set of tasks, one by one, in the order they finish
//! (asyncio's `as_completed`).
//!
//! [`AsCompleted`] files a [`DoneQueue`] as the done sink of each task; [`AsCompleted::next`]
//! pops the next finished task's number (O(1)), takes its outcome and hands it out with the
//! task's index in the order given. A [`Sleep`] bounds the whole iteration: when it fires
//! first, `next` yields one [`TimedOut`] and then ends, and the tasks not yielded yet keep
//! running ([`AsCompleted::into_remaining`] hands them back).
//!
//! Invariants: each task is yielded at most once (its slot in `tasks` is emptied when it is);
//! `next` is cancellation-safe: an outcome is only popped in the poll that returns it.
//!
//! This file never cancels a task.

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::done_queue::{unwatch, DoneQueue};
use super::timeout::TimedOut;
use crate::current::running_loop;
use crate::error::{LoopError, TaskError};
use crate::sleep::{sleep, sleep_until, Sleep};
use crate::task::Task;

/// What [`AsCompleted::next`] yields: the index of a finished task in the order given and
/// its outcome, or [`TimedOut`] once if the timeout passed first.
pub type Completed<T> = Result<(usize, Result<T, TaskError>), TimedOut>;

/// Runs `futures` concurrently as tasks and yields their outcomes in completion order
/// (asyncio's `as_completed`); see [`AsCompleted`].
///
/// The tasks are spawned now. The timeout counts from this call (as in asyncio); `None`
/// waits without a limit.
///
/// # Panics
///
/// Outside a running loop, with the [`LoopError::NoRunningLoop`] message; use
/// [`as_completed_tasks`] with tasks from [`EventLoop::spawn`](crate::EventLoop::spawn) there.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let order = evloop::run(async {
///     let jobs = [30u64, 10, 20].map(|ms| async move {
///         evloop::sleep(Duration::from_millis(ms)).await;
///         ms
///     });
///     let mut completed = evloop::as_completed(jobs, None);
///     let mut order = Vec::new();
///     while let Some(next) = completed.next().await {
///         let (index, outcome) = next.expect("no timeout was set");
///         order.push((index, outcome.unwrap()));
///     }
///     order
/// })
/// .unwrap();
/// assert_eq!(order, [(1, 10), (2, 20), (0, 30)]);
/// ```
#[track_caller]
pub fn as_completed<F>(
    futures: impl IntoIterator<Item = F>,
    timeout: Option<Duration>,
) -> AsCompleted<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let lp = running_loop()
        .unwrap_or_else(|| panic!("evloop::as_completed: {}", LoopError::NoRunningLoop));
    let at = std::panic::Location::caller();
    as_completed_tasks(
        futures.into_iter().map(|future| lp.spawn_at(future, at)),
        timeout,
    )
}

/// Like [`as_completed`], for tasks already spawned.
///
/// The timeout counts from this call when a loop is running, else from the first poll of
/// `next`.
///
/// # Panics
///
/// In `next`, if a task had already been awaited to completion before it was given here.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// evloop::run(async {
///     let slow = evloop::spawn(evloop::sleep(Duration::from_secs(3600)));
///     let mut completed = evloop::as_completed_tasks([slow], Some(Duration::from_millis(5)));
///     let timed_out = completed.next().await.unwrap().unwrap_err();
///     assert_eq!(timed_out.after(), Duration::from_millis(5));
///     assert!(completed.next().await.is_none());
///     // The task was not cancelled: take it back.
///     let remaining = completed.into_remaining();
///     assert!(!remaining[0].is_done());
///     remaining[0].cancel();
/// })
/// .unwrap();
/// ```
pub fn as_completed_tasks<T: 'static>(
    tasks: impl IntoIterator<Item = Task<T>>,
    timeout: Option<Duration>,
) -> AsCompleted<T> {
    let tasks: Vec<Task<T>> = tasks.into_iter().collect();
    let done = DoneQueue::watch(&tasks);
    // Fix the deadline now if a loop is running (asyncio starts the timer at the call).
    let timer = timeout.map(|limit| match running_loop() {
        Some(lp) => (sleep_until(lp.core.clock.deadline_after(limit)), limit),
        None => (sleep(limit), limit),
    });
    AsCompleted {
        done,
        remaining: tasks.len(),
        tasks: tasks.into_iter().map(Some).collect(),
        timer,
        timed_out: false,
    }
}

/// The outcomes of a set of tasks in completion order: call [`next`](AsCompleted::next)
/// until it returns `None`.
///
/// Each item is `Ok((index, outcome))`, `index` being the task's position in the order
/// given, or, if the timeout passes before every task finished, one `Err(TimedOut)`, after
/// which `next` returns `None`. Tasks that finished before the iteration began come first,
/// in the order given. Dropping an `AsCompleted` does not cancel its tasks (as in asyncio):
/// they are detached and keep running; [`into_remaining`](AsCompleted::into_remaining) hands
/// back those not yielded yet, to cancel or await them.
pub struct AsCompleted<T: 'static> {
    /// The tasks in the order given, `None` once yielded; a task's number in the done queue
    /// is its index.
    tasks: Vec<Option<Task<T>>>,
    /// Told by each task when it finishes.
    done: Rc<DoneQueue>,
    /// Tasks not yielded yet.
    remaining: usize,
    /// The timeout's wake-up and the timeout itself (for the `TimedOut` message).
    timer: Option<(Sleep, Duration)>,
    /// The timeout passed and its `TimedOut` was yielded: the iteration is over.
    timed_out: bool,
}

impl<T: 'static> AsCompleted<T> {
    /// The next outcome in completion order; `None` once every task was yielded, or after
    /// the `TimedOut` item.
    ///
    /// Cancellation-safe: dropping the returned future loses no outcome.
    ///
    /// # Panics
    ///
    /// If a task had already been awaited to completion before it was given here.
    // An async `next` (like tokio's `StreamExt::next`): `Iterator` cannot wait.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> impl Future<Output = Option<Completed<T>>> + '_ {
        poll_fn(move |cx| self.poll_next(cx))
    }

    /// How many tasks were not yielded yet.
    pub fn len(&self) -> usize {
        self.remaining
    }

    /// Whether every task was yielded.
    pub fn is_empty(&self) -> bool {
        self.remaining == 0
    }

    /// The tasks not yielded yet, in the order given (finished or still running), to await
    /// or cancel after a timeout or an early `break`.
    pub fn into_remaining(mut self) -> Vec<Task<T>> {
        let remaining: Vec<Task<T>> = self.tasks.drain(..).flatten().collect();
        unwatch(&remaining);
        remaining
    }

    /// One step of `next`.
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Completed<T>>> {
        if self.remaining == 0 || self.timed_out {
            return Poll::Ready(None);
        }
        // A finished task first: an outcome ready at the deadline is not lost.
        if let Some(slot) = self.done.pop() {
            let task = self.tasks[slot].take().expect("each task finishes once");
            self.remaining -= 1;
            let outcome = task.take_output().unwrap_or_else(|| {
                panic!(
                    "a task given to as_completed had already been awaited to completion (its \
                     value is gone); fix: give as_completed tasks that nobody awaited"
                )
            });
            return Poll::Ready(Some(Ok((slot, outcome))));
        }
        if let Some((timer, limit)) = self.timer.as_mut() {
            if Pin::new(timer).poll(cx).is_ready() {
                let limit = *limit;
                self.timed_out = true;
                self.timer = None;
                return Poll::Ready(Some(Err(TimedOut::after_duration(limit))));
            }
        }
        self.done.park(cx.waker());
        Poll::Pending
    }
}

impl<T: 'static> fmt::Debug for AsCompleted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("remaining", &self.remaining)
            .field("timeout", &self.timer.as_ref().map(|(_, limit)| limit))
            .field("timed_out", &self.timed_out)
            .finish()
    }
}
