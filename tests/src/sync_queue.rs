//! `Queue`, `LifoQueue` and `PriorityQueue` (asyncio's queues, with Python 3.13's shutdown).
//!
//! - Orders: FIFO; LIFO; priority, smallest first and ties in arrival order.
//! - `put` waits while the queue is full; `put_nowait`/`get_nowait` refuse with named errors
//!   and hand a refused item back.
//! - `task_done`/`join`: `join` waits for exactly the outstanding count; one `task_done` too
//!   many is an error.
//! - `shutdown(false)` and `shutdown(true)`: putters, getters, the items left, and `join`.
//! - Fairness: getters are served in the order they waited, and a new `get` does not overtake
//!   a woken one; `get_nowait` may (as in asyncio), and the robbed getter waits again.
//! - Cancellation: a getter cancelled after it was woken passes the item on; a putter
//!   cancelled while waiting drops its item and passes the room on. Nothing is lost.
//! - Several producers and consumers: every item arrives exactly once, in order per producer.

use std::cell::{Cell, RefCell};
use std::cmp::Ordering;
use std::rc::Rc;

use evloop::{
    EventLoop, GetNowaitError, LifoQueue, PriorityQueue, PutNowaitError, Queue, QueueShutDown,
    TaskDoneTooManyTimes,
};

use crate::sync_event::{poll_once, CountingWaker};
use crate::util::{deadline, BUDGET};

/// A loop on the virtual clock.
fn new_loop() -> EventLoop {
    EventLoop::builder().virtual_clock(true).build().unwrap()
}

/// Yields `n` times, letting every ready task run in between.
async fn settle(n: usize) {
    for _ in 0..n {
        evloop::yield_now().await;
    }
}

/// An item that logs its id when dropped.
#[derive(Debug)]
struct Tracked(u32, Rc<RefCell<Vec<u32>>>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.1.borrow_mut().push(self.0);
    }
}

#[test]
fn items_come_out_in_fifo_order() {
    deadline(BUDGET, || {
        let lp = new_loop();
        let queue = Queue::new(0);
        assert_eq!((queue.maxsize(), queue.qsize()), (0, 0));
        assert!(queue.empty() && !queue.full());
        for n in 0..5 {
            queue.put_nowait(n).unwrap();
        }
        assert_eq!(queue.qsize(), 5);
        assert!(!queue.full(), "an unbounded queue is never full");
        let got = lp
            .run_until_complete(async move {
                let mut got = Vec::new();
                for _ in 0..5 {
                    got.push(queue.get().await.unwrap());
                }
                assert!(queue.empty());
                got
            })
            .unwrap();
        assert_eq!(got, [0, 1, 2, 3, 4]);
        lp.close().unwrap();
    });
}

#[test]
fn lifo_and_priority_orders() {
    deadline(BUDGET, || {
        let stack = LifoQueue::unbounded();
        for n in [1, 2, 3] {
            stack.put_nowait(n).unwrap();
        }
        stack.put_nowait(4).unwrap();
        let out: Vec<_> = std::iter::from_fn(|| stack.get_nowait().ok()).collect();
        assert_eq!(out, [4, 3, 2, 1]);

        /// Ordered by priority alone, so equal priorities are ties.
        #[derive(Debug)]
        struct Job(u8, char);
        impl Ord for Job {
            fn cmp(&self, other: &Self) -> Ordering {
                self.0.cmp(&other.0)
            }
        }
        impl PartialOrd for Job {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }
        impl PartialEq for Job {
            fn eq(&self, other: &Self) -> bool {
                self.0 == other.0
            }
        }
        impl Eq for Job {}

        let jobs = PriorityQueue::new(0);
        let input = [
            (2, 'a'),
            (1, 'b'),
            (2, 'c'),
            (0, 'd'),
            (1, 'e'),
            (2, 'f'),
            (0, 'g'),
        ];
        for (priority, name) in input {
            jobs.put_nowait(Job(priority, name)).unwrap();
        }
        // Interleave a get and more puts: ties still leave in arrival order.
        assert_eq!(jobs.get_nowait().unwrap().1, 'd');
        jobs.put_nowait(Job(0, 'h')).unwrap();
        jobs.put_nowait(Job(1, 'i')).unwrap();
        let out: String = std::iter::from_fn(|| jobs.get_nowait().ok())
            .map(|job| job.1)
            .collect();
        assert_eq!(out, "ghbeiacf");
    });
}

#[test]
fn put_waits_while_the_queue_is_full() {
    deadline(BUDGET, || {
        let lp = new_loop();
        let queue = Queue::new(2);
        let put_log = Rc::new(RefCell::new(Vec::new()));
        let producer = lp.spawn({
            let (queue, put_log) = (queue.clone(), put_log.clone());
            async move {
                for n in 0..5 {
                    queue.put(n).await.unwrap();
                    put_log.borrow_mut().push(n);
                }
            }
        });
        lp.run_until_complete({
            let queue = queue.clone();
            let put_log = put_log.clone();
            async move {
                settle(3).await;
                assert_eq!(*put_log.borrow(), [0, 1], "the third put waits");
                assert!(queue.full());
                for (taken, expected_puts) in [(0, 3), (1, 4), (2, 5)] {
                    assert_eq!(queue.get().await, Ok(taken));
                    settle(3).await;
                    assert_eq!(put_log.borrow().len(), expected_puts);
                    assert_eq!(queue.qsize(), 2);
                }
                producer.await.unwrap();
                assert_eq!(queue.get().await, Ok(3));
                assert_eq!(queue.get().await, Ok(4));
            }
        })
        .unwrap();
        lp.close().unwrap();
    });
}

#[test]
fn nowait_errors_name_the_problem_and_hand_the_item_back() {
    deadline(BUDGET, || {
        let queue = Queue::new(1);
        queue.put_nowait(String::from("kept")).unwrap();
        let refused = queue.put_nowait(String::from("refused")).unwrap_err();
        assert!(refused.to_string().contains("QueueFull"), "{refused}");
        assert!(refused.to_string().contains("fix:"), "{refused}");
        assert_eq!(refused, PutNowaitError::Full(String::from("refused")));
        assert_eq!(refused.into_inner(), "refused");
        assert_eq!(queue.get_nowait().as_deref(), Ok("kept"));

        let empty = queue.get_nowait().unwrap_err();
        assert_eq!(empty, GetNowaitError::Empty);
        assert!(empty.to_string().contains("QueueEmpty"), "{empty}");
        assert!(empty.to_string().contains("fix:"), "{empty}");

        queue.put_nowait(String::from("left")).unwrap();
        queue.shutdown(false);
        let shut = queue.put_nowait(String::from("late")).unwrap_err();
        assert_eq!(shut, PutNowaitError::ShutDown(String::from("late")));
        assert!(shut.to_string().contains("QueueShutDown"), "{shut}");
        // After a shutdown, what is left is still handed out; then the error says so.
        assert_eq!(queue.get_nowait().as_deref(), Ok("left"));
        assert_eq!(queue.get_nowait(), Err(GetNowaitError::ShutDown));
    });
}

#[test]
fn join_waits_for_exactly_the_outstanding_items() {
    deadline(BUDGET, || {
        let lp = new_loop();
        let queue = Queue::new(0);
        let (counter, waker) = CountingWaker::new();
        // Nothing outstanding: join returns at once.
        assert!(poll_once(&mut queue.join(), &waker).is_ready());

        for n in 0..3 {
            queue.put_nowait(n).unwrap();
        }
        let joined = Rc::new(Cell::new(false));
        let joiner = lp.spawn({
            let (queue, joined) = (queue.clone(), joined.clone());
            async move {
                queue.join().await;
                joined.set(true);
            }
        });
        lp.run_until_complete({
            let queue = queue.clone();
            let joined = joined.clone();
            async move {
                for n in 0..3 {
                    assert_eq!(queue.get().await, Ok(n));
                    settle(2).await;
                    assert!(!joined.get(), "join returned with {} outstanding", 3 - n);
                    queue.task_done().unwrap();
                }
                joiner.await.unwrap();
            }
        })
        .unwrap();
        assert!(joined.get());
        let error = queue.task_done().unwrap_err();
        assert_eq!(error, TaskDoneTooManyTimes);
        assert!(error
            .to_string()
            .contains("task_done() called too many times"));
        assert!(error.to_string().contains("fix:"));

        // A joiner woken by the last task_done completes even if an item is put before it
        // runs; a new join then waits for that item.
        queue.put_nowait(9).unwrap();
        let mut first = queue.join();
        assert!(poll_once(&mut first, &waker).is_pending());
        queue.task_done().unwrap();
        assert_eq!(counter.count(), 1);
        queue.put_nowait(10).unwrap();
        assert!(poll_once(&mut first, &waker).is_ready());
        assert!(poll_once(&mut queue.join(), &waker).is_pending());
        lp.close().unwrap();
    });
}

#[test]
fn shutdown_refuses_putters_fails_getters_and_serves_what_is_left() {
    deadline(BUDGET, || {
        let lp = new_loop();
        let queue = Queue::new(1);
        queue.put_nowait(1).unwrap();
        let putters: Vec<_> = [2, 3]
            .into_iter()
            .map(|n| {
                let queue = queue.clone();
                lp.spawn(async move { queue.put(n).await })
            })
            .collect();
        let empty = Queue::<u32>::new(0);
        let getters: Vec<_> = (0..3)
            .map(|_| {
                let empty = empty.clone();
                lp.spawn(async move { empty.get().await })
            })
            .collect();
        lp.run_until_complete({
            let queue = queue.clone();
            async move {
                settle(2).await; // everyone waits
                queue.shutdown(false);
                empty.shutdown(false);
                for (putter, n) in putters.into_iter().zip([2, 3]) {
                    assert_eq!(putter.await.unwrap(), Err(QueueShutDown(n)));
                }
                for getter in getters {
                    assert_eq!(getter.await.unwrap(), Err(QueueShutDown(())));
                }
                // What was queued is still handed out, and join waits for its task_done.
                assert_eq!(queue.qsize(), 1);
                assert_eq!(queue.put(4).await, Err(QueueShutDown(4)));
                assert_eq!(queue.get().await, Ok(1));
                assert_eq!(queue.get().await, Err(QueueShutDown(())));
                let (counter, waker) = CountingWaker::new();
                let mut join = queue.join();
                assert!(poll_once(&mut join, &waker).is_pending());
                queue.task_done().unwrap();
                assert_eq!(counter.count(), 1);
                assert!(poll_once(&mut join, &waker).is_ready());
            }
        })
        .unwrap();
        lp.close().unwrap();
    });
}

#[test]
fn shutdown_immediate_drops_the_items_counts_them_done_and_wakes_everyone() {
    deadline(BUDGET, || {
        let lp = new_loop();
        let dropped = Rc::new(RefCell::new(Vec::new()));
        let item = |id| Tracked(id, dropped.clone());
        let queue = Queue::new(2);
        queue.put_nowait(item(0)).unwrap();
        queue.put_nowait(item(1)).unwrap();
        let putter = lp.spawn({
            let (queue, blocked) = (queue.clone(), item(2));
            async move { queue.put(blocked).await }
        });
        let joiner = lp.spawn({
            let queue = queue.clone();
            async move { queue.join().await }
        });
        let empty = Queue::<u32>::new(0);
        let getter = lp.spawn({
            let empty = empty.clone();
            async move { empty.get().await }
        });
        lp.run_until_complete({
            let (queue, dropped) = (queue.clone(), dropped.clone());
            async move {
                settle(2).await; // the putter, the joiner and the getter wait
                queue.shutdown(true);
                empty.shutdown(true);
                assert_eq!(*dropped.borrow(), [0, 1], "drained at once");
                assert_eq!(queue.qsize(), 0);
                let refused = putter.await.unwrap().unwrap_err().into_inner();
                assert_eq!(
                    refused.0, 2,
                    "the putter's item is handed back, not dropped"
                );
                assert_eq!(*dropped.borrow(), [0, 1]);
                drop(refused);
                joiner.await.unwrap(); // the drained items count as done
                assert_eq!(getter.await.unwrap(), Err(QueueShutDown(())));
                assert!(queue.get().await.is_err());
                assert_eq!(queue.task_done(), Err(TaskDoneTooManyTimes));
            }
        })
        .unwrap();
        assert_eq!(*dropped.borrow(), [0, 1, 2]);

        // Items taken but not acknowledged stay outstanding after a drain.
        let queue = Queue::new(0);
        queue.put_nowait(1).unwrap();
        queue.put_nowait(2).unwrap();
        assert_eq!(queue.get_nowait(), Ok(1));
        queue.shutdown(true);
        let (_, waker) = CountingWaker::new();
        let mut join = queue.join();
        assert!(poll_once(&mut join, &waker).is_pending());
        queue.task_done().unwrap();
        assert!(poll_once(&mut join, &waker).is_ready());
        lp.close().unwrap();
    });
}

#[test]
fn getters_are_served_in_the_order_they_waited() {
    deadline(BUDGET, || {
        let lp = new_loop();
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
                settle(1).await;
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
        let lp = new_loop();
        let queue = Queue::new(0);
        let first = lp.spawn({
            let queue = queue.clone();
            async move { queue.get().await }
        });
        lp.run_until_complete(async move {
            settle(1).await;
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
            assert_eq!(poll_once(&mut late, &waker), std::task::Poll::Ready(Ok(2)));
        })
        .unwrap();
        lp.close().unwrap();
    });
}

#[test]
fn get_nowait_may_take_an_item_promised_to_a_woken_getter_which_then_waits_again() {
    deadline(BUDGET, || {
        let lp = new_loop();
        let queue = Queue::new(0);
        let getter = lp.spawn({
            let queue = queue.clone();
            async move { queue.get().await }
        });
        lp.run_until_complete(async move {
            settle(1).await;
            queue.put_nowait(1).unwrap(); // wakes the getter
            assert_eq!(queue.get_nowait(), Ok(1)); // as in asyncio: the queue was not empty
            settle(3).await;
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
        let lp = new_loop();
        let queue = Queue::new(0);
        let getters: Vec<_> = (0..4)
            .map(|_| {
                let queue = queue.clone();
                lp.spawn(async move { queue.get().await })
            })
            .collect();
        let [a, b, c, d] = <[_; 4]>::try_from(getters).unwrap();
        lp.run_until_complete(async move {
            settle(1).await; // all four wait
            assert!(b.cancel()); // cancelled while waiting: it just leaves
            settle(1).await;
            queue.put_nowait(7).unwrap(); // wakes `a`
            assert!(a.cancel()); // before `a` ran
            settle(3).await;
            assert_eq!(a.await, Err(evloop::TaskError::Cancelled));
            assert_eq!(b.await, Err(evloop::TaskError::Cancelled));
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
        let lp = new_loop();
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
                settle(1).await; // all three wait for room
                assert!(p3.cancel()); // while waiting: its item is dropped, nothing else
                settle(1).await;
                assert_eq!(*dropped.borrow(), [3]);
                let first = queue.get_nowait().unwrap(); // room: wakes p1
                assert_eq!(first.0, 0);
                assert!(p1.cancel()); // before p1 ran: the room goes to p2
                settle(3).await;
                assert_eq!(*dropped.borrow(), [3, 1]);
                assert_eq!(p2.await, Ok(true));
                assert_eq!(p1.await, Err(evloop::TaskError::Cancelled));
                assert_eq!(p3.await, Err(evloop::TaskError::Cancelled));
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

#[test]
fn producers_and_consumers_pass_every_item_exactly_once_in_order() {
    const PRODUCERS: u32 = 3;
    const CONSUMERS: usize = 3;
    const ITEMS: u32 = 100;
    const MAXSIZE: usize = 4;
    deadline(BUDGET, || {
        let lp = new_loop();
        let queue = Queue::new(MAXSIZE);
        // Every item taken, in the order taken: (consumer, (producer, n)).
        let taken = Rc::new(RefCell::new(Vec::new()));
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let queue = queue.clone();
                lp.spawn(async move {
                    for n in 0..ITEMS {
                        queue.put((p, n)).await.unwrap();
                        if n % 7 == p {
                            evloop::yield_now().await;
                        }
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|c| {
                let (queue, taken) = (queue.clone(), taken.clone());
                lp.spawn(async move {
                    while let Ok(item) = queue.get().await {
                        assert!(queue.qsize() <= MAXSIZE);
                        taken.borrow_mut().push((c, item));
                        if item.1 % 5 == 0 {
                            evloop::yield_now().await;
                        }
                        queue.task_done().unwrap();
                    }
                })
            })
            .collect();
        lp.run_until_complete({
            let queue = queue.clone();
            async move {
                for producer in producers {
                    producer.await.unwrap();
                }
                queue.join().await;
                queue.shutdown(false);
                for consumer in consumers {
                    consumer.await.unwrap();
                }
            }
        })
        .unwrap();
        let taken = taken.borrow();
        assert_eq!(taken.len(), (PRODUCERS * ITEMS) as usize);
        for p in 0..PRODUCERS {
            let from_p: Vec<u32> = taken
                .iter()
                .filter(|(_, item)| item.0 == p)
                .map(|(_, item)| item.1)
                .collect();
            assert_eq!(from_p, (0..ITEMS).collect::<Vec<_>>(), "producer {p}");
        }
        for c in 0..CONSUMERS {
            assert!(
                taken.iter().any(|(by, _)| *by == c),
                "consumer {c} took nothing"
            );
        }
        assert_eq!(queue.task_done(), Err(TaskDoneTooManyTimes));
        lp.close().unwrap();
    });
}
