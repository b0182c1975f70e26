//! A program that builds a process pool but forgot `evloop_pools::worker_main`: building must
//! fail with the fix in the message, before any worker is started.

use evloop_pools::{Function, ProcessPool, Registry};

/// Any function; it never runs.
const SQUARE: Function<u64, u64> = Function::new("square");

fn main() {
    let registry = Registry::new().register(SQUARE, |x| x * x);
    match ProcessPool::new(registry) {
        Ok(pool) => {
            println!(
                "built a pool with {} workers (unexpected)",
                pool.max_workers()
            );
        }
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(1);
        }
    }
}
