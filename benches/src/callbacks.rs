//! Benchmark 1: `call_soon` throughput, and its nearest equivalent in tokio and smol.
//!
//! - *flat*: from inside the running loop, schedule `ops` callbacks with
//!   [`EventLoop::call_soon`], each of which ticks a [`Countdown`] (a `Cell` decrement), then
//!   wait until all ran. They all run in one iteration. Measures scheduling plus running.
//!   Run twice: on a *fresh* loop per run (the ready queue grows from empty to `ops` entries,
//!   so the run pays for fresh memory, page faults included), and on a *warm* loop kept for the
//!   whole process (the queue keeps its capacity, as in a long-lived program).
//! - *chained*: each callback schedules the next, so every callback costs one whole loop
//!   iteration (timeout computation, the syscall-free poll skip, the run phase).
//! - *nearest equivalent*: neither tokio nor smol has a callback queue, so the reference row
//!   spawns `ops` trivial futures that tick the same countdown (evloop `spawn`, tokio
//!   `spawn_local` on a `LocalSet`, smol `LocalExecutor::spawn`). It compares spawning, not
//!   callbacks; evloop's callback numbers are absolute.
//!
//! Every contender builds its runtime before the clock starts and checks the count after.

use std::time::{Duration, Instant};

use evloop::EventLoop;

use crate::countdown::Countdown;

thread_local! {
    /// The loop reused by every run of the warm variant.
    static WARM_LOOP: EventLoop = EventLoop::new().expect("a loop");
}

/// evloop: `ops` callbacks scheduled from inside a fresh loop, run in one iteration.
pub fn evloop_flat_fresh(ops: u64) -> Duration {
    let lp = EventLoop::new().expect("a loop");
    let elapsed = flat(&lp, ops);
    lp.close().expect("the loop closes");
    elapsed
}

/// evloop: the same on a loop reused by every run (its ready queue already has capacity).
pub fn evloop_flat_warm(ops: u64) -> Duration {
    let lp = WARM_LOOP.with(EventLoop::clone);
    flat(&lp, ops)
}

/// The flat workload on `lp`.
fn flat(lp: &EventLoop, ops: u64) -> Duration {
    let done = Countdown::new(ops);
    let start = Instant::now();
    lp.run_until_complete(async {
        for _ in 0..ops {
            let done = done.clone();
            lp.call_soon(move || done.tick());
        }
        done.wait().await;
    })
    .expect("the loop runs");
    let elapsed = start.elapsed();
    assert_eq!(done.left(), 0);
    elapsed
}

/// evloop: a chain of `ops` callbacks, each scheduling the next.
pub fn evloop_chained(ops: u64) -> Duration {
    chained_on(EventLoop::new().expect("a loop"), ops)
}

/// The chained workload on `lp` (also run by the `observe` bench, with debug mode and a
/// trace recorder); closes `lp`.
pub fn chained_on(lp: EventLoop, ops: u64) -> Duration {
    /// One link: count, then schedule the next link while work is left.
    fn link(lp: EventLoop, done: Countdown) {
        done.tick();
        if done.left() > 0 {
            let next = lp.clone();
            next.call_soon(move || link(lp, done));
        }
    }
    let done = Countdown::new(ops);
    let start = Instant::now();
    lp.run_until_complete(async {
        let (first, chain) = (lp.clone(), done.clone());
        lp.call_soon(move || link(first, chain));
        done.wait().await;
    })
    .expect("the loop runs");
    let elapsed = start.elapsed();
    assert_eq!(done.left(), 0);
    lp.close().expect("the loop closes");
    elapsed
}

/// Reference, evloop: `ops` trivial tasks spawned from inside the loop and left detached.
pub fn evloop_spawn_flat(ops: u64) -> Duration {
    let lp = EventLoop::new().expect("a loop");
    let done = Countdown::new(ops);
    let start = Instant::now();
    lp.run_until_complete(async {
        for _ in 0..ops {
            let done = done.clone();
            drop(evloop::spawn(async move { done.tick() }));
        }
        done.wait().await;
    })
    .expect("the loop runs");
    let elapsed = start.elapsed();
    assert_eq!(done.left(), 0);
    lp.close().expect("the loop closes");
    elapsed
}

/// Reference, tokio: `ops` trivial `spawn_local` tasks on a current_thread `LocalSet`.
pub fn tokio_spawn_flat(ops: u64) -> Duration {
    let rt = crate::tokio_runtime(false);
    let local = tokio::task::LocalSet::new();
    let done = Countdown::new(ops);
    let start = Instant::now();
    local.block_on(&rt, async {
        for _ in 0..ops {
            let done = done.clone();
            drop(tokio::task::spawn_local(async move { done.tick() }));
        }
        done.wait().await;
    });
    let elapsed = start.elapsed();
    assert_eq!(done.left(), 0);
    elapsed
}

/// Reference, smol: `ops` trivial detached tasks on a `LocalExecutor`.
pub fn smol_spawn_flat(ops: u64) -> Duration {
    let ex = smol::LocalExecutor::new();
    let done = Countdown::new(ops);
    let start = Instant::now();
    smol::block_on(ex.run(async {
        for _ in 0..ops {
            let done = done.clone();
            ex.spawn(async move { done.tick() }).detach();
        }
        done.wait().await;
    }));
    let elapsed = start.elapsed();
    assert_eq!(done.left(), 0);
    elapsed
}
