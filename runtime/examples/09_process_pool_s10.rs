//! Scenario S10: CPU-heavy work in a process pool while a heartbeat ticks every 10 ms on the
//! loop. The work runs in two worker processes, so it uses both cores and the loop's thread
//! stays free: the heartbeat never stalls.
//!
//! Workers are re-executions of this very binary. That is why `main` starts with
//! `worker_main(registry)`: in a worker it serves jobs and never returns; in the parent it
//! returns at once.
//!
//! Run: `cargo run --release -p evloop --example 09_process_pool_s10`

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use evloop::pools::{Function, ProcessPool, Registry};

// ANCHOR: registry
/// A CPU-bound job: `n` rounds of arithmetic; returns the result and its own run time in µs.
const BURN: Function<u64, (u64, u64)> = Function::new("burn");

/// Every function a worker can run, built the same way in the parent and in each worker.
fn registry() -> Registry {
    Registry::new().register(BURN, |n| {
        let start = Instant::now();
        let mut x = n;
        for _ in 0..n {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
        }
        (x, start.elapsed().as_micros() as u64)
    })
}

fn main() {
    // First line of main: a worker process stops here and serves jobs.
    evloop::pools::worker_main(registry);
    // ANCHOR_END: registry
    let pool = ProcessPool::builder(registry())
        .max_workers(2)
        .build()
        .expect("a process pool");
    // ANCHOR: s10
    let started = Instant::now();
    let (job_micros, beats, worst_gap) = evloop::run(async {
        let lp = evloop::get_running_loop().unwrap();
        let beats = Rc::new(Cell::new(0u32));
        let worst_gap = Rc::new(Cell::new(Duration::ZERO));
        let heartbeat = evloop::spawn({
            let (beats, worst_gap) = (beats.clone(), worst_gap.clone());
            async move {
                let mut last = Instant::now();
                loop {
                    evloop::sleep(Duration::from_millis(10)).await;
                    worst_gap.set(worst_gap.get().max(last.elapsed()));
                    last = Instant::now();
                    beats.set(beats.get() + 1);
                }
            }
        });
        // Eight CPU-heavy calls, queued at once, two at a time in the two workers.
        let jobs: Vec<_> = (0..8)
            .map(|_| lp.run_in_executor(&pool, BURN.call(300_000_000)))
            .collect();
        let mut job_micros = 0;
        for job in jobs {
            job_micros += job.await.expect("a burn job").1;
        }
        heartbeat.cancel();
        (job_micros, beats.get(), worst_gap.get())
    })
    .expect("run");
    // ANCHOR_END: s10
    let wall = started.elapsed();
    let parallelism = job_micros as f64 / wall.as_micros() as f64;
    println!(
        "8 jobs took {:.0} ms of CPU in {:.0} ms of wall time: {parallelism:.2} cores busy",
        job_micros as f64 / 1000.0,
        wall.as_secs_f64() * 1000.0
    );
    println!(
        "the heartbeat ticked {beats} times; its worst gap was {:.1} ms (10 ms asked)",
        worst_gap.as_secs_f64() * 1000.0
    );
    pool.shutdown(true, false);
}
