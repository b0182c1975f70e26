//! The queue of waiting futures that every primitive in `sync/` is built on.
//!
//! A [`WaitList`] is a FIFO of waiters, each a parked future's `Waker`, stored as a doubly
//! linked list inside a `Slab` (an intrusive list without `unsafe`: the links are slab keys).
//! A primitive pushes a waiter when its future must wait, *chooses* waiters from the front
//! when the resource frees up, and removes a waiter whose future is dropped. Removal is O(1)
//! from anywhere in the list, which is what makes cancellation cheap.
//!
//! # Waiter states
//!
//! | state      | in the linked list | meaning                                                      |
//! |------------|--------------------|--------------------------------------------------------------|
//! | `Waiting`  | yes                | parked; will be chosen in FIFO order                         |
//! | `Chosen`   | no                 | chosen (and woken), but its future has not run yet            |
//!
//! A slot leaves the slab when its future observes that it was chosen ([`WaitList::poll`]) or is
//! dropped ([`WaitList::remove`]). Impossible: a `Chosen` slot in the linked list; a
//! `Waiting` slot outside it.
//!
//! # Cancellation, the rule every primitive follows
//!
//! A waiter can be dropped after it was chosen (`Chosen`) but before its future ran again,
//! for example because the task awaiting it was cancelled in between. What it was chosen for
//! must not be lost: [`WaitList::remove`] tells the primitive that the dropped waiter had been
//! chosen, and the primitive passes its turn on (a semaphore hands the permit to the next
//! waiter, a condition notifies the next one, and so on).
//!
//! This file never wakes anyone: it returns the `Waker`s to wake, so the primitive can release
//! its `RefCell` borrow before calling `wake` (which may run arbitrary code).
//!
//! *Choose* is this file's word for picking a waiter; asyncio's `Condition.notify` is one use
//! of it (the glossary keeps *notify* for poking the poller).
//!
//! Careful: `poll` (replacing a stale waker) and `remove` drop a `Waker` while the primitive's
//! borrow is held. Dropping a waker only releases a reference count for every waker we know
//! (the loop's, tokio's, smol's); a waker whose drop re-entered the primitive would be a bug
//! in that waker.

use std::task::{Poll, Waker};

use slab::Slab;

/// No slab key: the end of the list.
const NIL: usize = usize::MAX;

/// Whether a waiter is still queued or was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaiterState {
    /// Queued, in FIFO order.
    Waiting,
    /// Chosen; its future has not yet observed it.
    Chosen,
}

/// One waiter's slot.
#[derive(Debug)]
struct Slot {
    /// The waker of the future that waits, refreshed at every poll.
    waker: Option<Waker>,
    /// Where it is in its life (module docs).
    state: WaiterState,
    /// The previous waiter in FIFO order (`NIL` at the front); meaningful only while `Waiting`.
    prev: usize,
    /// The next waiter in FIFO order (`NIL` at the back); meaningful only while `Waiting`.
    next: usize,
}

/// A FIFO of waiting futures (module docs).
#[derive(Debug)]
pub(crate) struct WaitList {
    /// Every waiter not yet gone, `Waiting` or `Chosen`.
    slots: Slab<Slot>,
    /// The oldest `Waiting` waiter, or `NIL`.
    head: usize,
    /// The newest `Waiting` waiter, or `NIL`.
    tail: usize,
    /// How many waiters are `Waiting` (the linked list's length).
    waiting: usize,
}

impl Default for WaitList {
    fn default() -> Self {
        WaitList::new()
    }
}

impl WaitList {
    /// An empty list (no allocation until the first waiter).
    pub(crate) const fn new() -> Self {
        WaitList {
            slots: Slab::new(),
            head: NIL,
            tail: NIL,
            waiting: 0,
        }
    }

    /// Whether nobody is `Waiting` (chosen waiters that have not run yet do not count).
    pub(crate) fn is_empty(&self) -> bool {
        self.waiting == 0
    }

    /// How many waiters are `Waiting`.
    pub(crate) fn len(&self) -> usize {
        self.waiting
    }

    /// Queues a waiter at the back; the key names it in `poll` and `remove`.
    pub(crate) fn push(&mut self, waker: Waker) -> usize {
        let key = self.slots.insert(Slot {
            waker: Some(waker),
            state: WaiterState::Waiting,
            prev: self.tail,
            next: NIL,
        });
        match self.tail {
            NIL => self.head = key,
            tail => self.slots[tail].next = key,
        }
        self.tail = key;
        self.waiting += 1;
        key
    }

    /// Chooses the oldest `Waiting` waiter and returns its waker, to wake once the caller's
    /// borrow is released. `None` if nobody waits.
    #[must_use = "wake the returned waker, after releasing the borrow"]
    pub(crate) fn choose_one(&mut self) -> Option<Waker> {
        let key = self.head;
        if key == NIL {
            return None;
        }
        self.unlink(key);
        let slot = &mut self.slots[key];
        slot.state = WaiterState::Chosen;
        slot.waker.take()
    }

    /// Chooses every `Waiting` waiter, oldest first; their wakers go into `wakers`.
    pub(crate) fn choose_all(&mut self, wakers: &mut Vec<Waker>) {
        while let Some(waker) = self.choose_one() {
            wakers.push(waker);
        }
    }

    /// The waiter's turn: `Ready` (and the slot is freed) if it was chosen, else `Pending`
    /// with `waker` stored to be woken.
    pub(crate) fn poll(&mut self, key: usize, waker: &Waker) -> Poll<()> {
        let slot = &mut self.slots[key];
        match slot.state {
            WaiterState::Chosen => {
                self.slots.remove(key);
                Poll::Ready(())
            }
            WaiterState::Waiting => {
                match &mut slot.waker {
                    Some(old) if old.will_wake(waker) => {}
                    other => *other = Some(waker.clone()),
                }
                Poll::Pending
            }
        }
    }

    /// Forgets a waiter whose future is dropped, and says what state it was in: `Chosen`
    /// means it was chosen and its turn must be passed on (module docs).
    pub(crate) fn remove(&mut self, key: usize) -> WaiterState {
        let state = self.slots[key].state;
        if state == WaiterState::Waiting {
            self.unlink(key);
        }
        self.slots.remove(key);
        state
    }

    /// Takes a `Waiting` slot out of the linked list.
    fn unlink(&mut self, key: usize) {
        let (prev, next) = {
            let slot = &self.slots[key];
            (slot.prev, slot.next)
        };
        match prev {
            NIL => self.head = next,
            prev => self.slots[prev].next = next,
        }
        match next {
            NIL => self.tail = prev,
            next => self.slots[next].prev = prev,
        }
        self.waiting -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    /// A waker that records which waiter it belongs to in a shared log.
    struct Logged(usize, Arc<std::sync::Mutex<Vec<usize>>>, Arc<AtomicUsize>);
    impl Wake for Logged {
        fn wake(self: Arc<Self>) {
            self.1.lock().unwrap().push(self.0);
            self.2.fetch_add(1, Ordering::Relaxed);
        }
    }

    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Push,
        ChooseOne,
        ChooseAll,
        /// Remove the i-th live waiter (modulo the count).
        Remove(usize),
        /// Poll the i-th live waiter.
        Poll(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => Just(Op::Push),
            2 => Just(Op::ChooseOne),
            1 => Just(Op::ChooseAll),
            2 => (0..16usize).prop_map(Op::Remove),
            2 => (0..16usize).prop_map(Op::Poll),
        ]
    }

    proptest! {
        /// The list against a model (a Vec of (id, state) in push order): choosing is
        /// FIFO among `Waiting` waiters, counts agree, and removal reports the right state.
        #[test]
        fn matches_a_fifo_model(ops in proptest::collection::vec(op(), 1..80)) {
            let log = Arc::new(std::sync::Mutex::new(Vec::new()));
            let wakes = Arc::new(AtomicUsize::new(0));
            let mut list = WaitList::new();
            // Model: live waiters in push order: (id, key, state).
            let mut model: Vec<(usize, usize, WaiterState)> = Vec::new();
            let mut next_id = 0;
            let mut expected_wakes = Vec::new();
            for op in ops {
                match op {
                    Op::Push => {
                        let waker = Waker::from(Arc::new(Logged(next_id, log.clone(), wakes.clone())));
                        let key = list.push(waker);
                        model.push((next_id, key, WaiterState::Waiting));
                        next_id += 1;
                    }
                    Op::ChooseOne => {
                        let front = model.iter_mut().find(|w| w.2 == WaiterState::Waiting);
                        let woken = list.choose_one();
                        match front {
                            Some(w) => {
                                w.2 = WaiterState::Chosen;
                                expected_wakes.push(w.0);
                                woken.expect("a waiter was waiting").wake();
                            }
                            None => prop_assert!(woken.is_none()),
                        }
                    }
                    Op::ChooseAll => {
                        let mut wakers = Vec::new();
                        list.choose_all(&mut wakers);
                        for w in model.iter_mut().filter(|w| w.2 == WaiterState::Waiting) {
                            w.2 = WaiterState::Chosen;
                            expected_wakes.push(w.0);
                        }
                        wakers.into_iter().for_each(Waker::wake);
                    }
                    Op::Remove(i) if !model.is_empty() => {
                        let (_, key, state) = model.remove(i % model.len());
                        prop_assert_eq!(list.remove(key), state);
                    }
                    Op::Poll(i) if !model.is_empty() => {
                        let i = i % model.len();
                        let (id, key, state) = model[i];
                        let waker = Waker::from(Arc::new(Logged(id, log.clone(), wakes.clone())));
                        let polled = list.poll(key, &waker);
                        match state {
                            WaiterState::Chosen => {
                                prop_assert!(polled.is_ready());
                                model.remove(i);
                            }
                            WaiterState::Waiting => prop_assert!(polled.is_pending()),
                        }
                    }
                    Op::Remove(_) | Op::Poll(_) => {}
                }
                let waiting = model.iter().filter(|w| w.2 == WaiterState::Waiting).count();
                prop_assert_eq!(list.len(), waiting);
                prop_assert_eq!(list.is_empty(), waiting == 0);
                prop_assert_eq!(list.slots.len(), model.len());
            }
            prop_assert_eq!(&*log.lock().unwrap(), &expected_wakes);
            prop_assert_eq!(wakes.load(Ordering::Relaxed), expected_wakes.len());
        }
    }
}
