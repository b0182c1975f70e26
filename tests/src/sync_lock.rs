//! `Lock` (its `Condition` is in `sync_condition.rs`).
//!
//! - At most one task is inside at a time, and the lock goes to waiters in arrival order.
//! - A waiter cancelled while waiting leaves the queue; one cancelled after it was handed the
//!   lock (before it ran) hands it on; a holder cancelled mid-section releases it (guard drop).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use evloop::{Lock, LockGuard, Task, TaskError};

use crate::util::{on_virtual_loop, outcomes, settle, Occupancy};

/// Tasks that each take the lock, log their id, and keep the guard until the test releases
/// it.
#[derive(Default)]
struct Lockers {
    /// The ids, in the order their task got the lock.
    log: Rc<RefCell<Vec<usize>>>,
    /// The guard held, if any (a second one at once fails the task).
    held: Rc<RefCell<Option<LockGuard>>>,
}

impl Lockers {
    /// Spawns a task that takes `lock`, logs `id`, and keeps the guard.
    fn spawn(&self, lock: &Lock, id: usize) -> Task<()> {
        let (lock, log, held) = (lock.clone(), self.log.clone(), self.held.clone());
        evloop::spawn(async move {
            let guard = lock.acquire().await;
            log.borrow_mut().push(id);
            assert!(
                held.borrow_mut().replace(guard).is_none(),
                "two guards at once"
            );
        })
    }

    /// The ids logged so far.
    fn log(&self) -> Vec<usize> {
        self.log.borrow().clone()
    }

    /// Releases the guard held, if any; whether there was one.
    fn release(&self) -> bool {
        let guard = self.held.take();
        guard.is_some()
    }
}

#[test]
fn one_task_at_a_time_inside_the_lock() {
    let (peak, entries) = on_virtual_loop(|| async {
        let lock = Lock::new();
        let occupancy = Occupancy::default();
        let tasks: Vec<_> = (0..10u64)
            .map(|i| {
                let (lock, occupancy) = (lock.clone(), occupancy.clone());
                evloop::spawn(async move {
                    for _ in 0..3 {
                        let _guard = lock.acquire().await;
                        let _inside = occupancy.enter();
                        evloop::sleep(Duration::from_millis(1 + i % 3)).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert!(!lock.locked());
        (occupancy.peak(), occupancy.entries())
    });
    assert_eq!((peak, entries), (1, 30));
}

#[test]
fn the_lock_goes_to_waiters_in_arrival_order() {
    let log = on_virtual_loop(|| async {
        let lock = Lock::new();
        let lockers = Lockers::default();
        let first = lock.try_acquire().unwrap();
        let tasks: Vec<_> = (0..5).map(|i| lockers.spawn(&lock, i)).collect();
        settle().await;
        drop(first);
        assert!(lock.locked(), "handed to the first waiter");
        assert!(
            lock.try_acquire().is_none(),
            "try_acquire barged past a waiter"
        );
        for _ in 0..5 {
            settle().await;
            assert!(lockers.release(), "a waiter got the lock");
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert!(!lock.locked());
        lockers.log()
    });
    assert_eq!(log, [0, 1, 2, 3, 4]);
}

#[test]
fn lock_waiters_cancelled_before_and_after_being_chosen_lose_nothing() {
    let (log, outcomes) = on_virtual_loop(|| async {
        let lock = Lock::new();
        let lockers = Lockers::default();
        let first = lock.try_acquire().unwrap();
        let tasks: Vec<_> = (0..4).map(|i| lockers.spawn(&lock, i)).collect();
        settle().await;
        tasks[1].cancel(); // while waiting
        settle().await;
        drop(first); // handed to task 0 ...
        tasks[0].cancel(); // ... which is cancelled before it runs
        settle().await;
        assert_eq!(lockers.log(), [2], "the lock was not handed on");
        assert!(lockers.release(), "task 2 holds the lock");
        settle().await;
        assert!(lockers.release(), "task 3 holds the lock");
        assert!(!lock.locked(), "the lock is stranded");
        (lockers.log(), outcomes(tasks).await)
    });
    assert_eq!(log, [2, 3]);
    assert_eq!(
        outcomes,
        [
            Err(TaskError::Cancelled),
            Err(TaskError::Cancelled),
            Ok(()),
            Ok(())
        ]
    );
}

#[test]
fn dropping_the_guard_releases_even_when_the_holder_is_cancelled() {
    on_virtual_loop(|| async {
        let lock = Lock::new();
        let guard = lock.acquire().await;
        assert!(lock.locked());
        drop(guard);
        assert!(!lock.locked());

        let holder = evloop::spawn({
            let lock = lock.clone();
            async move {
                let _guard = lock.acquire().await;
                evloop::sleep(Duration::from_secs(3600)).await;
            }
        });
        settle().await;
        assert!(lock.locked());
        let lockers = Lockers::default();
        let next = lockers.spawn(&lock, 7);
        settle().await;
        assert!(lockers.log().is_empty());
        holder.cancel();
        settle().await;
        next.await.unwrap();
        assert_eq!(lockers.log(), [7]);
        assert!(lockers.release());
        assert!(!lock.locked());
    });
}
