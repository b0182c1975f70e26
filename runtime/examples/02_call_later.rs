//! Tour stop 2: timers. `call_later` and `call_at` put callbacks in the timer heap; the loop
//! sleeps in the poller until the earliest one is due, then runs due timers in deadline
//! order (ties in scheduling order), never early. `sleep` is the same heap, seen from a task.
//!
//! Run: `cargo run -p evloop --example 02_call_later`

use std::time::{Duration, Instant};

use evloop::EventLoop;

fn main() {
    let lp = EventLoop::new().expect("create a loop");
    let start = lp.time();
    let ms = |t: Instant| (t - start).as_secs_f64() * 1e3;

    // ANCHOR: timers
    for delay in [30u64, 10, 20, 10] {
        let when = lp.call_later(Duration::from_millis(delay), move || {
            println!("timer of {delay:>2} ms ran")
        });
        println!(
            "scheduled a {delay:>2} ms timer due at +{:.1} ms",
            ms(when.when())
        );
    }
    let cancelled = lp.call_later(Duration::from_millis(15), || println!("never"));
    cancelled.cancel();
    // ANCHOR_END: timers

    let lp2 = lp.clone();
    lp.run_until_complete(async move {
        evloop::sleep(Duration::from_millis(40)).await;
        println!("the task's sleep(40 ms) ended at +{:.1} ms", ms(lp2.time()));
    })
    .expect("run");

    // ANCHOR: virtual_clock
    // The virtual clock: the same program of timers, but the loop jumps to each deadline
    // instead of sleeping, so an hour of timers finishes at once.
    let virtual_loop = EventLoop::builder()
        .virtual_clock(true)
        .build()
        .expect("create a loop");
    let wall = Instant::now();
    let begin = virtual_loop.time();
    virtual_loop
        .run_until_complete(evloop::sleep(Duration::from_secs(3600)))
        .expect("run");
    println!(
        "virtual clock: slept {:?} of loop time in {:?} of wall time",
        virtual_loop.time() - begin,
        wall.elapsed()
    );
    // ANCHOR_END: virtual_clock
    lp.close().expect("close");
    virtual_loop.close().expect("close");
}
