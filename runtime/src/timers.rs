//! The timer heap: callbacks waiting for a deadline, earliest first.
//!
//! A binary min-heap keyed by `(when, seq)`: deadline order, and among equal deadlines the
//! order they were scheduled in (`seq` only grows). A cancelled timer is not searched for and
//! removed; its entry's closure is dropped at once and the dead entry stays in the heap until
//! the loop meets it. That keeps `cancel()` O(1), and two rules keep the dead weight bounded
//! (both from CPython's `base_events.py`):
//!
//! - dead entries at the top of the heap are popped every iteration (`purge`);
//! - when more than [`MIN_SCHEDULED_FOR_REBUILD`] entries are scheduled and more than half of
//!   them are dead, the heap is rebuilt without them in one O(n) pass.
//!
//! So a million cancelled timers cost one rebuild, not a million pops, and never leak.
//!
//! A heap slot holds one of two things: a callback (`call_later`, `call_at`), shared with its
//! `TimerHandle`; or a *sleeper*, the waker of a task in `sleep`, kept in a slab and named
//! by plain data `(key, seq)` so that the `Sleep` future holding that name stays `Send`.
//! A sleeper is cancelled by removing it from the slab; its heap slot then counts as dead.
//!
//! This file does not run callbacks: `pop_due` hands due entries back one at a time.

use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::rc::Rc;
use std::task::Waker;
use std::time::Instant;

use slab::Slab;

use crate::handle::{Callback, EntryState};

/// Below this many scheduled timers a rebuild is never worth it (asyncio's
/// `_MIN_SCHEDULED_TIMER_HANDLES`).
pub(crate) const MIN_SCHEDULED_FOR_REBUILD: usize = 100;

/// What a heap slot fires.
enum Action {
    /// A scheduled callback.
    Callback(Rc<dyn Callback>),
    /// The sleeper at this slab key (alive only while its `seq` matches the slot's).
    Wake(usize),
}

/// One heap slot.
struct TimerEntry {
    /// The deadline.
    when: Instant,
    /// Scheduling order, to break ties between equal deadlines FIFO; also names a sleeper.
    seq: u64,
    /// What to do when due.
    action: Action,
}

impl PartialEq for TimerEntry {
    fn eq(&self, other: &Self) -> bool {
        self.when == other.when && self.seq == other.seq
    }
}
impl Eq for TimerEntry {}
impl PartialOrd for TimerEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for TimerEntry {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest `(when, seq)` first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.when, other.seq).cmp(&(self.when, self.seq))
    }
}

/// The `Send` name of a sleeper: its slab key and the `seq` of its heap slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SleeperKey {
    /// Slab key in `TimerHeap::sleepers`.
    pub(crate) key: usize,
    /// The heap slot's sequence number; a slab entry with another `seq` is someone else.
    pub(crate) seq: u64,
}

/// Whom a sleeper wakes.
pub(crate) enum WakeTarget {
    /// A task of this loop, named directly: registered while that very task was being
    /// polled, so no `Waker` clone (an atomic operation on a cold cache line) is needed.
    Task {
        /// Slab key of the task.
        key: usize,
        /// Its unique id.
        task_id: u64,
    },
    /// Any other waker.
    Waker(Waker),
}

impl WakeTarget {
    /// Whether this target already wakes `other` (so re-arming can be skipped).
    fn same_as(&self, other: &WakeTarget) -> bool {
        match (self, other) {
            (
                WakeTarget::Task { key, task_id },
                WakeTarget::Task {
                    key: other_key,
                    task_id: other_id,
                },
            ) => key == other_key && task_id == other_id,
            (WakeTarget::Waker(waker), WakeTarget::Waker(other)) => waker.will_wake(other),
            _ => false,
        }
    }
}

/// A due entry, handed to the loop.
pub(crate) enum Due {
    /// Queue this callback.
    Callback(Rc<dyn Callback>),
    /// Wake this target.
    Wake(WakeTarget),
}

/// The timers of one loop.
pub(crate) struct TimerHeap {
    /// Live and dead (cancelled) entries, earliest deadline on top.
    heap: BinaryHeap<TimerEntry>,
    /// Wakers of sleeping tasks, by key; each remembers the `seq` of its heap slot.
    sleepers: Slab<(u64, WakeTarget)>,
    /// Next tie-breaking sequence number.
    next_seq: u64,
    /// How many entries in `heap` are dead; bumped by every cancel that finds its entry in
    /// the heap (`TimerHandle::cancel` shares it), lowered as dead entries leave the heap.
    cancelled: Rc<Cell<usize>>,
}

impl TimerHeap {
    /// An empty heap.
    pub(crate) fn new() -> Self {
        TimerHeap {
            heap: BinaryHeap::new(),
            sleepers: Slab::new(),
            next_seq: 0,
            cancelled: Rc::new(Cell::new(0)),
        }
    }

    /// The next sequence number.
    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Schedules `callback` (already in the `Timer` state) at `when`.
    pub(crate) fn push(&mut self, when: Instant, callback: Rc<dyn Callback>) {
        let seq = self.take_seq();
        self.heap.push(TimerEntry {
            when,
            seq,
            action: Action::Callback(callback),
        });
    }

    /// Schedules a wake of `target` at `when`; the key cancels or re-arms it.
    pub(crate) fn push_sleeper(&mut self, when: Instant, target: WakeTarget) -> SleeperKey {
        let seq = self.take_seq();
        let key = self.sleepers.insert((seq, target));
        self.heap.push(TimerEntry {
            when,
            seq,
            action: Action::Wake(key),
        });
        SleeperKey { key, seq }
    }

    /// Points a live sleeper at `target`, keeping the current one if it already wakes the
    /// same task. Returns the target not kept (to drop outside the borrow), or gives `target`
    /// back as `Err` if the sleeper is gone (fired or cancelled).
    pub(crate) fn rearm_sleeper(
        &mut self,
        sleeper: SleeperKey,
        target: WakeTarget,
    ) -> Result<WakeTarget, WakeTarget> {
        match self.sleepers.get_mut(sleeper.key) {
            Some((seq, current)) if *seq == sleeper.seq => {
                if current.same_as(&target) {
                    Ok(target)
                } else {
                    Ok(std::mem::replace(current, target))
                }
            }
            _ => Err(target),
        }
    }

    /// Cancels a sleeper; returns its target (to drop outside the borrow) if it was live.
    pub(crate) fn cancel_sleeper(&mut self, sleeper: SleeperKey) -> Option<WakeTarget> {
        match self.sleepers.get(sleeper.key) {
            Some((seq, _)) if *seq == sleeper.seq => {
                let (_, target) = self.sleepers.remove(sleeper.key);
                self.cancelled.set(self.cancelled.get() + 1);
                Some(target)
            }
            _ => None,
        }
    }

    /// The counter that `TimerHandle::cancel` bumps.
    pub(crate) fn cancelled_counter(&self) -> Rc<Cell<usize>> {
        self.cancelled.clone()
    }

    /// Entries in the heap, dead ones included.
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// Drops dead entries: rebuild if they are the majority, else pop those on top.
    pub(crate) fn purge(&mut self) {
        let dead = self.cancelled.get();
        if dead == 0 {
            return;
        }
        if self.heap.len() > MIN_SCHEDULED_FOR_REBUILD && dead * 2 > self.heap.len() {
            // Rebuild: one pass that keeps the live entries, then heapify.
            let sleepers = &self.sleepers;
            self.heap.retain(|entry| !is_dead(sleepers, entry));
            self.cancelled.set(0);
            return;
        }
        while let Some(top) = self.heap.peek() {
            if !is_dead(&self.sleepers, top) {
                break;
            }
            self.heap.pop();
            self.cancelled.set(self.cancelled.get().saturating_sub(1));
        }
    }

    /// The earliest deadline (possibly of a dead entry, if `purge` has not run).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|entry| entry.when)
    }

    /// Pops the earliest entry due at `now` (deadline `<= now`), skipping dead ones.
    /// The loop calls it until it returns `None`, acting on each entry in between, so
    /// callbacks and wakes reach the ready queue in deadline order.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Due> {
        while let Some(top) = self.heap.peek() {
            if top.when > now {
                return None;
            }
            let entry = self.heap.pop().expect("peeked entry exists");
            if is_dead(&self.sleepers, &entry) {
                self.cancelled.set(self.cancelled.get().saturating_sub(1));
                continue;
            }
            return Some(match entry.action {
                Action::Callback(callback) => {
                    callback.set_pending_state(EntryState::Ready);
                    Due::Callback(callback)
                }
                Action::Wake(key) => Due::Wake(self.sleepers.remove(key).1),
            });
        }
        None
    }

    /// Takes every entry out (for `close()`): the callbacks to discard, the sleepers' wakers
    /// to drop. Leaves the heap empty.
    pub(crate) fn drain(&mut self) -> (Vec<Rc<dyn Callback>>, Vec<WakeTarget>) {
        self.cancelled.set(0);
        let callbacks = std::mem::take(&mut self.heap)
            .into_vec()
            .into_iter()
            .filter_map(|entry| match entry.action {
                Action::Callback(callback) => Some(callback),
                Action::Wake(_) => None,
            })
            .collect();
        let wakers = std::mem::take(&mut self.sleepers)
            .into_iter()
            .map(|(_, (_, target))| target)
            .collect();
        (callbacks, wakers)
    }
}

/// Whether a heap slot was cancelled: a cancelled callback, or a sleeper no longer in the
/// slab under this slot's `seq`.
fn is_dead(sleepers: &Slab<(u64, WakeTarget)>, entry: &TimerEntry) -> bool {
    match &entry.action {
        Action::Callback(callback) => callback.state() == EntryState::Cancelled,
        Action::Wake(key) => sleepers.get(*key).is_none_or(|(seq, _)| *seq != entry.seq),
    }
}
