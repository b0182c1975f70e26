//! The state every handle and future of one queue shares, and the rules that keep items and
//! wake-ups from being lost: the *claim* protocol.
//!
//! # Claims
//!
//! Items stay in the queue until a getter takes one during its own poll; room stays free
//! until a putter fills it during its own poll. Waking a waiter therefore hands it nothing
//! but a *claim*: "one item (or one slot of room) is there for you". The state counts the
//! claims given out and not yet used:
//!
//! - `item_claims`: getters chosen from `getters` that have not run yet;
//! - `room_claims`: putters chosen from `putters` that have not run yet.
//!
//! A waiter is chosen only while there is more to claim than is claimed already
//! ([`State::wake_getter`], [`State::wake_putter`]). When a chosen waiter runs, it gives its
//! claim back and takes an item (or room); a chosen waiter that is dropped before it ran gives
//! its claim back and passes it on to the next waiter, so a wake-up is never lost with it.
//! The item (or room) itself was never moved, so nothing is lost either.
//!
//! # Fairness
//!
//! A new `get()` takes an item at once only if one is unclaimed, so it never overtakes
//! getters that wait or were woken before it; likewise a new `put()` and room. Invariant (at
//! rest, between calls): if a getter is `Waiting`, every item is claimed
//! (`items <= item_claims`); if a putter is `Waiting`, all room is claimed.
//!
//! The non-waiting calls `get_nowait` and `put_nowait` do as asyncio's do: they succeed
//! whenever `empty()` / `full()` say they can, even if that uses an item or room claimed by a
//! woken waiter. That waiter then finds nothing when it runs and waits again, at the back of
//! the queue; this is the only way claims can exceed what is there.
//!
//! # Shutdown
//!
//! After `shutdown`, nobody waits any more: every waiter is chosen at once. Putters then fail
//! with their item handed back; getters take whatever item is left, claimed or not, and fail
//! once the queue is empty. `shutdown(true)` first drains the queue.
//!
//! This file never wakes anyone and never drops an item: it returns the `Waker`s to wake and
//! the items to drop, so the caller can release its borrow first. Careful: the one piece of
//! user code that does run under the borrow is a priority queue's `Ord` (the heap compares
//! items as it pushes and pops), documented on `PriorityQueue`.

use std::task::Waker;

use super::order::Store;
use crate::sync::wait_list::{WaitList, WaiterState};

/// A queue's shared state (module docs).
#[derive(Debug)]
pub(crate) struct State<O> {
    /// The items, in the queue's order.
    pub(crate) items: O,
    /// The capacity; 0 means unbounded (as in asyncio).
    pub(crate) maxsize: usize,
    /// Futures of `get()` waiting for an item.
    pub(crate) getters: WaitList,
    /// Getters chosen and not yet run, each counting on one item.
    pub(crate) item_claims: usize,
    /// Futures of `put()` waiting for room.
    pub(crate) putters: WaitList,
    /// Putters chosen and not yet run, each counting on one slot of room.
    pub(crate) room_claims: usize,
    /// Futures of `join()` waiting for `unfinished` to reach 0.
    pub(crate) joiners: WaitList,
    /// Items put and not yet acknowledged with `task_done` (or drained by `shutdown(true)`).
    pub(crate) unfinished: usize,
    /// Whether `shutdown` was called: no more puts, and no more waiting.
    pub(crate) shut_down: bool,
}

impl<O: Store> State<O> {
    /// An empty queue holding at most `maxsize` items (0: unbounded).
    pub(crate) fn new(maxsize: usize) -> Self {
        State {
            items: O::default(),
            maxsize,
            getters: WaitList::new(),
            item_claims: 0,
            putters: WaitList::new(),
            room_claims: 0,
            joiners: WaitList::new(),
            unfinished: 0,
            shut_down: false,
        }
    }

    /// How many more items fit (`usize::MAX` when unbounded).
    pub(crate) fn room(&self) -> usize {
        match self.maxsize {
            0 => usize::MAX,
            max => max.saturating_sub(self.items.len()),
        }
    }

    /// Adds an item and chooses a getter for it, if one waits.
    #[must_use = "wake the returned waker, after releasing the borrow"]
    pub(crate) fn put(&mut self, item: O::Item) -> Option<Waker> {
        // Careful: `push` may run the item's `Ord`; count the item only once it is in.
        self.items.push(item);
        self.unfinished += 1;
        self.wake_getter()
    }

    /// Takes the next item out and chooses a putter for the room it leaves, if one waits.
    pub(crate) fn take(&mut self) -> Option<(O::Item, Option<Waker>)> {
        let item = self.items.pop()?;
        Some((item, self.wake_putter()))
    }

    /// Chooses the next waiting getter if an item is left that nobody has claimed.
    #[must_use = "wake the returned waker, after releasing the borrow"]
    pub(crate) fn wake_getter(&mut self) -> Option<Waker> {
        if self.getters.is_empty() || self.items.len() <= self.item_claims {
            return None;
        }
        self.item_claims += 1;
        self.getters.choose_one()
    }

    /// Chooses the next waiting putter if room is left that nobody has claimed.
    #[must_use = "wake the returned waker, after releasing the borrow"]
    pub(crate) fn wake_putter(&mut self) -> Option<Waker> {
        if self.putters.is_empty() || self.room() <= self.room_claims {
            return None;
        }
        self.room_claims += 1;
        self.putters.choose_one()
    }

    /// Forgets a getter whose future is dropped; if it had been chosen, its claim goes to the
    /// next getter.
    #[must_use = "wake the returned waker, after releasing the borrow"]
    pub(crate) fn drop_getter(&mut self, key: usize) -> Option<Waker> {
        match self.getters.remove(key) {
            WaiterState::Waiting => None,
            WaiterState::Chosen => {
                self.item_claims -= 1;
                self.wake_getter()
            }
        }
    }

    /// Forgets a putter whose future is dropped; if it had been chosen, its claim goes to the
    /// next putter.
    #[must_use = "wake the returned waker, after releasing the borrow"]
    pub(crate) fn drop_putter(&mut self, key: usize) -> Option<Waker> {
        match self.putters.remove(key) {
            WaiterState::Waiting => None,
            WaiterState::Chosen => {
                self.room_claims -= 1;
                self.wake_putter()
            }
        }
    }

    /// Acknowledges one item; `false` if none is unfinished. The joiners to wake go into
    /// `wakers`.
    pub(crate) fn task_done(&mut self, wakers: &mut Vec<Waker>) -> bool {
        if self.unfinished == 0 {
            return false;
        }
        self.unfinished -= 1;
        if self.unfinished == 0 {
            self.joiners.choose_all(wakers);
        }
        true
    }

    /// Shuts the queue down (module docs): chooses every waiter, and with `immediate` drains
    /// the items, counting them as done. Returns the drained items, to drop once the borrow
    /// is released; the wakers go into `wakers`.
    pub(crate) fn shutdown(&mut self, immediate: bool, wakers: &mut Vec<Waker>) -> O {
        self.shut_down = true;
        let drained = if immediate {
            std::mem::take(&mut self.items)
        } else {
            O::default()
        };
        if !drained.is_empty() {
            self.unfinished = self.unfinished.saturating_sub(drained.len());
            if self.unfinished == 0 {
                self.joiners.choose_all(wakers);
            }
        }
        // Nobody waits after a shutdown: choose every getter and putter.
        let before = wakers.len();
        self.getters.choose_all(wakers);
        self.item_claims += wakers.len() - before;
        let before = wakers.len();
        self.putters.choose_all(wakers);
        self.room_claims += wakers.len() - before;
        drained
    }
}

/// Wakes a waker chosen under a borrow that the caller has released since.
pub(crate) fn wake(waker: Option<Waker>) {
    if let Some(waker) = waker {
        waker.wake();
    }
}
