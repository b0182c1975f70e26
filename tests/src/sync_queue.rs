//! `Queue`, `LifoQueue` and `PriorityQueue` (asyncio's queues, with Python 3.13's shutdown).
//!
//! - Orders: FIFO; LIFO; priority, smallest first and ties in arrival order.
//! - `put` waits while the queue is full; `put_nowait`/`get_nowait` refuse with named errors
//!   and hand a refused item back.
//! - `task_done`/`join`: `join` waits for exactly the outstanding count; one `task_done` too
//!   many is an error.
//! - `shutdown(false)` and `shutdown(true)`: putters, getters, the items left, and `join`.
//! - Several producers and consumers: every item arrives exactly once, in order per producer.
//!
//! Fairness and cancellation are in `sync_queue_waiters.rs`.

use std::cell::{Cell, RefCell};
use std::cmp::Ordering;
use std::rc::Rc;

use evloop::{
    GetNowaitError, LifoQueue, PriorityQueue, PutNowaitError, Queue, QueueShutDown,
    TaskDoneTooManyTimes,
};

use crate::util::{deadline, poll_once, settle_for, virtual_loop, CountingWaker, BUDGET};

/// An item that logs its id when dropped.
#[derive(Debug)]
pub(crate) struct Tracked(pub(crate) u32, pub(crate) Rc<RefCell<Vec<u32>>>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.1.borrow_mut().push(self.0);
    }
}

#[test]
fn items_come_out_in_fifo_order() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
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
        let lp = virtual_loop();
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
                settle_for(3).await;
                assert_eq!(*put_log.borrow(), [0, 1], "the third put waits");
                assert!(queue.full());
                for (taken, expected_puts) in [(0, 3), (1, 4), (2, 5)] {
                    assert_eq!(queue.get().await, Ok(taken));
                    settle_for(3).await;
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
        let lp = virtual_loop();
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
                    settle_for(2).await;
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
        let lp = virtual_loop();
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
                settle_for(2).await; // everyone waits
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
        let lp = virtual_loop();
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
                settle_for(2).await; // the putter, the joiner and the getter wait
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
fn producers_and_consumers_pass_every_item_exactly_once_in_order() {
    const PRODUCERS: u32 = 3;
    const CONSUMERS: usize = 3;
    const ITEMS: u32 = 100;
    const MAXSIZE: usize = 4;
    deadline(BUDGET, || {
        let lp = virtual_loop();
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
