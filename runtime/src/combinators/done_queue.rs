//! The done queue: how a combinator hears which of its tasks finished, in O(1) per task.
//!
//! A combinator (`gather`, `wait`, `as_completed`) numbers its tasks `0..n` (their index in
//! the order given) and files one shared [`DoneQueue`] as the done sink of each
//! (`Task::set_done_sink`). When a task finishes, the loop's `finish` calls
//! [`DoneQueue::task_done`] with its number: the number joins the queue and the consumer's
//! waker, if it parked one, is taken and woken. The consumer's poll pops numbers instead of
//! polling every task, so n tasks cost O(n) in all, however they finish, and a burst of
//! completions in one iteration costs one wake.
//!
//! Invariants:
//! - each task number enters the queue exactly once: from `task_done`, or from `watch` for a
//!   task that had already finished (its sink could not be filed);
//! - the queue order is the completion order (tasks already finished at `watch` come first,
//!   in the order given);
//! - a parked waker is woken at most once, by the first completion after it parked; the
//!   consumer pops everything it needs before it parks again, so no completion is missed.
//!
//! This file does not touch the tasks' outcomes: the combinators take those.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use std::task::Waker;

use crate::task::{DoneSink, Task};

/// The shared end of a combinator's done sinks (module docs).
pub(crate) struct DoneQueue {
    /// Numbers of the tasks that finished and that the consumer has not popped yet, in
    /// completion order.
    finished: RefCell<VecDeque<usize>>,
    /// The consumer's waker while it waits for a completion; taken by the first one.
    waker: Cell<Option<Waker>>,
}

impl DoneQueue {
    /// Files a new queue as the done sink of every task in `tasks` (task `i` as number `i`);
    /// tasks that already finished are queued at once.
    pub(crate) fn watch<T: 'static>(tasks: &[Task<T>]) -> Rc<Self> {
        let queue = Rc::new(DoneQueue {
            finished: RefCell::new(VecDeque::with_capacity(tasks.len())),
            waker: Cell::new(None),
        });
        let weak: Weak<DoneQueue> = Rc::downgrade(&queue);
        let sink: Weak<dyn DoneSink> = weak;
        let mut finished = queue.finished.borrow_mut();
        for (slot, task) in tasks.iter().enumerate() {
            if !task.set_done_sink(sink.clone(), slot) {
                finished.push_back(slot);
            }
        }
        drop(finished);
        queue
    }

    /// The number of the next finished task, in completion order, if any.
    pub(crate) fn pop(&self) -> Option<usize> {
        self.finished.borrow_mut().pop_front()
    }

    /// Keeps `waker` to be woken by the next completion (call after popping came up empty).
    pub(crate) fn park(&self, waker: &Waker) {
        match self.waker.take() {
            Some(kept) if kept.will_wake(waker) => self.waker.set(Some(kept)),
            _ => self.waker.set(Some(waker.clone())),
        }
    }
}

impl DoneSink for DoneQueue {
    fn task_done(&self, slot: usize) {
        self.finished.borrow_mut().push_back(slot);
        // Careful: wake under no borrow (a foreign waker is user code).
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

/// Forgets the done sinks of `tasks` (they leave the combinator that filed them).
pub(crate) fn unwatch<'a, T: 'static>(tasks: impl IntoIterator<Item = &'a Task<T>>) {
    for task in tasks {
        task.clear_done_sink();
    }
}
