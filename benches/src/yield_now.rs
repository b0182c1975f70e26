//! Benchmark 3: one task yields to its scheduler `ops` times.
//!
//! Each op is a self-wake, a trip through the ready queue and a poll: the shortest round trip
//! a scheduler can make. The yielding future is a spawned task in every runtime (not the
//! `block_on` future, which some schedulers treat specially): evloop `spawn` +
//! `evloop::yield_now`, tokio `spawn_local` + `tokio::task::yield_now` on a current_thread
//! `LocalSet`, smol `LocalExecutor::spawn` + `smol::future::yield_now`.

use std::time::{Duration, Instant};

use evloop::EventLoop;

/// evloop: a task awaiting `evloop::yield_now()` `ops` times.
pub fn evloop(ops: u64) -> Duration {
    evloop_on(EventLoop::new().expect("a loop"), ops)
}

/// The workload on `lp` (also run by the `observe` bench); closes `lp`.
pub fn evloop_on(lp: EventLoop, ops: u64) -> Duration {
    let start = Instant::now();
    let task = lp.spawn(async move {
        let mut count = 0;
        for _ in 0..ops {
            evloop::yield_now().await;
            count += 1;
        }
        count
    });
    let count = lp
        .run_until_complete(task)
        .expect("the loop runs")
        .expect("the task returns");
    let elapsed = start.elapsed();
    assert_eq!(count, ops);
    lp.close().expect("the loop closes");
    elapsed
}

/// tokio: a `spawn_local` task awaiting `tokio::task::yield_now()` `ops` times.
pub fn tokio(ops: u64) -> Duration {
    let rt = crate::tokio_runtime(false);
    let local = tokio::task::LocalSet::new();
    let start = Instant::now();
    let count = local
        .block_on(&rt, async move {
            tokio::task::spawn_local(async move {
                let mut count = 0;
                for _ in 0..ops {
                    tokio::task::yield_now().await;
                    count += 1;
                }
                count
            })
            .await
        })
        .expect("the task returns");
    let elapsed = start.elapsed();
    assert_eq!(count, ops);
    elapsed
}

/// smol: a `LocalExecutor` task awaiting `smol::future::yield_now()` `ops` times.
pub fn smol(ops: u64) -> Duration {
    let ex = smol::LocalExecutor::new();
    let start = Instant::now();
    let count = smol::block_on(ex.run(ex.spawn(async move {
        let mut count = 0;
        for _ in 0..ops {
            smol::future::yield_now().await;
            count += 1;
        }
        count
    })));
    let elapsed = start.elapsed();
    assert_eq!(count, ops);
    elapsed
}
