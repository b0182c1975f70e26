//! Benchmarks 10 to 13: the concurrency toolkit (`sync/`, `combinators/`).
//!
//! - *semaphore, uncontended*: one task acquires a permit of a `Semaphore(1)` and drops it,
//!   `ops` times: the fast path (no waiter, no wake).
//! - *semaphore, contended*: [`TASKS`] tasks share a `Semaphore(`[`PERMITS`]`)`; each acquires,
//!   yields once while holding the permit (so the others queue), and releases, until `ops`
//!   acquisitions happened in total: every release hands the permit to a waiter and wakes it.
//! - *queue ping-pong*: two tasks pass a counter back and forth through two bounded queues of
//!   capacity 1, `ops` round trips: each op is two puts, two gets and two task wakes.
//! - *gather 10k*: spawn [`GATHER`] trivial tasks and gather their values in order, repeated
//!   until `ops` tasks ran.
//!
//! Peers: tokio's `sync::Semaphore`, `sync::mpsc::channel(1)` and `spawn_local` + awaiting each
//! `JoinHandle` in order, on a current_thread runtime with a `LocalSet`; smol's
//! `lock::Semaphore` (async-lock), `channel::bounded(1)` (async-channel) and
//! `LocalExecutor::spawn` + awaiting each task in order. Every contender's result is checked
//! after the clock stops.

use std::hint::black_box;
use std::rc::Rc;
use std::time::{Duration, Instant};

use evloop::EventLoop;

/// Tasks competing for the semaphore in the contended variant.
pub const TASKS: u64 = 64;
/// Permits of the contended semaphore.
pub const PERMITS: usize = 8;
/// Tasks per gather.
pub const GATHER: u64 = 10_000;

/// Runs `future` on a fresh evloop loop and returns its output and the time it took.
fn on_evloop<F: std::future::Future>(future: F) -> (F::Output, Duration) {
    let lp = EventLoop::new().expect("a loop");
    let start = Instant::now();
    let out = lp.run_until_complete(future).expect("the loop runs");
    let elapsed = start.elapsed();
    lp.close().expect("the loop closes");
    (out, elapsed)
}

/// Runs `future` on a current_thread tokio runtime inside a `LocalSet`.
fn on_tokio<F: std::future::Future>(future: F) -> (F::Output, Duration) {
    let rt = crate::tokio_runtime(false);
    let local = tokio::task::LocalSet::new();
    let start = Instant::now();
    let out = local.block_on(&rt, future);
    (out, start.elapsed())
}

/// Runs `make(executor)`'s future on a smol `LocalExecutor`.
fn on_smol<F, M>(make: M) -> (F::Output, Duration)
where
    M: FnOnce(Rc<smol::LocalExecutor<'static>>) -> F,
    F: std::future::Future,
{
    let ex = Rc::new(smol::LocalExecutor::new());
    let start = Instant::now();
    let out = smol::block_on(ex.run(make(ex.clone())));
    (out, start.elapsed())
}

/// evloop: uncontended acquire/release.
pub fn evloop_semaphore_uncontended(ops: u64) -> Duration {
    let (count, elapsed) = on_evloop(async move {
        let sem = evloop::Semaphore::new(1);
        let mut count = 0u64;
        for _ in 0..ops {
            let permit = sem.acquire().await;
            count += black_box(1);
            drop(permit);
        }
        (count, sem.available_permits())
    });
    assert_eq!(count, (ops, 1));
    elapsed
}

/// tokio: uncontended acquire/release.
pub fn tokio_semaphore_uncontended(ops: u64) -> Duration {
    let (count, elapsed) = on_tokio(async move {
        let sem = tokio::sync::Semaphore::new(1);
        let mut count = 0u64;
        for _ in 0..ops {
            let permit = sem.acquire().await.expect("open");
            count += black_box(1);
            drop(permit);
        }
        (count, sem.available_permits())
    });
    assert_eq!(count, (ops, 1));
    elapsed
}

/// smol: uncontended acquire/release.
pub fn smol_semaphore_uncontended(ops: u64) -> Duration {
    let (count, elapsed) = on_smol(|_| async move {
        let sem = smol::lock::Semaphore::new(1);
        let mut count = 0u64;
        for _ in 0..ops {
            let permit = sem.acquire().await;
            count += black_box(1);
            drop(permit);
        }
        let free = sem.try_acquire().is_some();
        (count, free)
    });
    assert_eq!(count, (ops, true));
    elapsed
}

/// evloop: contended.
pub fn evloop_semaphore_contended(ops: u64) -> Duration {
    let per_task = ops / TASKS;
    let (total, elapsed) = on_evloop(async move {
        let sem = evloop::Semaphore::new(PERMITS);
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let sem = sem.clone();
                evloop::spawn(async move {
                    for _ in 0..per_task {
                        let permit = sem.acquire().await;
                        evloop::yield_now().await;
                        drop(permit);
                    }
                    per_task
                })
            })
            .collect();
        let mut total = 0;
        for task in tasks {
            total += task.await.expect("the task returns");
        }
        total
    });
    assert_eq!(total, per_task * TASKS);
    elapsed
}

/// tokio: contended.
pub fn tokio_semaphore_contended(ops: u64) -> Duration {
    let per_task = ops / TASKS;
    let (total, elapsed) = on_tokio(async move {
        let sem = Rc::new(tokio::sync::Semaphore::new(PERMITS));
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let sem = sem.clone();
                tokio::task::spawn_local(async move {
                    for _ in 0..per_task {
                        let permit = sem.acquire().await.expect("open");
                        tokio::task::yield_now().await;
                        drop(permit);
                    }
                    per_task
                })
            })
            .collect();
        let mut total = 0;
        for task in tasks {
            total += task.await.expect("the task returns");
        }
        total
    });
    assert_eq!(total, per_task * TASKS);
    elapsed
}

/// smol: contended.
pub fn smol_semaphore_contended(ops: u64) -> Duration {
    let per_task = ops / TASKS;
    let (total, elapsed) = on_smol(|ex| async move {
        let sem = Rc::new(smol::lock::Semaphore::new(PERMITS));
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let sem = sem.clone();
                ex.spawn(async move {
                    for _ in 0..per_task {
                        let permit = sem.acquire().await;
                        smol::future::yield_now().await;
                        drop(permit);
                    }
                    per_task
                })
            })
            .collect();
        let mut total = 0;
        for task in tasks {
            total += task.await;
        }
        total
    });
    assert_eq!(total, per_task * TASKS);
    elapsed
}

/// evloop: ping-pong through two `Queue`s of capacity 1.
pub fn evloop_ping_pong(ops: u64) -> Duration {
    let (last, elapsed) = on_evloop(async move {
        let (ping, pong) = (evloop::Queue::new(1), evloop::Queue::new(1));
        let echo = {
            let (ping, pong) = (ping.clone(), pong.clone());
            evloop::spawn(async move {
                for _ in 0..ops {
                    let n: u64 = ping.get().await.expect("open");
                    pong.put(n + 1).await.expect("open");
                }
            })
        };
        let mut n = 0;
        for _ in 0..ops {
            ping.put(n).await.expect("open");
            n = pong.get().await.expect("open");
        }
        echo.await.expect("the echo task returns");
        n
    });
    assert_eq!(last, ops);
    elapsed
}

/// tokio: ping-pong through two `mpsc::channel(1)`s.
pub fn tokio_ping_pong(ops: u64) -> Duration {
    let (last, elapsed) = on_tokio(async move {
        let (ping_tx, mut ping_rx) = tokio::sync::mpsc::channel::<u64>(1);
        let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel::<u64>(1);
        let echo = tokio::task::spawn_local(async move {
            for _ in 0..ops {
                let n = ping_rx.recv().await.expect("open");
                pong_tx.send(n + 1).await.expect("open");
            }
        });
        let mut n = 0;
        for _ in 0..ops {
            ping_tx.send(n).await.expect("open");
            n = pong_rx.recv().await.expect("open");
        }
        echo.await.expect("the echo task returns");
        n
    });
    assert_eq!(last, ops);
    elapsed
}

/// smol: ping-pong through two `channel::bounded(1)`s.
pub fn smol_ping_pong(ops: u64) -> Duration {
    let (last, elapsed) = on_smol(|ex| async move {
        let (ping_tx, ping_rx) = smol::channel::bounded::<u64>(1);
        let (pong_tx, pong_rx) = smol::channel::bounded::<u64>(1);
        let echo = ex.spawn(async move {
            for _ in 0..ops {
                let n = ping_rx.recv().await.expect("open");
                pong_tx.send(n + 1).await.expect("open");
            }
        });
        let mut n = 0;
        for _ in 0..ops {
            ping_tx.send(n).await.expect("open");
            n = pong_rx.recv().await.expect("open");
        }
        echo.await;
        n
    });
    assert_eq!(last, ops);
    elapsed
}

/// The sum of the values one gather of `GATHER` tasks returns.
fn gather_sum() -> u64 {
    GATHER * (GATHER - 1) / 2
}

/// evloop: `gather` of `GATHER` tasks, repeated.
pub fn evloop_gather(ops: u64) -> Duration {
    let rounds = (ops / GATHER).max(1);
    let (sum, elapsed) = on_evloop(async move {
        let mut sum = 0;
        for _ in 0..rounds {
            let values = evloop::gather((0..GATHER).map(|i| async move { black_box(i) }))
                .await
                .expect("no child fails");
            sum += values.iter().sum::<u64>();
        }
        sum
    });
    assert_eq!(sum, gather_sum() * rounds);
    elapsed
}

/// tokio: `spawn_local` `GATHER` tasks and await each handle in order, repeated.
pub fn tokio_gather(ops: u64) -> Duration {
    let rounds = (ops / GATHER).max(1);
    let (sum, elapsed) = on_tokio(async move {
        let mut sum = 0;
        for _ in 0..rounds {
            let handles: Vec<_> = (0..GATHER)
                .map(|i| tokio::task::spawn_local(async move { black_box(i) }))
                .collect();
            let mut values = Vec::with_capacity(handles.len());
            for handle in handles {
                values.push(handle.await.expect("no child fails"));
            }
            sum += values.iter().sum::<u64>();
        }
        sum
    });
    assert_eq!(sum, gather_sum() * rounds);
    elapsed
}

/// smol: `LocalExecutor::spawn` `GATHER` tasks and await each in order, repeated.
pub fn smol_gather(ops: u64) -> Duration {
    let rounds = (ops / GATHER).max(1);
    let (sum, elapsed) = on_smol(|ex| async move {
        let mut sum = 0;
        for _ in 0..rounds {
            let tasks: Vec<_> = (0..GATHER)
                .map(|i| ex.spawn(async move { black_box(i) }))
                .collect();
            let mut values = Vec::with_capacity(tasks.len());
            for task in tasks {
                values.push(task.await);
            }
            sum += values.iter().sum::<u64>();
        }
        sum
    });
    assert_eq!(sum, gather_sum() * rounds);
    elapsed
}
