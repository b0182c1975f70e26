//! Scenario S1, written with plain task awaits (the `gather` combinator comes with the
//! toolkit issue): three tasks sleep 1, 2 and 4 units and return a value. Spawning them all
//! first and awaiting them afterwards makes them run concurrently: the results come back in
//! the order given, after about 4 units, not 1 + 2 + 4 = 7.
//!
//! Run: `cargo run -p evloop --example 05_gather_s1`

use std::time::{Duration, Instant};

/// One "unit" of scenario time.
const UNIT: Duration = Duration::from_millis(100);

fn main() {
    let started = Instant::now();
    // ANCHOR: gather
    let results = evloop::run(async {
        let tasks: Vec<_> = [(1u32, "one"), (2, "two"), (4, "four")]
            .into_iter()
            .map(|(units, value)| {
                evloop::spawn(async move {
                    evloop::sleep(UNIT * units).await;
                    value
                })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.expect("task result"));
        }
        results
    })
    .expect("run");
    // ANCHOR_END: gather
    let units = started.elapsed().as_secs_f64() / UNIT.as_secs_f64();
    println!("results in the order given: {results:?}");
    println!("took {units:.1} units (concurrent: ~4, not 7)");
}
