//! `Condition`.
//!
//! - `notify(n)` wakes the `n` oldest waiters, `notify_all` every current one, and each
//!   `wait` returns with the lock held again (waiters take turns on it).
//! - `wait_for` checks its predicate first and after every wake-up, under the lock.
//! - A waiter notified and then cancelled (before it ran, or while re-acquiring the lock)
//!   passes the notification on; one cancelled while waiting is skipped by `notify`.
//! - `notify`/`wait` with another lock's guard panic; a `wait` dropped before its first poll
//!   releases the lock; several conditions can share one lock.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use evloop::{Condition, Lock, Task, TaskError};

use crate::sync_semaphore::{settle, virtual_loop};
use crate::util::{deadline, BUDGET};

/// Spawns a task that takes the condition's lock, waits once, then logs `id` with whether it
/// held the lock on return, and releases it.
fn spawn_waiter(cond: &Condition, id: usize, log: &Rc<RefCell<Vec<(usize, bool)>>>) -> Task<()> {
    let (cond, log) = (cond.clone(), log.clone());
    evloop::spawn(async move {
        let guard = cond.acquire().await;
        let guard = cond.wait(guard).await;
        let holds = cond.locked() && cond.try_acquire().is_none();
        log.borrow_mut().push((id, holds));
        drop(guard);
    })
}

/// The ids in a waiter log, each checked to have held the lock when `wait` returned.
fn ids(log: &RefCell<Vec<(usize, bool)>>) -> Vec<usize> {
    log.borrow()
        .iter()
        .map(|&(id, holds)| {
            assert!(holds, "waiter {id} returned from wait without the lock");
            id
        })
        .collect()
}

#[test]
fn notify_wakes_the_oldest_waiters_and_notify_all_the_rest() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        lp.run_until_complete(async {
            let cond = Condition::new();
            let log = Rc::new(RefCell::new(Vec::new()));
            let tasks: Vec<_> = (0..6).map(|i| spawn_waiter(&cond, i, &log)).collect();
            settle().await;
            assert!(!cond.locked(), "every waiter released the lock");

            let guard = cond.acquire().await;
            cond.notify(&guard, 1);
            settle().await;
            assert!(ids(&log).is_empty(), "woke without the lock");
            drop(guard);
            settle().await;
            assert_eq!(ids(&log), [0]);

            let guard = cond.acquire().await;
            cond.notify(&guard, 2);
            drop(guard);
            settle().await;
            assert_eq!(ids(&log), [0, 1, 2]);

            let guard = cond.acquire().await;
            cond.notify_all(&guard);
            drop(guard);
            settle().await;
            assert_eq!(ids(&log), [0, 1, 2, 3, 4, 5]);
            for task in tasks {
                task.await.unwrap();
            }
            // Nobody waits: notifying is a no-op.
            let guard = cond.acquire().await;
            cond.notify(&guard, 3);
            cond.notify_all(&guard);
        })
        .unwrap();
        lp.close().unwrap();
    });
}

#[test]
fn wait_for_checks_its_predicate_under_the_lock_until_it_holds() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        lp.run_until_complete(async {
            let cond = Condition::new();
            let value = Rc::new(Cell::new(0));
            let checks = Rc::new(RefCell::new(Vec::new()));
            let waiter = evloop::spawn({
                let (cond, value, checks) = (cond.clone(), value.clone(), checks.clone());
                async move {
                    let guard = cond.acquire().await;
                    let predicate = || {
                        checks.borrow_mut().push((value.get(), cond.locked()));
                        value.get() >= 3
                    };
                    let _guard = cond.wait_for(guard, predicate).await;
                    value.get()
                }
            });
            settle().await;
            for v in 1..=3 {
                let guard = cond.acquire().await;
                value.set(v);
                cond.notify_all(&guard);
                drop(guard);
                settle().await;
            }
            assert_eq!(waiter.await, Ok(3));
            assert_eq!(
                *checks.borrow(),
                [(0, true), (1, true), (2, true), (3, true)]
            );
        })
        .unwrap();
        lp.close().unwrap();
    });
}

#[test]
fn a_notified_waiter_cancelled_before_it_runs_passes_the_notification_on() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        lp.run_until_complete(async {
            let cond = Condition::new();
            let log = Rc::new(RefCell::new(Vec::new()));
            let tasks: Vec<_> = (0..3).map(|i| spawn_waiter(&cond, i, &log)).collect();
            settle().await;
            let guard = cond.acquire().await;
            cond.notify(&guard, 1); // chooses waiter 0 ...
            tasks[0].cancel(); // ... which never runs again
            drop(guard);
            settle().await;
            assert_eq!(ids(&log), [1], "the notification was lost");
            assert!(!cond.locked());
            let guard = cond.acquire().await;
            cond.notify_all(&guard);
            drop(guard);
            settle().await;
            assert_eq!(ids(&log), [1, 2]);
            let mut outcomes = Vec::new();
            for task in tasks {
                outcomes.push(task.await);
            }
            assert_eq!(outcomes, [Err(TaskError::Cancelled), Ok(()), Ok(())]);
        })
        .unwrap();
        lp.close().unwrap();
    });
}

#[test]
fn a_waiter_cancelled_while_reacquiring_the_lock_passes_both_on() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        lp.run_until_complete(async {
            let cond = Condition::new();
            let log = Rc::new(RefCell::new(Vec::new()));
            let tasks: Vec<_> = (0..3).map(|i| spawn_waiter(&cond, i, &log)).collect();
            settle().await;
            let guard = cond.acquire().await;
            cond.notify(&guard, 1);
            settle().await; // waiter 0 runs and queues for the lock, which we hold
            tasks[0].cancel();
            settle().await; // waiter 1 is notified in its place, and queues for the lock
            assert!(ids(&log).is_empty());
            drop(guard);
            settle().await;
            assert_eq!(ids(&log), [1]);
            assert!(!cond.locked(), "the lock is stranded");

            // Cancelled after the lock was handed to it, too: both go on to waiter 2.
            let guard = cond.acquire().await;
            cond.notify(&guard, 1);
            settle().await; // waiter 2 queues for the lock
            drop(guard); // the lock is handed to waiter 2 ...
            tasks[2].cancel(); // ... cancelled before it runs
            settle().await;
            assert!(!cond.locked(), "the lock is stranded");
            let outcomes = [
                tasks[0].is_cancelled(),
                tasks[1].is_done() && !tasks[1].is_cancelled(),
                tasks[2].is_cancelled(),
            ];
            assert_eq!(outcomes, [true, true, true]);
        })
        .unwrap();
        lp.close().unwrap();
    });
}

#[test]
fn a_waiter_cancelled_while_waiting_is_skipped_by_notify() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        lp.run_until_complete(async {
            let cond = Condition::new();
            let log = Rc::new(RefCell::new(Vec::new()));
            let tasks: Vec<_> = (0..3).map(|i| spawn_waiter(&cond, i, &log)).collect();
            settle().await;
            tasks[0].cancel();
            settle().await;
            let guard = cond.acquire().await;
            cond.notify(&guard, 1);
            drop(guard);
            settle().await;
            assert_eq!(ids(&log), [1]);
        })
        .unwrap();
        lp.close().unwrap();
    });
}

#[test]
fn dropping_a_wait_before_its_first_poll_releases_the_lock() {
    deadline(BUDGET, || {
        let cond = Condition::new();
        let guard = cond.try_acquire().unwrap();
        let wait = cond.wait(guard);
        assert!(
            cond.locked(),
            "the lock is released at the first poll, not before"
        );
        drop(wait);
        assert!(!cond.locked());
    });
}

#[test]
fn conditions_can_share_one_lock() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        lp.run_until_complete(async {
            let lock = Lock::new();
            let (a, b) = (
                Condition::with_lock(lock.clone()),
                Condition::with_lock(lock.clone()),
            );
            let log = Rc::new(RefCell::new(Vec::new()));
            let on_a = spawn_waiter(&a, 0, &log);
            let on_b = spawn_waiter(&b, 1, &log);
            settle().await;
            let guard = lock.acquire().await;
            b.notify_all(&guard); // a guard of the shared lock serves both conditions
            drop(guard);
            settle().await;
            assert_eq!(ids(&log), [1]);
            let guard = a.acquire().await;
            a.notify(&guard, 1);
            drop(guard);
            on_a.await.unwrap();
            on_b.await.unwrap();
            assert_eq!(ids(&log), [1, 0]);
        })
        .unwrap();
        lp.close().unwrap();
    });
}

#[test]
#[should_panic(expected = "Condition::notify: the guard belongs to another Lock")]
fn notify_with_another_locks_guard_panics() {
    deadline(BUDGET, || {
        let cond = Condition::new();
        let other = Lock::new();
        let guard = other.try_acquire().unwrap();
        cond.notify(&guard, 1);
    });
}

#[test]
#[should_panic(expected = "Condition::wait: the guard belongs to another Lock")]
fn wait_with_another_locks_guard_panics() {
    deadline(BUDGET, || {
        let cond = Condition::new();
        let guard = Lock::new().try_acquire().unwrap();
        drop(cond.wait(guard));
    });
}
