//! `Lock` (its `Condition` is in `sync_condition.rs`).
//!
//! - At most one task is inside at a time, and the lock goes to waiters in arrival order.
//! - A waiter cancelled while waiting leaves the queue; one cancelled after it was handed the
//!   lock (before it ran) hands it on; a holder cancelled mid-section releases it (guard drop).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use evloop::{Lock, LockGuard, Task, TaskError};

use crate::sync_semaphore::{settle, virtual_loop};
use crate::util::{deadline, BUDGET};

/// Spawns a task that takes `lock`, logs `id`, and keeps the guard in `held`.
fn spawn_locker(
    lock: &Lock,
    id: usize,
    log: &Rc<RefCell<Vec<usize>>>,
    held: &Rc<RefCell<Option<LockGuard>>>,
) -> Task<()> {
    let (lock, log, held) = (lock.clone(), log.clone(), held.clone());
    evloop::spawn(async move {
        let guard = lock.acquire().await;
        log.borrow_mut().push(id);
        assert!(
            held.borrow_mut().replace(guard).is_none(),
            "two guards at once"
        );
    })
}

#[test]
fn one_task_at_a_time_inside_the_lock() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let (peak, entries) = lp
            .run_until_complete(async {
                let lock = Lock::new();
                let inside = Rc::new(Cell::new(0usize));
                let peak = Rc::new(Cell::new(0usize));
                let entries = Rc::new(Cell::new(0usize));
                let tasks: Vec<_> = (0..10u64)
                    .map(|i| {
                        let (lock, inside, peak, entries) =
                            (lock.clone(), inside.clone(), peak.clone(), entries.clone());
                        evloop::spawn(async move {
                            for _ in 0..3 {
                                let _guard = lock.acquire().await;
                                inside.set(inside.get() + 1);
                                peak.set(peak.get().max(inside.get()));
                                entries.set(entries.get() + 1);
                                evloop::sleep(Duration::from_millis(1 + i % 3)).await;
                                inside.set(inside.get() - 1);
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
                assert!(!lock.locked());
                (peak.get(), entries.get())
            })
            .unwrap();
        assert_eq!((peak, entries), (1, 30));
        lp.close().unwrap();
    });
}

#[test]
fn the_lock_goes_to_waiters_in_arrival_order() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let log = lp
            .run_until_complete(async {
                let lock = Lock::new();
                let log = Rc::new(RefCell::new(Vec::new()));
                let held = Rc::new(RefCell::new(None));
                let first = lock.try_acquire().unwrap();
                let tasks: Vec<_> = (0..5)
                    .map(|i| spawn_locker(&lock, i, &log, &held))
                    .collect();
                settle().await;
                drop(first);
                assert!(lock.locked(), "handed to the first waiter");
                assert!(
                    lock.try_acquire().is_none(),
                    "try_acquire barged past a waiter"
                );
                for _ in 0..5 {
                    settle().await;
                    let guard = held.borrow_mut().take();
                    drop(guard.expect("a waiter got the lock"));
                }
                for task in tasks {
                    task.await.unwrap();
                }
                assert!(!lock.locked());
                log.take()
            })
            .unwrap();
        assert_eq!(log, [0, 1, 2, 3, 4]);
        lp.close().unwrap();
    });
}

#[test]
fn lock_waiters_cancelled_before_and_after_being_chosen_lose_nothing() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let (log, outcomes) = lp
            .run_until_complete(async {
                let lock = Lock::new();
                let log = Rc::new(RefCell::new(Vec::new()));
                let held = Rc::new(RefCell::new(None));
                let first = lock.try_acquire().unwrap();
                let tasks: Vec<_> = (0..4)
                    .map(|i| spawn_locker(&lock, i, &log, &held))
                    .collect();
                settle().await;
                tasks[1].cancel(); // while waiting
                settle().await;
                drop(first); // handed to task 0 ...
                tasks[0].cancel(); // ... which is cancelled before it runs
                settle().await;
                assert_eq!(*log.borrow(), [2], "the lock was not handed on");
                drop(held.borrow_mut().take());
                settle().await;
                drop(held.borrow_mut().take());
                assert!(!lock.locked(), "the lock is stranded");
                let mut outcomes = Vec::new();
                for task in tasks {
                    outcomes.push(task.await);
                }
                (log.take(), outcomes)
            })
            .unwrap();
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
        lp.close().unwrap();
    });
}

#[test]
fn dropping_the_guard_releases_even_when_the_holder_is_cancelled() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        lp.run_until_complete(async {
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
            let (log, held) = (
                Rc::new(RefCell::new(Vec::new())),
                Rc::new(RefCell::new(None)),
            );
            let next = spawn_locker(&lock, 7, &log, &held);
            settle().await;
            assert!(log.borrow().is_empty());
            holder.cancel();
            settle().await;
            next.await.unwrap();
            assert_eq!(*log.borrow(), [7]);
            drop(held.take());
            assert!(!lock.locked());
        })
        .unwrap();
        lp.close().unwrap();
    });
}
