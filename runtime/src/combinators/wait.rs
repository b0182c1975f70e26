//! `wait`: wait until some or all of a set of tasks finished, with an optional timeout
//! (asyncio's `wait` and its `FIRST_COMPLETED` / `FIRST_EXCEPTION` / `ALL_COMPLETED`).
//!
//! [`wait`] files a [`DoneQueue`] as the done sink of each task and pops completions as they
//! come (O(1) each), checking the [`ReturnWhen`] condition; a [`Sleep`] bounds the wait. It
//! then splits the tasks into done and pending, each in the order given. It never cancels,
//! awaits or takes the outcome of a task: done tasks keep their outcome for whoever awaits
//! them, pending tasks keep running.
//!
//! Invariant: once `Wait` returned, no task it handed back still points at its done queue.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::done_queue::{unwatch, DoneQueue};
use crate::sleep::{sleep, Sleep};
use crate::task::Task;

/// When [`wait`] returns (asyncio's `FIRST_COMPLETED`, `FIRST_EXCEPTION`, `ALL_COMPLETED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReturnWhen {
    /// As soon as any task finished, in any way (a value, a panic, a cancellation).
    FirstCompleted,
    /// As soon as any task panicked, or when all finished if none did. A cancelled task
    /// does not count as an exception (as in asyncio, where cancellation is not one).
    FirstException,
    /// When every task finished.
    AllCompleted,
}

/// Waits until `tasks` meet `return_when`, or until `timeout` passed, and returns them split
/// into `(done, pending)` (asyncio's `wait`).
///
/// Both lists keep the order given. Nothing is cancelled: the pending tasks keep running,
/// and a timeout is not an error, it only returns what is done so far. The done tasks still
/// hold their outcome: awaiting one resolves at once. A condition already met when `wait` is
/// first polled returns at that poll. The timeout counts from the first poll (when the
/// `await` starts, as in asyncio); `None` waits without a limit.
///
/// An empty `tasks` returns `(vec![], vec![])` at once (asyncio raises `ValueError`).
///
/// Dropping the [`Wait`] before it returned drops the tasks it holds, which detaches them
/// (they keep running; a panic among them reaches the exception handler).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use evloop::ReturnWhen;
///
/// evloop::run(async {
///     let tasks: Vec<_> = [30u64, 10, 20]
///         .into_iter()
///         .map(|ms| evloop::spawn(async move {
///             evloop::sleep(Duration::from_millis(ms)).await;
///             ms
///         }))
///         .collect();
///     let (done, pending) = evloop::wait(tasks, ReturnWhen::FirstCompleted, None).await;
///     assert_eq!(done.len(), 1);
///     assert_eq!(pending.len(), 2);
///     for task in done {
///         assert_eq!(task.await, Ok(10));
///     }
///     let (done, pending) = evloop::wait(pending, ReturnWhen::AllCompleted, None).await;
///     assert_eq!((done.len(), pending.len()), (2, 0));
/// })
/// .unwrap();
/// ```
pub fn wait<T: 'static>(
    tasks: impl IntoIterator<Item = Task<T>>,
    return_when: ReturnWhen,
    timeout: Option<Duration>,
) -> Wait<T> {
    let tasks: Vec<Task<T>> = tasks.into_iter().collect();
    Wait {
        done: DoneQueue::watch(&tasks),
        remaining: tasks.len(),
        tasks,
        return_when,
        timer: timeout.map(sleep),
    }
}

/// The future of [`wait`]: `(done, pending)`, each in the order given.
#[must_use = "wait does nothing unless awaited"]
pub struct Wait<T: 'static> {
    /// The tasks in the order given; a task's number in the done queue is its index.
    /// Emptied when the future returns.
    tasks: Vec<Task<T>>,
    /// Told by each task when it finishes.
    done: Rc<DoneQueue>,
    /// Tasks whose completion has not been popped from `done` yet.
    remaining: usize,
    /// The condition to return on.
    return_when: ReturnWhen,
    /// The timeout's wake-up, if there is a timeout; its deadline is fixed at the first poll.
    timer: Option<Sleep>,
}

impl<T: 'static> Wait<T> {
    /// Pops the completions so far; whether one of them meets the condition (or all are in).
    fn condition_met(&mut self) -> bool {
        let mut met = false;
        while let Some(slot) = self.done.pop() {
            self.remaining -= 1;
            met |= match self.return_when {
                ReturnWhen::FirstCompleted => true,
                ReturnWhen::FirstException => self.tasks[slot].is_panicked(),
                ReturnWhen::AllCompleted => false,
            };
        }
        met || self.remaining == 0
    }
}

impl<T: 'static> Future for Wait<T> {
    type Output = (Vec<Task<T>>, Vec<Task<T>>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        // Check the condition, then the timeout.
        let ready = this.condition_met()
            || this
                .timer
                .as_mut()
                .is_some_and(|timer| Pin::new(timer).poll(cx).is_ready());
        if !ready {
            this.done.park(cx.waker());
            return Poll::Pending;
        }
        // Split, in the order given; the pending tasks leave this wait's done queue.
        this.timer = None;
        let (done, pending): (Vec<_>, Vec<_>) = std::mem::take(&mut this.tasks)
            .into_iter()
            .partition(Task::is_done);
        unwatch(&pending);
        Poll::Ready((done, pending))
    }
}

impl<T: 'static> fmt::Debug for Wait<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait")
            .field("tasks", &self.tasks.len())
            .field("remaining", &self.remaining)
            .field("return_when", &self.return_when)
            .field("timer", &self.timer)
            .finish()
    }
}
