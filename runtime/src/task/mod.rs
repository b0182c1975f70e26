//! Tasks: spawned futures the loop owns and polls (asyncio's `Task`).
//!
//! - `cell.rs`: the shared cell (state, future, output) and the `Runnable` face the loop uses.
//! - `waker.rs`: the `Waker` of a task and its local and remote wake paths.
//! - this file: [`Task<T>`], the user's handle, and [`CatchUnwind`].
//!
//! The loop owns every task strongly (its slab); dropping a `Task<T>` only detaches it, as in
//! asyncio and tokio. A task ends exactly once: with its value, cancelled, or panicked.

pub(crate) mod cell;
pub(crate) mod waker;

use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};

pub(crate) use cell::{DoneSink, Outcome, Runnable, TaskCell};

use crate::error::{panic_message, TaskError};
use crate::exception::{default_exception_handler, ExceptionContext};

/// A spawned future (asyncio's `Task`); awaiting it gives `Result<T, TaskError>`.
///
/// Created by [`EventLoop::spawn`](crate::EventLoop::spawn) or [`spawn`](crate::spawn).
/// Dropping it does not cancel the task; [`cancel`](Task::cancel) does. It is `!Send`: a
/// task belongs to its loop's thread.
///
/// # Examples
///
/// ```
/// let out = evloop::run(async {
///     let task = evloop::spawn(async { 40 + 2 });
///     task.await
/// }).unwrap();
/// assert_eq!(out, Ok(42));
/// ```
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// let lp = evloop::EventLoop::new().unwrap();
/// assert_send(lp.spawn(async {})); // a Task never leaves its thread
/// ```
pub struct Task<T> {
    /// The shared cell.
    pub(crate) cell: Rc<TaskCell<T>>,
}

impl<T: 'static> Task<T> {
    /// Requests cancellation (asyncio's `Task.cancel()`).
    ///
    /// The future is dropped at the next safe point on the loop thread (never in the middle
    /// of its own poll); whoever awaits the task then sees [`TaskError::Cancelled`]. Returns
    /// `false` if the task had already finished. A task that cancels itself finishes the
    /// current poll first; if that poll completes the task, the value stands.
    pub fn cancel(&self) -> bool {
        let header = &self.cell.header;
        if header.outcome.get() != Outcome::Pending {
            return false;
        }
        header.cancel_requested.set(true);
        if let Some(core) = header.core.upgrade() {
            core.schedule(self.cell.clone());
        }
        true
    }

    /// Whether the task finished (value, cancellation or panic).
    pub fn is_done(&self) -> bool {
        self.cell.header.outcome.get() != Outcome::Pending
    }

    /// Whether the task finished by being cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cell.header.outcome.get() == Outcome::Cancelled
    }

    /// Whether the task finished by panicking (what `wait(.., FirstException, ..)` waits
    /// for); answers without taking the outcome out.
    pub(crate) fn is_panicked(&self) -> bool {
        self.cell.header.outcome.get() == Outcome::Panicked
    }

    /// A number unique among the tasks of this loop, for logs.
    pub fn id(&self) -> u64 {
        self.cell.header.id
    }

    /// The task's name (asyncio's `Task.get_name()`): the one given with
    /// [`set_name`](Task::set_name), else `Task-{id}`, as in asyncio.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = evloop::EventLoop::new().unwrap();
    /// let task = lp.spawn(async {});
    /// assert_eq!(task.name(), format!("Task-{}", task.id()));
    /// task.set_name("fetch");
    /// assert_eq!(task.name(), "fetch");
    /// lp.close().unwrap();
    /// ```
    pub fn name(&self) -> String {
        match &*self.cell.header.name.borrow() {
            Some(name) => name.to_string(),
            None => format!("Task-{}", self.cell.header.id),
        }
    }

    /// Names the task (asyncio's `Task.set_name()`): debug reports and trace slices use the
    /// name instead of the spawn location.
    pub fn set_name(&self, name: impl Into<String>) {
        let name: String = name.into();
        *self.cell.header.name.borrow_mut() = Some(Arc::from(name));
    }

    /// Where the task was spawned (the caller of `spawn`), as debug reports show it.
    pub fn spawned_at(&self) -> &'static std::panic::Location<'static> {
        self.cell.header.at
    }

    /// Files `sink` to be told (with `slot`) when this task finishes, replacing any earlier
    /// sink. Returns `false`, filing nothing, if the task has already finished: the caller
    /// handles that case itself.
    pub(crate) fn set_done_sink(&self, sink: std::rc::Weak<dyn DoneSink>, slot: usize) -> bool {
        if self.is_done() {
            return false;
        }
        self.cell.header.done_sink.set(Some((sink, slot)));
        true
    }

    /// Forgets the sink filed by `set_done_sink`, if any.
    pub(crate) fn clear_done_sink(&self) {
        drop(self.cell.header.done_sink.take());
    }

    /// The outcome of a finished task, taken out (later calls and `.await` then panic or
    /// return `None`); `None` while it runs or once taken.
    pub(crate) fn take_output(&self) -> Option<Result<T, TaskError>> {
        if self.is_done() {
            self.cell.output.take()
        } else {
            None
        }
    }

    /// `(key, id)`, the `Send` name of the task used by remote wakes and cancels.
    pub(crate) fn key_and_id(&self) -> (usize, u64) {
        (self.cell.header.key, self.cell.header.id)
    }
}

impl<T: 'static> Future for Task<T> {
    type Output = Result<T, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let header = &self.cell.header;
        if header.outcome.get() == Outcome::Pending {
            match header.awaiter.take() {
                Some(waker) if waker.will_wake(cx.waker()) => header.awaiter.set(Some(waker)),
                _ => header.awaiter.set(Some(cx.waker().clone())),
            }
            return Poll::Pending;
        }
        match self.cell.output.take() {
            Some(outcome) => Poll::Ready(outcome),
            None => panic!(
                "a Task was polled again after it returned its result; fix: await each Task \
                 once (keep its output if you need it twice)"
            ),
        }
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        let header = &self.cell.header;
        header.has_handle.set(false);
        if header.outcome.get() != Outcome::Panicked {
            return;
        }
        if let Some(Err(TaskError::Panicked(message))) = self.cell.output.take() {
            let context = ExceptionContext::task_panic(
                &format!(
                    "Task exception was never retrieved ({}; it panicked and its handle was \
                     dropped unawaited)",
                    header.label()
                ),
                header.id,
                message,
            );
            match header.core.upgrade() {
                Some(core) => core.report(context),
                None => default_exception_handler(&context),
            }
        }
    }
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.cell.header.id)
            .field("outcome", &self.cell.header.outcome.get())
            .finish()
    }
}

/// Polls a future, turning a panic into `Err(TaskError::Panicked)`.
pub(crate) struct CatchUnwind<F> {
    /// The wrapped future, boxed so it is pinned without unsafe.
    inner: Pin<Box<F>>,
}

impl<F: Future> CatchUnwind<F> {
    /// Wraps `future`.
    pub(crate) fn new(future: F) -> Self {
        CatchUnwind {
            inner: Box::pin(future),
        }
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.inner.as_mut();
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(value)) => Poll::Ready(Ok(value)),
            Err(payload) => Poll::Ready(Err(TaskError::Panicked(panic_message(&*payload)))),
        }
    }
}
