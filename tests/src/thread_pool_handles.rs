//! `JobHandle` on a `ThreadPool`: cancel, abort, the cancel token, done callbacks, waiting
//! with a timeout, and awaiting the handle as a future.
//!
//! - `cancel` of a queued job succeeds: the body never runs and the handle is `Cancelled`;
//!   `cancel` of a running or finished job returns `false` and changes nothing.
//! - `abort` of a running plain job resolves the handle `Cancelled` at once; the body runs to
//!   its end and its value is dropped unseen. With `submit_with_token`, `abort` trips the
//!   token and the job stops early.
//! - A done callback runs exactly once: on the worker thread when the job was pending, on the
//!   caller's thread when it was already done. One that panics is ignored: the worker lives
//!   on and the other callbacks still run. So does a panicking `Drop` of a discarded value or
//!   of a cancelled job's closure.
//! - `result_timeout` gives `WaitTimedOut` while the job runs, then the value; any later
//!   retrieval (`result_timeout`, `result`, `.await`) gives `AlreadyRetrieved`.
//! - Awaiting a handle (on the hand-written [`block_on`]) gives the value, and the waker is
//!   woken once, from the worker thread.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use evloop_pools::{JobError, JobHandle, ThreadPool};
use parking_lot::Mutex;

use crate::thread_pool::{block_on, block_on_then, current_name, Latch};
use crate::threads::{eventually, PATIENCE};
use crate::util::{deadline, BUDGET, UNIT};

/// A pool of one worker named `{prefix}-1`, busy with a job (value 1) until `latch` opens.
fn busy_pool(prefix: &str, latch: &Latch) -> (ThreadPool, JobHandle<u32>) {
    let pool = ThreadPool::builder()
        .max_workers(1)
        .thread_name_prefix(prefix)
        .build();
    let latch = latch.clone();
    let busy = pool
        .submit(move || {
            latch.wait();
            1
        })
        .unwrap();
    eventually("the busy job runs", || busy.is_running());
    (pool, busy)
}

/// Counts the drops of a job's value, to see a discarded value go.
struct Loud(Arc<AtomicUsize>);

impl Drop for Loud {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn a_cancelled_queued_job_never_runs() {
    deadline(BUDGET, || {
        let latch = Latch::new();
        let (pool, busy) = busy_pool("tp-cancel", &latch);
        let ran = Arc::new(AtomicUsize::new(0));
        let queued = {
            let ran = ran.clone();
            pool.submit(move || ran.fetch_add(1, SeqCst)).unwrap()
        };
        assert!(queued.cancel());
        assert!(queued.is_done() && queued.is_cancelled() && !queued.is_running());
        assert!(queued.cancel(), "cancelling again still says cancelled");
        assert!(queued.abort(), "so does abort");
        latch.open();
        assert_eq!(busy.result(), Ok(1));
        assert_eq!(queued.result(), Err(JobError::Cancelled));
        pool.shutdown(true, false);
        assert_eq!(ran.load(SeqCst), 0);
        let counters = pool.counters();
        assert_eq!(
            (counters.completed, counters.queued),
            (1, 0),
            "a skipped job does not count"
        );
    });
}

#[test]
fn cancel_of_a_running_or_finished_job_returns_false() {
    deadline(BUDGET, || {
        let latch = Latch::new();
        let (pool, busy) = busy_pool("tp-nocancel", &latch);
        assert!(!busy.cancel());
        assert!(busy.is_running() && !busy.is_cancelled() && !busy.is_done());
        latch.open();
        eventually("the job is done", || busy.is_done());
        assert!(!busy.cancel());
        assert!(!busy.abort(), "abort cannot undo a value either");
        assert!(!busy.is_cancelled());
        assert_eq!(busy.result(), Ok(1));
        assert_eq!(pool.counters().completed, 1);
    });
}

#[test]
fn abort_of_a_running_plain_job_resolves_at_once_and_discards_the_value() {
    deadline(BUDGET, || {
        let pool = ThreadPool::builder().max_workers(1).build();
        let (latch, drops, body_ended) = (
            Latch::new(),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let job = {
            let (latch, drops, body_ended) = (latch.clone(), drops.clone(), body_ended.clone());
            pool.submit(move || {
                latch.wait();
                body_ended.store(true, SeqCst);
                Loud(drops)
            })
            .unwrap()
        };
        eventually("the job runs", || job.is_running());
        assert!(job.abort());
        assert!(job.is_done() && job.is_cancelled() && !job.is_running());
        // Resolved before the body returns: a zero wait sees the outcome.
        assert!(matches!(
            job.result_timeout(Duration::ZERO),
            Err(JobError::Cancelled)
        ));
        assert!(!body_ended.load(SeqCst));
        assert_eq!(pool.counters().running, 1, "the body runs on");
        latch.open();
        eventually("the discarded value is dropped", || drops.load(SeqCst) == 1);
        assert!(body_ended.load(SeqCst));
        eventually("the worker is back", || pool.counters().running == 0);
        assert_eq!(pool.counters().completed, 1);
        assert_eq!(drops.load(SeqCst), 1);
    });
}

#[test]
fn abort_trips_the_token_and_the_job_stops_early() {
    deadline(BUDGET, || {
        let pool = ThreadPool::builder().max_workers(1).build();
        let (rounds, stopped_at) = (Arc::new(AtomicUsize::new(0)), Arc::new(Mutex::new(None)));
        let job = {
            let (rounds, stopped_at) = (rounds.clone(), stopped_at.clone());
            pool.submit_with_token(move |token| {
                let started = Instant::now();
                while !token.is_cancelled() {
                    assert!(started.elapsed() < PATIENCE, "the token was never tripped");
                    rounds.fetch_add(1, SeqCst);
                    thread::sleep(Duration::from_millis(1));
                }
                *stopped_at.lock() = Some(Instant::now());
                "stopped"
            })
            .unwrap()
        };
        eventually("the job loops", || rounds.load(SeqCst) > 0);
        let aborted_at = Instant::now();
        assert!(job.abort());
        assert_eq!(job.result(), Err(JobError::Cancelled));
        eventually("the job saw its token", || stopped_at.lock().is_some());
        let stopped_after = stopped_at.lock().unwrap() - aborted_at;
        assert!(
            stopped_after < UNIT * 5,
            "stopped {stopped_after:?} after abort"
        );
        // A token job aborted while queued never runs at all.
        let latch = Latch::new();
        let blocker = {
            let latch = latch.clone();
            pool.submit(move || latch.wait()).unwrap()
        };
        let ran = Arc::new(AtomicBool::new(false));
        let queued = {
            let ran = ran.clone();
            pool.submit_with_token(move |_| ran.store(true, SeqCst))
                .unwrap()
        };
        assert!(queued.abort());
        latch.open();
        assert_eq!(blocker.result(), Ok(()));
        assert_eq!(queued.result(), Err(JobError::Cancelled));
        pool.shutdown(true, false);
        assert!(!ran.load(SeqCst));
        assert_eq!(pool.counters().completed, 2);
    });
}

/// A done callback that records the name of each thread it ran on.
fn recorder(calls: &Arc<Mutex<Vec<String>>>) -> impl FnOnce() + Send + 'static {
    let calls = calls.clone();
    move || calls.lock().push(current_name())
}

#[test]
fn a_done_callback_runs_once_on_the_thread_that_resolves_the_job() {
    deadline(BUDGET, || {
        let latch = Latch::new();
        let (pool, busy) = busy_pool("tp-callback", &latch);
        // Pending: it runs on the worker.
        let on_worker = Arc::new(Mutex::new(Vec::new()));
        busy.add_done_callback(recorder(&on_worker));
        assert!(on_worker.lock().is_empty());
        // Queued, then cancelled here: it runs on this thread, inside `cancel`.
        let queued = pool.submit(|| 2).unwrap();
        let on_canceller = Arc::new(Mutex::new(Vec::new()));
        queued.add_done_callback(recorder(&on_canceller));
        assert!(queued.cancel());
        assert_eq!(*on_canceller.lock(), [current_name()]);
        latch.open();
        eventually("the callback ran", || !on_worker.lock().is_empty());
        // Already done: it runs at once, on the caller's thread.
        let late = Arc::new(Mutex::new(Vec::new()));
        busy.add_done_callback(recorder(&late));
        assert_eq!(*late.lock(), [current_name()]);
        pool.shutdown(true, false);
        assert_eq!(
            *on_worker.lock(),
            ["tp-callback-1"],
            "exactly once, on the worker"
        );
        assert_eq!(on_canceller.lock().len(), 1);
        assert_eq!(busy.result(), Ok(1));
        assert_eq!(queued.result(), Err(JobError::Cancelled));
    });
}

/// Regression: a panicking done callback used to unwind through the worker thread, which
/// died still counted as a running worker: the next job on a one-worker pool never ran.
#[test]
fn a_panicking_done_callback_neither_kills_the_worker_nor_starves_the_others() {
    deadline(BUDGET, || {
        let latch = Latch::new();
        let (pool, busy) = busy_pool("tp-badcb", &latch);
        busy.add_done_callback(|| panic!("a callback failed"));
        let after = Arc::new(Mutex::new(Vec::new()));
        busy.add_done_callback(recorder(&after));
        latch.open();
        let next = pool.submit(current_name).unwrap();
        assert_eq!(next.result_timeout(PATIENCE), Ok("tp-badcb-1".to_string()));
        assert_eq!(*after.lock(), ["tp-badcb-1"]);
        assert_eq!(busy.result(), Ok(1));
        let counters = pool.counters();
        assert_eq!(
            (counters.workers, counters.running, counters.completed),
            (1, 0, 2)
        );
        // On the caller's thread, for a job already done, it is ignored too.
        next_is_done_callback_panic_is_ignored(&pool);
    });
}

/// `add_done_callback` with a panicking callback on a finished job returns normally.
fn next_is_done_callback_panic_is_ignored(pool: &ThreadPool) {
    let done = pool.submit(|| 3).unwrap();
    eventually("the job is done", || done.is_done());
    done.add_done_callback(|| panic!("a late callback failed"));
    assert_eq!(done.result(), Ok(3));
}

/// Panics when dropped (unless its thread is already unwinding, which would abort).
struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        if !thread::panicking() {
            panic!("a Bomb was dropped");
        }
    }
}

/// Regression: a panic escaping a job after its body (the `Drop` of a value discarded by
/// `abort`, or of a cancelled job's closure) used to kill the worker thread while it was
/// still counted (as idle, or as running): the next job on a one-worker pool never ran.
#[test]
fn a_panicking_drop_after_the_body_leaves_the_worker_alive() {
    deadline(BUDGET, || {
        let latch = Latch::new();
        let (pool, busy) = busy_pool("tp-bomb", &latch);
        // A value discarded by `abort`, and a cancelled job's captures, panic when dropped.
        let release = Latch::new();
        let discarded = {
            let release = release.clone();
            pool.submit(move || {
                release.wait();
                Bomb
            })
            .unwrap()
        };
        let bomb = Bomb;
        let skipped = pool
            .submit(move || {
                let _held = &bomb;
            })
            .unwrap();
        assert!(skipped.cancel());
        latch.open();
        assert_eq!(busy.result(), Ok(1));
        eventually("the discarded job runs", || discarded.is_running());
        assert!(discarded.abort());
        release.open();
        let next = pool.submit(current_name).unwrap();
        assert_eq!(next.result_timeout(PATIENCE), Ok("tp-bomb-1".to_string()));
        let counters = pool.counters();
        assert_eq!(
            (counters.workers, counters.running, counters.queued),
            (1, 0, 0)
        );
        assert_eq!(
            counters.completed, 3,
            "the busy, the discarded and the next job ran"
        );
    });
}

#[test]
fn result_timeout_times_out_then_gives_the_value_once() {
    deadline(BUDGET, || {
        let latch = Latch::new();
        let (_pool, busy) = busy_pool("tp-timeout", &latch);
        let started = Instant::now();
        assert_eq!(busy.result_timeout(UNIT * 2), Err(JobError::WaitTimedOut));
        assert!(started.elapsed() >= UNIT * 2);
        assert!(busy.is_running(), "the job runs on");
        latch.open();
        assert_eq!(busy.result_timeout(PATIENCE), Ok(1));
        assert_eq!(
            busy.result_timeout(PATIENCE),
            Err(JobError::AlreadyRetrieved)
        );
        assert!(busy.is_done() && !busy.is_cancelled());
        assert_eq!(busy.result(), Err(JobError::AlreadyRetrieved));
    });
}

#[test]
fn awaiting_a_handle_is_woken_from_the_worker_thread() {
    deadline(BUDGET, || {
        let latch = Latch::new();
        let (_pool, mut busy) = busy_pool("tp-await", &latch);
        // The job can end only after the first poll registered the waker.
        let (value, woken_on) = block_on_then(&mut busy, || latch.open());
        assert_eq!(value, Ok(1));
        assert_eq!(woken_on, ["tp-await-1"]);
        // A second await finds the value gone, at once.
        let (again, woken_on) = block_on(&mut busy);
        assert_eq!(again, Err(JobError::AlreadyRetrieved));
        assert!(woken_on.is_empty());
    });
}
