//! Timers: `call_later`, `call_at`, `TimerHandle`, `sleep` and `sleep_until`.
//!
//! - Timers run in deadline order, equal deadlines in scheduling order; a timer due exactly
//!   "now" runs; none runs before its deadline (checked against the real clock too).
//! - `call_later(Duration::MAX)` saturates instead of panicking.
//! - Cancellation and the purge of cancelled timers are in `timers_cancel.rs`.
//! - `sleep` / `sleep_until` end at or after their deadline; under the virtual clock a
//!   program of sleeps totalling hours finishes at once, with the clock advanced exactly.

use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use evloop::EventLoop;

use crate::util::{deadline, virtual_loop, BUDGET};

/// The number of entries in the loop's timer heap, dead ones included, read from its
/// `Debug` output (`timers: N`).
pub(crate) fn timers_in_heap(lp: &EventLoop) -> usize {
    let debug = format!("{lp:?}");
    let rest = debug
        .split("timers: ")
        .nth(1)
        .unwrap_or_else(|| panic!("no `timers: N` in {debug}"));
    rest.split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("no timer count in {debug}"))
}

#[test]
fn timers_run_in_deadline_order_at_their_deadline() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let start = lp.time();
        let log = Rc::new(RefCell::new(Vec::new()));
        for ms in [50u64, 10, 40, 0, 20, 30] {
            let (lp2, log2) = (lp.clone(), log.clone());
            lp.call_later(Duration::from_millis(ms), move || {
                log2.borrow_mut().push((ms, lp2.time() - start));
            });
        }
        lp.run_until_complete(evloop::sleep(Duration::from_millis(100)))
            .unwrap();
        let expected: Vec<_> = [0u64, 10, 20, 30, 40, 50]
            .iter()
            .map(|&ms| (ms, Duration::from_millis(ms)))
            .collect();
        assert_eq!(*log.borrow(), expected);
        assert_eq!(lp.time() - start, Duration::from_millis(100));
        lp.close().unwrap();
    });
}

#[test]
fn equal_deadlines_run_in_scheduling_order() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let when = lp.time() + Duration::from_millis(10);
        let log = Rc::new(RefCell::new(Vec::new()));
        for i in 0..5 {
            let log2 = log.clone();
            lp.call_at(when, move || log2.borrow_mut().push(format!("at {i}")));
            // An earlier and a later timer between them do not disturb the tie.
            let log3 = log.clone();
            lp.call_at(when + Duration::from_millis(1), move || {
                log3.borrow_mut().push(format!("later {i}"))
            });
        }
        // Scheduled 5 ms later for the same deadline: after the five above.
        let (lp2, log2) = (lp.clone(), log.clone());
        lp.call_later(Duration::from_millis(5), move || {
            let log3 = log2.clone();
            let timer = lp2.call_later(Duration::from_millis(5), move || {
                log3.borrow_mut().push("at, scheduled last".to_owned())
            });
            assert_eq!(timer.when(), when);
        });
        lp.run_until_complete(evloop::sleep(Duration::from_millis(20)))
            .unwrap();
        let expected: Vec<String> = (0..5)
            .map(|i| format!("at {i}"))
            .chain(["at, scheduled last".to_owned()])
            .chain((0..5).map(|i| format!("later {i}")))
            .collect();
        assert_eq!(*log.borrow(), expected);
        lp.close().unwrap();
    });
}

#[test]
fn a_timer_due_exactly_now_runs_without_moving_the_clock() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let now = lp.time();
        let ran = Rc::new(Cell::new(0));
        let ran2 = ran.clone();
        let timer = lp.call_at(now, move || ran2.set(ran2.get() + 1));
        assert_eq!(timer.when(), now);
        // A deadline in the past is just as due.
        let ran3 = ran.clone();
        lp.call_at(now - Duration::from_secs(1), move || {
            ran3.set(ran3.get() + 1)
        });
        // "This iteration or the next": two iterations.
        lp.run_until_complete(evloop::yield_now()).unwrap();
        assert_eq!(ran.get(), 2);
        assert_eq!(lp.time(), now);
        lp.close().unwrap();
    });
}

#[test]
fn timers_never_run_early_on_the_real_clock() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let fired = Rc::new(RefCell::new(Vec::new()));
        for ms in [1u64, 2, 3, 5, 8, 13] {
            let (lp2, fired2) = (lp.clone(), fired.clone());
            let when = Rc::new(Cell::new(None));
            let when2 = when.clone();
            let timer = lp.call_later(Duration::from_millis(ms), move || {
                fired2
                    .borrow_mut()
                    .push((ms, when2.get().unwrap(), lp2.time(), Instant::now()));
            });
            when.set(Some(timer.when()));
        }
        let start = Instant::now();
        lp.run_until_complete(evloop::sleep(Duration::from_millis(30)))
            .unwrap();
        let fired = fired.borrow();
        assert_eq!(fired.len(), 6, "every timer ran exactly once: {fired:?}");
        for (ms, when, loop_time, wall) in fired.iter() {
            assert!(
                loop_time >= when,
                "the {ms} ms timer ran early on the loop clock"
            );
            assert!(
                wall >= when,
                "the {ms} ms timer ran early on the wall clock"
            );
            assert!(
                *wall - start < Duration::from_secs(5),
                "the {ms} ms timer ran absurdly late"
            );
        }
        let order: Vec<_> = fired.iter().map(|entry| entry.0).collect();
        assert_eq!(order, [1, 2, 3, 5, 8, 13]);
        lp.close().unwrap();
    });
}

#[test]
fn call_later_with_a_huge_delay_saturates() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let ran = Rc::new(Cell::new(false));
        let ran2 = ran.clone();
        let timer = lp.call_later(Duration::MAX, move || ran2.set(true));
        let ten_years = Duration::from_secs(10 * 365 * 24 * 3600);
        assert!(timer.when() > lp.time() + ten_years);
        // The loop still runs shorter work and returns.
        lp.run_until_complete(evloop::sleep(Duration::from_millis(1)))
            .unwrap();
        assert!(!ran.get());
        assert!(timer.cancel());
        lp.close().unwrap();

        // On the virtual clock, neither a huge timer nor a huge sleep drags the clock along.
        let lp = virtual_loop();
        let start = lp.time();
        lp.call_later(Duration::MAX, || unreachable!("a saturated timer fired"));
        let sleeper = lp.spawn(evloop::sleep(Duration::MAX));
        lp.run_until_complete(evloop::sleep(Duration::from_secs(3600)))
            .unwrap();
        assert_eq!(lp.time() - start, Duration::from_secs(3600));
        assert!(!sleeper.is_done());
        lp.close().unwrap();
    });
}

#[test]
fn sleep_and_sleep_until_end_at_or_after_their_deadline_on_the_real_clock() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let (lp2, lp3) = (lp.clone(), lp.clone());
        let sleeper = lp.spawn(async move {
            let mut late = Vec::new();
            for ms in [1u64, 3, 7] {
                let start = lp2.time();
                evloop::sleep(Duration::from_millis(ms)).await;
                let (loop_now, wall_now) = (lp2.time(), Instant::now());
                assert!(
                    loop_now - start >= Duration::from_millis(ms),
                    "sleep({ms} ms) ended early"
                );
                assert!(wall_now - start >= Duration::from_millis(ms));
                late.push(loop_now - start);
            }
            late
        });
        let until = lp.run_until_complete(async move {
            let when = lp3.time() + Duration::from_millis(5);
            evloop::sleep_until(when).await;
            (when, lp3.time(), Instant::now())
        });
        let (when, loop_now, wall_now) = until.unwrap();
        assert!(
            loop_now >= when,
            "sleep_until ended early on the loop clock"
        );
        assert!(
            wall_now >= when,
            "sleep_until ended early on the wall clock"
        );
        let slept = lp.run_until_complete(sleeper).unwrap().unwrap();
        assert_eq!(slept.len(), 3);
        assert!(
            slept.iter().all(|d| *d < Duration::from_secs(5)),
            "{slept:?}"
        );
        lp.close().unwrap();
    });
}

#[test]
fn hours_of_virtual_sleeps_finish_at_once_with_the_clock_advanced_exactly() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let start = lp.time();
        let wall = Instant::now();
        let hour = Duration::from_secs(3600);
        let woke = Rc::new(RefCell::new(Vec::new()));
        let total = lp.run_until_complete(async {
            let lp = evloop::get_running_loop().unwrap();
            let (lp_a, woke_a) = (lp.clone(), woke.clone());
            let a = evloop::spawn(async move {
                evloop::sleep(hour).await;
                woke_a.borrow_mut().push(("a", lp_a.time() - start));
                evloop::sleep(2 * hour).await;
                woke_a.borrow_mut().push(("a", lp_a.time() - start));
            });
            let (lp_b, woke_b) = (lp.clone(), woke.clone());
            let b = evloop::spawn(async move {
                for _ in 0..4 {
                    evloop::sleep(hour / 2).await;
                    woke_b.borrow_mut().push(("b", lp_b.time() - start));
                }
            });
            a.await.unwrap();
            b.await.unwrap();
            evloop::sleep_until(start + 4 * hour).await;
            lp.time() - start
        });
        assert_eq!(total.unwrap(), 4 * hour);
        assert_eq!(lp.time() - start, 4 * hour);
        // At exactly 1 h both wake; "a" first, since it went to sleep first.
        let expected = [
            ("b", hour / 2),
            ("a", hour),
            ("b", hour),
            ("b", 3 * hour / 2),
            ("b", 2 * hour),
            ("a", 3 * hour),
        ];
        assert_eq!(*woke.borrow(), expected);
        assert!(
            wall.elapsed() < Duration::from_secs(5),
            "virtual hours took real time"
        );
        lp.close().unwrap();
    });
}

#[test]
fn a_sleep_handed_to_another_task_wakes_that_task() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let start = lp.time();
        let woke_at = lp
            .run_until_complete(async {
                // The main future polls the sleep once (registering itself), then hands it
                // to a task, which must be the one woken at the deadline.
                let mut sleep = evloop::sleep(Duration::from_millis(30));
                let first = poll_fn(|cx| Poll::Ready(Pin::new(&mut sleep).poll(cx))).await;
                assert!(first.is_pending());
                let lp = evloop::get_running_loop().unwrap();
                let heir = evloop::spawn(async move {
                    sleep.await;
                    lp.time()
                });
                heir.await.unwrap()
            })
            .unwrap();
        assert_eq!(woke_at - start, Duration::from_millis(30));
        lp.close().unwrap();
    });
}

#[test]
fn deadlines_already_in_the_past_still_run_in_deadline_order() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let start = lp.time();
        // Let the loop's timers move past start + 100 ms first.
        lp.run_until_complete(evloop::sleep(Duration::from_millis(100)))
            .unwrap();
        let log = Rc::new(RefCell::new(Vec::new()));
        // All due at once, scheduled out of order, some before the last timer that fired,
        // one exactly at it, one before the loop was even created.
        for ms in [90i64, 30, 100, 60, -5, 100, 30] {
            let when = if ms < 0 {
                start - Duration::from_millis(ms.unsigned_abs())
            } else {
                start + Duration::from_millis(ms as u64)
            };
            let log2 = log.clone();
            lp.call_at(when, move || log2.borrow_mut().push(ms));
        }
        lp.run_until_complete(evloop::sleep(Duration::from_millis(1)))
            .unwrap();
        assert_eq!(*log.borrow(), vec![-5, 30, 30, 60, 90, 100, 100]);
        lp.close().unwrap();
    });
}
