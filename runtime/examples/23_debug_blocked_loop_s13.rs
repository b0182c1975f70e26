//! Scenario S13, the last misuse: a blocking call made directly on the loop. With debug mode
//! on, the loop names the callback or task that blocked it and for how long, through the
//! `log` facade; the fixed version hands the call to a thread and nothing is reported.
//!
//! Debug mode is on here because the builder asks for it; `EVLOOP_DEBUG=1` turns it on for
//! any loop, `evloop::run`'s included, without touching the code.
//!
//! Run: `cargo run -p evloop --example 23_debug_blocked_loop_s13`

use std::time::Duration;

/// A logger that prints warnings to stderr (a real program would use its own logger, behind
/// `evloop::log_queue::QueueLogger` so that logging never blocks the loop: see example 22).
struct Stderr;

impl log::Log for Stderr {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &log::Record<'_>) {
        eprintln!("[{} {}] {}", record.level(), record.target(), record.args());
    }

    fn flush(&self) {}
}

/// A blocking call: what `requests.get` or `time.sleep` is to asyncio.
fn fetch_report_blocking() -> usize {
    std::thread::sleep(Duration::from_millis(150));
    42
}

fn main() {
    log::set_logger(&Stderr).expect("the only logger");
    log::set_max_level(log::LevelFilter::Warn);
    let lp = evloop::EventLoop::builder().debug(true).build().unwrap();

    println!("1. the mistake: the blocking call runs on the loop (expect one warning):");
    // ANCHOR: mistake
    lp.run_until_complete(async {
        let task = evloop::spawn(async { fetch_report_blocking() });
        task.set_name("fetch-report");
        task.await.unwrap()
    })
    .unwrap();
    // ANCHOR_END: mistake

    println!("2. the fix: the blocking call runs on a thread (expect no warning):");
    // ANCHOR: fix
    lp.run_until_complete(async {
        let task = evloop::spawn(async { evloop::to_thread(fetch_report_blocking).await });
        task.set_name("fetch-report");
        task.await.unwrap().unwrap()
    })
    .unwrap();
    // ANCHOR_END: fix
    println!(
        "slow callbacks reported: {} (the mistake only)",
        lp.metrics().slow_callbacks
    );
    lp.close().unwrap();
}
