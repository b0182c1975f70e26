//! Scenarios S1 and S3 of `shared/SCENARIOS.md`, checked end to end (the runnable versions are
//! `runtime/examples/05_gather_s1.rs` and `04_threadsafe_s3.rs`).
//!
//! - S1, gather with plain task awaits: three tasks sleep 1, 2 and 4 units and return a value;
//!   the values come back in the order given, after 4 units, not 1 + 2 + 4 = 7. On the
//!   virtual clock this is exact (and takes no real time); on the real clock it is checked
//!   with margins.
//! - S3, a loop running forever on a `LoopThread`, fed from the main thread: two blocking
//!   callbacks (6 and 3 units) run one after the other (9 units); two coroutines (6 and 4
//!   units) posted behind them overlap (6 units, not 10); posting all four does not block the
//!   main thread.
//!
//! Real-clock margins: lower bounds are tight (a sleep never ends early), upper bounds loose
//! (the machine may be busy) but still below what the wrong behaviour would take.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use evloop::{EventLoop, LoopThread};

use crate::util::{deadline, BUDGET};

/// S1's tasks in the order given: (units of sleep, value returned).
const S1_TASKS: [(u32, &str); 3] = [(1, "one"), (2, "two"), (4, "four")];

/// What one run of S1 observed, all in loop time since the gather began.
struct S1Outcome {
    /// The values, in the order the tasks were awaited.
    values: Vec<&'static str>,
    /// When each task finished, in the same order.
    finished: Vec<Duration>,
    /// When the gather (the last await) finished.
    total: Duration,
}

/// Runs S1 on `lp` with `unit`: spawns every task first, then awaits them in order.
fn gather_s1(lp: &EventLoop, unit: Duration) -> S1Outcome {
    let outcome = lp.run_until_complete(async move {
        let lp = evloop::get_running_loop().unwrap();
        let start = lp.time();
        let tasks: Vec<_> = S1_TASKS
            .iter()
            .map(|&(units, value)| {
                let lp = lp.clone();
                evloop::spawn(async move {
                    evloop::sleep(unit * units).await;
                    (value, lp.time() - start)
                })
            })
            .collect();
        let (mut values, mut finished) = (Vec::new(), Vec::new());
        for task in tasks {
            let (value, at) = task.await.expect("an S1 task ends with its value");
            values.push(value);
            finished.push(at);
        }
        S1Outcome {
            values,
            finished,
            total: lp.time() - start,
        }
    });
    outcome.expect("the gather ran")
}

#[test]
fn s1_gather_on_the_virtual_clock_takes_exactly_four_units() {
    deadline(BUDGET, || {
        // A long unit: a loop that really slept would blow the deadline.
        const UNIT: Duration = Duration::from_secs(60);
        let lp = EventLoop::builder().virtual_clock(true).build().unwrap();
        let wall = Instant::now();
        let outcome = gather_s1(&lp, UNIT);
        let wall = wall.elapsed();
        assert_eq!(outcome.values, ["one", "two", "four"]);
        assert_eq!(outcome.finished, [UNIT, UNIT * 2, UNIT * 4]);
        assert_eq!(outcome.total, UNIT * 4, "concurrent: 4 units, not 7");
        assert!(
            wall < Duration::from_secs(5),
            "the virtual clock slept: {wall:?}"
        );
        lp.close().unwrap();
    });
}

#[test]
fn s1_gather_on_the_real_clock_takes_about_four_units_not_seven() {
    deadline(BUDGET, || {
        const UNIT: Duration = Duration::from_millis(100);
        let lp = EventLoop::new().unwrap();
        let wall = Instant::now();
        let outcome = gather_s1(&lp, UNIT);
        let wall = wall.elapsed();
        assert_eq!(outcome.values, ["one", "two", "four"]);
        for (&(units, value), &at) in S1_TASKS.iter().zip(&outcome.finished) {
            assert!(at >= UNIT * units, "{value} finished early, at {at:?}");
        }
        let finished = &outcome.finished;
        assert!(finished.windows(2).all(|w| w[0] < w[1]), "{finished:?}");
        assert!(outcome.total >= UNIT * 4, "{:?}", outcome.total);
        assert!(
            wall < UNIT * 7,
            "the tasks did not overlap: {wall:?} for 1 + 2 + 4 units"
        );
        lp.close().unwrap();
    });
}

#[test]
fn s3_blocking_callbacks_serialize_and_coroutines_overlap() {
    deadline(BUDGET, || {
        const UNIT: Duration = Duration::from_millis(50);
        let loop_thread = LoopThread::start().unwrap();
        let handle = loop_thread.handle().clone();
        let (spans_tx, spans_rx) = mpsc::channel();
        let start = Instant::now();

        // Post two blocking callbacks, then two coroutines, without waiting for anything.
        for units in [6u32, 3] {
            let spans = spans_tx.clone();
            let callback = move || {
                let began = Instant::now();
                thread::sleep(UNIT * units); // blocking on purpose: this is the lesson
                spans.send((units, began, Instant::now())).unwrap();
            };
            handle.call_soon_threadsafe(callback).unwrap();
        }
        let coroutines: Vec<_> = [6u32, 4]
            .into_iter()
            .map(|units| {
                let coroutine = async move {
                    let began = Instant::now();
                    evloop::sleep(UNIT * units).await;
                    (units, began, Instant::now())
                };
                handle.spawn_threadsafe(coroutine).unwrap()
            })
            .collect();
        let posting = start.elapsed();
        assert!(
            posting < UNIT,
            "posting blocked the main thread for {posting:?}"
        );
        assert!(coroutines.iter().all(|c| !c.is_done()));

        // The callbacks ran one after the other, in posting order: 6 + 3 units.
        let patience = UNIT * 100;
        let first = spans_rx
            .recv_timeout(patience)
            .expect("the first callback ran");
        let second = spans_rx
            .recv_timeout(patience)
            .expect("the second callback ran");
        assert_eq!(
            (first.0, second.0),
            (6, 3),
            "callbacks run in posting order"
        );
        assert!(first.2 - first.1 >= UNIT * 6 && second.2 - second.1 >= UNIT * 3);
        assert!(
            second.1 >= first.2,
            "the second callback began before the first ended"
        );
        let callbacks_done = second.2;
        let callbacks_took = callbacks_done - start;
        assert!(
            callbacks_took >= UNIT * 9 && callbacks_took < UNIT * 15,
            "callbacks took {callbacks_took:?}, expected about 9 units of {UNIT:?}"
        );

        // The coroutines started behind the callbacks and overlapped: max(6, 4), not 6 + 4.
        let spans: Vec<_> = coroutines
            .into_iter()
            .map(|c| c.result().unwrap())
            .collect();
        for &(units, began, ended) in &spans {
            assert!(
                began >= callbacks_done,
                "coroutine {units} began during a callback"
            );
            assert!(
                ended - began >= UNIT * units,
                "coroutine {units} ended early"
            );
        }
        let (six, four) = (spans[0], spans[1]);
        assert!(
            four.1 < six.2 && six.1 < four.2,
            "the coroutines did not overlap"
        );
        assert!(four.2 < six.2, "the 4-unit coroutine finishes first");
        let coroutines_took = six.2 - callbacks_done;
        assert!(
            coroutines_took >= UNIT * 6 && coroutines_took < UNIT * 9,
            "coroutines took {coroutines_took:?} after the callbacks, expected about 6 units"
        );
        assert!(six.2 - start >= UNIT * 15);
        loop_thread.stop().unwrap();
    });
}
