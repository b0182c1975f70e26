//! Scenario S3 of `shared/SCENARIOS.md`, checked end to end (the runnable version is
//! `runtime/examples/04_threadsafe_s3.rs`; S1 with `gather` is in `scenarios_toolkit.rs`).
//!
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

use evloop::LoopThread;

use crate::util::{deadline, BUDGET};

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
