//! The worker program of the process-pool tests, and a small parent in its own right.
//!
//! - Started by a pool (`EVLOOP_POOLS_WORKER` set): `worker_main` serves jobs and never returns.
//! - `pool-worker demo`: builds a pool with the *default* program, i.e. re-executes this very
//!   binary, runs a few jobs and prints the results (the tests check the output: this is the
//!   real current-executable path, which the test binary itself cannot use).
//! - `pool-worker debug-default`: prints whether `EVLOOP_DEBUG` turns debug mode on, and the
//!   default of each pool's builder (the variable is read once per process, hence a process).
//! - `pool-worker orphan`: starts a pool of two busy workers, prints their pids, and sleeps
//!   until killed (a test SIGKILLs it and checks the workers die with it).

#[path = "../pool_functions.rs"]
mod pool_functions;

use std::io::Write;
use std::time::Duration;

use evloop_pools::{ProcessPool, ThreadPool};
use pool_functions::{registry, NESTED, PID, SLEEP_MS, SQUARE};

fn main() {
    evloop_pools::worker_main(registry);
    match std::env::args().nth(1).as_deref() {
        Some("demo") => demo(),
        Some("orphan") => orphan(),
        Some("debug-default") => debug_default(),
        _ => {
            eprintln!(
                "usage: pool-worker demo|orphan|debug-default (or started by a process pool)"
            );
            std::process::exit(2);
        }
    }
}

/// Runs a few jobs on a pool that re-executes this binary, and prints what came back.
fn demo() {
    let pool = ProcessPool::builder(registry())
        .max_workers(2)
        .build()
        .expect("build the pool");
    let squares: Vec<u64> = pool
        .map(SQUARE, 1..=5, 2)
        .expect("map")
        .map(|value| value.expect("a square"))
        .collect();
    println!("squares: {squares:?}");
    let worker = pool
        .submit(PID.call(()))
        .expect("submit")
        .result()
        .expect("pid");
    println!(
        "worker is another process: {}",
        worker != std::process::id()
    );
    let nested = pool
        .submit(NESTED.call(4))
        .expect("submit")
        .result()
        .expect("nested");
    println!("nested: {nested:?}");
    pool.shutdown(true, false);
    println!("workers after shutdown: {}", pool.counters().workers);
}

/// Starts two busy workers, prints their pids, and waits to be killed.
fn orphan() {
    let pool = ProcessPool::builder(registry())
        .max_workers(2)
        .build()
        .expect("build the pool");
    let jobs: Vec<_> = (0..2)
        .map(|_| pool.submit(SLEEP_MS.call(60_000)).expect("submit"))
        .collect();
    while pool.worker_pids().len() < 2 || jobs.iter().any(|job| !job.is_running()) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let pids: Vec<String> = pool.worker_pids().iter().map(u32::to_string).collect();
    println!("pids: {}", pids.join(" "));
    std::io::stdout().flush().expect("flush");
    std::thread::sleep(Duration::from_secs(600));
}

/// Prints `env <bool> thread <bool> process <bool>`: `debug_from_env` and the debug default of
/// a thread pool and of a process pool (built, but no worker started).
fn debug_default() {
    let process = ProcessPool::new(registry()).expect("build the pool");
    println!(
        "env {} thread {} process {}",
        evloop_pools::debug_from_env(),
        ThreadPool::new().get_debug(),
        process.get_debug()
    );
}
