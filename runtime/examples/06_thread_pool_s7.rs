//! Scenario S7: five blocking sleeps of 1..5 units in a thread pool of five workers, awaited
//! together. A blocking call on the loop would stop everything; in the pool they overlap, so
//! the whole batch takes about 5 units, not 1 + 2 + 3 + 4 + 5 = 15, and the results come back
//! in the order given. A heartbeat on the loop keeps ticking meanwhile.
//!
//! Run: `cargo run -p evloop --example 06_thread_pool_s7`

use std::cell::Cell;
use std::rc::Rc;
use std::thread;
use std::time::{Duration, Instant};

use evloop::pools::ThreadPool;

/// One "unit" of scenario time.
const UNIT: Duration = Duration::from_millis(100);

fn main() {
    // ANCHOR: s7
    let pool = ThreadPool::builder().max_workers(5).build();
    let started = Instant::now();
    let (results, beats) = evloop::run(async {
        let lp = evloop::get_running_loop().unwrap();
        // The loop stays free: this heartbeat ticks every half unit while the jobs block.
        let beats = Rc::new(Cell::new(0));
        let heartbeat = evloop::spawn({
            let beats = beats.clone();
            async move {
                loop {
                    evloop::sleep(UNIT / 2).await;
                    beats.set(beats.get() + 1);
                }
            }
        });
        // Each call queues its job at once; awaiting them in order gathers the results.
        let jobs: Vec<_> = (1..=5u32)
            .map(|units| {
                lp.run_in_executor(&pool, move || {
                    thread::sleep(UNIT * units); // a blocking call: fine on a pool thread
                    format!("slept {units} unit(s)")
                })
            })
            .collect();
        let mut results = Vec::new();
        for job in jobs {
            results.push(job.await.expect("the job returns its value"));
        }
        heartbeat.cancel();
        (results, beats.get())
    })
    .expect("run");
    // ANCHOR_END: s7
    let units = started.elapsed().as_secs_f64() / UNIT.as_secs_f64();
    for line in &results {
        println!("{line}");
    }
    println!("took {units:.1} units (overlapping: ~5, not 15); the heartbeat ticked {beats} times");
    pool.shutdown(true, false);
}
