//! `call_soon` and its `Handle`: callbacks run in FIFO order, each exactly once; `cancel`
//! before the run prevents it (and reports `true`), after the run reports `false`; what a
//! callback schedules runs in the *next* iteration, so a callback that reschedules itself
//! forever starves neither timers nor I/O; and each closure is dropped exactly once, whether
//! it ran, was cancelled, or was discarded by `close`.

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

use evloop::{EventLoop, IoSource};

use crate::lifecycle::DropCounter;
use crate::util::{deadline, BUDGET};

/// A callback that spins (reschedules itself) gives up after this long of real time: the
/// test then fails on "starved" instead of on the deadline.
const STARVATION_LIMIT: Duration = Duration::from_secs(5);

/// Shared state of a spinning callback.
#[derive(Clone, Default)]
struct Spin {
    /// How many times it ran.
    runs: Rc<Cell<u64>>,
    /// Set by the test when the spinning may end.
    done: Rc<Cell<bool>>,
    /// Set by the spinner if it ran for [`STARVATION_LIMIT`] without `done`.
    starved: Rc<Cell<bool>>,
}

/// Runs once and reschedules itself with `call_soon` until `spin.done` (or the limit).
fn spin(lp: EventLoop, spin_state: Spin, started: Instant) {
    if spin_state.done.get() {
        return;
    }
    if started.elapsed() > STARVATION_LIMIT {
        spin_state.starved.set(true);
        return;
    }
    spin_state.runs.set(spin_state.runs.get() + 1);
    let lp2 = lp.clone();
    lp.call_soon(move || spin(lp2, spin_state, started));
}

#[test]
fn callbacks_run_in_fifo_order_each_exactly_once() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let log = Rc::new(RefCell::new(Vec::new()));
        for i in 0..100 {
            let log = log.clone();
            lp.call_soon(move || log.borrow_mut().push(i));
        }
        lp.run_until_complete(evloop::yield_now()).unwrap();
        assert_eq!(*log.borrow(), (0..100).collect::<Vec<_>>());
        // Further iterations run nothing again.
        lp.run_until_complete(evloop::yield_now()).unwrap();
        lp.stop();
        lp.run_forever().unwrap();
        assert_eq!(*log.borrow(), (0..100).collect::<Vec<_>>());
        lp.close().unwrap();
    });
}

#[test]
fn callbacks_scheduled_by_callbacks_queue_behind_the_current_batch() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let log = Rc::new(RefCell::new(Vec::new()));
        for name in ["a", "b"] {
            let (lp2, log2) = (lp.clone(), log.clone());
            lp.call_soon(move || {
                log2.borrow_mut().push(name.to_owned());
                let log3 = log2.clone();
                lp2.call_soon(move || log3.borrow_mut().push(format!("{name}'")));
            });
        }
        lp.run_until_complete(evloop::sleep(Duration::from_millis(1)))
            .unwrap();
        assert_eq!(*log.borrow(), ["a", "b", "a'", "b'"]);
        lp.close().unwrap();
    });
}

#[test]
fn cancel_before_the_run_prevents_it() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let log = Rc::new(RefCell::new(Vec::new()));
        let handles: Vec<_> = (0..5)
            .map(|i| {
                let log = log.clone();
                lp.call_soon(move || log.borrow_mut().push(i))
            })
            .collect();
        assert!(!handles[2].cancelled());
        assert!(handles[2].cancel());
        assert!(handles[2].cancelled());
        assert!(
            !handles[2].cancel(),
            "a second cancel() has nothing to cancel"
        );
        assert!(handles[2].cancelled());
        lp.run_until_complete(evloop::yield_now()).unwrap();
        assert_eq!(*log.borrow(), [0, 1, 3, 4]);
        lp.close().unwrap();
    });
}

#[test]
fn cancel_after_the_run_returns_false() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let runs = Rc::new(Cell::new(0));
        let runs2 = runs.clone();
        let handle = lp.call_soon(move || runs2.set(runs2.get() + 1));
        lp.run_until_complete(evloop::yield_now()).unwrap();
        assert_eq!(runs.get(), 1);
        assert!(!handle.cancel());
        assert!(!handle.cancelled());
        lp.close().unwrap();
        assert!(!handle.cancel());
        assert_eq!(runs.get(), 1);
    });
}

#[test]
fn a_callback_can_cancel_one_queued_behind_it_in_the_same_iteration() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let log = Rc::new(RefCell::new(Vec::new()));
        let victim_slot = Rc::new(RefCell::new(None::<evloop::Handle>));
        let (log2, slot2) = (log.clone(), victim_slot.clone());
        lp.call_soon(move || {
            log2.borrow_mut().push("canceller");
            let cancelled = slot2.borrow().as_ref().unwrap().cancel();
            log2.borrow_mut()
                .push(if cancelled { "cancelled" } else { "too late" });
        });
        let log3 = log.clone();
        *victim_slot.borrow_mut() = Some(lp.call_soon(move || log3.borrow_mut().push("victim")));
        let log4 = log.clone();
        lp.call_soon(move || log4.borrow_mut().push("bystander"));
        lp.run_until_complete(evloop::yield_now()).unwrap();
        assert_eq!(*log.borrow(), ["canceller", "cancelled", "bystander"]);
        lp.close().unwrap();
    });
}

#[test]
fn work_scheduled_by_a_callback_runs_in_the_next_iteration() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let log = Rc::new(RefCell::new(Vec::new()));
        let (lp2, log2) = (lp.clone(), log.clone());
        lp.call_soon(move || {
            log2.borrow_mut().push("first");
            let log3 = log2.clone();
            lp2.call_soon(move || log3.borrow_mut().push("second"));
            lp2.stop();
        });
        lp.run_forever().unwrap();
        assert_eq!(
            *log.borrow(),
            ["first"],
            "the second callback ran in the same iteration"
        );

        lp.stop();
        lp.run_forever().unwrap();
        assert_eq!(*log.borrow(), ["first", "second"]);
        lp.close().unwrap();
    });
}

#[test]
fn a_self_rescheduling_callback_does_not_starve_a_timer() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let state = Spin::default();
        let started = Instant::now();
        {
            let (lp2, state2) = (lp.clone(), state.clone());
            lp.call_soon(move || spin(lp2, state2, started));
        }
        let fired_at = Rc::new(Cell::new(None));
        let timer = {
            let (lp2, state2, fired_at2) = (lp.clone(), state.clone(), fired_at.clone());
            lp.call_later(Duration::from_millis(5), move || {
                fired_at2.set(Some(lp2.time()));
                state2.done.set(true);
                lp2.stop();
            })
        };
        lp.run_forever().unwrap();
        assert!(
            !state.starved.get(),
            "the timer never fired while a callback spun"
        );
        let fired_at = fired_at.get().expect("the timer fired");
        assert!(fired_at >= timer.when(), "the timer fired early");
        assert!(state.runs.get() > 0, "the spinner never ran");
        lp.close().unwrap();
    });
}

/// Reschedules itself until the spinner has run 10 times, then writes `hello` to `writer`.
fn write_once_spun(lp: EventLoop, state: Spin, writer: Rc<mio::net::UnixStream>) {
    if state.runs.get() >= 10 || state.starved.get() {
        (&*writer).write_all(b"hello").unwrap();
        return;
    }
    let lp2 = lp.clone();
    lp.call_soon(move || write_once_spun(lp2, state, writer));
}

#[test]
fn a_self_rescheduling_callback_does_not_starve_io() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let (a, b) = mio::net::UnixStream::pair().unwrap();
        let reader = IoSource::new(&lp, a).unwrap();
        let state = Spin::default();
        let started = Instant::now();

        // The reader parks on the empty socket; a callback writes while the spinner runs.
        let reader_task = {
            let state = state.clone();
            lp.spawn(async move {
                let mut buf = [0u8; 16];
                let n = reader.read_with(|mut s| s.read(&mut buf)).await.unwrap();
                state.done.set(true);
                buf[..n].to_vec()
            })
        };
        let (lp2, state2) = (lp.clone(), state.clone());
        lp.call_soon(move || spin(lp2, state2, started));
        let (lp3, state3) = (lp.clone(), state.clone());
        lp.call_soon(move || write_once_spun(lp3, state3, Rc::new(b)));

        let got = lp.run_until_complete(reader_task).unwrap().unwrap();
        assert_eq!(got, b"hello");
        assert!(
            !state.starved.get(),
            "the read never completed while a callback spun"
        );
        assert!(
            state.runs.get() >= 10,
            "the write happened before the spinner spun"
        );
        lp.close().unwrap();
    });
}

#[test]
fn each_closure_is_dropped_exactly_once_however_it_ends() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let ran = Rc::new(Cell::new(0));
        let make = |counter: &DropCounter| {
            let (guard, ran) = (counter.guard(), ran.clone());
            move || {
                let _guard = &guard;
                ran.set(ran.get() + 1);
            }
        };

        // Ran: dropped once, after its run.
        let ran_counter = DropCounter::new();
        let ran_handle = lp.call_soon(make(&ran_counter));
        // Cancelled: dropped at cancel(), not again later.
        let cancelled_counter = DropCounter::new();
        let cancelled_handle = lp.call_soon(make(&cancelled_counter));
        assert!(cancelled_handle.cancel());
        assert_eq!(
            cancelled_counter.count(),
            1,
            "cancel() keeps the closure alive"
        );

        lp.run_until_complete(evloop::yield_now()).unwrap();
        assert_eq!(ran.get(), 1);
        assert_eq!(ran_counter.count(), 1);
        assert_eq!(cancelled_counter.count(), 1);
        assert!(!ran_handle.cancel());
        assert!(!cancelled_handle.cancel());

        // Discarded by close: dropped once, never run.
        let discarded_counter = DropCounter::new();
        let discarded_handle = lp.call_soon(make(&discarded_counter));
        lp.close().unwrap();
        assert_eq!(discarded_counter.count(), 1);
        assert_eq!(ran.get(), 1);
        assert!(!discarded_handle.cancel());

        // Nothing is dropped twice when the handles and the loop go away.
        drop((ran_handle, cancelled_handle, discarded_handle, lp));
        assert_eq!(
            (
                ran_counter.count(),
                cancelled_counter.count(),
                discarded_counter.count()
            ),
            (1, 1, 1)
        );
    });
}

#[test]
fn dropping_a_handle_does_not_cancel_its_callback() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let ran = Rc::new(Cell::new(0));
        let ran2 = ran.clone();
        drop(lp.call_soon(move || ran2.set(ran2.get() + 1)));
        lp.run_until_complete(evloop::yield_now()).unwrap();
        assert_eq!(ran.get(), 1);
        lp.close().unwrap();
    });
}
