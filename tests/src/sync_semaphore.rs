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

use evloop::{BoundedSemaphore, EventLoop, Semaphore, Task, TaskError, TooManyReleases};

use crate::util::{deadline, BUDGET};

/// A loop on the virtual clock.
pub(crate) fn virtual_loop() -> EventLoop {
    EventLoop::builder().virtual_clock(true).build().unwrap()
}

/// Lets the loop run 8 iterations: enough for every hand-off chain these tests build.
pub(crate) async fn settle() {
    for _ in 0..8 {
        evloop::yield_now().await;
    }
}

/// Spawns a task that acquires `sem`, logs `id`, and keeps the permit in `held`.
fn spawn_holder(
    sem: &Semaphore,
    id: usize,
    log: &Rc<RefCell<Vec<usize>>>,
    held: &Rc<RefCell<Vec<evloop::SemaphorePermit>>>,
) -> Task<()> {
    let (sem, log, held) = (sem.clone(), log.clone(), held.clone());
    evloop::spawn(async move {
        let permit = sem.acquire().await;
        log.borrow_mut().push(id);
        held.borrow_mut().push(permit);
    })
}

#[test]
fn peak_concurrency_equals_the_bound_exactly() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let (peak, finished) = lp
            .run_until_complete(async {
                let sem = Semaphore::new(3);
                let running = Rc::new(Cell::new(0usize));
                let peak = Rc::new(Cell::new(0usize));
                let tasks: Vec<_> = (0..20u64)
                    .map(|i| {
                        let (sem, running, peak) = (sem.clone(), running.clone(), peak.clone());
                        evloop::spawn(async move {
                            let _permit = sem.acquire().await;
                            running.set(running.get() + 1);
                            peak.set(peak.get().max(running.get()));
                            evloop::sleep(Duration::from_millis(1 + i % 4)).await;
                            running.set(running.get() - 1);
                        })
                    })
                    .collect();
                let mut finished = 0;
                for task in tasks {
                    task.await.unwrap();
                    finished += 1;
                }
                assert_eq!(sem.available_permits(), 3);
                (peak.get(), finished)
            })
            .unwrap();
        assert_eq!((peak, finished), (3, 20));
        lp.close().unwrap();
    });
}

#[test]
fn a_bounded_semaphore_bounds_concurrency_the_same_way() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let peak = lp
            .run_until_complete(async {
                let sem = BoundedSemaphore::new(2);
                let running = Rc::new(Cell::new(0usize));
                let peak = Rc::new(Cell::new(0usize));
                let tasks: Vec<_> = (0..10)
                    .map(|_| {
                        let (sem, running, peak) = (sem.clone(), running.clone(), peak.clone());
                        evloop::spawn(async move {
                            let _permit = sem.acquire().await;
                            running.set(running.get() + 1);
                            peak.set(peak.get().max(running.get()));
                            evloop::sleep(Duration::from_millis(5)).await;
                            running.set(running.get() - 1);
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
                assert_eq!(sem.available_permits(), 2);
                assert_eq!(sem.release(), Err(TooManyReleases { bound: 2 }));
                peak.get()
            })
            .unwrap();
        assert_eq!(peak, 2);
        lp.close().unwrap();
    });
}

#[test]
fn permits_go_to_waiters_in_arrival_order_and_late_arrivals_queue_behind() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let log = lp
            .run_until_complete(async {
                let sem = Semaphore::new(1);
                let log = Rc::new(RefCell::new(Vec::new()));
                let held = Rc::new(RefCell::new(Vec::new()));
                let first = sem.try_acquire().expect("free at first");
                let tasks: Vec<_> = (0..5).map(|i| spawn_holder(&sem, i, &log, &held)).collect();
                settle().await; // all five queue, in spawn order
                assert!(log.borrow().is_empty());
                drop(first); // handed to task 0, which has not run yet
                assert_eq!(sem.available_permits(), 0);
                assert!(
                    sem.try_acquire().is_none(),
                    "try_acquire barged past a waiter"
                );
                let late = spawn_holder(&sem, 5, &log, &held);
                settle().await;
                assert_eq!(*log.borrow(), [0]);
                // Give each permit back in turn: the next in line gets it.
                for _ in 0..5 {
                    let permit = held.borrow_mut().pop().expect("one held");
                    drop(permit);
                    settle().await;
                }
                for task in tasks.into_iter().chain([late]) {
                    task.await.unwrap();
                }
                held.borrow_mut().clear();
                assert_eq!(sem.available_permits(), 1);
                log.take()
            })
            .unwrap();
        assert_eq!(log, [0, 1, 2, 3, 4, 5]);
        lp.close().unwrap();
    });
}

#[test]
fn a_waiter_cancelled_while_waiting_leaves_the_queue() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let (log, outcome) = lp
            .run_until_complete(async {
                let sem = Semaphore::new(1);
                let log = Rc::new(RefCell::new(Vec::new()));
                let held = Rc::new(RefCell::new(Vec::new()));
                let first = sem.try_acquire().unwrap();
                let a = spawn_holder(&sem, 0, &log, &held);
                let b = spawn_holder(&sem, 1, &log, &held);
                let c = spawn_holder(&sem, 2, &log, &held);
                settle().await;
                assert!(b.cancel());
                settle().await; // b's future is dropped while it waits
                drop(first);
                settle().await;
                assert_eq!(*log.borrow(), [0]);
                drop(held.borrow_mut().pop());
                settle().await;
                a.await.unwrap();
                c.await.unwrap();
                drop(held.borrow_mut().pop());
                assert_eq!(sem.available_permits(), 1, "a permit was lost");
                (log.take(), b.await)
            })
            .unwrap();
        assert_eq!(log, [0, 2]);
        assert_eq!(outcome, Err(TaskError::Cancelled));
        lp.close().unwrap();
    });
}

#[test]
fn a_waiter_cancelled_after_it_was_handed_a_permit_hands_it_on() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let (log, outcomes) = lp
            .run_until_complete(async {
                let sem = Semaphore::new(2);
                let log = Rc::new(RefCell::new(Vec::new()));
                let held = Rc::new(RefCell::new(Vec::new()));
                let first = (sem.try_acquire().unwrap(), sem.try_acquire().unwrap());
                let tasks: Vec<_> = (0..4).map(|i| spawn_holder(&sem, i, &log, &held)).collect();
                settle().await;
                // Both permits go to tasks 0 and 1; both are cancelled before they run.
                drop(first);
                assert_eq!(sem.available_permits(), 0);
                assert!(tasks[0].cancel() && tasks[1].cancel());
                settle().await;
                assert_eq!(*log.borrow(), [2, 3], "the permits were not handed on");
                assert_eq!(sem.available_permits(), 0);
                held.borrow_mut().clear();
                assert_eq!(sem.available_permits(), 2, "a permit was lost");
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
fn a_granted_waiter_cancelled_with_nobody_behind_returns_the_permit_to_the_count() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        lp.run_until_complete(async {
            let sem = Semaphore::new(1);
            let log = Rc::new(RefCell::new(Vec::new()));
            let held = Rc::new(RefCell::new(Vec::new()));
            let first = sem.try_acquire().unwrap();
            let only = spawn_holder(&sem, 0, &log, &held);
            settle().await;
            drop(first);
            assert!(sem.locked(), "the permit is in flight to the waiter");
            only.cancel();
            settle().await;
            assert_eq!(sem.available_permits(), 1);
            assert!(log.borrow().is_empty());
            assert_eq!(only.await, Err(TaskError::Cancelled));
        })
        .unwrap();
        lp.close().unwrap();
    });
}

#[test]
fn try_acquire_refuses_while_waiters_queue() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        lp.run_until_complete(async {
            let sem = Semaphore::new(0);
            assert!(sem.locked() && sem.try_acquire().is_none());
            let log = Rc::new(RefCell::new(Vec::new()));
            let held = Rc::new(RefCell::new(Vec::new()));
            let waiter = spawn_holder(&sem, 0, &log, &held);
            settle().await;
            sem.release(); // straight to the waiter, never to the count
            assert_eq!(sem.available_permits(), 0);
            assert!(sem.try_acquire().is_none());
            settle().await;
            waiter.await.unwrap();
            assert_eq!(*log.borrow(), [0]);
            assert!(
                sem.try_acquire().is_none(),
                "the waiter holds the only permit"
            );
            held.borrow_mut().clear();
            assert!(sem.try_acquire().is_some());
        })
        .unwrap();
        lp.close().unwrap();
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
    deadline(BUDGET, || {
        let lp = virtual_loop();
        lp.run_until_complete(async {
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
        })
        .unwrap();
        lp.close().unwrap();
    });
}

#[test]
fn a_task_cancelled_while_holding_a_permit_gives_it_back() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let log = lp
            .run_until_complete(async {
                let sem = Semaphore::new(1);
                let log = Rc::new(RefCell::new(Vec::new()));
                let holder = evloop::spawn({
                    let sem = sem.clone();
                    async move {
                        let _permit = sem.acquire().await;
                        evloop::sleep(Duration::from_secs(3600)).await;
                    }
                });
                settle().await;
                let held = Rc::new(RefCell::new(Vec::new()));
                let next = spawn_holder(&sem, 1, &log, &held);
                settle().await;
                assert!(log.borrow().is_empty());
                holder.cancel();
                settle().await;
                next.await.unwrap();
                held.borrow_mut().clear();
                assert_eq!(sem.available_permits(), 1);
                log.take()
            })
            .unwrap();
        assert_eq!(log, [1]);
        lp.close().unwrap();
    });
}
