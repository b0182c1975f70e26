//! `Event` (asyncio's `Event`): waiting, setting, clearing, and cancelled waiters.
//!
//! - `set` wakes every waiter, in the order they started waiting; setting twice wakes once.
//! - `wait` on a set event returns at once; after `clear`, it waits for the next `set`.
//! - A waiter woken by `set` completes even if `clear` runs before the waiter does.
//! - A cancelled waiter just leaves, before or after it was woken; the others still wake.
//! - `set` wakes nobody while the event's state is borrowed.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Wake, Waker};

use evloop::{Event, EventLoop, Task};

use crate::util::{deadline, poll_once, virtual_loop, CountingWaker, BUDGET};

/// Spawns on `lp` a task that waits for `event`, then logs `id`.
fn spawn_waiter(
    lp: &EventLoop,
    event: &Event,
    id: usize,
    log: &Rc<RefCell<Vec<usize>>>,
) -> Task<()> {
    let (event, log) = (event.clone(), log.clone());
    lp.spawn(async move {
        event.wait().await;
        log.borrow_mut().push(id);
    })
}

#[test]
fn set_wakes_every_waiter_in_the_order_they_waited() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let log = Rc::new(RefCell::new(Vec::new()));
        let event = Event::new();
        // Spawned in this order, so they start waiting in this order.
        let order = [2, 0, 3, 1];
        let waiters: Vec<_> = order
            .iter()
            .map(|&id| spawn_waiter(&lp, &event, id, &log))
            .collect();
        lp.run_until_complete({
            let event = event.clone();
            let log = log.clone();
            async move {
                evloop::yield_now().await; // every waiter has polled once
                assert!(log.borrow().is_empty());
                assert_eq!(format!("{event:?}"), "Event { is_set: false, waiters: 4 }");
                event.set();
                for waiter in waiters {
                    waiter.await.unwrap();
                }
            }
        })
        .unwrap();
        assert_eq!(*log.borrow(), order);
        assert!(event.is_set());
        lp.close().unwrap();
    });
}

#[test]
fn wait_on_a_set_event_returns_at_once() {
    deadline(BUDGET, || {
        let (counter, waker) = CountingWaker::new();
        let event = Event::default();
        event.set();
        assert!(poll_once(&mut event.wait(), &waker).is_ready());
        // Setting again changes nothing.
        event.set();
        assert!(event.is_set());
        assert!(poll_once(&mut event.wait(), &waker).is_ready());
        assert_eq!(counter.count(), 0);
    });
}

#[test]
fn after_clear_wait_waits_for_the_next_set_which_wakes_once() {
    deadline(BUDGET, || {
        let (counter, waker) = CountingWaker::new();
        let event = Event::new();
        event.set();
        event.clear();
        assert!(!event.is_set());
        let mut wait = event.wait();
        assert!(poll_once(&mut wait, &waker).is_pending());
        assert!(poll_once(&mut wait, &waker).is_pending()); // a spurious poll
        assert_eq!(counter.count(), 0);
        event.set();
        event.set();
        assert_eq!(counter.count(), 1, "one wake for two sets");
        assert!(poll_once(&mut wait, &waker).is_ready());
    });
}

#[test]
fn a_waiter_woken_by_set_completes_even_if_cleared_before_it_runs() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let event = Event::new();
        let woken = lp.spawn({
            let event = event.clone();
            async move { event.wait().await }
        });
        lp.run_until_complete({
            let event = event.clone();
            async move {
                evloop::yield_now().await; // `woken` waits
                event.set();
                event.clear(); // before `woken` runs
                let late_done = Rc::new(RefCell::new(false));
                let late = evloop::spawn({
                    let late_done = late_done.clone();
                    async move {
                        event.wait().await; // after the clear: waits for the next set
                        *late_done.borrow_mut() = true;
                    }
                });
                woken.await.unwrap();
                for _ in 0..5 {
                    evloop::yield_now().await;
                }
                assert!(
                    !*late_done.borrow(),
                    "a wait after the clear waits for the next set"
                );
                assert!(late.cancel());
            }
        })
        .unwrap();
        assert!(!event.is_set());
        lp.close().unwrap();
    });
}

#[test]
fn a_cancelled_waiter_leaves_and_the_others_still_wake() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let event = Event::new();
        let woke = Rc::new(RefCell::new(Vec::new()));
        let waiters: Vec<_> = (0..4)
            .map(|id| spawn_waiter(&lp, &event, id, &woke))
            .collect();
        lp.run_until_complete({
            let event = event.clone();
            async move {
                evloop::yield_now().await;
                // Waiter 1 is cancelled while it waits: it leaves the list.
                assert!(waiters[1].cancel());
                evloop::yield_now().await;
                assert_eq!(format!("{event:?}"), "Event { is_set: false, waiters: 3 }");
                // Waiter 2 is cancelled after `set` chose it, before it ran.
                event.set();
                assert!(waiters[2].cancel());
                for (id, waiter) in waiters.into_iter().enumerate() {
                    let result = waiter.await;
                    assert_eq!(result.is_err(), id == 1 || id == 2, "waiter {id}");
                }
            }
        })
        .unwrap();
        assert_eq!(*woke.borrow(), [0, 3]);
        assert_eq!(format!("{event:?}"), "Event { is_set: true, waiters: 0 }");
        lp.close().unwrap();
    });
}

thread_local! {
    /// The event that `ProbingWaker` looks at when woken.
    static PROBED: RefCell<Option<Event>> = const { RefCell::new(None) };
}

/// A waker that reads the probed event's flag when woken (panics if `set` still borrows it).
struct ProbingWaker;

impl Wake for ProbingWaker {
    fn wake(self: Arc<Self>) {
        PROBED.with(|probed| {
            let flag = probed.borrow().as_ref().map(Event::is_set);
            assert_eq!(flag, Some(true), "woken with the flag up");
        });
    }
}

#[test]
fn set_wakes_nobody_while_it_borrows_the_event() {
    deadline(BUDGET, || {
        let event = Event::new();
        PROBED.with(|probed| *probed.borrow_mut() = Some(event.clone()));
        let waker = Waker::from(Arc::new(ProbingWaker));
        let mut waits = [event.wait(), event.wait()];
        for wait in &mut waits {
            assert!(poll_once(wait, &waker).is_pending());
        }
        event.set(); // wakes both, each reading the event
        for wait in &mut waits {
            assert!(poll_once(wait, &waker).is_ready());
        }
        PROBED.with(|probed| probed.borrow_mut().take());
    });
}
