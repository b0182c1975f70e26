//! Properties of the process pool under random traffic from two threads.
//!
//! # The model
//!
//! Each thread runs a random list of operations on one shared pool of 2 workers: submit a
//! job of some kind (a square, a short sleep, a panic, a crash), or `cancel` / `abort` one of
//! its own earlier handles. A job's expected outcome depends only on its kind and on whether
//! some `cancel` or `abort` of it returned `true`:
//!
//! - stopped (a `cancel`/`abort` returned `true`): `Cancelled`;
//! - otherwise a square gives its value, a sleep `()`, a panic `Panicked`, a crash
//!   `WorkerDied` with code 3.
//!
//! # The properties
//!
//! Every handle resolves (nothing is lost), with the expected outcome, and its done callback
//! runs exactly once; the pool never has more than 2 live workers; after `shutdown(true, _)`
//! it has none.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use evloop_pools::{JobError, JobHandle, ProcessPool, WorkerExit};
use proptest::prelude::*;

use crate::pool_functions::{EXIT3, PANIC, SLEEP_MS, SQUARE};
use crate::process_pool::{builder, wait_for};
use crate::util::{cases, deadline};

/// How long one case may take before it counts as a hang.
const CASE_BUDGET: Duration = Duration::from_secs(20);

/// One operation of one thread.
#[derive(Debug, Clone)]
enum Op {
    /// Submit `SQUARE(x)`.
    Square(u64),
    /// Submit `SLEEP_MS(ms)`.
    Sleep(u64),
    /// Submit a job that panics.
    Panic,
    /// Submit a job that exits its worker with code 3.
    Crash,
    /// `cancel` this thread's handle number `i` (modulo how many it has).
    Cancel(usize),
    /// `abort` this thread's handle number `i` (modulo how many it has).
    Abort(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u64..1000).prop_map(Op::Square),
        2 => (0u64..30).prop_map(Op::Sleep),
        1 => Just(Op::Panic),
        1 => Just(Op::Crash),
        2 => any::<usize>().prop_map(Op::Cancel),
        2 => any::<usize>().prop_map(Op::Abort),
    ]
}

/// What a submitted job should give if nothing stops it.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `Ok(x * x)`.
    Square(u64),
    /// `Ok(())`.
    Sleep,
    /// `Panicked`.
    Panic,
    /// `WorkerDied` with code 3.
    Crash,
}

/// One submitted job: its kind, its handle (type-erased to a checker), and the bookkeeping.
struct Submitted {
    /// What it should give if nothing stops it.
    kind: Kind,
    /// Its handle.
    handle: Handle,
    /// A `cancel` or `abort` of it returned `true`.
    stopped: bool,
    /// Runs of its done callback.
    callbacks: Arc<AtomicUsize>,
}

/// A handle of one of the value types used here.
enum Handle {
    /// A square or a panic.
    Value(JobHandle<u64>),
    /// A sleep or a crash.
    Unit(JobHandle<()>),
}

impl Handle {
    fn cancel(&self) -> bool {
        match self {
            Handle::Value(h) => h.cancel(),
            Handle::Unit(h) => h.cancel(),
        }
    }

    fn abort(&self) -> bool {
        match self {
            Handle::Value(h) => h.abort(),
            Handle::Unit(h) => h.abort(),
        }
    }

    fn on_done(&self, callbacks: &Arc<AtomicUsize>) {
        let callbacks = callbacks.clone();
        let count = move || {
            callbacks.fetch_add(1, Ordering::SeqCst);
        };
        match self {
            Handle::Value(h) => h.add_done_callback(count),
            Handle::Unit(h) => h.add_done_callback(count),
        }
    }
}

/// Runs one thread's operations; returns what it submitted.
fn drive(pool: &ProcessPool, ops: Vec<Op>) -> Vec<Submitted> {
    let mut submitted: Vec<Submitted> = Vec::new();
    for op in ops {
        let (kind, handle) = match op {
            Op::Square(x) => (
                Kind::Square(x),
                Handle::Value(pool.submit(SQUARE.call(x)).unwrap()),
            ),
            Op::Sleep(ms) => (
                Kind::Sleep,
                Handle::Unit(pool.submit(SLEEP_MS.call(ms)).unwrap()),
            ),
            Op::Panic => (
                Kind::Panic,
                Handle::Value(pool.submit(PANIC.call("p".into())).unwrap()),
            ),
            Op::Crash => (
                Kind::Crash,
                Handle::Unit(pool.submit(EXIT3.call(())).unwrap()),
            ),
            Op::Cancel(i) | Op::Abort(i) if !submitted.is_empty() => {
                let n = submitted.len();
                let target = &mut submitted[i % n];
                let stopped = match op {
                    Op::Cancel(_) => target.handle.cancel(),
                    _ => target.handle.abort(),
                };
                target.stopped |= stopped;
                continue;
            }
            Op::Cancel(_) | Op::Abort(_) => continue,
        };
        let callbacks = Arc::new(AtomicUsize::new(0));
        handle.on_done(&callbacks);
        submitted.push(Submitted {
            kind,
            handle,
            stopped: false,
            callbacks,
        });
    }
    submitted
}

/// Checks one job's outcome against the model, and its callback count.
fn check(job: Submitted) {
    let Submitted {
        kind,
        handle,
        stopped,
        callbacks,
    } = job;
    let crash = JobError::WorkerDied(WorkerExit {
        code: Some(3),
        signal: None,
    });
    match (handle, kind) {
        (Handle::Value(h), Kind::Square(x)) => {
            let outcome = h.result();
            let expected = if stopped {
                Err(JobError::Cancelled)
            } else {
                Ok(x * x)
            };
            assert_eq!(outcome, expected, "square({x})");
        }
        (Handle::Value(h), Kind::Panic) => {
            let outcome = h.result();
            if stopped {
                assert_eq!(outcome, Err(JobError::Cancelled));
            } else {
                assert!(matches!(outcome, Err(JobError::Panicked(_))), "{outcome:?}");
            }
        }
        (Handle::Unit(h), Kind::Sleep) => {
            let expected = if stopped {
                Err(JobError::Cancelled)
            } else {
                Ok(())
            };
            assert_eq!(h.result(), expected, "sleep");
        }
        (Handle::Unit(h), Kind::Crash) => {
            let expected = if stopped {
                Err(JobError::Cancelled)
            } else {
                Err(crash)
            };
            assert_eq!(h.result(), expected, "crash");
        }
        _ => unreachable!("kinds and handle types are paired in drive"),
    }
    // The callback may still be running on the resolving thread; it must run exactly once.
    wait_for("the done callback", Duration::from_secs(2), || {
        callbacks.load(Ordering::SeqCst) >= 1
    });
    assert_eq!(
        callbacks.load(Ordering::SeqCst),
        1,
        "a done callback ran twice"
    );
}

/// Runs both threads' operations on one pool and checks the model.
fn run_case(first: Vec<Op>, second: Vec<Op>) {
    let pool = Arc::new(builder(2).build().unwrap());
    // Sample the worker count while the threads run.
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (pool, done) = (pool.clone(), done.clone());
        thread::spawn(move || {
            let mut most = 0;
            while !done.load(Ordering::SeqCst) {
                most = most
                    .max(pool.counters().workers)
                    .max(pool.worker_pids().len());
                thread::sleep(Duration::from_millis(1));
            }
            most
        })
    };
    let threads: Vec<_> = [first, second]
        .into_iter()
        .map(|ops| {
            let pool = pool.clone();
            thread::spawn(move || drive(&pool, ops))
        })
        .collect();
    for thread in threads {
        thread.join().unwrap().into_iter().for_each(check);
    }
    done.store(true, Ordering::SeqCst);
    let most = sampler.join().unwrap();
    assert!(most <= 2, "{most} workers at once");
    pool.shutdown(true, false);
    assert_eq!(pool.counters().workers, 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(8)))]

    /// Every handle resolves once, as the model says, and workers never exceed the maximum.
    #[test]
    fn every_job_resolves_once_as_the_model_says(
        first in prop::collection::vec(op(), 1..10),
        second in prop::collection::vec(op(), 1..10),
    ) {
        deadline(CASE_BUDGET, move || run_case(first, second));
    }
}
