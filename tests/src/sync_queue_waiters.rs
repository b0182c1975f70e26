//! Queues: who waits and who is served first, and what cancelling a waiter does.
//!
//! - Fairness: getters are served in the order they waited, and a new `get` does not overtake
//!   a woken one; `get_nowait` may (as in asyncio), and the robbed getter waits again.
//! - Cancellation: a getter cancelled while waiting just leaves; one cancelled after it was
//!   woken passes the item on. A putter cancelled while waiting drops its item; one cancelled
//!   after it was woken also passes the room on. Nothing is lost or duplicated.
//!
//! The model-based property in `props_queue.rs` covers the same rules on random programs.

use std::cell::RefCell;
use std::rc::Rc;
use std::task::Poll;

use evloop::{Queue, TaskError};

use crate::sync_queue::Tracked;
use crate::util::{deadline, poll_once, settle_for, virtual_loop, CountingWaker, BUDGET};

#[test]
fn getters_are_served_in_the_order_they_waited() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let queue = Queue::new(0);
        let order = [2, 0, 1];
        let getters: Vec<_> = order
            .iter()
            .map(|&id| {
                let queue = queue.clone();
                lp.spawn(async move { (id, queue.get().await.unwrap()) })
            })
            .collect();
        let got = lp
            .run_until_complete(async move {
                settle_for(1).await;
                for n in [10, 20, 30] {
                    queue.put_nowait(n).unwrap();
                }
                let mut got = Vec::new();
                for getter in getters {
                    got.push(getter.await.unwrap());
                }
                got
            })
            .unwrap();
        assert_eq!(got, [(2, 10), (0, 20), (1, 30)]);
        lp.close().unwrap();
    });
}

#[test]
fn a_new_get_does_not_overtake_a_woken_getter() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let queue = Queue::new(0);
        let first = lp.spawn({
            let queue = queue.clone();
            async move { queue.get().await }
        });
        lp.run_until_complete(async move {
            settle_for(1).await;
            queue.put_nowait(1).unwrap(); // wakes `first`, which has not run yet
            let (counter, waker) = CountingWaker::new();
            let mut late = queue.get();
            assert!(
                poll_once(&mut late, &waker).is_pending(),
                "the item is promised"
            );
            assert_eq!(first.await.unwrap(), Ok(1));
            queue.put_nowait(2).unwrap();
            assert_eq!(counter.count(), 1);
            assert_eq!(poll_once(&mut late, &waker), Poll::Ready(Ok(2)));
        })
        .unwrap();
        lp.close().unwrap();
    });
}

#[test]
fn get_nowait_may_take_an_item_promised_to_a_woken_getter_which_then_waits_again() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let queue = Queue::new(0);
        let getter = lp.spawn({
            let queue = queue.clone();
            async move { queue.get().await }
        });
        lp.run_until_complete(async move {
            settle_for(1).await;
            queue.put_nowait(1).unwrap(); // wakes the getter
            assert_eq!(queue.get_nowait(), Ok(1)); // as in asyncio: the queue was not empty
            settle_for(3).await;
            assert!(!getter.is_done(), "it found nothing and waits again");
            queue.put_nowait(2).unwrap();
            assert_eq!(getter.await.unwrap(), Ok(2));
        })
        .unwrap();
        lp.close().unwrap();
    });
}

#[test]
fn a_getter_cancelled_after_it_was_woken_passes_the_item_on() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let queue = Queue::new(0);
        let getters: Vec<_> = (0..4)
            .map(|_| {
                let queue = queue.clone();
                lp.spawn(async move { queue.get().await })
            })
            .collect();
        let [a, b, c, d] = <[_; 4]>::try_from(getters).unwrap();
        lp.run_until_complete(async move {
            settle_for(1).await; // all four wait
            assert!(b.cancel()); // cancelled while waiting: it just leaves
            settle_for(1).await;
            queue.put_nowait(7).unwrap(); // wakes `a`
            assert!(a.cancel()); // before `a` ran
            settle_for(3).await;
            assert_eq!(a.await, Err(TaskError::Cancelled));
            assert_eq!(b.await, Err(TaskError::Cancelled));
            assert!(c.is_done(), "the item went to the next getter");
            assert_eq!(c.await.unwrap(), Ok(7));
            assert!(!d.is_done());
            assert_eq!(queue.qsize(), 0);
            queue.put_nowait(8).unwrap();
            assert_eq!(d.await.unwrap(), Ok(8));
        })
        .unwrap();
        lp.close().unwrap();
    });
}

#[test]
fn a_putter_cancelled_while_waiting_drops_its_item_and_passes_the_room_on() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let dropped = Rc::new(RefCell::new(Vec::new()));
        let item = |id| Tracked(id, dropped.clone());
        let queue = Queue::new(1);
        queue.put_nowait(item(0)).unwrap();
        let putters: Vec<_> = (1..=3)
            .map(|id| {
                let (queue, own) = (queue.clone(), item(id));
                lp.spawn(async move { queue.put(own).await.is_ok() })
            })
            .collect();
        let [p1, p2, p3] = <[_; 3]>::try_from(putters).unwrap();
        lp.run_until_complete({
            let dropped = dropped.clone();
            async move {
                settle_for(1).await; // all three wait for room
                assert!(p3.cancel()); // while waiting: its item is dropped, nothing else
                settle_for(1).await;
                assert_eq!(*dropped.borrow(), [3]);
                let first = queue.get_nowait().unwrap(); // room: wakes p1
                assert_eq!(first.0, 0);
                assert!(p1.cancel()); // before p1 ran: the room goes to p2
                settle_for(3).await;
                assert_eq!(*dropped.borrow(), [3, 1]);
                assert_eq!(p2.await, Ok(true));
                assert_eq!(p1.await, Err(TaskError::Cancelled));
                assert_eq!(p3.await, Err(TaskError::Cancelled));
                assert_eq!(queue.qsize(), 1);
                assert_eq!(queue.get_nowait().unwrap().0, 2);
                assert!(queue.empty());
                drop(first);
            }
        })
        .unwrap();
        // The queue dropped the cancelled putters' items; the test dropped what it took.
        assert_eq!(*dropped.borrow(), [3, 1, 2, 0]);
        lp.close().unwrap();
    });
}
