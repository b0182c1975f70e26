//! Metrics, live: a loop under a mixed load prints its own metrics every 250 ms.
//!
//! The load: a ticker every 5 ms, a `to_thread` job every 40 ms, another thread posting a
//! `call_soon_threadsafe` closure every half millisecond, and, once, a callback that blocks the loop for
//! 60 ms (the `busy` column and the worst ready depth show it). Each line is the difference
//! between two snapshots of `EventLoop::metrics`, so it reads as rates.
//!
//! Run: `cargo run -p evloop --example 24_metrics_live`

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use evloop::LoopMetrics;

/// How long the demo runs.
const RUN_FOR: Duration = Duration::from_millis(1500);

/// One line: the change between two snapshots over `dt`.
fn line(t: Duration, dt: Duration, a: &LoopMetrics, b: &LoopMetrics) -> String {
    let per_s = |x: u64, y: u64| (y - x) as f64 / dt.as_secs_f64();
    let running = (b.time_running - a.time_running).as_secs_f64();
    let polling = (b.time_polling - a.time_polling).as_secs_f64();
    let posts = b.threadsafe_posts - a.threadsafe_posts;
    let wakeups = b.wakeups - a.wakeups;
    let pool = b.default_executor.unwrap_or_default();
    format!(
        "{:>5.2}s {:>8.0} {:>9.0} {:>7.0} {:>5.0}% {:>5} {:>6} {:>6} {:>6.1} {:>4}/{}/{}",
        t.as_secs_f64(),
        per_s(a.iterations, b.iterations),
        per_s(
            a.callbacks_run + a.task_polls,
            b.callbacks_run + b.task_polls
        ),
        per_s(a.polls, b.polls),
        100.0 * running / (running + polling).max(1e-9),
        b.tasks_alive,
        posts,
        wakeups,
        posts as f64 / wakeups.max(1) as f64,
        pool.queued,
        pool.running,
        pool.completed,
    )
}

fn main() {
    // ANCHOR: metrics_live
    let lp = evloop::EventLoop::new().unwrap();
    let handle = lp.handle();
    let posting = Arc::new(AtomicBool::new(true));
    let poster = std::thread::spawn({
        let posting = posting.clone();
        move || {
            while posting.load(Ordering::Relaxed) {
                let _ = handle.call_soon_threadsafe(|| {});
                std::thread::sleep(Duration::from_micros(500));
            }
        }
    });
    println!("    t   iter/s  entries/s polls/s  busy tasks  posts wakeups ratio pool q/r/done");
    lp.run_until_complete(async {
        let lp = evloop::get_running_loop().unwrap();
        let started = Instant::now();
        let ticker = evloop::spawn(async {
            loop {
                evloop::sleep(Duration::from_millis(5)).await;
            }
        });
        let jobs = evloop::spawn(async {
            loop {
                evloop::sleep(Duration::from_millis(40)).await;
                evloop::spawn(evloop::to_thread(|| {
                    std::thread::sleep(Duration::from_millis(25))
                }));
            }
        });
        lp.call_later(Duration::from_millis(700), || {
            std::thread::sleep(Duration::from_millis(60)) // the one mistake
        });
        let mut last = lp.metrics();
        let mut last_at = Instant::now();
        while started.elapsed() < RUN_FOR {
            evloop::sleep(Duration::from_millis(250)).await;
            let now = lp.metrics();
            println!(
                "{}",
                line(started.elapsed(), last_at.elapsed(), &last, &now)
            );
            (last, last_at) = (now, Instant::now());
        }
        ticker.cancel();
        jobs.cancel();
    })
    .unwrap();
    posting.store(false, Ordering::Relaxed);
    poster.join().unwrap();
    println!("\ntotals:\n{}", lp.metrics());
    // ANCHOR_END: metrics_live
    lp.close().unwrap();
}
