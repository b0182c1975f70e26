//! Scenario S1 with `evloop::gather`: three tasks sleep 1, 2 and 4 units and return a value.
//! `gather` spawns them all at once, so they run concurrently: the results come back in the
//! order given, after about 4 units, not 1 + 2 + 4 = 7.
//!
//! Run: `cargo run -p evloop --example 05_gather_s1`

use std::time::{Duration, Instant};

/// One "unit" of scenario time.
const UNIT: Duration = Duration::from_millis(100);

fn main() {
    let started = Instant::now();
    // ANCHOR: gather
    let results = evloop::run(async {
        let jobs = [(1u32, "one"), (2, "two"), (4, "four")].map(|(units, value)| async move {
            evloop::sleep(UNIT * units).await;
            value
        });
        // Each job becomes a task now; the values come back in the order given.
        evloop::gather(jobs).await.expect("no job failed")
    })
    .expect("run");
    // ANCHOR_END: gather
    let units = started.elapsed().as_secs_f64() / UNIT.as_secs_f64();
    println!("results in the order given: {results:?}");
    println!("took {units:.1} units (concurrent: ~4, not 7)");
}
