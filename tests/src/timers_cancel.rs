//! Timer cancellation: `TimerHandle::cancel` prevents the run and reports whether it took
//! effect; a timer cancelled by an earlier callback of the same batch does not run; a million
//! cancelled timers are purged from the queue in one rebuild, their closures dropped exactly
//! once; cancelling every other timer keeps the rest in order; a cancelled timer does not pull
//! the virtual clock. Ordering and sleeps are in `timers.rs`.

use crate::lifecycle::DropCounter;
use crate::timers::timers_in_heap;
use crate::util::{deadline, virtual_loop, BUDGET};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

#[test]
fn cancel_prevents_a_timer_and_reports_whether_it_took_effect() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let log = Rc::new(RefCell::new(Vec::new()));
        let timer = |name: &'static str, ms: u64| {
            let log = log.clone();
            lp.call_later(Duration::from_millis(ms), move || {
                log.borrow_mut().push(name)
            })
        };
        let cancelled = timer("cancelled", 10);
        let kept = timer("kept", 20);
        assert!(!cancelled.cancelled());
        assert!(cancelled.cancel());
        assert!(cancelled.cancelled());
        assert!(!cancelled.cancel());
        lp.run_until_complete(evloop::sleep(Duration::from_millis(30)))
            .unwrap();
        assert_eq!(*log.borrow(), ["kept"]);
        assert!(!kept.cancel(), "cancel() after the run took effect");
        assert!(!kept.cancelled());
        lp.close().unwrap();
    });
}

#[test]
fn a_due_timer_cancelled_by_an_earlier_callback_does_not_run() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let when = lp.time() + Duration::from_millis(10);
        let log = Rc::new(RefCell::new(Vec::new()));
        let victim = Rc::new(RefCell::new(None::<evloop::TimerHandle>));
        let (log2, victim2) = (log.clone(), victim.clone());
        lp.call_at(when, move || {
            let took = victim2.borrow().as_ref().unwrap().cancel();
            log2.borrow_mut()
                .push(if took { "cancelled" } else { "too late" });
        });
        let log3 = log.clone();
        *victim.borrow_mut() = Some(lp.call_at(when, move || log3.borrow_mut().push("victim")));
        lp.run_until_complete(evloop::sleep(Duration::from_millis(20)))
            .unwrap();
        assert_eq!(*log.borrow(), ["cancelled"]);
        assert!(victim.borrow().as_ref().unwrap().cancelled());
        assert_eq!(timers_in_heap(&lp), 0);
        lp.close().unwrap();
    });
}

#[test]
fn a_million_cancelled_timers_are_purged_and_dropped() {
    deadline(BUDGET, || {
        const N: usize = 1_000_000;
        let lp = virtual_loop();
        let counter = DropCounter::new();
        let ran = Rc::new(Cell::new(0usize));
        let start = lp.time();
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let (guard, ran) = (counter.guard(), ran.clone());
                lp.call_later(Duration::from_secs(60 + i as u64), move || {
                    let _guard = &guard;
                    ran.set(ran.get() + 1);
                })
            })
            .collect();
        assert_eq!(timers_in_heap(&lp), N);
        for handle in &handles {
            assert!(handle.cancel());
        }
        assert_eq!(counter.count(), N, "cancel() keeps closures alive");

        let iteration = Instant::now();
        lp.stop();
        lp.run_forever().unwrap();
        let took = iteration.elapsed();
        assert_eq!(
            timers_in_heap(&lp),
            0,
            "one iteration left dead timers in the heap"
        );
        assert!(took < Duration::from_secs(5), "purging took {took:?}");
        // Dead timers do not pull the virtual clock: a short sleep ends at its own deadline.
        lp.run_until_complete(evloop::sleep(Duration::from_millis(1)))
            .unwrap();
        assert_eq!(lp.time() - start, Duration::from_millis(1));
        assert_eq!(ran.get(), 0);
        drop(handles);
        lp.close().unwrap();
        assert_eq!(counter.count(), N);
    });
}

#[test]
fn cancelling_every_other_timer_keeps_the_rest_in_order() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let log = Rc::new(RefCell::new(Vec::new()));
        let handles: Vec<_> = (0..1000u64)
            .map(|i| {
                let log = log.clone();
                lp.call_later(Duration::from_millis(i), move || log.borrow_mut().push(i))
            })
            .collect();
        for handle in handles.iter().skip(1).step_by(2) {
            assert!(handle.cancel());
        }
        lp.run_until_complete(evloop::sleep(Duration::from_secs(2)))
            .unwrap();
        let expected: Vec<u64> = (0..1000).step_by(2).collect();
        assert_eq!(*log.borrow(), expected);
        assert_eq!(timers_in_heap(&lp), 0);
        lp.close().unwrap();
    });
}

#[test]
fn a_cancelled_timer_does_not_pull_the_virtual_clock() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let start = lp.time();
        let far = lp.call_later(Duration::from_secs(3600), || unreachable!("cancelled"));
        assert!(far.cancel());
        lp.run_until_complete(evloop::sleep(Duration::from_millis(10)))
            .unwrap();
        assert_eq!(lp.time() - start, Duration::from_millis(10));
        lp.close().unwrap();
    });
}
