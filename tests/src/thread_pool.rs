//! `ThreadPool` basics: the round trip, S7, the defaults, thread names, the initializer and
//! a broken pool, panicking jobs, and how the pool grows and shrinks.
//!
//! - A job's value comes back through its handle; S7's five blocking sleeps (1..5 units) in a
//!   pool of five workers overlap (about 5 units, far below the 15-unit sum) and come back in
//!   the order given.
//! - The default `max_workers` is Python's `min(32, cores + 4)`; worker threads are named
//!   `{prefix}-{n}`.
//! - The initializer runs exactly once on every worker thread, before its first job. If it
//!   fails (an `Err` or a panic) the pool is broken: the queued job and every later submit get
//!   `BrokenPool` naming the message, and nothing hangs.
//! - A panicking job resolves to `Panicked(message)`; the same worker runs the next job.
//! - Growth: a job submitted while the only worker is busy starts a second thread; jobs
//!   submitted one after the other (each after the previous result) reuse one thread.
//!   Shrinking: idle workers exit after the idle timeout, and new ones start on demand.
//!
//! This file also holds the helpers of every `thread_pool_*` module: [`Latch`] (a gate a
//! blocking job waits on), [`block_on`] (a hand-written executor that records which threads
//! woke it) and [`threads_with_prefix`] (live threads of one pool, by name).

use std::collections::HashSet;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread, ThreadId};
use std::time::Instant;

use evloop_pools::{JobError, ThreadPool, TrySubmitError};
use parking_lot::{Condvar, Mutex};

use crate::threads::{eventually, PATIENCE};
use crate::util::{deadline, BUDGET, UNIT};

/// A one-shot gate that blocking jobs wait on until the test opens it.
#[derive(Clone, Default)]
pub(crate) struct Latch {
    /// Whether it is open, and the condvar its waiters sleep on.
    state: Arc<(Mutex<bool>, Condvar)>,
}

impl Latch {
    /// A closed latch.
    pub(crate) fn new() -> Self {
        Latch::default()
    }

    /// Opens the latch and wakes every waiter, from any thread.
    pub(crate) fn open(&self) {
        *self.state.0.lock() = true;
        self.state.1.notify_all();
    }

    /// Blocks until the latch is open. Panics after [`PATIENCE`], so a job waiting on a latch
    /// the test forgot to open fails instead of hanging its worker forever.
    pub(crate) fn wait(&self) {
        let (open, opened) = &*self.state;
        let mut open = open.lock();
        let until = Instant::now() + PATIENCE;
        while !*open {
            assert!(
                !opened.wait_until(&mut open, until).timed_out(),
                "a latch was never opened"
            );
        }
    }
}

/// The waker of [`block_on`]: unparks the blocked thread and records who woke it.
struct Unparker {
    /// The thread blocked in `block_on`.
    thread: Thread,
    /// The name of the thread of every wake, in order.
    woken_on: Mutex<Vec<String>>,
}

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken_on.lock().push(current_name());
        self.thread.unpark();
    }
}

/// Polls `future` on this thread until it is ready, parking between polls (a minimal
/// executor). Returns the output and the names of the threads that woke it, in order.
/// Panics if the future is not ready within [`PATIENCE`].
pub(crate) fn block_on<F: Future>(future: F) -> (F::Output, Vec<String>) {
    block_on_then(future, || {})
}

/// Like [`block_on`], but calls `on_pending` after the first poll that returns `Pending`,
/// once the future's waker is registered (to open a gate only then, say).
pub(crate) fn block_on_then<F: Future>(
    future: F,
    on_pending: impl FnOnce(),
) -> (F::Output, Vec<String>) {
    let mut on_pending = Some(on_pending);
    let mut future = pin!(future);
    let unparker = Arc::new(Unparker {
        thread: thread::current(),
        woken_on: Mutex::new(Vec::new()),
    });
    let waker = Waker::from(unparker.clone());
    let mut cx = Context::from_waker(&waker);
    let started = Instant::now();
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            let woken_on = unparker.woken_on.lock().clone();
            return (output, woken_on);
        }
        if let Some(on_pending) = on_pending.take() {
            on_pending();
        }
        let left = PATIENCE.checked_sub(started.elapsed());
        thread::park_timeout(left.expect("block_on: the future was never ready"));
    }
}

/// The name of the current thread (`""` if it has none).
pub(crate) fn current_name() -> String {
    thread::current().name().unwrap_or_default().to_owned()
}

/// How many live threads of this process are named `{prefix}-{n}`. Every test uses its own
/// prefix, so the count is exact even while other tests run.
pub(crate) fn threads_with_prefix(prefix: &str) -> usize {
    crate::util::threads_named(&format!("{prefix}-"))
}

#[test]
fn a_job_round_trips_its_value() {
    deadline(BUDGET, || {
        let pool = ThreadPool::builder().max_workers(2).build();
        assert_eq!(pool.submit(|| 6 * 7).unwrap().result(), Ok(42));
        let text = pool.submit(|| "from a worker".to_string()).unwrap();
        assert_eq!(text.result().as_deref(), Ok("from a worker"));
        let counters = pool.counters();
        assert_eq!((counters.queued, counters.running), (0, 0));
        assert_eq!(counters.completed, 2);
    });
}

#[test]
fn s7_five_blocking_sleeps_overlap_and_come_back_in_order() {
    deadline(BUDGET, || {
        let pool = ThreadPool::builder().max_workers(5).build();
        let started = Instant::now();
        let jobs: Vec<_> = (1..=5u32)
            .map(|units| {
                pool.submit(move || {
                    thread::sleep(UNIT * units);
                    (units, thread::current().id())
                })
                .unwrap()
            })
            .collect();
        let results: Vec<_> = jobs.into_iter().map(|job| job.result().unwrap()).collect();
        let elapsed = started.elapsed();
        let values: Vec<u32> = results.iter().map(|&(units, _)| units).collect();
        assert_eq!(values, [1, 2, 3, 4, 5]);
        let threads: HashSet<ThreadId> = results.iter().map(|&(_, id)| id).collect();
        assert_eq!(threads.len(), 5, "each sleep had its own worker");
        // The longest sleep bounds it from below; two workers would need 9 units, one 15.
        assert!(elapsed >= UNIT * 5, "{elapsed:?}");
        assert!(
            elapsed < UNIT * 17 / 2,
            "the sleeps did not overlap: {elapsed:?}"
        );
    });
}

#[test]
fn default_max_workers_is_python_s_rule() {
    let cores = thread::available_parallelism().unwrap().get();
    assert_eq!(ThreadPool::new().max_workers(), (cores + 4).min(32));
    assert_eq!(ThreadPool::default().max_workers(), (cores + 4).min(32));
    assert_eq!(
        ThreadPool::builder().max_workers(0).build().max_workers(),
        1
    );
}

#[test]
fn worker_threads_are_named_with_the_prefix() {
    deadline(BUDGET, || {
        let pool = ThreadPool::builder()
            .max_workers(3)
            .thread_name_prefix("tp-names")
            .build();
        let latch = Latch::new();
        let jobs: Vec<_> = (0..3)
            .map(|_| {
                let latch = latch.clone();
                pool.submit(move || {
                    latch.wait();
                    current_name()
                })
                .unwrap()
            })
            .collect();
        eventually("three workers run", || pool.counters().running == 3);
        assert_eq!(threads_with_prefix("tp-names"), 3);
        latch.open();
        let mut names: Vec<String> = jobs.into_iter().map(|job| job.result().unwrap()).collect();
        names.sort();
        assert_eq!(names, ["tp-names-1", "tp-names-2", "tp-names-3"]);
    });
}

thread_local! {
    /// Set by the initializer of `the_initializer_runs_once_per_worker_thread`.
    static INITIALIZED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[test]
fn the_initializer_runs_once_per_worker_thread() {
    deadline(BUDGET, || {
        let inits = Arc::new(Mutex::new(Vec::new()));
        let pool = {
            let inits = inits.clone();
            ThreadPool::builder()
                .max_workers(3)
                .initializer(move || {
                    inits.lock().push(thread::current().id());
                    INITIALIZED.set(true);
                    Ok(())
                })
                .build()
        };
        // Three jobs at once need three workers; twenty more reuse them.
        let latch = Latch::new();
        let mut jobs: Vec<_> = (0..3)
            .map(|_| {
                let latch = latch.clone();
                pool.submit(move || {
                    latch.wait();
                    (thread::current().id(), INITIALIZED.get())
                })
                .unwrap()
            })
            .collect();
        eventually("three workers run", || pool.counters().running == 3);
        latch.open();
        jobs.extend((0..20).map(|_| {
            pool.submit(|| (thread::current().id(), INITIALIZED.get()))
                .unwrap()
        }));
        let ran: Vec<_> = jobs.into_iter().map(|job| job.result().unwrap()).collect();
        assert!(ran.iter().all(|&(_, initialized)| initialized));
        pool.shutdown(true, false);
        let inits = inits.lock().clone();
        assert_eq!(inits.len(), 3, "once per worker: {inits:?}");
        let init_threads: HashSet<ThreadId> = inits.into_iter().collect();
        let job_threads: HashSet<ThreadId> = ran.iter().map(|&(id, _)| id).collect();
        assert_eq!(init_threads.len(), 3);
        assert_eq!(init_threads, job_threads);
    });
}

/// Checks a pool whose initializer fails: the queued job and every later submission get
/// `BrokenPool` naming `message`, and no job body runs.
fn assert_broken_by(pool: ThreadPool, message: &str) {
    let ran = Arc::new(AtomicUsize::new(0));
    let queued = {
        let ran = ran.clone();
        pool.submit(move || ran.fetch_add(1, SeqCst)).unwrap()
    };
    match queued.result() {
        Err(JobError::BrokenPool(why)) => assert!(why.contains(message), "{why}"),
        other => panic!("expected BrokenPool, got {other:?}"),
    }
    let broken = pool.broken().expect("the pool says it is broken");
    assert!(broken.contains(message), "{broken}");
    match pool.submit(|| 1) {
        Err(JobError::BrokenPool(why)) => assert_eq!(why, broken),
        other => panic!("expected BrokenPool, got {other:?}"),
    }
    match pool.try_submit(|| 2) {
        Err(TrySubmitError::Refused(job, JobError::BrokenPool(_))) => assert_eq!(job(), 2),
        other => panic!("expected Refused(BrokenPool), got {other:?}"),
    }
    eventually("the failed worker is gone", || pool.counters().workers == 0);
    pool.shutdown(true, false);
    assert_eq!(ran.load(SeqCst), 0);
    assert_eq!(pool.counters().completed, 0);
}

#[test]
fn an_initializer_that_returns_err_breaks_the_pool() {
    deadline(BUDGET, || {
        let pool = ThreadPool::builder()
            .max_workers(2)
            .initializer(|| Err("no database at db:5432".to_string()))
            .build();
        assert_broken_by(pool, "no database at db:5432");
    });
}

#[test]
fn an_initializer_that_panics_breaks_the_pool() {
    deadline(BUDGET, || {
        let pool = ThreadPool::builder()
            .max_workers(2)
            .initializer(|| panic!("init exploded"))
            .build();
        assert_broken_by(pool, "init exploded");
    });
}

#[test]
fn a_panicking_job_is_reported_and_its_worker_runs_the_next_job() {
    deadline(BUDGET, || {
        let pool = ThreadPool::builder().max_workers(1).build();
        let panicked_on = Arc::new(Mutex::new(None));
        let failing = {
            let panicked_on = panicked_on.clone();
            pool.submit(move || -> u32 {
                *panicked_on.lock() = Some(thread::current().id());
                panic!("job 1 failed")
            })
            .unwrap()
        };
        let next = pool.submit(|| thread::current().id()).unwrap();
        assert_eq!(
            failing.result(),
            Err(JobError::Panicked("job 1 failed".into()))
        );
        assert_eq!(Some(next.result().unwrap()), *panicked_on.lock());
        let counters = pool.counters();
        assert_eq!(counters.workers, 1);
        assert_eq!(counters.completed, 2, "a panic counts as completed");
    });
}

#[test]
fn idle_workers_exit_and_new_ones_start_on_demand() {
    deadline(BUDGET, || {
        let pool = ThreadPool::builder()
            .max_workers(2)
            .thread_name_prefix("tp-idle")
            .idle_timeout(Some(UNIT * 2))
            .build();
        let latch = Latch::new();
        let busy: Vec<_> = (0..2)
            .map(|_| {
                let latch = latch.clone();
                pool.submit(move || latch.wait()).unwrap()
            })
            .collect();
        eventually("two workers run", || pool.counters().running == 2);
        assert_eq!(pool.counters().workers, 2);
        latch.open();
        busy.into_iter().for_each(|job| job.result().unwrap());
        eventually("the idle workers exit", || pool.counters().workers == 0);
        eventually("their threads are gone", || {
            threads_with_prefix("tp-idle") == 0
        });
        // A new job starts a new thread, the pool's third.
        assert_eq!(
            pool.submit(current_name).unwrap().result().unwrap(),
            "tp-idle-3"
        );
        assert_eq!(pool.counters().completed, 3);
    });
}

#[test]
fn a_second_concurrent_job_starts_a_second_thread() {
    deadline(BUDGET, || {
        let pool = ThreadPool::builder().max_workers(4).build();
        let first = pool.submit(|| thread::current().id()).unwrap().result();
        eventually("the worker is idle", || pool.counters().idle == 1);
        let latch = Latch::new();
        let busy = {
            let latch = latch.clone();
            pool.submit(move || {
                latch.wait();
                thread::current().id()
            })
            .unwrap()
        };
        let second = pool.submit(|| thread::current().id()).unwrap().result();
        assert_eq!(pool.counters().workers, 2);
        latch.open();
        let busy = busy.result();
        assert_ne!(second, busy, "the concurrent job had a thread of its own");
        assert!(
            busy == first || second == first,
            "the idle worker was reused"
        );
    });
}

/// Regression: a worker used to count as idle only after it had resolved its job's handle,
/// so a caller that submitted its next job right after reading a result started a new thread
/// in about half the runs.
#[test]
fn sequential_jobs_reuse_one_thread() {
    deadline(BUDGET, || {
        let pool = ThreadPool::builder().max_workers(4).build();
        let threads: HashSet<ThreadId> = (0..50)
            .map(|_| {
                pool.submit(|| thread::current().id())
                    .unwrap()
                    .result()
                    .unwrap()
            })
            .collect();
        assert_eq!(threads.len(), 1);
        assert_eq!(pool.counters().workers, 1);
        assert_eq!(pool.counters().completed, 50);
    });
}
