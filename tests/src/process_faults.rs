//! The process pool under faults: each job gets the right error, and later jobs on the same
//! pool still succeed.
//!
//! | fault | the job gets |
//! |---|---|
//! | SIGKILL from outside, mid-job | `WorkerDied { signal: 9 }` |
//! | `abort()` | `WorkerDied { signal: 6 }` |
//! | SIGSEGV | `WorkerDied { signal: 11 }` |
//! | `exit(3)` | `WorkerDied { code: 3 }` |
//! | a panic | `Panicked(message)`; the worker lives on |
//! | an endless loop past its timeout | `TimedOut`; the worker is killed |
//! | `abort()` of the running handle | `Cancelled`; the worker is killed |
//! | `cancel()` of a queued handle | `Cancelled`; it never runs |
//! | an initializer that panics | `BrokenPool` after `max_startup_failures` starts, no more |

use std::time::{Duration, Instant};

use evloop_pools::{JobError, ProcessPool, WorkerExit};

use crate::pool_functions::{
    ABORT, EXIT3, FAIL_INIT, PANIC, PID, PID_THEN_SLEEP, SEGFAULT, SLEEP_MS, SPIN, SQUARE,
};
use crate::process_pool::{builder, temp_path, wait_for};
use crate::util::{deadline, BUDGET};

/// A worker death by `signal`.
fn killed_by(signal: i32) -> JobError {
    JobError::WorkerDied(WorkerExit {
        code: None,
        signal: Some(signal),
    })
}

/// Checks the pool still runs jobs, on a worker other than `dead` (if given).
fn still_works(pool: &ProcessPool, dead: Option<u32>) {
    assert_eq!(pool.submit(SQUARE.call(12)).unwrap().result(), Ok(144));
    let pid = pool.submit(PID.call(())).unwrap().result().unwrap();
    assert_ne!(Some(pid), dead, "the dead worker still serves");
}

#[test]
fn sigkill_mid_job_fails_only_that_job() {
    deadline(BUDGET, || {
        let pool = builder(1).build().unwrap();
        let path = temp_path("pid");
        let job = pool
            .submit(PID_THEN_SLEEP.call((path.to_string_lossy().into_owned(), 60_000)))
            .unwrap();
        let mut pid = None;
        wait_for("the job to write its pid", BUDGET / 4, || {
            pid = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| t.parse().ok());
            pid.is_some()
        });
        let _ = std::fs::remove_file(&path);
        let pid: u32 = pid.unwrap();
        let status = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        assert_eq!(job.result(), Err(killed_by(9)));
        still_works(&pool, Some(pid));
    });
}

#[test]
fn abort_segfault_and_exit_each_fail_their_job() {
    deadline(BUDGET, || {
        let pool = builder(2).build().unwrap();
        let aborted = pool.submit(ABORT.call(())).unwrap();
        let segfaulted = pool.submit(SEGFAULT.call(())).unwrap();
        let exited = pool.submit(EXIT3.call(())).unwrap();
        let fine = pool.submit(SQUARE.call(3)).unwrap();
        assert_eq!(aborted.result(), Err(killed_by(6)));
        assert_eq!(segfaulted.result(), Err(killed_by(11)));
        assert_eq!(
            exited.result(),
            Err(JobError::WorkerDied(WorkerExit {
                code: Some(3),
                signal: None
            }))
        );
        assert_eq!(fine.result(), Ok(9));
        still_works(&pool, None);
        assert!(pool.counters().workers <= 2);
    });
}

#[test]
fn a_panic_fails_its_job_and_the_worker_lives_on() {
    deadline(BUDGET, || {
        let pool = builder(1).build().unwrap();
        let before = pool.submit(PID.call(())).unwrap().result().unwrap();
        let outcome = pool.submit(PANIC.call("kaboom".into())).unwrap().result();
        let Err(JobError::Panicked(message)) = outcome else {
            panic!("expected a panic, got {outcome:?}");
        };
        assert!(
            message.contains("kaboom") && message.contains("pool_functions.rs"),
            "{message}"
        );
        assert_eq!(pool.submit(PID.call(())).unwrap().result(), Ok(before));
        assert_eq!(pool.counters().restarts, 0);
    });
}

#[test]
fn an_endless_job_times_out_and_its_worker_is_replaced() {
    deadline(BUDGET, || {
        let pool = builder(1)
            .default_timeout(Some(Duration::from_millis(200)))
            .build()
            .unwrap();
        let first = pool.submit(PID.call(())).unwrap().result().unwrap();
        let started = Instant::now();
        let spin = pool.submit(SPIN.call(()).timeout(Duration::from_millis(100)));
        assert_eq!(spin.unwrap().result(), Err(JobError::TimedOut));
        assert!(started.elapsed() < Duration::from_secs(3));
        // The pool's default timeout applies to calls without their own.
        assert_eq!(
            pool.submit(SPIN.call(())).unwrap().result(),
            Err(JobError::TimedOut)
        );
        still_works(&pool, Some(first));
    });
}

#[test]
fn abort_kills_the_worker_of_a_running_job() {
    deadline(BUDGET, || {
        let pool = builder(1).build().unwrap();
        let job = pool.submit(SLEEP_MS.call(60_000)).unwrap();
        wait_for("the job to run", BUDGET / 4, || {
            job.is_running() && pool.worker_pids().len() == 1
        });
        let pid = pool.worker_pids()[0];
        assert!(job.abort());
        assert_eq!(job.result(), Err(JobError::Cancelled));
        still_works(&pool, Some(pid));
    });
}

#[test]
fn cancel_of_a_queued_job_means_it_never_runs() {
    deadline(BUDGET, || {
        let pool = builder(1).build().unwrap();
        let busy = pool.submit(SLEEP_MS.call(200)).unwrap();
        let queued = pool.submit(EXIT3.call(())).unwrap();
        assert!(queued.cancel());
        assert_eq!(queued.result(), Err(JobError::Cancelled));
        assert_eq!(busy.result(), Ok(()));
        // Had the queued job run, this worker would have exited.
        assert_eq!(pool.counters().restarts, 0);
        still_works(&pool, None);
    });
}

#[test]
fn a_failing_initializer_breaks_the_pool_without_a_spawn_storm() {
    deadline(BUDGET, || {
        let marker = temp_path("init");
        let pool = builder(2)
            .initializer(FAIL_INIT, marker.to_string_lossy().into_owned())
            .max_startup_failures(3)
            .build()
            .unwrap();
        let jobs: Vec<_> = (0..4)
            .map(|i| pool.submit(SQUARE.call(i)).unwrap())
            .collect();
        for job in jobs {
            let outcome = job.result();
            assert!(
                matches!(outcome, Err(JobError::BrokenPool(ref why))
                    if why.contains("the initializer `fail_init` failed")
                        && why.contains("refuses to start")),
                "{outcome:?}"
            );
        }
        let starts = || {
            std::fs::read_to_string(&marker)
                .unwrap_or_default()
                .lines()
                .count()
        };
        let counted = starts();
        // 3 failures in a row break it; a second slot may have been starting meanwhile.
        assert!((3..=4).contains(&counted), "{counted} starts");
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(starts(), counted, "workers kept starting");
        assert!(pool.counters().restarts <= 3);
        assert!(matches!(
            pool.submit(SQUARE.call(1)),
            Err(JobError::BrokenPool(_))
        ));
        let _ = std::fs::remove_file(&marker);
    });
}

#[test]
fn break_on_worker_death_is_pythons_policy() {
    deadline(BUDGET, || {
        let pool = builder(1).break_on_worker_death(true).build().unwrap();
        assert!(matches!(
            pool.submit(EXIT3.call(())).unwrap().result(),
            Err(JobError::WorkerDied(_))
        ));
        let refused = pool.submit(SQUARE.call(1));
        assert!(
            matches!(refused, Err(JobError::BrokenPool(ref why)) if why.contains("break_on_worker_death")),
            "{refused:?}"
        );
    });
}

#[test]
fn faults_in_a_row_leave_the_pool_serving() {
    deadline(BUDGET, || {
        let pool = builder(2)
            .default_timeout(Some(Duration::from_secs(5)))
            .build()
            .unwrap();
        for round in 0..3u64 {
            let jobs = [
                pool.submit(EXIT3.call(())).unwrap(),
                pool.submit(ABORT.call(())).unwrap(),
            ];
            let panicked = pool.submit(PANIC.call(format!("round {round}"))).unwrap();
            let squared = pool.submit(SQUARE.call(round)).unwrap();
            for job in jobs {
                assert!(matches!(job.result(), Err(JobError::WorkerDied(_))));
            }
            assert!(matches!(panicked.result(), Err(JobError::Panicked(_))));
            assert_eq!(squared.result(), Ok(round * round));
        }
        assert!(pool.broken().is_none());
        still_works(&pool, None);
    });
}

#[test]
fn a_worker_killed_while_idle_fails_no_job() {
    deadline(BUDGET, || {
        let pool = builder(1).build().unwrap();
        let pid = pool.submit(PID.call(())).unwrap().result().unwrap();
        let status = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        // Let the kill land before the next call (the race itself is not the subject).
        // Careful: the main thread turns zombie first; the process can be reaped only once
        // its other threads (the watchdog) are gone too, so wait for that as well.
        wait_for("the idle worker to die", BUDGET / 4, || {
            let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map_or(true, |stat| stat.contains(") Z "));
            let threads = std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |d| d.count());
            zombie && threads <= 1
        });
        assert_eq!(pool.submit(SQUARE.call(5)).unwrap().result(), Ok(25));
        let replacement = pool.submit(PID.call(())).unwrap().result().unwrap();
        assert_ne!(replacement, pid);
        assert_eq!(pool.counters().restarts, 1);
        pool.shutdown(true, false);
    });
}

#[test]
fn calls_made_one_after_another_use_one_worker() {
    deadline(BUDGET, || {
        let pool = builder(4).build().unwrap();
        let pids: std::collections::BTreeSet<u32> = (0..200)
            .map(|_| pool.submit(PID.call(())).unwrap().result().unwrap())
            .collect();
        assert_eq!(
            pids.len(),
            1,
            "a strictly sequential caller grew the pool: {pids:?}"
        );
        assert_eq!(pool.counters().workers, 1);
        pool.shutdown(true, false);
    });
}
