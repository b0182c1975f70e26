//! The pools' debug mode: a job error nobody retrieved is logged once ("job exception was
//! never retrieved"), and nothing else is; `EVLOOP_DEBUG` sets the default; the counters.
//!
//! Reports go through `log` to the suite's one logger (`log_capture`). Tests run in parallel,
//! so each pool here has its own thread name prefix, which every report names
//! (`in ThreadPool "prefix"`): a test looks only at the records that mention its pools.
//! A pool is shut down with `wait` before the records are read, so every job has ended and
//! every report that will ever come has come.

use std::any::type_name;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use evloop_pools::{CancelToken, JobError, ThreadPool};

use crate::log_capture::{self, Record};
use crate::pool_functions::{EXIT3, PANIC, SLEEP_MS, SQUARE};
use crate::process_pool::{builder, wait_for};
use crate::util::{deadline, BUDGET};

/// The debug reports that name the pool `label` (e.g. `ThreadPool "pdbg-a"`).
fn reports(label: &str) -> Vec<Record> {
    log_capture::records(|r| r.target == "evloop_pools::debug" && r.message.contains(label))
}

/// The type name of `f` (what a debug report names a thread job by).
fn type_name_of<F>(_: &F) -> &'static str {
    type_name::<F>()
}

/// A thread pool in debug mode (or not), one worker, named `prefix`.
fn thread_pool(prefix: &str, debug: bool) -> ThreadPool {
    ThreadPool::builder()
        .thread_name_prefix(prefix)
        .max_workers(1)
        .debug(debug)
        .build()
}

#[test]
fn a_panicking_job_dropped_unawaited_is_reported_once_with_its_name() {
    log_capture::install();
    deadline(BUDGET, || {
        let pool = thread_pool("pdbg-a", true);
        assert!(pool.get_debug());
        // Dropped while queued or running: the worker reports when it resolves the job.
        let early = move || -> u32 { panic!("pool-debug marker early") };
        let early_name = type_name_of(&early);
        drop(pool.submit(early).unwrap());
        // Dropped after it ended: the handle's drop reports, on this thread.
        let late = move || -> u32 { panic!("pool-debug marker late") };
        let late_name = type_name_of(&late);
        let handle = pool.submit(late).unwrap();
        // Careful: `is_done` turns true a moment before the worker lets go of the job; the
        // value of a later job on the same (only) worker means it has.
        assert_eq!(pool.submit(|| 1).unwrap().result(), Ok(1));
        assert!(handle.is_done());
        drop(handle);
        pool.shutdown(true, false);
        let found = reports("ThreadPool \"pdbg-a\"");
        let messages: Vec<&str> = found.iter().map(|r| r.message.as_str()).collect();
        assert_eq!(found.len(), 2, "{messages:#?}");
        for (record, name, marker) in [
            (&found[0], early_name, "early"),
            (&found[1], late_name, "late"),
        ] {
            assert_eq!(record.level, log::Level::Warn);
            let expected = format!(
                "job exception was never retrieved: job `{name}` in ThreadPool \"pdbg-a\": \
                 the job panicked: pool-debug marker {marker}"
            );
            assert!(record.message.starts_with(&expected), "{messages:#?}");
        }
        assert!(early_name.contains("pool_debug::") && early_name.contains("{{closure}}"));
        // The late report came from this thread's drop, the early one from the worker.
        let here = std::thread::current().id();
        assert_eq!(found[1].thread, here);
        assert_eq!(log_capture::from_thread(here).len(), 1);
        assert_eq!(found[0].thread_name.as_deref(), Some("pdbg-a-1"));
    });
}

#[test]
fn without_debug_mode_nothing_is_reported() {
    log_capture::install();
    deadline(BUDGET, || {
        let pool = thread_pool("pdbg-b", false);
        assert!(!pool.get_debug());
        drop(
            pool.submit(|| -> u32 { panic!("pool-debug marker off") })
                .unwrap(),
        );
        pool.shutdown(true, false);
        assert_eq!(reports("ThreadPool \"pdbg-b\"").len(), 0);
        assert_eq!(log_capture::containing("pool-debug marker off").len(), 0);
    });
}

#[test]
fn a_retrieved_error_a_cancellation_and_a_dropped_value_are_not_reported() {
    log_capture::install();
    deadline(BUDGET, || {
        let pool = thread_pool("pdbg-c", true);
        let panics = || -> u32 { panic!("pool-debug marker retrieved") };
        // Taken by `result`, by `result_timeout`, and by `.await`.
        let taken = pool.submit(panics).unwrap().result();
        assert!(matches!(taken, Err(JobError::Panicked(_))));
        let handle = pool.submit(panics).unwrap();
        wait_for("the job to end", BUDGET / 4, || handle.is_done());
        assert!(matches!(
            handle.result_timeout(Duration::ZERO),
            Err(JobError::Panicked(_))
        ));
        drop(handle);
        let awaited = evloop::run(async { pool.submit(panics).unwrap().await }).unwrap();
        assert!(matches!(awaited, Err(JobError::Panicked(_))));
        // Aborted while running: its later panic is discarded, its handle says Cancelled.
        let (release, gate) = mpsc::channel::<()>();
        let running = pool
            .submit(move || -> u32 {
                let _ = gate.recv();
                panic!("pool-debug marker aborted")
            })
            .unwrap();
        wait_for("the job to run", BUDGET / 4, || running.is_running());
        // Queued behind it, then cancelled.
        let queued = pool.submit(panics).unwrap();
        assert!(queued.cancel());
        assert!(running.abort());
        drop((running, queued));
        release.send(()).unwrap();
        // A job with a token, aborted: Cancelled too.
        let tokened = pool
            .submit_with_token(|token: CancelToken| -> u32 {
                while !token.is_cancelled() {
                    std::thread::sleep(Duration::from_millis(1));
                }
                panic!("pool-debug marker token")
            })
            .unwrap();
        wait_for("the job to run", BUDGET / 4, || tokened.is_running());
        assert!(tokened.abort());
        drop(tokened);
        // A value dropped unretrieved (fire and forget).
        drop(pool.submit(|| 7).unwrap());
        pool.shutdown(true, false);
        let found = reports("ThreadPool \"pdbg-c\"");
        assert_eq!(found.len(), 0, "{found:#?}");
        assert_eq!(pool.counters().completed, 6);
    });
}

#[test]
fn a_process_job_that_panics_or_whose_worker_dies_is_reported_once_with_its_function() {
    log_capture::install();
    deadline(BUDGET, || {
        let pool = builder(1)
            .thread_name_prefix("pdbg-p")
            .debug(true)
            .build()
            .unwrap();
        drop(
            pool.submit(PANIC.call("pool-debug marker process".into()))
                .unwrap(),
        );
        let died = pool.submit(EXIT3.call(())).unwrap();
        wait_for("the worker to die", BUDGET / 4, || died.is_done());
        drop(died);
        // Neither a value nor a retrieved error is reported.
        drop(pool.submit(SQUARE.call(3)).unwrap());
        let taken = pool
            .submit(PANIC.call("pool-debug marker taken".into()))
            .unwrap();
        assert!(matches!(taken.result(), Err(JobError::Panicked(_))));
        pool.shutdown(true, false);
        let found = reports("ProcessPool \"pdbg-p\"");
        let messages: Vec<&str> = found.iter().map(|r| r.message.as_str()).collect();
        assert_eq!(found.len(), 2, "{messages:#?}");
        assert!(
            messages[0].starts_with(
                "job exception was never retrieved: job `panic` in ProcessPool \"pdbg-p\": \
                 the job panicked: pool-debug marker process"
            ),
            "{messages:#?}"
        );
        assert!(
            messages[1].starts_with(
                "job exception was never retrieved: job `exit3` in ProcessPool \"pdbg-p\": \
                 the worker process running the job died (exited with code 3)"
            ),
            "{messages:#?}"
        );
        // A timed-out job too (its worker is killed).
        let pool = builder(1)
            .thread_name_prefix("pdbg-q")
            .debug(true)
            .build()
            .unwrap();
        let slow = pool
            .submit(SLEEP_MS.call(10_000).timeout(Duration::from_millis(30)))
            .unwrap();
        drop(slow);
        pool.shutdown(true, false);
        let found = reports("ProcessPool \"pdbg-q\"");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].message.contains("job `sleep_ms`"), "{found:#?}");
        assert!(
            found[0].message.contains("ran past its timeout"),
            "{found:#?}"
        );
    });
}

#[test]
fn evloop_debug_sets_the_default_for_both_pools() {
    deadline(BUDGET, || {
        let default_for = |value: Option<&str>| {
            let mut command = Command::new(env!("CARGO_BIN_EXE_pool-worker"));
            command.arg("debug-default").env_remove("EVLOOP_DEBUG");
            if let Some(value) = value {
                command.env("EVLOOP_DEBUG", value);
            }
            let output = command.output().unwrap();
            assert!(output.status.success(), "{output:?}");
            String::from_utf8_lossy(&output.stdout).trim().to_owned()
        };
        for on in ["1", "true", "YES"] {
            assert_eq!(default_for(Some(on)), "env true thread true process true");
        }
        for off in [None, Some("0"), Some("no"), Some("")] {
            assert_eq!(
                default_for(off),
                "env false thread false process false",
                "{off:?}"
            );
        }
    });
}

#[test]
fn counters_count_what_was_submitted_queued_running_and_completed() {
    deadline(BUDGET, || {
        let pool = thread_pool("pdbg-n", false);
        let (release, gate) = mpsc::channel::<()>();
        let blocker = pool.submit(move || gate.recv().is_ok()).unwrap();
        wait_for("the job to run", BUDGET / 4, || blocker.is_running());
        let next = pool.submit(|| 2).unwrap();
        let cancelled = pool.submit(|| 3).unwrap();
        assert!(cancelled.cancel());
        let counters = pool.counters();
        assert_eq!(
            (counters.submitted, counters.queued, counters.running),
            (3, 2, 1)
        );
        assert_eq!(
            (counters.completed, counters.workers, counters.restarts),
            (0, 1, 0)
        );
        release.send(()).unwrap();
        assert_eq!(blocker.result(), Ok(true));
        assert_eq!(next.result(), Ok(2));
        pool.shutdown(true, false);
        let counters = pool.counters();
        assert_eq!(
            (counters.submitted, counters.completed, counters.queued),
            (3, 2, 0)
        );
        assert_eq!(
            (counters.running, counters.idle, counters.workers),
            (0, 0, 0)
        );
        // A process pool: a `map` chunk is one job; a replaced worker is a restart.
        let pool = builder(1).thread_name_prefix("pdbg-m").build().unwrap();
        let squares: Vec<u64> = pool
            .map(SQUARE, 1..=5, 2)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(squares, [1, 4, 9, 16, 25]);
        assert!(pool.submit(EXIT3.call(())).unwrap().result().is_err());
        assert_eq!(pool.submit(SQUARE.call(6)).unwrap().result(), Ok(36));
        let counters = pool.counters();
        assert_eq!((counters.submitted, counters.completed), (5, 5));
        assert_eq!(
            (counters.restarts, counters.workers, counters.queued),
            (1, 1, 0)
        );
        pool.shutdown(true, false);
        assert_eq!(pool.counters().workers, 0);
    });
}
