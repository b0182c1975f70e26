//! The timers: what each one fires, and the rules for cancelled ones.
//!
//! Entries are ordered by `(when, seq)` in a [`TimerQueue`] (`timer_queue.rs`, a radix heap):
//! deadline order, and among equal deadlines the order they were scheduled in (`seq` only
//! grows). A cancelled timer is not searched for and removed; its closure is dropped at once
//! and the dead entry stays queued until the loop meets it. That keeps `cancel()` O(1), and
//! two rules keep the dead weight bounded (both from CPython's `base_events.py`):
//!
//! - dead entries at the front of the queue are dropped every iteration (`purge`);
//! - when more than [`MIN_SCHEDULED_FOR_REBUILD`] entries are queued and more than half of
//!   them are dead, the queue is rebuilt without them in one O(n) pass.
//!
//! So a million cancelled timers cost one rebuild, not a million pops, and never leak.
//!
//! What a timer fires lives in a slab of *slots*, one of two things: a callback
//! (`call_later`, `call_at`), shared with its `TimerHandle`; or a *sleeper*, the task a
//! `sleep` wakes, named by plain data `(key, seq)` so that the `Sleep` future holding that
//! name stays `Send`. A sleeper is cancelled by removing its slot; its queue entry then
//! counts as dead. The queue itself holds only 24-byte `(when, seq, slot)` triples, with
//! deadlines as nanoseconds since the timers' epoch rather than 16-byte `Instant`s, so that
//! 100k timers stay small enough for the cache.
//!
//! This file does not run callbacks: `pop_all_due` hands due entries to the loop.

use std::cell::Cell;
use std::rc::Rc;
use std::task::Waker;
use std::time::{Duration, Instant};

use slab::Slab;

use crate::handle::{Callback, EntryState};
use crate::task::Runnable;
use crate::timer_queue::{TimerEntry, TimerQueue};

/// Below this many scheduled timers a rebuild is never worth it (asyncio's
/// `_MIN_SCHEDULED_TIMER_HANDLES`).
pub(crate) const MIN_SCHEDULED_FOR_REBUILD: usize = 100;

/// What a slot fires.
enum Action {
    /// A scheduled callback.
    Callback(Rc<dyn Callback>),
    /// A sleeper: wake this target.
    Wake(WakeTarget),
}

/// What a heap entry points at.
struct Slot {
    /// The `seq` of the heap entry that owns this slot; a slot with another `seq` belongs to
    /// a later timer that reused the key, and the entry is dead.
    seq: u64,
    /// What to do when due.
    action: Action,
}

/// The `Send` name of a sleeper: its slot key and the `seq` of its heap entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SleeperKey {
    /// Key in `TimerHeap::slots`.
    pub(crate) key: usize,
    /// The heap entry's sequence number; a slot with another `seq` is someone else's.
    pub(crate) seq: u64,
}

/// Whom a sleeper wakes.
pub(crate) enum WakeTarget {
    /// A task of this loop, held directly: registered while that very task was being
    /// polled, so neither a `Waker` clone (an atomic operation) nor a task-table lookup at
    /// wake time is needed.
    Task(Rc<dyn Runnable>),
    /// The future of `run_until_complete` with this main id.
    Main(u64),
    /// Any other waker.
    Waker(Waker),
}

impl WakeTarget {
    /// Whether this target already wakes `other` (so re-arming can be skipped).
    fn same_as(&self, other: &WakeTarget) -> bool {
        match (self, other) {
            (WakeTarget::Task(task), WakeTarget::Task(other)) => {
                std::ptr::addr_eq(Rc::as_ptr(task), Rc::as_ptr(other))
            }
            (WakeTarget::Main(id), WakeTarget::Main(other)) => id == other,
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
    /// Live and dead (cancelled) entries, earliest deadline first (`timer_queue.rs`).
    heap: TimerQueue,
    /// What the entries fire, by key; each slot remembers the `seq` of its entry.
    slots: Slab<Slot>,
    /// Time zero of the heap's nanosecond deadlines: a year before the loop was created, so
    /// that `call_at` with a deadline in the recent past still sorts by deadline. Instants
    /// before it count as the epoch itself (they are all long due).
    epoch: Instant,
    /// Next tie-breaking sequence number.
    next_seq: u64,
    /// How many entries in `heap` are dead; bumped by every cancel that finds its entry in
    /// the heap (`TimerHandle::cancel` shares it), lowered as dead entries leave the heap.
    cancelled: Rc<Cell<usize>>,
}

impl TimerHeap {
    /// An empty heap for a loop whose clock reads `now`.
    pub(crate) fn new(now: Instant) -> Self {
        /// How far before the loop's creation deadlines still sort exactly.
        const LOOKBACK: Duration = Duration::from_secs(86_400 * 365);
        TimerHeap {
            heap: TimerQueue::new(),
            slots: Slab::new(),
            epoch: now.checked_sub(LOOKBACK).unwrap_or(now),
            next_seq: 0,
            cancelled: Rc::new(Cell::new(0)),
        }
    }

    /// `when` as nanoseconds since the epoch, saturating at both ends (`u64` nanoseconds
    /// span 584 years, beyond the 30-year `FAR_FUTURE` horizon).
    fn ticks(&self, when: Instant) -> u64 {
        let nanos = when.saturating_duration_since(self.epoch).as_nanos();
        u64::try_from(nanos).unwrap_or(u64::MAX)
    }

    /// Schedules `action` at `when`; returns the slot key and seq.
    fn schedule(&mut self, when: Instant, action: Action) -> SleeperKey {
        let seq = self.next_seq;
        self.next_seq += 1;
        let key = self.slots.insert(Slot { seq, action });
        self.heap.push(TimerEntry {
            when: self.ticks(when),
            seq,
            slot: key,
        });
        SleeperKey { key, seq }
    }

    /// Schedules `callback` (already in the `Timer` state) at `when`.
    pub(crate) fn push(&mut self, when: Instant, callback: Rc<dyn Callback>) {
        self.schedule(when, Action::Callback(callback));
    }

    /// Schedules a wake of `target` at `when`; the key cancels or re-arms it.
    pub(crate) fn push_sleeper(&mut self, when: Instant, target: WakeTarget) -> SleeperKey {
        self.schedule(when, Action::Wake(target))
    }

    /// The live sleeper named `sleeper`, if it has not fired or been cancelled.
    fn sleeper_mut(&mut self, sleeper: SleeperKey) -> Option<&mut WakeTarget> {
        match self.slots.get_mut(sleeper.key) {
            Some(Slot {
                seq,
                action: Action::Wake(target),
            }) if *seq == sleeper.seq => Some(target),
            _ => None,
        }
    }

    /// Points a live sleeper at `target`, keeping the current one if it already wakes the
    /// same task. Returns the target not kept (to drop outside the borrow), or gives `target`
    /// back as `Err` if the sleeper is gone (fired or cancelled).
    pub(crate) fn rearm_sleeper(
        &mut self,
        sleeper: SleeperKey,
        target: WakeTarget,
    ) -> Result<WakeTarget, WakeTarget> {
        match self.sleeper_mut(sleeper) {
            Some(current) if current.same_as(&target) => Ok(target),
            Some(current) => Ok(std::mem::replace(current, target)),
            None => Err(target),
        }
    }

    /// Cancels a sleeper; returns its target (to drop outside the borrow) if it was live.
    pub(crate) fn cancel_sleeper(&mut self, sleeper: SleeperKey) -> Option<WakeTarget> {
        self.sleeper_mut(sleeper)?;
        let slot = self.slots.remove(sleeper.key);
        self.cancelled.set(self.cancelled.get() + 1);
        match slot.action {
            Action::Wake(target) => Some(target),
            Action::Callback(_) => unreachable!("sleeper_mut only finds sleepers"),
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

    /// Live entries in the heap (what the `timers_pending` metric shows).
    pub(crate) fn live_len(&self) -> usize {
        self.heap.len().saturating_sub(self.cancelled.get())
    }

    /// Drops dead entries: rebuild if they are the majority, else pop those on top.
    pub(crate) fn purge(&mut self) {
        let dead = self.cancelled.get();
        if dead == 0 {
            return;
        }
        if self.heap.len() > MIN_SCHEDULED_FOR_REBUILD && dead * 2 > self.heap.len() {
            // Rebuild: one pass that keeps the live entries, then heapify.
            let slots = &mut self.slots;
            self.heap.retain(|entry| !take_if_dead(slots, entry));
            self.cancelled.set(0);
            return;
        }
        while let Some(&top) = self.heap.peek() {
            if !take_if_dead(&mut self.slots, &top) {
                break;
            }
            self.heap.pop();
            self.cancelled.set(self.cancelled.get().saturating_sub(1));
        }
    }

    /// The earliest deadline (possibly of a dead entry, if `purge` has not run).
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        let top = self.heap.peek()?;
        Some(self.epoch + Duration::from_nanos(top.when))
    }

    /// Moves every live entry due at `now` (deadline `<= now`) into `due`, in deadline
    /// order, dropping dead ones on the way. The loop acts on them after releasing the heap:
    /// waking a foreign `Waker` runs user code. (Collecting first and waking after also lets
    /// the CPU overlap the cache misses of waking many tasks.)
    pub(crate) fn pop_all_due(&mut self, now: Instant, due: &mut Vec<Due>) {
        let now = self.ticks(now);
        while let Some(entry) = self.pop_due(now) {
            due.push(entry);
        }
    }

    /// Pops the earliest live entry due at tick `now`, skipping dead ones.
    fn pop_due(&mut self, now: u64) -> Option<Due> {
        while let Some(&top) = self.heap.peek() {
            if top.when > now {
                return None;
            }
            let entry = self.heap.pop().expect("peeked entry exists");
            if take_if_dead(&mut self.slots, &entry) {
                self.cancelled.set(self.cancelled.get().saturating_sub(1));
                continue;
            }
            return Some(match self.slots.remove(entry.slot).action {
                Action::Callback(callback) => {
                    callback.set_pending_state(EntryState::Ready);
                    Due::Callback(callback)
                }
                Action::Wake(target) => Due::Wake(target),
            });
        }
        None
    }

    /// Takes every entry out (for `close()`): the callbacks to discard, the sleepers'
    /// targets to drop. Leaves the heap empty.
    pub(crate) fn drain(&mut self) -> (Vec<Rc<dyn Callback>>, Vec<WakeTarget>) {
        self.cancelled.set(0);
        self.heap.clear();
        let mut callbacks = Vec::new();
        let mut targets = Vec::new();
        for (_, slot) in std::mem::take(&mut self.slots) {
            match slot.action {
                Action::Callback(callback) => callbacks.push(callback),
                Action::Wake(target) => targets.push(target),
            }
        }
        (callbacks, targets)
    }
}

/// Whether a heap entry was cancelled: its slot belongs to someone else (a cancelled
/// sleeper's slot was freed, maybe reused), or it holds a cancelled callback, whose slot is
/// then freed here.
fn take_if_dead(slots: &mut Slab<Slot>, entry: &TimerEntry) -> bool {
    match slots.get(entry.slot) {
        Some(slot) if slot.seq == entry.seq => match &slot.action {
            Action::Callback(callback) if callback.state() == EntryState::Cancelled => {
                // The handle already dropped the closure; this only frees the slot.
                slots.remove(entry.slot);
                true
            }
            _ => false,
        },
        _ => true,
    }
}
