//! Benchmarks 8 and 9: the process pool.
//!
//! - Round trip: one task on the loop awaits `ops` calls of a trivial registered function,
//!   one after the other, in a `ProcessPool` of one worker (`run_in_executor` with
//!   `INC.call(i)`). The peer is Python: `benches/python/asyncio_process_pool.py` runs the
//!   same workload with asyncio's `run_in_executor` on a `ProcessPoolExecutor(max_workers=1)`.
//!   tokio and smol have no process pool, so this row has its own table.
//! - Scaling: a CPU-bound batch (`BURN`, a few ms of arithmetic per job) on 1 worker and on
//!   2 workers; the speed-up should approach the core count.
//!
//! The worker processes are re-executions of this benchmark binary: `main` calls
//! `worker_main(registry)` first (see `core.rs`).

use std::process::Command;
use std::time::{Duration, Instant};

use evloop::pools::{Function, ProcessPool, Registry};
use evloop::EventLoop;

/// The trivial job of the round trip.
pub const INC: Function<u64, u64> = Function::new("inc");
/// A CPU-bound job: `n` rounds of an LCG.
pub const BURN: Function<u64, u64> = Function::new("burn");

/// The functions a worker of this binary can run.
pub fn registry() -> Registry {
    Registry::new()
        .register(INC, |x| x + 1)
        .register(BURN, |n| {
            let mut x = n;
            for _ in 0..n {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
            }
            x
        })
}

/// evloop: `ops` sequential process round trips from the loop, in ns/op.
pub fn evloop_roundtrip(ops: u64) -> f64 {
    let pool = ProcessPool::builder(registry())
        .max_workers(1)
        .build()
        .expect("a process pool");
    let lp = EventLoop::new().expect("a loop");
    let elapsed = lp
        .run_until_complete(async {
            let lp = evloop::get_running_loop().expect("running");
            lp.run_in_executor(&pool, INC.call(0))
                .await
                .expect("warm-up");
            let start = Instant::now();
            let mut sum = 0;
            for i in 0..ops {
                sum += lp
                    .run_in_executor(&pool, INC.call(i))
                    .await
                    .expect("a call");
            }
            let elapsed = start.elapsed();
            assert_eq!(sum, (1..=ops).sum::<u64>());
            elapsed
        })
        .expect("the loop runs");
    lp.close().expect("closed");
    pool.shutdown(true, false);
    elapsed.as_nanos() as f64 / ops as f64
}

/// Python: the script's median ns/op, or why it could not run.
pub fn python_roundtrip(ops: u64, rounds: usize) -> Result<f64, String> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/python/asyncio_process_pool.py"
    );
    let output = Command::new("python3")
        .arg(script)
        .arg(ops.to_string())
        .arg(rounds.to_string())
        .output()
        .map_err(|error| format!("python3 not found ({error})"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.split_whitespace()
        .nth(1)
        .and_then(|ns| ns.parse().ok())
        .ok_or_else(|| format!("unexpected output from the script: {text:?}"))
}

/// Runs `jobs` BURN calls of `work` rounds each on `workers` processes; returns the time.
pub fn burn_batch(workers: usize, jobs: u64, work: u64) -> Duration {
    let pool = ProcessPool::builder(registry())
        .max_workers(workers)
        .build()
        .expect("a process pool");
    // Start every worker before the clock does.
    let warm: Vec<_> = (0..workers as u64)
        .map(|_| pool.submit(BURN.call(1)).expect("submit"))
        .collect();
    warm.into_iter().for_each(|job| drop(job.result()));
    let start = Instant::now();
    let handles: Vec<_> = (0..jobs)
        .map(|_| pool.submit(BURN.call(work)).expect("submit"))
        .collect();
    for handle in handles {
        handle.result().expect("a burn job");
    }
    let elapsed = start.elapsed();
    pool.shutdown(true, false);
    elapsed
}

/// The median of `samples`.
fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Runs both process benchmarks and prints their table.
pub fn report(ops: u64, rounds: usize) {
    println!("\nProcess pool\n");
    println!("| benchmark | ops | evloop | peer | ratio | target | met |\n|---|---:|---:|---:|---:|---|---|");
    let evloop = median((0..rounds).map(|_| evloop_roundtrip(ops)).collect());
    match python_roundtrip(ops, rounds) {
        Ok(python) => {
            let speedup = python / evloop;
            println!(
                "| process pool round trip, sequential, 1 worker (peer: Python asyncio + ProcessPoolExecutor) | {ops} | {evloop:.0} ns | {python:.0} ns | {speedup:.1}x faster | >= 10x faster | {} |",
                if speedup >= 10.0 { "yes" } else { "**no**" }
            );
        }
        Err(why) => println!(
            "| process pool round trip, sequential, 1 worker | {ops} | {evloop:.0} ns | - ({why}) | - | >= 10x faster | - |"
        ),
    }
    let jobs = 16;
    let work = (ops * 25_000).max(200_000);
    let one = median(
        (0..rounds)
            .map(|_| burn_batch(1, jobs, work).as_secs_f64())
            .collect(),
    );
    let two = median(
        (0..rounds)
            .map(|_| burn_batch(2, jobs, work).as_secs_f64())
            .collect(),
    );
    let speedup = one / two;
    println!(
        "| CPU-bound batch ({jobs} jobs of {work} LCG rounds), 2 workers vs 1 | {jobs} | {:.1} ms | {:.1} ms (1 worker) | {speedup:.2}x faster | >= 1.8x faster | {} |",
        two * 1000.0,
        one * 1000.0,
        if speedup >= 1.8 { "yes" } else { "**no**" }
    );
}
