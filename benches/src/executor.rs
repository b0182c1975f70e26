//! Benchmarks 6 and 7: blocking work handed to a thread pool and awaited on the loop.
//!
//! - Round trip: one task awaits `ops` trivial jobs one after the other. evloop:
//!   `EventLoop::run_in_executor` on a default `ThreadPool`; tokio: `spawn_blocking` on a
//!   current_thread runtime (its blocking pool); smol: `smol::unblock` (the `blocking` crate's
//!   pool) under a `LocalExecutor`. Each op is a submit, a wake-up of a worker, the job, and
//!   the completion waking the loop from another thread: two cross-thread hand-offs.
//! - Concurrent: `ops` trivial jobs submitted at once, then awaited in order. This measures
//!   queue throughput and how completions are batched back into the loop.
//!
//! The pools are created before the clock starts and warmed with one job, so thread start-up
//! is not measured; each contender checks the sum of the values it got back.

use std::time::{Duration, Instant};

use evloop::pools::ThreadPool;
use evloop::EventLoop;

/// The trivial job: a little arithmetic on its input, so it cannot be folded away.
fn job(i: u64) -> u64 {
    i.wrapping_mul(3) + 1
}

/// The sum every contender must get back from `ops` jobs.
fn expected(ops: u64) -> u64 {
    (0..ops).map(job).sum()
}

/// evloop: sequential `run_in_executor` round trips.
pub fn evloop_roundtrip(ops: u64) -> Duration {
    let pool = ThreadPool::new();
    let lp = EventLoop::new().expect("a loop");
    let elapsed = lp
        .run_until_complete(async {
            let lp = evloop::get_running_loop().expect("running");
            lp.run_in_executor(&pool, || 0).await.expect("warm-up");
            let start = Instant::now();
            let mut sum = 0;
            for i in 0..ops {
                sum += lp
                    .run_in_executor(&pool, move || job(i))
                    .await
                    .expect("a job");
            }
            let elapsed = start.elapsed();
            assert_eq!(sum, expected(ops));
            elapsed
        })
        .expect("the loop runs");
    lp.close().expect("closed");
    elapsed
}

/// tokio: sequential `spawn_blocking` round trips.
pub fn tokio_roundtrip(ops: u64) -> Duration {
    let rt = crate::tokio_runtime(false);
    rt.block_on(async {
        tokio::task::spawn_blocking(|| 0).await.expect("warm-up");
        let start = Instant::now();
        let mut sum = 0;
        for i in 0..ops {
            sum += tokio::task::spawn_blocking(move || job(i))
                .await
                .expect("a job");
        }
        let elapsed = start.elapsed();
        assert_eq!(sum, expected(ops));
        elapsed
    })
}

/// smol: sequential `unblock` round trips.
pub fn smol_roundtrip(ops: u64) -> Duration {
    let ex = smol::LocalExecutor::new();
    smol::block_on(ex.run(async {
        smol::unblock(|| 0).await;
        let start = Instant::now();
        let mut sum = 0;
        for i in 0..ops {
            sum += smol::unblock(move || job(i)).await;
        }
        let elapsed = start.elapsed();
        assert_eq!(sum, expected(ops));
        elapsed
    }))
}

/// evloop: `ops` jobs submitted at once, awaited in order.
pub fn evloop_concurrent(ops: u64) -> Duration {
    let pool = ThreadPool::new();
    let lp = EventLoop::new().expect("a loop");
    let elapsed = lp
        .run_until_complete(async {
            let lp = evloop::get_running_loop().expect("running");
            lp.run_in_executor(&pool, || 0).await.expect("warm-up");
            let start = Instant::now();
            let jobs: Vec<_> = (0..ops)
                .map(|i| lp.run_in_executor(&pool, move || job(i)))
                .collect();
            let mut sum = 0;
            for job in jobs {
                sum += job.await.expect("a job");
            }
            let elapsed = start.elapsed();
            assert_eq!(sum, expected(ops));
            elapsed
        })
        .expect("the loop runs");
    lp.close().expect("closed");
    elapsed
}

/// tokio: `ops` `spawn_blocking` calls at once, awaited in order.
pub fn tokio_concurrent(ops: u64) -> Duration {
    let rt = crate::tokio_runtime(false);
    rt.block_on(async {
        tokio::task::spawn_blocking(|| 0).await.expect("warm-up");
        let start = Instant::now();
        let jobs: Vec<_> = (0..ops)
            .map(|i| tokio::task::spawn_blocking(move || job(i)))
            .collect();
        let mut sum = 0;
        for job in jobs {
            sum += job.await.expect("a job");
        }
        let elapsed = start.elapsed();
        assert_eq!(sum, expected(ops));
        elapsed
    })
}

/// smol: `ops` `unblock` calls at once, awaited in order.
pub fn smol_concurrent(ops: u64) -> Duration {
    let ex = smol::LocalExecutor::new();
    smol::block_on(ex.run(async {
        smol::unblock(|| 0).await;
        let start = Instant::now();
        let jobs: Vec<_> = (0..ops).map(|i| smol::unblock(move || job(i))).collect();
        let mut sum = 0;
        for job in jobs {
            sum += job.await;
        }
        let elapsed = start.elapsed();
        assert_eq!(sum, expected(ops));
        elapsed
    }))
}
