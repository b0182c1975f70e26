//! A job's `JobScope`: where it runs and what it brackets, in both pools.
//!
//! - A process call's scope runs once, in the parent, on the supervisor thread of the slot
//!   that runs the call, and brackets the call's run in the worker process (the worker's own
//!   clock readings fall inside it) and the resolution of its handle.
//! - A call cancelled while queued, or refused, drops its scope without entering it.
//! - A scope that panics, or never calls the job, loses nothing: the call still runs once and
//!   resolves with its value, and the supervisor lives on.
//! - A thread job's scope runs on the worker thread, around the closure; there a scope that
//!   panics or never calls the job fails it with `Panicked`.
//!
//! Each pool has its own thread name prefix, so the leak check (`threads_named` after
//! `shutdown(true, ..)`) and the thread-name assertions see only this test's threads.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use evloop_pools::{Executor, JobError, JobScope, ThreadPool, TrySubmitError};

use crate::pool_functions::{CPU_WORK, PID, SLEEP_MS, SQUARE};
use crate::process_pool::{builder, wait_for};
use crate::util::{deadline, threads_named, BUDGET};

/// What a recording scope saw.
#[derive(Debug)]
struct Seen {
    /// The name of the thread the scope ran on.
    thread: Option<String>,
    /// When the scope was entered (monotonic).
    entered: Instant,
    /// When the scope was left (monotonic).
    left: Instant,
    /// The same two instants on the wall clock, in µs since the Unix epoch, to compare with
    /// a worker process's own readings.
    wall: (u64, u64),
}

/// Now, in µs since the Unix epoch (the clock `CPU_WORK` reports in).
fn wall_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// A scope that calls the job once and sends what it saw when it leaves.
fn recording(tx: mpsc::Sender<Seen>) -> JobScope {
    JobScope::new(move |job| {
        let (entered, wall_in) = (Instant::now(), wall_micros());
        job();
        let (left, wall_out) = (Instant::now(), wall_micros());
        let thread = std::thread::current().name().map(str::to_owned);
        let _ = tx.send(Seen {
            thread,
            entered,
            left,
            wall: (wall_in, wall_out),
        });
    })
}

/// A scope that counts entries and sets `dropped` when it is dropped (entered or not).
fn counting(entered: Arc<AtomicUsize>, dropped: Arc<AtomicBool>) -> JobScope {
    /// Sets the flag when dropped.
    struct OnDrop(Arc<AtomicBool>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let guard = OnDrop(dropped);
    JobScope::new(move |job| {
        let _guard = guard;
        entered.fetch_add(1, Ordering::SeqCst);
        job();
    })
}

#[test]
fn a_process_calls_scope_runs_once_on_its_supervisor_around_the_run_in_the_worker() {
    deadline(BUDGET, || {
        let pool = builder(1).thread_name_prefix("pscope-a").build().unwrap();
        // A sleep of 50 ms in the worker: the scope lasts at least that long, and the handle
        // resolves inside it (a done callback on the supervisor records when).
        let (tx, rx) = mpsc::channel();
        let submitted = Instant::now();
        let sleep = pool
            .try_submit_job_scoped(SLEEP_MS.call(50), recording(tx.clone()))
            .unwrap();
        let (done_tx, done_rx) = mpsc::channel();
        sleep.add_done_callback(move || {
            let _ = done_tx.send(Instant::now());
        });
        assert_eq!(sleep.result(), Ok(()));
        let seen = rx.recv_timeout(BUDGET / 2).expect("the scope ran");
        let done_at = done_rx.recv_timeout(BUDGET / 2).unwrap();
        assert_eq!(seen.thread.as_deref(), Some("pscope-a-1"), "{seen:?}");
        assert!(seen.entered >= submitted);
        assert!(
            seen.left - seen.entered >= Duration::from_millis(50),
            "{seen:?}"
        );
        assert!(
            seen.entered <= done_at && done_at <= seen.left,
            "the handle resolved outside the scope: {seen:?}, resolved at {done_at:?}"
        );
        // A CPU job: the worker's own start and end readings fall inside the scope.
        let cpu = pool
            .try_submit_job_scoped(CPU_WORK.call(200_000), recording(tx))
            .unwrap();
        let (_, started, ended) = cpu.result().unwrap();
        let seen = rx.recv_timeout(BUDGET / 2).expect("the scope ran");
        assert!(
            seen.wall.0 <= started && ended <= seen.wall.1,
            "the worker ran {started}..{ended} µs, outside the scope {:?}",
            seen.wall
        );
        // Exactly once each: once the supervisors are joined, every scope is gone.
        pool.shutdown(true, false);
        assert!(matches!(
            rx.recv_timeout(Duration::ZERO),
            Err(mpsc::RecvTimeoutError::Disconnected)
        ));
        assert_eq!(pool.counters().workers, 0);
        assert_eq!(threads_named("pscope-a"), 0);
    });
}

#[test]
fn a_call_cancelled_while_queued_or_refused_never_enters_its_scope() {
    deadline(BUDGET, || {
        let pool = builder(1).thread_name_prefix("pscope-b").build().unwrap();
        let running = pool.submit(SLEEP_MS.call(100)).unwrap();
        wait_for("the sleep to run", BUDGET / 4, || running.is_running());
        // Queued behind the sleep, then cancelled.
        let (entered, dropped) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let queued = pool
            .try_submit_job_scoped(SQUARE.call(3), counting(entered.clone(), dropped.clone()))
            .unwrap();
        assert!(queued.cancel());
        assert_eq!(running.result(), Ok(()));
        // A scoped call that runs afterwards shows the supervisor went past the cancelled one.
        let (ran, ran_dropped) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let after = pool
            .try_submit_job_scoped(SQUARE.call(4), counting(ran.clone(), ran_dropped.clone()))
            .unwrap();
        assert_eq!(after.result(), Ok(16));
        assert_eq!(queued.result(), Err(JobError::Cancelled));
        // Refused after shutdown: handed back, its scope dropped unentered.
        pool.shutdown(true, false);
        let (refused, refused_dropped) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let outcome = pool.try_submit_job_scoped(
            SQUARE.call(5),
            counting(refused.clone(), refused_dropped.clone()),
        );
        assert!(matches!(
            outcome,
            Err(TrySubmitError::Refused(_, JobError::ShutDown))
        ));
        assert_eq!(entered.load(Ordering::SeqCst), 0);
        assert!(
            dropped.load(Ordering::SeqCst),
            "the cancelled call kept its scope"
        );
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert!(ran_dropped.load(Ordering::SeqCst));
        assert_eq!(refused.load(Ordering::SeqCst), 0);
        assert!(refused_dropped.load(Ordering::SeqCst));
        assert_eq!(pool.counters().workers, 0);
        assert_eq!(threads_named("pscope-b"), 0);
    });
}

#[test]
fn a_panicking_scope_or_one_that_never_calls_the_job_still_gives_the_value() {
    deadline(BUDGET, || {
        let pool = builder(1).thread_name_prefix("pscope-c").build().unwrap();
        let worker = pool.submit(PID.call(())).unwrap().result().unwrap();
        // Each scope counts its entry first, so the test sees that all four were entered.
        let entered = Arc::new(AtomicUsize::new(0));
        let enter = |entered: &Arc<AtomicUsize>| {
            let entered = entered.clone();
            move || entered.fetch_add(1, Ordering::SeqCst)
        };
        let count = enter(&entered);
        let panics_first = JobScope::new(move |_job| {
            count();
            panic!("a scope that panics before the job");
        });
        let count = enter(&entered);
        let never_calls = JobScope::new(move |_job| {
            count();
        });
        let count = enter(&entered);
        let panics_after = JobScope::new(move |job| {
            count();
            job();
            panic!("a scope that panics after the job");
        });
        let count = enter(&entered);
        let calls_twice = JobScope::new(move |job| {
            count();
            job();
            job();
        });
        let handles = [panics_first, never_calls, panics_after, calls_twice]
            .into_iter()
            .zip(5..)
            .map(|(scope, x)| pool.try_submit_job_scoped(SQUARE.call(x), scope).unwrap())
            .collect::<Vec<_>>();
        let values: Vec<_> = handles.into_iter().map(|h| h.result()).collect();
        assert_eq!(values, [Ok(25), Ok(36), Ok(49), Ok(64)]);
        assert_eq!(entered.load(Ordering::SeqCst), 4);
        // The supervisor lived on, with the same worker: nothing restarted.
        assert_eq!(pool.submit(PID.call(())).unwrap().result(), Ok(worker));
        let counters = pool.counters();
        assert_eq!((counters.completed, counters.restarts), (6, 0));
        pool.shutdown(true, false);
        assert_eq!(pool.counters().workers, 0);
        assert_eq!(threads_named("pscope-c"), 0);
    });
}

#[test]
fn a_thread_jobs_scope_runs_on_the_worker_thread_around_the_closure() {
    deadline(BUDGET, || {
        let pool = ThreadPool::builder()
            .thread_name_prefix("tscope")
            .max_workers(1)
            .build();
        let (tx, rx) = mpsc::channel();
        let handle = pool
            .try_submit_job_scoped(
                || {
                    std::thread::sleep(Duration::from_millis(20));
                    std::thread::current().name().map(str::to_owned)
                },
                recording(tx),
            )
            .unwrap();
        let job_thread = handle.result().unwrap();
        let seen = rx.recv_timeout(BUDGET / 2).expect("the scope ran");
        assert_eq!(job_thread.as_deref(), Some("tscope-1"));
        assert_eq!(seen.thread, job_thread);
        assert!(seen.left - seen.entered >= Duration::from_millis(20));
        // Unlike a process call, a thread job fails with its scope: the scope is part of it.
        let panics_after = JobScope::new(|job| {
            job();
            panic!("a thread scope that panics after the job");
        });
        let outcome = pool
            .try_submit_job_scoped(|| 1, panics_after)
            .unwrap()
            .result();
        assert_eq!(
            outcome,
            Err(JobError::Panicked(
                "a thread scope that panics after the job".into()
            ))
        );
        let never_calls = JobScope::new(|_job| {});
        let outcome = pool
            .try_submit_job_scoped(|| 1, never_calls)
            .unwrap()
            .result();
        assert!(
            matches!(&outcome, Err(JobError::Panicked(why)) if why.contains("without running its job")),
            "{outcome:?}"
        );
        pool.shutdown(true, false);
        assert!(matches!(
            rx.recv_timeout(Duration::ZERO),
            Err(mpsc::RecvTimeoutError::Disconnected)
        ));
        assert_eq!(threads_named("tscope"), 0);
    });
}
