//! The shared state of one task group: its children, their outcomes, and the shutdown
//! protocol. `mod.rs` holds the public faces ([`TaskGroup`](crate::TaskGroup), its spawner and
//! futures); this file holds what they share.
//!
//! # How a child is followed, in O(1)
//!
//! `spawn` starts the child with `evloop::spawn` and files the group as the child's done sink
//! under the child's spawn index. When the child ends, the loop's `finish` calls
//! [`Inner::task_done`] with that index: the outcome is taken from the task at once (a move,
//! no user code), the value parked in the child's slot or the failure appended to
//! `failures`, and `running` counted down. Nothing ever polls the set of children.
//!
//! # The shutdown protocol (asyncio's `_abort`)
//!
//! 1. The first failure (a child's `Err` or panic, or the body's) sets `shutting_down` and
//!    schedules [`Inner::abort`] with `call_soon`; it also wakes the joiner, so that
//!    `TaskGroup::run` drops its body at its next poll.
//! 2. Until that callback runs (the next loop iteration), children already running in this
//!    iteration finish normally: two children that fail at the same instant are both
//!    reported, in the order they failed, as with asyncio's done callbacks.
//! 3. The callback cancels (`Task::cancel`) every child still running.
//! 4. The joiner returns once `running` is zero.
//!
//! Dropping the owning `TaskGroup` before it finished cancels every running child at once
//! (`Inner::cancel_all`).
//!
//! # States
//!
//! | `shutting_down` | `finished` | meaning                                                   |
//! |-----------------|------------|-----------------------------------------------------------|
//! | false           | false      | open: spawns start children                               |
//! | true            | false      | something failed: spawns are dropped unpolled             |
//! | any             | true       | joined (or the owner is being dropped): spawns panic      |
//!
//! Impossible: `failures` non-empty while `shutting_down` is false; `finished` while
//! `running > 0`, except while the owner is dropped (its children are being cancelled).
//!
//! This file never calls user code under a `RefCell` borrow: values and handles are moved
//! out first, then dropped or woken.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::mem;
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};

use super::error::{GroupFailure, TaskGroupError};
use crate::current::running_loop;
use crate::error::{LoopError, TaskError};
use crate::task::{DoneSink, Task};

/// Where one child is, by spawn index.
enum Slot<T, E> {
    /// Still running; the handle to cancel it and to take its outcome.
    Running(Task<Result<T, E>>),
    /// Returned `Ok(value)`; the value waits for `join`.
    Value(T),
    /// Failed (its failure is in `failures`) or was cancelled.
    Ended,
}

/// The state shared by a group's owner, its spawners, its children's done sinks and its
/// abort callback. Only the owner holds it strongly; everyone else holds a `Weak`.
pub(crate) struct Inner<T, E> {
    /// Itself, weakly: what the done sinks and the abort callback hold.
    me: Weak<Inner<T, E>>,
    /// Every child ever started, by spawn index (the done-sink slot); the order of `join`'s
    /// values.
    slots: RefCell<Vec<Slot<T, E>>>,
    /// How many children have not ended yet; the joiner returns when it reaches zero.
    running: Cell<usize>,
    /// Every failure, in the order it happened (the group's error).
    failures: RefCell<Vec<GroupFailure<E>>>,
    /// Set by the first failure: new spawns are dropped unpolled, the body is dropped, and
    /// the abort callback is on its way.
    shutting_down: Cell<bool>,
    /// Set when the joiner returned (or the owner is dropped): spawns panic from then on.
    finished: Cell<bool>,
    /// The waker of `join` / `run` while it waits; woken when `running` reaches zero and at
    /// the first failure.
    joiner: Cell<Option<Waker>>,
    /// Handles of ended children, dropped at the next spawn or joiner poll rather than inside
    /// the done sink (which must not drop tasks).
    retired: RefCell<Vec<Task<Result<T, E>>>>,
}

impl<T: 'static, E: 'static> Inner<T, E> {
    /// An open group with no children.
    pub(crate) fn new() -> Rc<Self> {
        Rc::new_cyclic(|me| Inner {
            me: me.clone(),
            slots: RefCell::new(Vec::new()),
            running: Cell::new(0),
            failures: RefCell::new(Vec::new()),
            shutting_down: Cell::new(false),
            finished: Cell::new(false),
            joiner: Cell::new(None),
            retired: RefCell::new(Vec::new()),
        })
    }

    /// Whether a failure put the group into shutdown.
    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.get()
    }

    /// Whether the group was joined (it accepts no child any more).
    pub(crate) fn is_finished(&self) -> bool {
        self.finished.get()
    }

    /// How many children are still running.
    pub(crate) fn running(&self) -> usize {
        self.running.get()
    }

    /// Starts `future` as a child, or drops it unpolled if the group is shutting down.
    ///
    /// # Panics
    ///
    /// If the group is finished, or outside a running loop.
    #[track_caller]
    pub(crate) fn spawn<F>(&self, future: F)
    where
        F: Future<Output = Result<T, E>> + 'static,
    {
        if self.finished.get() {
            panic_finished();
        }
        if self.shutting_down.get() {
            // Cancelled at once: it never starts (Trio's "start into a cancelled scope").
            drop(future);
            return;
        }
        let lp = running_loop().unwrap_or_else(|| {
            panic!("TaskGroup::spawn: {}", LoopError::NoRunningLoop);
        });
        self.drop_retired();
        let task = lp.spawn(future);
        let index = self.slots.borrow().len();
        let sink: Weak<dyn DoneSink> = self.me.clone();
        let filed = task.set_done_sink(sink, index);
        self.slots.borrow_mut().push(Slot::Running(task));
        self.running.set(self.running.get() + 1);
        if !filed {
            // Careful: a task cannot end before its first poll, but if it did, count it now.
            self.task_done(index);
        }
    }

    /// Records a failure; the first one starts the shutdown (module docs, steps 1-3).
    pub(crate) fn fail(&self, failure: GroupFailure<E>) {
        self.failures.borrow_mut().push(failure);
        if self.shutting_down.replace(true) {
            return;
        }
        match running_loop() {
            Some(lp) => {
                let weak = self.me.clone();
                drop(lp.call_soon(move || {
                    if let Some(inner) = weak.upgrade() {
                        inner.abort();
                    }
                }));
            }
            // Careful: failures happen inside polls, so a loop runs; abort now if not.
            None => self.abort(),
        }
        self.wake_joiner();
    }

    /// The abort callback: cancels every child still running (unless already joined).
    fn abort(&self) {
        if !self.finished.get() {
            self.cancel_all();
        }
    }

    /// Cancels every running child. `Task::cancel` runs no user code: it only schedules the
    /// child, whose future is then dropped at its next poll slot.
    pub(crate) fn cancel_all(&self) {
        for slot in self.slots.borrow().iter() {
            if let Slot::Running(task) = slot {
                task.cancel();
            }
        }
    }

    /// Marks the group finished (the owner is going away: no more spawns).
    pub(crate) fn set_finished(&self) {
        self.finished.set(true);
    }

    /// The joiner's poll: the values in spawn order or the failures once every child ended,
    /// else `Pending` (the waker is kept for the last child to wake).
    ///
    /// # Panics
    ///
    /// If polled again after it returned.
    pub(crate) fn poll_done(&self, waker: &Waker) -> Poll<Result<Vec<T>, TaskGroupError<E>>> {
        assert!(
            !self.finished.get(),
            "a TaskGroup's join/run future was polled after it completed; fix: await it once"
        );
        self.drop_retired();
        if self.running.get() > 0 {
            self.park(waker);
            return Poll::Pending;
        }
        self.finished.set(true);
        drop(self.joiner.take());
        let slots = mem::take(&mut *self.slots.borrow_mut());
        let failures = mem::take(&mut *self.failures.borrow_mut());
        if !failures.is_empty() {
            drop(slots);
            return Poll::Ready(Err(TaskGroupError::new(failures)));
        }
        let values = slots
            .into_iter()
            .map(|slot| match slot {
                Slot::Value(value) => value,
                _ => unreachable!("every child without a value recorded a failure"),
            })
            .collect();
        Poll::Ready(Ok(values))
    }

    /// Keeps `waker` for the next wake of the joiner.
    pub(crate) fn park(&self, waker: &Waker) {
        match self.joiner.take() {
            Some(kept) if kept.will_wake(waker) => self.joiner.set(Some(kept)),
            _ => self.joiner.set(Some(waker.clone())),
        }
    }

    /// Wakes the joiner, if it waits (under no borrow).
    fn wake_joiner(&self) {
        if let Some(waker) = self.joiner.take() {
            waker.wake();
        }
    }

    /// Drops the handles of ended children (outside any borrow).
    fn drop_retired(&self) {
        let retired = mem::take(&mut *self.retired.borrow_mut());
        drop(retired);
    }
}

impl<T: 'static, E: 'static> DoneSink for Inner<T, E> {
    /// Child `index` ended: take its outcome, park its value or record its failure, count it
    /// down, and wake the joiner if it was the last.
    fn task_done(&self, index: usize) {
        let slot = mem::replace(&mut self.slots.borrow_mut()[index], Slot::Ended);
        let task = match slot {
            Slot::Running(task) => task,
            other => {
                // Careful: told twice about one child (cannot happen); keep what we had.
                self.slots.borrow_mut()[index] = other;
                return;
            }
        };
        let outcome = task.take_output();
        self.retired.borrow_mut().push(task);
        let failure = match outcome {
            Some(Ok(Ok(value))) => {
                self.slots.borrow_mut()[index] = Slot::Value(value);
                None
            }
            Some(Ok(Err(error))) => Some(GroupFailure::Failed(error)),
            Some(Err(TaskError::Panicked(message))) => Some(GroupFailure::Panicked(message)),
            // Cancelled by the group (it is shutting down): not a failure.
            _ if self.shutting_down.get() => None,
            // Cancelled by someone else: the group has no value for this child.
            _ => Some(GroupFailure::CancelledOutside),
        };
        self.running.set(self.running.get() - 1);
        if let Some(failure) = failure {
            self.fail(failure);
        }
        if self.running.get() == 0 {
            self.wake_joiner();
        }
    }
}

/// The panic of a spawn into a finished group (asyncio: "TaskGroup is finished").
pub(crate) fn panic_finished() -> ! {
    panic!(
        "TaskGroup is finished: it was joined or dropped, so it takes no new children; fix: \
         spawn while the group is still waiting for its children (from its body or from a \
         child), or use evloop::spawn for work that may outlive the group"
    )
}
