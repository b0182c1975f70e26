//! Tour stop 4 and scenario S3: a loop running forever on a background thread, fed from the
//! main thread. Two blocking callbacks posted with `call_soon_threadsafe` run one after the
//! other (6 + 3 units); two coroutines posted with `spawn_threadsafe` overlap (max(6, 4)
//! units). The main thread never blocks, except when it asks for a result.
//!
//! Run: `cargo run -p evloop --example 04_threadsafe_s3`

use std::sync::mpsc;
use std::time::{Duration, Instant};

use evloop::LoopThread;

/// One "unit" of scenario time.
const UNIT: Duration = Duration::from_millis(100);

fn main() {
    let thread = LoopThread::start().expect("start the loop thread");
    let handle = thread.handle().clone();
    let start = Instant::now();
    let since = move || start.elapsed().as_secs_f64() / UNIT.as_secs_f64();

    // ANCHOR: blocking_callbacks
    // Two blocking callbacks: they block the loop, so they run one after the other.
    let (done_tx, done_rx) = mpsc::channel();
    for units in [6u32, 3] {
        let done = done_tx.clone();
        handle
            .call_soon_threadsafe(move || {
                std::thread::sleep(UNIT * units); // blocking on purpose: this is the lesson
                done.send(units).expect("main thread listens");
            })
            .expect("loop is open");
    }
    // ANCHOR_END: blocking_callbacks
    println!(
        "[{:4.1} units] posted two blocking callbacks (6 and 3 units)",
        since()
    );
    for _ in 0..2 {
        let units = done_rx.recv().expect("callback done");
        println!(
            "[{:4.1} units] blocking callback of {units} units finished",
            since()
        );
    }

    // ANCHOR: coroutines
    // Two coroutines: they await, so they overlap.
    let coroutine_start = Instant::now();
    let tasks: Vec<_> = [6u32, 4]
        .into_iter()
        .map(|units| {
            handle
                .spawn_threadsafe(async move {
                    evloop::sleep(UNIT * units).await;
                    (units, since())
                })
                .expect("loop is open")
        })
        .collect();
    // ANCHOR_END: coroutines
    println!(
        "[{:4.1} units] posted two coroutines (6 and 4 units); main thread is free",
        since()
    );
    for task in tasks {
        let (units, finished_at) = task.result().expect("coroutine result");
        println!("[{finished_at:4.1} units] coroutine of {units} units finished");
    }
    println!(
        "coroutines took {:.1} units together (they overlapped)",
        coroutine_start.elapsed().as_secs_f64() / UNIT.as_secs_f64()
    );
    thread.stop().expect("loop thread stopped cleanly");
}
