//! The task cell: one spawned future, its state, and its outcome, in one `Rc`.
//!
//! The loop holds the cell twice (in its task slab, and in the ready queue while scheduled),
//! the user's `Task<T>` once. The loop sees it as `dyn Runnable`, the `Task<T>` as the typed
//! `TaskCell<T>`.
//!
//! # Task states
//!
//! | `outcome`   | future       | `output`           | meaning                              |
//! |-------------|--------------|--------------------|--------------------------------------|
//! | `Pending`   | present*     | `None`             | spawned, not finished                |
//! | `Value`     | dropped      | `Some(Ok)`/taken   | the future returned                  |
//! | `Cancelled` | dropped      | `Some(Err)`/taken  | cancelled before it returned         |
//! | `Panicked`  | dropped      | `Some(Err)`/taken† | the future panicked                  |
//!
//! \* taken out of its `Cell` for the duration of a poll, so the poll runs under no borrow.
//! † not stored when nobody can observe it (the `Task` handle was dropped): the panic goes to
//! the loop's exception handler instead.
//!
//! Flags: `scheduled` is true exactly while the cell sits in the ready queue (so a task is
//! queued at most once however often it is woken); `cancel_requested` is set by `cancel()` and
//! acted on at the next poll slot, never in the middle of a poll.
//! Impossible: `scheduled` on a finished task that is not in the queue; a finished task in the
//! slab; a future present after `outcome` left `Pending`.
//!
//! This file does not decide when a task runs: the ready queue does.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::waker::WakerPair;
use crate::error::{panic_message, TaskError};
use crate::exception::ExceptionContext;
use crate::label::Label;
use crate::loop_core::{Core, PollingTarget, PollingTask};

/// How a task ended, or that it has not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Not finished.
    Pending,
    /// Returned a value.
    Value,
    /// Cancelled.
    Cancelled,
    /// Panicked.
    Panicked,
}

/// The untyped part of a task, shared by every task type.
pub(crate) struct Header {
    /// Unique within the loop; with `key` it names the task across threads.
    pub(crate) id: u64,
    /// Slab key in the loop's task table.
    pub(crate) key: usize,
    /// True exactly while the task sits in the ready queue (dedups wakes).
    pub(crate) scheduled: Cell<bool>,
    /// `cancel()` was called; the next poll slot drops the future instead of polling it.
    pub(crate) cancel_requested: Cell<bool>,
    /// Whether and how the task finished.
    pub(crate) outcome: Cell<Outcome>,
    /// The waker of whoever awaits the `Task<T>`, woken when the task finishes.
    pub(crate) awaiter: Cell<Option<Waker>>,
    /// False once the `Task<T>` handle is dropped: then nobody can see a panic but the
    /// exception handler.
    pub(crate) has_handle: Cell<bool>,
    /// The waker this task keeps because a clone of it is out there (stored by a future it
    /// awaits, say), so later polls hand out the same waker. `None` while no clone exists:
    /// each poll then borrows a waker from the loop's pool and gives it back afterwards, so
    /// a task that never clones its waker (a `sleep` on its own loop, a `yield_now`) costs no
    /// waker allocation at all.
    pub(crate) waker: Cell<Option<WakerPair>>,
    /// The loop, for `Task::cancel` and for reporting panics from `Task`'s drop.
    pub(crate) core: Weak<Core>,
    /// The task's own context (a copy of its creator's at spawn), installed around each
    /// poll and taken back afterwards (`context.rs`).
    pub(crate) context: Cell<crate::context::Context>,
    /// Who else wants to hear that the task finished, and under which slot number: the
    /// combinators (`gather`, `wait`, `as_completed`) and `TaskGroup` file themselves here
    /// instead of polling every task they hold. Told once, after the awaiter is woken; a
    /// sink that is gone (`Weak` dead) is skipped.
    pub(crate) done_sink: Cell<Option<(Weak<dyn DoneSink>, usize)>>,
    /// Where the task was spawned (`#[track_caller]`): how debug reports and traces name a
    /// task that has no name.
    pub(crate) at: &'static Location<'static>,
    /// The name given with `Task::set_name` (asyncio's `Task.set_name`), if any.
    pub(crate) name: RefCell<Option<Arc<str>>>,
}

impl Header {
    /// Names the task for a debug report or a trace slice.
    pub(crate) fn label(&self) -> Label {
        Label::Task {
            id: self.id,
            name: self.name.borrow().clone(),
            at: self.at,
        }
    }
}

/// A listener for finished tasks (see `Header::done_sink`).
///
/// Implemented by the shared state of a combinator. `task_done` runs inside the loop's
/// `finish` of the task, on the loop thread, under no borrow; it must only record the slot
/// and wake whoever waits (it must not poll or drop tasks).
pub(crate) trait DoneSink {
    /// The task filed under `slot` finished (value, cancellation or panic).
    fn task_done(&self, slot: usize);
}

/// What the loop needs from a task, whatever its output type.
pub(crate) trait Runnable {
    /// The untyped state.
    fn header(&self) -> &Header;
    /// Runs one poll slot: drop the future if cancellation was requested, else poll it once.
    fn run(self: Rc<Self>, core: &Core);
    /// Ends the task as cancelled now (used by `close()`).
    fn finish_cancelled(self: Rc<Self>, core: &Core);
}

/// A spawned future and the slot for its output.
pub(crate) struct TaskCell<T> {
    /// The untyped state.
    pub(crate) header: Header,
    /// The future, boxed so it is pinned without unsafe; `None` during a poll and once
    /// finished.
    future: Cell<Option<Pin<Box<dyn Future<Output = T>>>>>,
    /// The outcome, from the end of the task until the awaiter takes it.
    pub(crate) output: Cell<Option<Result<T, TaskError>>>,
}

impl<T: 'static> TaskCell<T> {
    /// A new, unscheduled cell.
    pub(crate) fn new(
        future: Pin<Box<dyn Future<Output = T>>>,
        id: u64,
        key: usize,
        core: Weak<Core>,
        context: crate::context::Context,
        at: &'static Location<'static>,
    ) -> Rc<Self> {
        Rc::new(TaskCell {
            header: Header {
                id,
                key,
                scheduled: Cell::new(false),
                cancel_requested: Cell::new(false),
                outcome: Cell::new(Outcome::Pending),
                awaiter: Cell::new(None),
                has_handle: Cell::new(true),
                waker: Cell::new(None),
                core,
                context: Cell::new(context),
                done_sink: Cell::new(None),
                at,
                name: RefCell::new(None),
            },
            future: Cell::new(Some(future)),
            output: Cell::new(None),
        })
    }

    /// Ends the task: drop the future, record the outcome, leave the slab, wake the awaiter.
    fn finish(&self, core: &Core, outcome: Result<T, TaskError>) {
        // Drop the future first: its Drop is user code and runs under no borrow.
        if let Some(future) = self.future.take() {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(future))) {
                core.report(ExceptionContext::task_panic(
                    &format!(
                        "a task's future panicked while being dropped ({})",
                        self.header.label()
                    ),
                    self.header.id,
                    panic_message(&*payload),
                ));
            }
        }
        let header = &self.header;
        header.outcome.set(match &outcome {
            Ok(_) => Outcome::Value,
            Err(TaskError::Cancelled) => Outcome::Cancelled,
            Err(TaskError::Panicked(_)) => Outcome::Panicked,
        });
        match outcome {
            Err(TaskError::Panicked(message)) if !header.has_handle.get() => {
                core.report(ExceptionContext::task_panic(
                    &format!(
                        "Task exception was never retrieved ({}; it panicked and its handle \
                         was dropped)",
                        header.label()
                    ),
                    header.id,
                    message,
                ));
            }
            outcome => self.output.set(Some(outcome)),
        }
        core.remove_task(header.key, header.id);
        crate::metrics::bump(&core.metrics.tasks_completed);
        // Recycle the waker allocation if no clone of it survives.
        if let Some(waker) = header.waker.take() {
            core.recycle_waker(waker);
        }
        if let Some(awaiter) = header.awaiter.take() {
            awaiter.wake();
        }
        if let Some((sink, slot)) = header.done_sink.take() {
            if let Some(sink) = sink.upgrade() {
                sink.task_done(slot);
            }
        }
    }
}

impl<T: 'static> Runnable for TaskCell<T> {
    fn header(&self) -> &Header {
        &self.header
    }

    fn run(self: Rc<Self>, core: &Core) {
        let header = &self.header;
        header.scheduled.set(false);
        if header.outcome.get() != Outcome::Pending {
            return;
        }
        // Run in the task's context; take it back, with what the poll set, afterwards.
        let scope = crate::context::Scope::enter(header.context.take());
        self.clone().run_in_context(core);
        header.context.set(scope.exit());
    }

    fn finish_cancelled(self: Rc<Self>, core: &Core) {
        if self.header.outcome.get() == Outcome::Pending {
            let scope = crate::context::Scope::enter(self.header.context.take());
            self.finish(core, Err(TaskError::Cancelled));
            drop(scope);
        }
    }
}

impl<T: 'static> TaskCell<T> {
    /// One poll slot, with the task's context installed: drop the future if cancellation
    /// was requested, else poll it once.
    fn run_in_context(self: Rc<Self>, core: &Core) {
        let header = &self.header;
        if header.cancel_requested.get() {
            self.finish(core, Err(TaskError::Cancelled));
            return;
        }
        let Some(mut future) = self.future.take() else {
            return;
        };
        let waker = match header.waker.take() {
            Some(kept) => kept,
            None => core.task_waker(header.key, header.id),
        };
        let mut cx = Context::from_waker(&waker.waker);
        let me: Rc<dyn Runnable> = self.clone();
        core.polling.set(Some(PollingTask::new(
            PollingTarget::Task(me),
            &waker.waker,
        )));
        let polled = catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx)));
        core.polling.set(None);
        // Keep the waker only if the poll left a clone of it somewhere.
        if waker.is_unique() {
            core.pool_unique_waker(waker);
        } else {
            header.waker.set(Some(waker));
        }
        match polled {
            Ok(Poll::Pending) => self.future.set(Some(future)),
            Ok(Poll::Ready(value)) => {
                // Careful: the future's Drop is user code and may panic; finish drops it
                // under catch_unwind.
                self.future.set(Some(future));
                self.finish(core, Ok(value));
            }
            Err(payload) => {
                let message = panic_message(&*payload);
                // Careful: the panicked future is dropped inside finish, under catch_unwind.
                self.future.set(Some(future));
                self.finish(core, Err(TaskError::Panicked(message)));
            }
        }
    }
}
