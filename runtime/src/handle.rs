//! `Handle` and `TimerHandle`: what `call_soon`, `call_later` and `call_at` give back.
//!
//! A scheduled callback lives in one heap allocation, an [`Entry`], shared (through `Rc`) by
//! the queue that holds it and by the handle the caller keeps. The entry owns the closure until
//! it runs, is cancelled, or is discarded by `close()`; whichever comes first takes the closure
//! out, so it runs at most once and is dropped exactly once.
//!
//! # Entry states
//!
//! | state       | meaning                                                  | closure |
//! |-------------|----------------------------------------------------------|---------|
//! | `Ready`     | sits in the ready queue, will run this or next iteration | present |
//! | `Timer`     | sits in the timer heap, waiting for its deadline         | present |
//! | `Done`      | ran (or is running), or was discarded by `close()`       | gone    |
//! | `Cancelled` | `cancel()` was called while `Ready` or `Timer`           | gone    |
//!
//! Impossible: a closure present in `Done` or `Cancelled`; a move out of `Done`/`Cancelled`.
//! Only `Timer -> Ready` (the loop moving a due timer) and `Ready|Timer -> Done|Cancelled` happen.
//!
//! This file does not order entries: `ready.rs` and `timers.rs` do.

use std::cell::Cell;
use std::fmt;
use std::panic::Location;
use std::rc::Rc;
use std::time::Instant;

use crate::context::Context;

/// Where a scheduled callback is in its life; see the table in the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryState {
    /// In the ready queue.
    Ready,
    /// In the timer heap.
    Timer,
    /// Ran, is running, or was discarded.
    Done,
    /// Cancelled before it ran.
    Cancelled,
}

/// The type-erased face of a scheduled callback, as the queues and the handles see it.
pub(crate) trait Callback {
    /// Takes the closure out and calls it; does nothing if it was cancelled or already ran.
    fn run(&self);
    /// The entry's current state.
    fn state(&self) -> EntryState;
    /// Moves the entry between the two pending states (`Timer -> Ready`).
    fn set_pending_state(&self, state: EntryState);
    /// Cancels the entry if pending and drops its closure; returns the state it was in.
    fn cancel(&self) -> EntryState;
    /// Drops the closure unrun (used by `close()`); the entry becomes `Done`.
    fn discard(&self);
    /// Names the callback for debug reports and traces (its closure type, where it was
    /// scheduled).
    fn label(&self) -> crate::label::Label;
}

/// One scheduled callback: its state and, until it runs, the closure itself.
pub(crate) struct Entry<F> {
    /// Where the entry is in its life (module docs); read by handles and queues.
    state: Cell<EntryState>,
    /// The closure, taken out exactly once: to run it, to cancel it, or to discard it.
    closure: Cell<Option<F>>,
    /// A copy of the context current when the callback was scheduled; the closure runs in
    /// it (asyncio's `call_soon(..., context=copy_context())`), so a callback sees the
    /// context variables of the task that scheduled it.
    context: Cell<Context>,
    /// Where `call_soon`/`call_later`/`call_at` was called (`#[track_caller]`), so debug
    /// mode and the trace can say which callback was slow.
    at: &'static Location<'static>,
}

impl<F: FnOnce() + 'static> Entry<F> {
    /// A new entry in the given pending state, type-erased for the queues.
    pub(crate) fn new_rc(
        closure: F,
        state: EntryState,
        at: &'static Location<'static>,
    ) -> Rc<dyn Callback> {
        Rc::new(Entry {
            state: Cell::new(state),
            closure: Cell::new(Some(closure)),
            context: Cell::new(Context::current()),
            at,
        })
    }
}

// ANCHOR: entry_callback
impl<F: FnOnce()> Callback for Entry<F> {
    fn run(&self) {
        if let Some(closure) = self.closure.take() {
            self.state.set(EntryState::Done);
            self.context.take().run_owned(closure);
        }
    }

    fn state(&self) -> EntryState {
        self.state.get()
    }

    fn set_pending_state(&self, state: EntryState) {
        if matches!(self.state.get(), EntryState::Ready | EntryState::Timer) {
            self.state.set(state);
        }
    }

    fn cancel(&self) -> EntryState {
        let before = self.state.get();
        if matches!(before, EntryState::Ready | EntryState::Timer) {
            self.state.set(EntryState::Cancelled);
            // Careful: the closure's Drop is user code; the state is already final, so a
            // re-entrant cancel() from inside that Drop is a no-op.
            drop(self.closure.take());
        }
        before
    }

    fn discard(&self) {
        if matches!(self.state.get(), EntryState::Ready | EntryState::Timer) {
            self.state.set(EntryState::Done);
            drop(self.closure.take());
        }
    }

    fn label(&self) -> crate::label::Label {
        crate::label::Label::Callback {
            name: std::any::type_name::<F>(),
            at: self.at,
        }
    }
}
// ANCHOR_END: entry_callback

/// A callback scheduled with [`EventLoop::call_soon`](crate::EventLoop::call_soon).
///
/// Dropping the handle does not cancel the callback (asyncio behaviour); call
/// [`cancel`](Handle::cancel) for that.
///
/// # Examples
///
/// ```
/// use std::{cell::Cell, rc::Rc};
/// let lp = evloop::EventLoop::new().unwrap();
/// let ran = Rc::new(Cell::new(0));
/// let r = ran.clone();
/// let handle = lp.call_soon(move || r.set(r.get() + 1));
/// assert!(handle.cancel());
/// assert!(handle.cancelled());
/// lp.run_until_complete(evloop::yield_now()).unwrap();
/// assert_eq!(ran.get(), 0);
/// ```
///
/// A handle stays on the loop's thread (cancel from elsewhere through
/// [`LoopHandle::call_soon_threadsafe`](crate::LoopHandle::call_soon_threadsafe)):
///
/// ```compile_fail
/// let lp = evloop::EventLoop::new().unwrap();
/// let handle = lp.call_soon(|| {});
/// std::thread::spawn(move || handle.cancel()); // Handle is !Send
/// ```
#[derive(Clone)]
pub struct Handle {
    /// The shared entry; the queue holds the other reference.
    pub(crate) entry: Rc<dyn Callback>,
}

impl Handle {
    /// Cancels the callback if it has not run yet; its closure is dropped now.
    ///
    /// Returns `true` if this call cancelled it, `false` if it had already run, was
    /// cancelled, or was discarded by `close()`.
    pub fn cancel(&self) -> bool {
        matches!(self.entry.cancel(), EntryState::Ready | EntryState::Timer)
    }

    /// `true` if [`cancel`](Handle::cancel) took effect (asyncio's `Handle.cancelled()`).
    pub fn cancelled(&self) -> bool {
        self.entry.state() == EntryState::Cancelled
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("state", &self.entry.state())
            .finish()
    }
}

/// A callback scheduled with [`call_later`](crate::EventLoop::call_later) or
/// [`call_at`](crate::EventLoop::call_at): a [`Handle`] plus its deadline.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let lp = evloop::EventLoop::new().unwrap();
/// let timer = lp.call_later(Duration::from_secs(3600), || unreachable!());
/// assert!(timer.when() > lp.time());
/// assert!(timer.cancel());
/// lp.close().unwrap();
/// ```
///
/// ```compile_fail
/// let lp = evloop::EventLoop::new().unwrap();
/// let timer = lp.call_later(std::time::Duration::from_secs(1), || {});
/// std::thread::spawn(move || timer.cancel()); // TimerHandle is !Send
/// ```
#[derive(Clone)]
pub struct TimerHandle {
    /// The entry shared with the timer heap (and later the ready queue).
    pub(crate) handle: Handle,
    /// The deadline: the callback runs at the first iteration whose clock reads `>= when`.
    pub(crate) when: Instant,
    /// The heap's count of cancelled entries still inside it; bumped by a cancel that finds
    /// the entry in the heap, so the loop knows when a purge pays off (see `timers.rs`).
    pub(crate) cancelled_in_heap: Rc<Cell<usize>>,
}

impl TimerHandle {
    /// The loop time at which the callback is due (asyncio's `TimerHandle.when()`).
    pub fn when(&self) -> Instant {
        self.when
    }

    // ANCHOR: timer_handle_cancel
    /// Cancels the callback if it has not run; see [`Handle::cancel`].
    pub fn cancel(&self) -> bool {
        match self.handle.entry.cancel() {
            EntryState::Timer => {
                self.cancelled_in_heap.set(self.cancelled_in_heap.get() + 1);
                true
            }
            EntryState::Ready => true,
            EntryState::Done | EntryState::Cancelled => false,
        }
    }
    // ANCHOR_END: timer_handle_cancel

    /// `true` if [`cancel`](TimerHandle::cancel) took effect.
    pub fn cancelled(&self) -> bool {
        self.handle.cancelled()
    }
}

impl fmt::Debug for TimerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerHandle")
            .field("when", &self.when)
            .field("state", &self.handle.entry.state())
            .finish()
    }
}
