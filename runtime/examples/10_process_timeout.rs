//! A process job that never ends, stopped for real. Python cannot stop a running
//! `ProcessPoolExecutor` job; here a call with a timeout kills its worker when the time is up,
//! the job resolves to `JobError::TimedOut`, and a fresh worker runs the next call. Cancelling
//! the task that awaits a running process job does the same (the job resolves `Cancelled`).
//!
//! Run: `cargo run -p evloop --example 10_process_timeout`

use std::sync::Arc;
use std::time::Duration;

use evloop::pools::{Function, JobError, ProcessPool, Registry};

/// Spins forever: only killing its process stops it.
const SPIN: Function<(), ()> = Function::new("spin");
/// Says which process ran it.
const PID: Function<(), u32> = Function::new("pid");

fn registry() -> Registry {
    Registry::new()
        .register(SPIN, |()| loop {
            std::hint::spin_loop();
        })
        .register(PID, |()| std::process::id())
}

fn main() {
    evloop::pools::worker_main(registry);
    let pool = Arc::new(
        ProcessPool::builder(registry())
            .max_workers(1)
            .build()
            .expect("a process pool"),
    );
    evloop::run(async {
        let lp = evloop::get_running_loop().unwrap();
        let first = lp.run_in_executor(&pool, PID.call(())).await.unwrap();
        println!("worker {first} is up");

        // ANCHOR: timeout
        // A call with a timeout: when it expires, the worker is killed.
        let stuck = SPIN.call(()).timeout(Duration::from_millis(200));
        let outcome = lp.run_in_executor(&pool, stuck).await;
        assert_eq!(outcome, Err(JobError::TimedOut));
        // ANCHOR_END: timeout
        let second = lp.run_in_executor(&pool, PID.call(())).await.unwrap();
        println!(
            "the endless job timed out; worker {first} was killed, worker {second} replaced it"
        );

        // Cancelling the awaiting task kills the worker running its job too.
        // (The task owns an `Arc` of the pool, so its future is 'static.)
        let job = lp.run_in_executor(pool.clone(), SPIN.call(()));
        let task = evloop::spawn(job);
        evloop::sleep(Duration::from_millis(100)).await;
        task.cancel();
        let third = lp.run_in_executor(&pool, PID.call(())).await.unwrap();
        println!(
            "the cancelled task's job was killed with worker {second}; worker {third} took over"
        );
    })
    .expect("run");
    println!("worker restarts: {}", pool.counters().restarts);
    pool.shutdown(true, false);
}
