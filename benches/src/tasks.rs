//! Benchmark 2: spawn a trivial task and await it.
//!
//! - *sequential*: one driver future spawns a task returning a number and awaits it, `ops`
//!   times in a row: each op is a spawn, a poll, a finish, and a wake of the awaiter.
//! - *batch*: the driver spawns [`BATCH`] tasks, awaits them all in spawn order, and repeats
//!   until `ops` tasks ran: spawning amortises over the batch, the queue grows to 1000.
//!
//! evloop runs the driver with `run_until_complete` and spawns with `evloop::spawn`; tokio
//! uses a current_thread runtime, a `LocalSet` and `spawn_local`; smol uses a `LocalExecutor`
//! driven by `smol::block_on(ex.run(..))`. The sum of the outputs is checked after the clock
//! stops, so no contender can skip the work.

use std::hint::black_box;
use std::time::{Duration, Instant};

use evloop::EventLoop;

/// Tasks in flight per round of the batch variant.
pub const BATCH: u64 = 1000;

/// The sum the workload must produce: every op returns its index.
fn expected(ops: u64) -> u64 {
    ops * (ops - 1) / 2
}

/// evloop, sequential.
pub fn evloop_sequential(ops: u64) -> Duration {
    let lp = EventLoop::new().expect("a loop");
    let start = Instant::now();
    let sum = lp
        .run_until_complete(async {
            let mut sum = 0;
            for i in 0..ops {
                sum += evloop::spawn(async move { black_box(i) })
                    .await
                    .expect("the task returns");
            }
            sum
        })
        .expect("the loop runs");
    let elapsed = start.elapsed();
    assert_eq!(sum, expected(ops));
    lp.close().expect("the loop closes");
    elapsed
}

/// tokio, sequential.
pub fn tokio_sequential(ops: u64) -> Duration {
    let rt = crate::tokio_runtime(false);
    let local = tokio::task::LocalSet::new();
    let start = Instant::now();
    let sum = local.block_on(&rt, async {
        let mut sum = 0;
        for i in 0..ops {
            sum += tokio::task::spawn_local(async move { black_box(i) })
                .await
                .expect("the task returns");
        }
        sum
    });
    let elapsed = start.elapsed();
    assert_eq!(sum, expected(ops));
    elapsed
}

/// smol, sequential.
pub fn smol_sequential(ops: u64) -> Duration {
    let ex = smol::LocalExecutor::new();
    let start = Instant::now();
    let sum = smol::block_on(ex.run(async {
        let mut sum = 0;
        for i in 0..ops {
            sum += ex.spawn(async move { black_box(i) }).await;
        }
        sum
    }));
    let elapsed = start.elapsed();
    assert_eq!(sum, expected(ops));
    elapsed
}

/// The batches of the batch variant: `(first index, length)`, covering `0..ops`.
fn batches(ops: u64) -> impl Iterator<Item = (u64, u64)> {
    (0..ops)
        .step_by(BATCH as usize)
        .map(move |first| (first, BATCH.min(ops - first)))
}

/// evloop, batches of [`BATCH`].
pub fn evloop_batch(ops: u64) -> Duration {
    let lp = EventLoop::new().expect("a loop");
    let start = Instant::now();
    let sum = lp
        .run_until_complete(async {
            let mut sum = 0;
            let mut tasks = Vec::with_capacity(BATCH as usize);
            for (first, len) in batches(ops) {
                tasks.extend((first..first + len).map(|i| evloop::spawn(async move { i })));
                for task in tasks.drain(..) {
                    sum += task.await.expect("the task returns");
                }
            }
            sum
        })
        .expect("the loop runs");
    let elapsed = start.elapsed();
    assert_eq!(sum, expected(ops));
    lp.close().expect("the loop closes");
    elapsed
}

/// tokio, batches of [`BATCH`].
pub fn tokio_batch(ops: u64) -> Duration {
    let rt = crate::tokio_runtime(false);
    let local = tokio::task::LocalSet::new();
    let start = Instant::now();
    let sum = local.block_on(&rt, async {
        let mut sum = 0;
        let mut tasks = Vec::with_capacity(BATCH as usize);
        for (first, len) in batches(ops) {
            tasks.extend((first..first + len).map(|i| tokio::task::spawn_local(async move { i })));
            for task in tasks.drain(..) {
                sum += task.await.expect("the task returns");
            }
        }
        sum
    });
    let elapsed = start.elapsed();
    assert_eq!(sum, expected(ops));
    elapsed
}

/// smol, batches of [`BATCH`].
pub fn smol_batch(ops: u64) -> Duration {
    let ex = smol::LocalExecutor::new();
    let start = Instant::now();
    let sum = smol::block_on(ex.run(async {
        let mut sum = 0;
        let mut tasks = Vec::with_capacity(BATCH as usize);
        for (first, len) in batches(ops) {
            tasks.extend((first..first + len).map(|i| ex.spawn(async move { i })));
            for task in tasks.drain(..) {
                sum += task.await;
            }
        }
        sum
    }));
    let elapsed = start.elapsed();
    assert_eq!(sum, expected(ops));
    elapsed
}
