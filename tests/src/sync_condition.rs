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

use crate::util::{deadline, on_virtual_loop, outcomes, settle, BUDGET};

/// Tasks that each take a condition's lock, wait once, then log their id with whether they
/// held the lock on return, and release it.
#[derive(Default)]
struct Waiters {
    /// `(id, held the lock)`, in the order the waiters returned from `wait`.
    log: Rc<RefCell<Vec<(usize, bool)>>>,
}

impl Waiters {
    /// Spawns a waiter on `cond` that logs `id`.
    fn spawn(&self, cond: &Condition, id: usize) -> Task<()> {
        let (cond, log) = (cond.clone(), self.log.clone());
        evloop::spawn(async move {
            let guard = cond.acquire().await;
            let guard = cond.wait(guard).await;
            let holds = cond.locked() && cond.try_acquire().is_none();
            log.borrow_mut().push((id, holds));
            drop(guard);
        })
    }

    /// The ids logged so far, each checked to have held the lock when `wait` returned.
    fn ids(&self) -> Vec<usize> {
        self.log
            .borrow()
            .iter()
            .map(|&(id, holds)| {
                assert!(holds, "waiter {id} returned from wait without the lock");
                id
            })
            .collect()
    }
}

/// A fresh condition with `n` waiters (ids `0..n`, in that order) parked on it.
async fn parked(n: usize) -> (Condition, Waiters, Vec<Task<()>>) {
    let cond = Condition::new();
    let waiters = Waiters::default();
    let tasks = (0..n).map(|id| waiters.spawn(&cond, id)).collect();
    settle().await;
    (cond, waiters, tasks)
}

/// Takes the lock, notifies `n` waiters, releases the lock and lets them run.
async fn notify(cond: &Condition, n: usize) {
    let guard = cond.acquire().await;
    cond.notify(&guard, n);
    drop(guard);
    settle().await;
}

/// Takes the lock, notifies every waiter, releases the lock and lets them run.
async fn notify_all(cond: &Condition) {
    let guard = cond.acquire().await;
    cond.notify_all(&guard);
    drop(guard);
    settle().await;
}

#[test]
fn notify_wakes_the_oldest_waiters_and_notify_all_the_rest() {
    on_virtual_loop(|| async {
        let (cond, waiters, tasks) = parked(6).await;
        assert!(!cond.locked(), "every waiter released the lock");

        let guard = cond.acquire().await;
        cond.notify(&guard, 1);
        settle().await;
        assert!(waiters.ids().is_empty(), "woke without the lock");
        drop(guard);
        settle().await;
        assert_eq!(waiters.ids(), [0]);

        notify(&cond, 2).await;
        assert_eq!(waiters.ids(), [0, 1, 2]);

        notify_all(&cond).await;
        assert_eq!(waiters.ids(), [0, 1, 2, 3, 4, 5]);
        for task in tasks {
            task.await.unwrap();
        }
        // Nobody waits: notifying is a no-op.
        let guard = cond.acquire().await;
        cond.notify(&guard, 3);
        cond.notify_all(&guard);
    });
}

#[test]
fn wait_for_checks_its_predicate_under_the_lock_until_it_holds() {
    on_virtual_loop(|| async {
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
    });
}

#[test]
fn a_notified_waiter_cancelled_before_it_runs_passes_the_notification_on() {
    on_virtual_loop(|| async {
        let (cond, waiters, tasks) = parked(3).await;
        let guard = cond.acquire().await;
        cond.notify(&guard, 1); // chooses waiter 0 ...
        tasks[0].cancel(); // ... which never runs again
        drop(guard);
        settle().await;
        assert_eq!(waiters.ids(), [1], "the notification was lost");
        assert!(!cond.locked());
        notify_all(&cond).await;
        assert_eq!(waiters.ids(), [1, 2]);
        assert_eq!(
            outcomes(tasks).await,
            [Err(TaskError::Cancelled), Ok(()), Ok(())]
        );
    });
}

#[test]
fn a_waiter_cancelled_while_reacquiring_the_lock_passes_both_on() {
    on_virtual_loop(|| async {
        let (cond, waiters, tasks) = parked(3).await;
        let guard = cond.acquire().await;
        cond.notify(&guard, 1);
        settle().await; // waiter 0 runs and queues for the lock, which we hold
        tasks[0].cancel();
        settle().await; // waiter 1 is notified in its place, and queues for the lock
        assert!(waiters.ids().is_empty());
        drop(guard);
        settle().await;
        assert_eq!(waiters.ids(), [1]);
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
    });
}

#[test]
fn a_waiter_cancelled_while_waiting_is_skipped_by_notify() {
    on_virtual_loop(|| async {
        let (cond, waiters, tasks) = parked(3).await;
        tasks[0].cancel();
        settle().await;
        notify(&cond, 1).await;
        assert_eq!(waiters.ids(), [1]);
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
    on_virtual_loop(|| async {
        let lock = Lock::new();
        let (a, b) = (
            Condition::with_lock(lock.clone()),
            Condition::with_lock(lock.clone()),
        );
        let waiters = Waiters::default();
        let on_a = waiters.spawn(&a, 0);
        let on_b = waiters.spawn(&b, 1);
        settle().await;
        let guard = lock.acquire().await;
        b.notify_all(&guard); // a guard of the shared lock serves both conditions
        drop(guard);
        settle().await;
        assert_eq!(waiters.ids(), [1]);
        let guard = a.acquire().await;
        a.notify(&guard, 1);
        drop(guard);
        on_a.await.unwrap();
        on_b.await.unwrap();
        assert_eq!(waiters.ids(), [1, 0]);
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
