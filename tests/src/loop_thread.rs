//! `LoopThread`: a loop running forever on a background thread.
//!
//! - `start` / `start_named` run the loop on a thread of that name (as the OS shows it in
//!   `/proc/self/task/*/comm`), and the handle reaches it.
//! - `stop()` joins the thread and returns `Ok` (a panicking callback is the loop's business,
//!   not the thread's); afterwards the handle reports `is_closed` and refuses every call.
//! - Dropping a `LoopThread` without `stop()` joins its thread too, and releases the poller
//!   and waker file descriptors once the last handle is gone.
//! - Tasks still running at the stop are cancelled: each future is dropped exactly once, on the
//!   loop thread, and the foreign `ThreadsafeTask::result()` returns `Cancelled`.
//! - Starting and stopping loop threads over and over leaks no descriptor and no thread.
//!
//! Thread counts are checked in two ways: exactly, by thread name (robust against other tests,
//! since every test here uses its own name), and in total under `exclusive` with
//! [`harness_slack`] allowed for test threads the harness starts meanwhile.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use evloop::{LoopError, LoopThread, TaskError, ThreadsafeTask};

use crate::threads::{eventually, SyncDropCounter, LOOP_THREAD_NAME};
use crate::util::{deadline, exclusive, Resources, BUDGET};

/// A sleep that outlives every test: the task is still parked in it when the loop stops.
const FOREVER: Duration = Duration::from_secs(3600);

/// How many threads of this process the OS names exactly `name`.
fn threads_named(name: &str) -> usize {
    crate::util::thread_names()
        .iter()
        .filter(|comm| comm.as_str() == name)
        .count()
}

/// Waits until no thread named `name` is left (a joined thread may linger in `/proc` for a
/// moment after `join` returns).
fn assert_no_thread_named(name: &str) {
    eventually(&format!("the threads named {name:?} are gone"), || {
        threads_named(name) == 0
    });
}

/// How many threads the test harness may add while an `exclusive` body runs: one blocked
/// test thread per other test slot (see `lifecycle::fds_only`).
pub(crate) fn harness_slack() -> usize {
    let slots = std::env::var("RUST_TEST_THREADS")
        .ok()
        .and_then(|value| value.parse().ok())
        .or_else(|| thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1);
    slots.saturating_sub(1)
}

/// `before` with room for the harness's threads (file descriptors stay exact).
pub(crate) fn with_harness_slack(before: Resources) -> Resources {
    Resources {
        threads: before.threads + harness_slack(),
        ..before
    }
}

/// Spawns a task that records its start, then sleeps [`FOREVER`] holding `guard`.
fn spawn_sleeper(
    loop_thread: &LoopThread,
    counter: &SyncDropCounter,
    started: &Arc<AtomicUsize>,
) -> ThreadsafeTask<()> {
    let (guard, started) = (counter.guard(), started.clone());
    let task = loop_thread.handle().spawn_threadsafe(async move {
        let _guard = guard;
        started.fetch_add(1, SeqCst);
        evloop::sleep(FOREVER).await;
    });
    task.expect("the loop is open")
}

/// The name of the thread that runs `loop_thread`'s tasks.
fn loop_thread_name(loop_thread: &LoopThread) -> Option<String> {
    let task = loop_thread
        .handle()
        .spawn_threadsafe(async { thread::current().name().map(str::to_owned) });
    task.unwrap().result().unwrap()
}

#[test]
fn start_and_start_named_run_the_loop_on_a_named_thread() {
    exclusive(BUDGET, || {
        const NAME: &str = "evl-named-test";
        let default_before = threads_named(LOOP_THREAD_NAME);
        let default = LoopThread::start().unwrap();
        let named = LoopThread::start_named(NAME).unwrap();
        assert_eq!(threads_named(LOOP_THREAD_NAME), default_before + 1);
        assert_eq!(threads_named(NAME), 1);
        assert_eq!(
            loop_thread_name(&default).as_deref(),
            Some(LOOP_THREAD_NAME)
        );
        assert_eq!(loop_thread_name(&named).as_deref(), Some(NAME));
        assert_eq!(named.stop(), Ok(()));
        assert_eq!(default.stop(), Ok(()));
        assert_no_thread_named(NAME);
        eventually("the default loop thread is gone", || {
            threads_named(LOOP_THREAD_NAME) == default_before
        });
    });
}

#[test]
fn stop_joins_the_thread_and_closes_the_loop() {
    deadline(BUDGET, || {
        const NAME: &str = "evl-stop-test";
        let loop_thread = LoopThread::start_named(NAME).unwrap();
        let handle = loop_thread.handle().clone();
        assert!(!handle.is_closed());
        // A panicking callback is caught by the loop: the thread lives on.
        handle
            .call_soon_threadsafe(|| panic!("a callback panics (expected by the test)"))
            .unwrap();
        assert_eq!(loop_thread_name(&loop_thread).as_deref(), Some(NAME));
        assert_eq!(loop_thread.stop(), Ok(()));
        assert_no_thread_named(NAME);
        assert!(handle.is_closed());
        let ran = Arc::new(AtomicBool::new(false));
        let ran2 = ran.clone();
        let refused = handle.call_soon_threadsafe(move || ran2.store(true, SeqCst));
        drop(refused.expect_err("a stopped LoopThread refuses posts"));
        assert!(handle.spawn_threadsafe(async { 1 }).is_err());
        assert!(handle.spawn_threadsafe_with(|| async { 1 }).is_err());
        assert_eq!(handle.stop(), Err(LoopError::Closed));
        assert!(!ran.load(SeqCst));
    });
}

#[test]
fn dropping_loop_threads_without_stop_joins_them_and_releases_their_fds() {
    exclusive(BUDGET, || {
        const NAME: &str = "evl-drop-test";
        const THREADS: usize = 4;
        let before = Resources::now();
        let (counter, started) = (SyncDropCounter::new(), Arc::new(AtomicUsize::new(0)));
        let loop_threads: Vec<_> = (0..THREADS)
            .map(|_| LoopThread::start_named(NAME).unwrap())
            .collect();
        let handles: Vec<_> = loop_threads.iter().map(|t| t.handle().clone()).collect();
        let tasks: Vec<_> = loop_threads
            .iter()
            .map(|t| spawn_sleeper(t, &counter, &started))
            .collect();
        eventually("every sleeper started", || started.load(SeqCst) == THREADS);
        let running = Resources::now();
        assert_eq!(threads_named(NAME), THREADS);
        assert!(
            running.fds >= before.fds + 2 * THREADS,
            "each loop holds a poller and a waker: before {before:?}, running {running:?}"
        );
        drop(loop_threads);
        // Drop joined every thread: the loops are closed and their tasks cancelled.
        assert!(handles.iter().all(|handle| handle.is_closed()));
        for task in tasks {
            assert_eq!(task.result(), Err(TaskError::Cancelled));
        }
        assert_eq!(counter.dropped_on(), vec![NAME; THREADS]);
        drop(handles);
        assert_no_thread_named(NAME);
        with_harness_slack(before).assert_back_to("dropped loop threads");
    });
}

#[test]
fn leftover_tasks_are_cancelled_at_stop_and_dropped_once() {
    deadline(BUDGET, || {
        let loop_thread = LoopThread::start().unwrap();
        let (counter, started) = (SyncDropCounter::new(), Arc::new(AtomicUsize::new(0)));
        let mut tasks: Vec<_> = (0..5)
            .map(|_| spawn_sleeper(&loop_thread, &counter, &started))
            .collect();
        eventually("every sleeper started", || started.load(SeqCst) == 5);
        // One more, posted just before the stop (it may or may not get its first poll).
        tasks.push(spawn_sleeper(&loop_thread, &counter, &started));
        assert_eq!(loop_thread.stop(), Ok(()));
        assert_eq!(counter.dropped_on(), vec![LOOP_THREAD_NAME; 6]);
        for task in tasks {
            assert!(task.is_done());
            assert_eq!(task.result(), Err(TaskError::Cancelled));
        }
        assert_eq!(counter.count(), 6, "dropped exactly once each");
    });
}

#[test]
fn starting_and_stopping_twenty_times_leaks_nothing() {
    exclusive(BUDGET, || {
        let before = Resources::now();
        let (counter, started) = (SyncDropCounter::new(), Arc::new(AtomicUsize::new(0)));
        for round in 0..20 {
            let loop_thread = LoopThread::start().unwrap();
            let sleeper = spawn_sleeper(&loop_thread, &counter, &started);
            let echo = loop_thread.handle().spawn_threadsafe(async move { round });
            assert_eq!(echo.unwrap().result(), Ok(round));
            assert_eq!(loop_thread.stop(), Ok(()));
            assert_eq!(sleeper.result(), Err(TaskError::Cancelled));
        }
        assert_eq!(counter.count(), 20);
        with_harness_slack(before).assert_back_to("20 started and stopped loop threads");
    });
}
