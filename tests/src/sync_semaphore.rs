//! `Semaphore` and `BoundedSemaphore`: the bound, FIFO hand-off, cancellation, manual release.
//!
//! - With many tasks, the number holding a permit at once peaks at exactly the bound.
//! - Permits go to waiters in arrival order; after a release hands a permit to a waiter, a
//!   late arrival (task or `try_acquire`) cannot take it first.
//! - A waiter cancelled while waiting leaves the queue; a waiter cancelled after it was
//!   handed a permit (before it ran) hands the permit on; either way no permit is lost.
//! - `release()` grows a `Semaphore` past its initial value; a `BoundedSemaphore` refuses
//!   with `TooManyReleases` unless a permit was kept out with `forget`.
//!
//! Tests drive the loop from its main future and let queued work run with [`settle`].

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use evloop::{BoundedSemaphore, Semaphore, SemaphorePermit, Task, TaskError, TooManyReleases};

use crate::util::{deadline, on_virtual_loop, outcomes, settle, Occupancy, BUDGET};

/// Tasks that each take a permit, log their id, and keep the permit until the test releases
/// it.
#[derive(Default)]
struct Holders {
    /// The ids, in the order their task got a permit.
    log: Rc<RefCell<Vec<usize>>>,
    /// The permits held, the latest last.
    held: Rc<RefCell<Vec<SemaphorePermit>>>,
}

impl Holders {
    /// Spawns a task that acquires `sem`, logs `id`, and keeps the permit.
    fn spawn(&self, sem: &Semaphore, id: usize) -> Task<()> {
        let (sem, log, held) = (sem.clone(), self.log.clone(), self.held.clone());
        evloop::spawn(async move {
            let permit = sem.acquire().await;
            log.borrow_mut().push(id);
            held.borrow_mut().push(permit);
        })
    }

    /// The ids logged so far.
    fn log(&self) -> Vec<usize> {
        self.log.borrow().clone()
    }

    /// Releases the permit taken last.
    fn release_latest(&self) {
        let permit = self.held.borrow_mut().pop().expect("one held");
        drop(permit);
    }

    /// Releases every permit held.
    fn release_all(&self) {
        let permits = self.held.take();
        drop(permits);
    }
}

#[test]
fn peak_concurrency_equals_the_bound_exactly() {
    let (peak, finished) = on_virtual_loop(|| async {
        let sem = Semaphore::new(3);
        let occupancy = Occupancy::default();
        let tasks: Vec<_> = (0..20u64)
            .map(|i| {
                let (sem, occupancy) = (sem.clone(), occupancy.clone());
                evloop::spawn(async move {
                    let _permit = sem.acquire().await;
                    let _inside = occupancy.enter();
                    evloop::sleep(Duration::from_millis(1 + i % 4)).await;
                })
            })
            .collect();
        let mut finished = 0;
        for task in tasks {
            task.await.unwrap();
            finished += 1;
        }
        assert_eq!(sem.available_permits(), 3);
        (occupancy.peak(), finished)
    });
    assert_eq!((peak, finished), (3, 20));
}

#[test]
fn a_bounded_semaphore_bounds_concurrency_the_same_way() {
    let peak = on_virtual_loop(|| async {
        let sem = BoundedSemaphore::new(2);
        let occupancy = Occupancy::default();
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let (sem, occupancy) = (sem.clone(), occupancy.clone());
                evloop::spawn(async move {
                    let _permit = sem.acquire().await;
                    let _inside = occupancy.enter();
                    evloop::sleep(Duration::from_millis(5)).await;
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(sem.available_permits(), 2);
        assert_eq!(sem.release(), Err(TooManyReleases { bound: 2 }));
        occupancy.peak()
    });
    assert_eq!(peak, 2);
}

#[test]
fn permits_go_to_waiters_in_arrival_order_and_late_arrivals_queue_behind() {
    let log = on_virtual_loop(|| async {
        let sem = Semaphore::new(1);
        let holders = Holders::default();
        let first = sem.try_acquire().expect("free at first");
        let tasks: Vec<_> = (0..5).map(|i| holders.spawn(&sem, i)).collect();
        settle().await; // all five queue, in spawn order
        assert!(holders.log().is_empty());
        drop(first); // handed to task 0, which has not run yet
        assert_eq!(sem.available_permits(), 0);
        assert!(
            sem.try_acquire().is_none(),
            "try_acquire barged past a waiter"
        );
        let late = holders.spawn(&sem, 5);
        settle().await;
        assert_eq!(holders.log(), [0]);
        // Give each permit back in turn: the next in line gets it.
        for _ in 0..5 {
            holders.release_latest();
            settle().await;
        }
        for task in tasks.into_iter().chain([late]) {
            task.await.unwrap();
        }
        holders.release_all();
        assert_eq!(sem.available_permits(), 1);
        holders.log()
    });
    assert_eq!(log, [0, 1, 2, 3, 4, 5]);
}

#[test]
fn a_waiter_cancelled_while_waiting_leaves_the_queue() {
    let (log, outcome) = on_virtual_loop(|| async {
        let sem = Semaphore::new(1);
        let holders = Holders::default();
        let first = sem.try_acquire().unwrap();
        let a = holders.spawn(&sem, 0);
        let b = holders.spawn(&sem, 1);
        let c = holders.spawn(&sem, 2);
        settle().await;
        assert!(b.cancel());
        settle().await; // b's future is dropped while it waits
        drop(first);
        settle().await;
        assert_eq!(holders.log(), [0]);
        holders.release_latest();
        settle().await;
        a.await.unwrap();
        c.await.unwrap();
        holders.release_latest();
        assert_eq!(sem.available_permits(), 1, "a permit was lost");
        (holders.log(), b.await)
    });
    assert_eq!(log, [0, 2]);
    assert_eq!(outcome, Err(TaskError::Cancelled));
}

#[test]
fn a_waiter_cancelled_after_it_was_handed_a_permit_hands_it_on() {
    let (log, outcomes) = on_virtual_loop(|| async {
        let sem = Semaphore::new(2);
        let holders = Holders::default();
        let first = (sem.try_acquire().unwrap(), sem.try_acquire().unwrap());
        let tasks: Vec<_> = (0..4).map(|i| holders.spawn(&sem, i)).collect();
        settle().await;
        // Both permits go to tasks 0 and 1; both are cancelled before they run.
        drop(first);
        assert_eq!(sem.available_permits(), 0);
        assert!(tasks[0].cancel() && tasks[1].cancel());
        settle().await;
        assert_eq!(holders.log(), [2, 3], "the permits were not handed on");
        assert_eq!(sem.available_permits(), 0);
        holders.release_all();
        assert_eq!(sem.available_permits(), 2, "a permit was lost");
        (holders.log(), outcomes(tasks).await)
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
fn a_granted_waiter_cancelled_with_nobody_behind_returns_the_permit_to_the_count() {
    on_virtual_loop(|| async {
        let sem = Semaphore::new(1);
        let holders = Holders::default();
        let first = sem.try_acquire().unwrap();
        let only = holders.spawn(&sem, 0);
        settle().await;
        drop(first);
        assert!(sem.locked(), "the permit is in flight to the waiter");
        only.cancel();
        settle().await;
        assert_eq!(sem.available_permits(), 1);
        assert!(holders.log().is_empty());
        assert_eq!(only.await, Err(TaskError::Cancelled));
    });
}

#[test]
fn try_acquire_refuses_while_waiters_queue() {
    on_virtual_loop(|| async {
        let sem = Semaphore::new(0);
        assert!(sem.locked() && sem.try_acquire().is_none());
        let holders = Holders::default();
        let waiter = holders.spawn(&sem, 0);
        settle().await;
        sem.release(); // straight to the waiter, never to the count
        assert_eq!(sem.available_permits(), 0);
        assert!(sem.try_acquire().is_none());
        settle().await;
        waiter.await.unwrap();
        assert_eq!(holders.log(), [0]);
        assert!(
            sem.try_acquire().is_none(),
            "the waiter holds the only permit"
        );
        holders.release_all();
        assert!(sem.try_acquire().is_some());
    });
}

#[test]
fn release_grows_a_semaphore_but_a_bounded_one_refuses() {
    deadline(BUDGET, || {
        let sem = Semaphore::new(1);
        sem.release();
        sem.release();
        assert_eq!(sem.available_permits(), 3);

        let bounded = BoundedSemaphore::new(1);
        let err = bounded.release().unwrap_err();
        assert_eq!(err, TooManyReleases { bound: 1 });
        let text = err.to_string();
        assert!(
            text.contains("BoundedSemaphore released too many times") && text.contains("fix:"),
            "unhelpful message: {text}"
        );
        assert_eq!(
            bounded.available_permits(),
            1,
            "a refused release changed the count"
        );
        // A guard held meanwhile does not make a manual release legal.
        let _permit = bounded.try_acquire().unwrap();
        assert!(bounded.release().is_err());
        assert_eq!(bounded.available_permits(), 0);
    });
}

#[test]
fn forget_keeps_a_permit_out_until_a_manual_release() {
    on_virtual_loop(|| async {
        let sem = BoundedSemaphore::new(2);
        sem.acquire().await.forget();
        sem.acquire().await.forget();
        assert!(sem.locked());
        // A waiter gets the first permit released by hand, directly.
        let got = Rc::new(Cell::new(false));
        let waiter = evloop::spawn({
            let (sem, got) = (sem.clone(), got.clone());
            async move {
                let _permit = sem.acquire().await;
                got.set(true);
            }
        });
        settle().await;
        assert_eq!(sem.release(), Ok(()));
        assert_eq!(
            sem.available_permits(),
            0,
            "handed to the waiter, not the count"
        );
        settle().await;
        assert!(got.get());
        waiter.await.unwrap();
        assert_eq!(sem.available_permits(), 1);
        assert_eq!(sem.release(), Ok(()));
        assert_eq!(sem.available_permits(), 2);
        assert!(sem.release().is_err(), "both forgotten permits are back");
    });
}

#[test]
fn a_task_cancelled_while_holding_a_permit_gives_it_back() {
    let log = on_virtual_loop(|| async {
        let sem = Semaphore::new(1);
        let holder = evloop::spawn({
            let sem = sem.clone();
            async move {
                let _permit = sem.acquire().await;
                evloop::sleep(Duration::from_secs(3600)).await;
            }
        });
        settle().await;
        let holders = Holders::default();
        let next = holders.spawn(&sem, 1);
        settle().await;
        assert!(holders.log().is_empty());
        holder.cancel();
        settle().await;
        next.await.unwrap();
        holders.release_all();
        assert_eq!(sem.available_permits(), 1);
        holders.log()
    });
    assert_eq!(log, [1]);
}
