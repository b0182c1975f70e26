//! Scenario S12: a slow log sink. A loop beats every 5 ms and, in the middle, one callback
//! logs a burst of 20 records into a sink that takes 20 ms per record (think of a network
//! syslog or a full disk). First the sink is called directly on the loop, as a plain `log`
//! logger would be: the heartbeat stops for the whole burst. Then the same sink sits behind
//! `evloop::log_queue`'s queue logger, installed as the process's logger and reached with
//! `log::info!`: the burst costs the loop microseconds, and the `evloop-log` thread feeds the
//! sink at its own pace.
//!
//! Run: `cargo run -p evloop --example 22_slow_log_sink_s12`

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{Level, LevelFilter, Log, Metadata, Record};

/// How many records the burst logs.
const BURST: usize = 20;
/// The heartbeat's period.
const BEAT: Duration = Duration::from_millis(5);

/// A sink that takes 20 ms per record, then writes it to stderr.
struct SlowStderr {
    /// Records written so far.
    written: AtomicUsize,
}

impl Log for SlowStderr {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &Record<'_>) {
        std::thread::sleep(Duration::from_millis(20)); // slow on purpose: this is the lesson
        let thread = std::thread::current();
        eprintln!(
            "  [sink on {}] {} {}: {}",
            thread.name().unwrap_or("?"),
            record.level(),
            record.target(),
            record.args()
        );
        self.written.fetch_add(1, Ordering::SeqCst);
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

/// Runs a loop with a heartbeat; after 20 ms one callback calls `log_one(i)` for each record
/// of the burst; 100 ms later the loop ends. Returns the heartbeat's largest gap.
fn heartbeat_and_burst(log_one: impl Fn(usize) + 'static) -> Duration {
    evloop::run(async move {
        let lp = evloop::get_running_loop().expect("inside run");
        let beats = Rc::new(RefCell::new(vec![Instant::now()]));
        let heart = evloop::spawn({
            let beats = beats.clone();
            async move {
                loop {
                    evloop::sleep(BEAT).await;
                    beats.borrow_mut().push(Instant::now());
                }
            }
        });
        // ANCHOR: burst
        lp.call_later(Duration::from_millis(20), move || {
            for i in 0..BURST {
                log_one(i);
            }
        });
        // ANCHOR_END: burst
        evloop::sleep(Duration::from_millis(120)).await;
        heart.cancel();
        let beats = beats.borrow();
        beats
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or_default()
    })
    .expect("the loop ran")
}

fn main() {
    let sink = Arc::new(SlowStderr {
        written: AtomicUsize::new(0),
    });

    println!("1. the sink called on the loop thread (a synchronous logger):");
    let direct = sink.clone();
    let stalled = heartbeat_and_burst(move |i| {
        direct.log(
            &Record::builder()
                .level(Level::Info)
                .target("direct")
                .args(format_args!("burst record {i}"))
                .build(),
        )
    });
    println!("   largest heartbeat gap: {stalled:?} (the loop waited for the sink)");

    println!("2. the same sink behind the queue logger, reached with log::info!:");
    // ANCHOR: install
    let guard = evloop::log_queue::install(sink.clone(), 1024, LevelFilter::Info)
        .expect("no other logger in this process");
    let gap = heartbeat_and_burst(|i| log::info!("burst record {i}"));
    // ANCHOR_END: install
    let behind = BURST * 2 - sink.written.load(Ordering::SeqCst);
    println!(
        "   largest heartbeat gap: {gap:?}; the loop ended with {behind} records still queued"
    );
    let drained = Instant::now();
    let dropped = guard.dropped();
    drop(guard); // after the loop: deliver what is queued, flush the sink, join the thread
    println!(
        "   the guard's drop delivered them in {:?}; {} records written in all, {dropped} dropped",
        drained.elapsed(),
        sink.written.load(Ordering::SeqCst),
    );
    assert!(gap < stalled, "the queue logger kept the loop beating");
}
