//! The process pool's normal life: round trips, `map`, the handshake, large and oversized
//! frames, initializers, worker recycling, nested pools, and CPU work beside the loop (S10).
//!
//! Every pool here runs the `pool-worker` binary (`.program(...)`), which calls
//! `worker_main(pool_functions::registry)`; the test binary itself never calls `worker_main`.
//! The real current-executable path (the default program) is checked by running
//! `pool-worker demo`, a parent of its own.
//!
//! This file also holds the helpers the other process-pool files share: [`builder`],
//! [`wait_for`], [`temp_path`].

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use evloop_pools::{Function, JobError, ProcessPool, ProcessPoolBuilder, TrySubmitError};

use crate::pool_functions::{
    registry, Bytes, BYTES, CPU_WORK, ECHO, GREETING, NESTED, PID, SET_GREETING, SLEEP_MS, SQUARE,
    SQUARE_EVEN,
};
use crate::util::{deadline, exclusive, BUDGET};

/// A pool builder of `workers` workers running the `pool-worker` binary.
pub fn builder(workers: usize) -> ProcessPoolBuilder {
    ProcessPool::builder(registry())
        .program(env!("CARGO_BIN_EXE_pool-worker"))
        .max_workers(workers)
}

/// Polls `condition` until it holds, failing the test after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let until = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A fresh path in the temp directory (not created).
pub fn temp_path(tag: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("evloop-tests-{}-{tag}-{n}", std::process::id()))
}

#[test]
fn a_call_round_trips_through_a_worker_process() {
    deadline(BUDGET, || {
        let pool = builder(2).build().unwrap();
        assert_eq!(pool.submit(SQUARE.call(7)).unwrap().result(), Ok(49));
        let pid = pool.submit(PID.call(())).unwrap().result().unwrap();
        assert_ne!(pid, std::process::id());
        assert!(pool.worker_pids().contains(&pid));
        // The handle is a future too, and submit_async queues without blocking the loop.
        let value = evloop::run(async {
            let job = pool.submit_async(SQUARE.call(9)).await.unwrap();
            job.await
        });
        assert_eq!(value.unwrap(), Ok(81));
        pool.shutdown(true, false);
        assert_eq!(pool.counters().workers, 0);
        assert_eq!(pool.submit(SQUARE.call(1)).unwrap_err(), JobError::ShutDown);
    });
}

#[test]
fn map_keeps_input_order_and_a_panicking_element_fails_alone() {
    deadline(BUDGET, || {
        let pool = builder(2).build().unwrap();
        let squares: Vec<u64> = pool
            .map(SQUARE, 0..50, 7)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(squares, (0..50).map(|x| x * x).collect::<Vec<_>>());
        for (x, outcome) in pool.map(SQUARE_EVEN, 0..10, 3).unwrap().enumerate() {
            let x = x as u64;
            match outcome {
                Ok(value) => assert!(x % 2 == 0 && value == x * x, "{x} -> {value}"),
                Err(JobError::Panicked(message)) => {
                    assert!(x % 2 == 1, "{x} panicked");
                    assert!(message.contains(&format!("odd input {x}")), "{message}");
                }
                Err(other) => panic!("{x}: unexpected {other:?}"),
            }
        }
    });
}

#[test]
fn a_bounded_queue_pushes_back_and_shutdown_can_cancel_what_waits() {
    deadline(BUDGET, || {
        let pool = builder(1).queue_capacity(Some(1)).build().unwrap();
        let running = pool.submit(SLEEP_MS.call(200)).unwrap();
        wait_for("the sleep to run", BUDGET / 4, || running.is_running());
        let queued = pool.submit(SQUARE.call(3)).unwrap();
        let Err(TrySubmitError::Full(call)) = pool.try_submit(SQUARE.call(4)) else {
            panic!("the queue should be full");
        };
        // A blocking submit waits for room: the sleep ends, the square leaves the queue.
        let blocked = std::thread::scope(|scope| {
            let submitter = scope.spawn(|| pool.submit(call).unwrap());
            std::thread::sleep(Duration::from_millis(50));
            assert!(!submitter.is_finished(), "submit did not wait for room");
            submitter.join().unwrap()
        });
        assert_eq!(running.result(), Ok(()));
        assert_eq!(queued.result(), Ok(9));
        assert_eq!(blocked.result(), Ok(16));
        // shutdown(cancel_pending) cancels what waits and lets the running job finish.
        let running = pool.submit(SLEEP_MS.call(100)).unwrap();
        wait_for("the sleep to run", BUDGET / 4, || running.is_running());
        let queued = pool.submit(SQUARE.call(5)).unwrap();
        pool.shutdown(false, true);
        assert_eq!(queued.result(), Err(JobError::Cancelled));
        assert_eq!(running.result(), Ok(()));
        assert!(matches!(
            pool.try_submit(SQUARE.call(6)),
            Err(TrySubmitError::Refused(_, JobError::ShutDown))
        ));
    });
}

#[test]
fn a_registry_mismatch_breaks_the_pool_with_the_fix() {
    deadline(BUDGET, || {
        const EXTRA: Function<u8, u8> = Function::new("extra");
        let pool = ProcessPool::builder(registry().register(EXTRA, |x| x))
            .program(env!("CARGO_BIN_EXE_pool-worker"))
            .max_workers(1)
            .build()
            .unwrap();
        let Err(JobError::BrokenPool(why)) = pool.submit(SQUARE.call(2)).unwrap().result() else {
            panic!("expected a broken pool");
        };
        assert!(
            why.contains("`extra` is registered in the parent but not in the worker")
                && why.contains("worker_main"),
            "{why}"
        );
        assert_eq!(pool.broken(), Some(why.clone()));
        assert_eq!(
            pool.submit(SQUARE.call(2)).unwrap_err(),
            JobError::BrokenPool(why)
        );
        // A function the pool's registry lacks is refused at submit, per job.
        let unknown: Function<u64, u64> = Function::new("unknown");
        let pool = builder(1).build().unwrap();
        let outcome = pool.submit(unknown.call(1)).unwrap().result();
        assert!(matches!(outcome, Err(JobError::Protocol(ref why)) if why.contains("`unknown`")));
    });
}

#[test]
fn the_default_program_re_executes_the_current_binary() {
    deadline(BUDGET, || {
        let output = Command::new(env!("CARGO_BIN_EXE_pool-worker"))
            .arg("demo")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{output:?}");
        assert!(stdout.contains("squares: [1, 4, 9, 16, 25]"), "{stdout}");
        assert!(
            stdout.contains("worker is another process: true"),
            "{stdout}"
        );
        assert!(stdout.contains("nested: [0, 1, 4, 9]"), "{stdout}");
        assert!(stdout.contains("workers after shutdown: 0"), "{stdout}");
    });
}

#[test]
fn a_program_without_worker_main_is_refused_before_any_spawn() {
    deadline(BUDGET, || {
        let output = Command::new(env!("CARGO_BIN_EXE_no-worker-main"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("call evloop_pools::worker_main(registry) as the first line of main()"),
            "{stderr}"
        );
        // One message: no re-executed copy printed its own.
        assert_eq!(
            stderr.matches("first line of main()").count(),
            1,
            "{stderr}"
        );
        // Used as another pool's worker program, it exits at once (code 97) and says why.
        let pool = builder(1)
            .program(env!("CARGO_BIN_EXE_no-worker-main"))
            .max_startup_failures(2)
            .build()
            .unwrap();
        let outcome = pool.submit(SQUARE.call(2)).unwrap().result();
        assert!(
            matches!(outcome, Err(JobError::BrokenPool(ref why)) if why.contains("never called worker_main")),
            "{outcome:?}"
        );
    });
}

#[test]
fn a_program_that_never_connects_times_out_and_breaks_the_pool() {
    deadline(BUDGET, || {
        let pool = ProcessPool::builder(registry())
            .program("sleep")
            .args(vec!["5".into()])
            .start_timeout(Duration::from_millis(150))
            .max_startup_failures(2)
            .build()
            .unwrap();
        let outcome = pool.submit(SQUARE.call(2)).unwrap().result();
        assert!(
            matches!(outcome, Err(JobError::BrokenPool(ref why))
                if why.contains("did not connect within the start timeout") && why.contains("worker_main")),
            "{outcome:?}"
        );
    });
}

#[test]
fn payloads_of_32_mib_cross_both_ways() {
    deadline(BUDGET, || {
        let pool = builder(1).build().unwrap();
        let payload = Bytes((0..32 << 20).map(|i: u32| (i % 251) as u8).collect());
        let echoed = pool.submit(ECHO.call(payload.clone())).unwrap().result();
        assert!(
            echoed.as_ref() == Ok(&payload),
            "the echo differs: {:?}",
            echoed.map(|b| b.0.len())
        );
        // A plain Vec<u8> crosses too (serde encodes it byte by byte: keep it small in debug).
        let outcome = pool.submit(BYTES.call(1 << 20)).unwrap().result();
        assert_eq!(outcome, Ok(vec![7; 1 << 20]));
    });
}

#[test]
fn an_oversized_frame_fails_its_job_and_the_pool_keeps_working() {
    deadline(BUDGET, || {
        let pool = builder(1).max_frame_size(64 << 10).build().unwrap();
        let first = pool.submit(PID.call(())).unwrap().result().unwrap();
        // Too large to send: refused before anything is written; the worker stays.
        let outcome = pool
            .submit(ECHO.call(Bytes(vec![1; 100 << 10])))
            .unwrap()
            .result();
        assert!(
            matches!(outcome, Err(JobError::Protocol(ref why)) if why.contains("max_frame_size")),
            "{outcome:?}"
        );
        assert_eq!(pool.submit(PID.call(())).unwrap().result(), Ok(first));
        // Too large a reply: refused on the header; the worker is replaced.
        let outcome = pool.submit(BYTES.call(100 << 10)).unwrap().result();
        assert!(
            matches!(outcome, Err(JobError::Protocol(ref why)) if why.contains("max_frame_size")),
            "{outcome:?}"
        );
        let second = pool.submit(PID.call(())).unwrap().result().unwrap();
        assert_ne!(second, first);
        assert_eq!(pool.submit(SQUARE.call(5)).unwrap().result(), Ok(25));
        assert_eq!(pool.counters().restarts, 1);
    });
}

#[test]
fn an_initializer_runs_once_per_worker_before_its_jobs() {
    deadline(BUDGET, || {
        let pool = builder(1)
            .initializer(SET_GREETING, "hello from init".to_string())
            .build()
            .unwrap();
        let greeting = pool.submit(GREETING.call(())).unwrap().result();
        assert_eq!(greeting.as_deref(), Ok("hello from init"));
    });
}

/// Runs `jobs` PID jobs on 2 workers recycled after `per_child` jobs; returns each pid's count.
fn recycled_pids(per_child: usize, jobs: usize) -> (Vec<usize>, u64) {
    let pool = builder(2)
        .max_tasks_per_child(Some(per_child))
        .build()
        .unwrap();
    let handles: Vec<_> = (0..jobs)
        .map(|_| pool.submit(PID.call(())).unwrap())
        .collect();
    let pids: Vec<u32> = handles.into_iter().map(|h| h.result().unwrap()).collect();
    let distinct: HashSet<u32> = pids.iter().copied().collect();
    let counts = distinct
        .iter()
        .map(|pid| pids.iter().filter(|p| *p == pid).count())
        .collect();
    pool.shutdown(true, false);
    (counts, pool.counters().restarts)
}

#[test]
fn max_tasks_per_child_recycles_workers_under_a_backlog() {
    deadline(BUDGET, || {
        let (counts, restarts) = recycled_pids(1, 8);
        assert_eq!(counts, vec![1; 8], "one job per worker");
        assert_eq!(restarts, 6, "8 workers in 2 slots");
        let (counts, restarts) = recycled_pids(2, 8);
        assert!(counts.iter().all(|n| *n <= 2), "{counts:?}");
        assert!(counts.len() >= 4, "{counts:?}");
        assert_eq!(restarts, counts.len() as u64 - 2);
    });
}

#[test]
fn a_job_can_build_a_pool_of_its_own() {
    deadline(BUDGET, || {
        let pool = builder(1).build().unwrap();
        let squares = pool.submit(NESTED.call(5)).unwrap().result();
        assert_eq!(squares, Ok(vec![0, 1, 4, 9, 16]));
    });
}

/// S10: CPU-heavy jobs run at the same time in two workers while a heartbeat keeps ticking on
/// the loop.
///
/// Careful: "both cores" is judged by overlap, not speed-up: the two jobs' run intervals (as
/// the workers timed them) must mostly overlap. A speed-up check would fail whenever another
/// program on the machine takes a core, which is no fault of the pool.
#[test]
fn s10_cpu_work_runs_in_parallel_while_the_loop_ticks() {
    exclusive(BUDGET, || {
        let pool = builder(2).build().unwrap();
        let (reports, worst_gap) = evloop::run(async {
            let jobs: Vec<_> = (0..2)
                .map(|_| pool.submit(CPU_WORK.call(30_000_000)).unwrap())
                .collect();
            // A heartbeat every 10 ms while the jobs run.
            let mut worst_gap = Duration::ZERO;
            let mut last = Instant::now();
            while !jobs.iter().all(|job| job.is_done()) {
                evloop::sleep(Duration::from_millis(10)).await;
                worst_gap = worst_gap.max(last.elapsed());
                last = Instant::now();
            }
            let mut reports = Vec::new();
            for job in jobs {
                reports.push(job.await.unwrap());
            }
            (reports, worst_gap)
        })
        .unwrap();
        assert!(
            worst_gap < Duration::from_millis(250),
            "the heartbeat stalled: {worst_gap:?}"
        );
        let [(a, a_start, a_end), (b, b_start, b_end)] = reports[..] else {
            unreachable!()
        };
        assert_eq!(a, b, "same input, same checksum");
        let overlap = a_end.min(b_end).saturating_sub(a_start.max(b_start));
        let shorter = (a_end - a_start).min(b_end - b_start);
        assert!(
            overlap * 2 > shorter,
            "the jobs ran one after the other: {reports:?} (start, end in µs)"
        );
    });
}
