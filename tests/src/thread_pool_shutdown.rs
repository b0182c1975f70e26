//! `ThreadPool` at scale and at the end of its life: `map`, S8 (one pool shared by five
//! threads), the pool as an `Executor`, every form of shutdown, and S14 (no thread left).
//!
//! - `map` returns results in input order, whatever order the jobs finish in; a panicking
//!   element fails alone.
//! - S8: five threads share one `Arc<ThreadPool>`; each gets exactly its own results.
//! - `Arc<ThreadPool>` is an `Executor`, usable through the trait from any thread.
//! - `shutdown(wait = true)` returns once every job ran and every worker is joined: no thread
//!   of the pool is left, and the process is back to its thread and fd counts (`exclusive`).
//! - `shutdown(cancel_pending = true)` resolves every queued job `Cancelled` at once (each
//!   body never runs, each done callback runs once); without it, queued jobs still run, in
//!   order. Every kind of submission after a shutdown is refused with `ShutDown`.
//! - A job that shuts its own pool down with `wait = true` does not deadlock, and the pool's
//!   drop still joins that job's thread (and so the jobs queued behind it).
//! - S14: dropping a pool mid-work lets its running and queued jobs finish, then joins every
//!   worker.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use evloop_pools::{Executor, JobError, JobHandle, ThreadPool, TrySubmitError};
use parking_lot::Mutex;

use crate::loop_thread::with_harness_slack;
use crate::thread_pool::{block_on, current_name, threads_with_prefix, Latch};
use crate::threads::{eventually, PATIENCE};
use crate::util::{deadline, exclusive, Resources, BUDGET, UNIT};

#[test]
fn map_keeps_input_order_and_a_panic_fails_alone() {
    deadline(BUDGET, || {
        let pool = ThreadPool::builder().max_workers(4).build();
        let results: Vec<_> = pool
            .map(
                |x: u64| {
                    // Later inputs finish first.
                    thread::sleep(Duration::from_micros(300 * (10 - x)));
                    assert_ne!(x, 3, "no threes");
                    x * x
                },
                0..10,
            )
            .unwrap()
            .collect();
        assert_eq!(results.len(), 10);
        for (x, result) in (0..10u64).zip(results) {
            match x {
                3 => match result {
                    Err(JobError::Panicked(message)) => assert!(message.contains("no threes")),
                    other => panic!("expected the panic of 3, got {other:?}"),
                },
                _ => assert_eq!(result, Ok(x * x)),
            }
        }
        assert_eq!(pool.counters().completed, 10);
    });
}

#[test]
fn s8_five_threads_sharing_one_pool_each_get_their_own_results() {
    deadline(BUDGET, || {
        let pool = Arc::new(ThreadPool::builder().max_workers(5).build());
        let users: Vec<_> = (0..5)
            .map(|user| {
                let pool = pool.clone();
                thread::Builder::new()
                    .name(format!("s8-user-{user}"))
                    .spawn(move || {
                        let jobs: Vec<_> = (0..20)
                            .map(|seq| {
                                pool.submit(move || {
                                    thread::sleep(Duration::from_micros(100));
                                    (user, seq)
                                })
                                .unwrap()
                            })
                            .collect();
                        let results: Vec<_> = jobs.into_iter().map(|j| j.result()).collect();
                        (current_name(), results)
                    })
                    .unwrap()
            })
            .collect();
        for (user, thread) in users.into_iter().enumerate() {
            let (name, results) = thread.join().unwrap();
            assert_eq!(name, format!("s8-user-{user}"));
            let expected: Vec<_> = (0..20).map(|seq| Ok((user, seq))).collect();
            assert_eq!(results, expected);
        }
        assert_eq!(pool.counters().completed, 100);
        assert!(pool.counters().workers <= 5);
    });
}

/// Submits `job` through the `Executor` trait only, in its three ways.
fn through_executor<E, F>(executor: &E, make: impl Fn() -> F) -> Vec<Result<E::Output, JobError>>
where
    E: Executor<F>,
{
    let submitted = executor.submit_job(make()).unwrap();
    let Ok(tried) = executor.try_submit_job(make()) else {
        panic!("an unbounded queue is never full");
    };
    let (queued, woken_on) = block_on(executor.submit_async(make()));
    assert!(woken_on.is_empty(), "an unbounded queue has room at once");
    [submitted, tried, queued.unwrap()]
        .into_iter()
        .map(JobHandle::result)
        .collect()
}

#[test]
fn an_arc_pool_is_an_executor_on_any_thread() {
    deadline(BUDGET, || {
        let pool = Arc::new(ThreadPool::builder().max_workers(2).build());
        assert_eq!(through_executor(&pool, || || 7), [Ok(7), Ok(7), Ok(7)]);
        let elsewhere = {
            let pool = pool.clone();
            thread::spawn(move || through_executor(&pool, || || current_name().len()))
        };
        let lengths = elsewhere.join().unwrap();
        assert!(lengths.iter().all(|len| len.is_ok()), "{lengths:?}");
        pool.shutdown(true, false);
        assert_eq!(pool.counters().completed, 6);
        assert_eq!(pool.submit_job(|| 1).map(|_| ()), Err(JobError::ShutDown));
    });
}

#[test]
fn shutdown_with_wait_joins_every_worker() {
    exclusive(BUDGET, || {
        let before = Resources::now();
        let pool = ThreadPool::builder()
            .max_workers(4)
            .thread_name_prefix("tp-join")
            .build();
        let jobs: Vec<_> = (0..8)
            .map(|i| {
                pool.submit(move || {
                    thread::sleep(UNIT / 2);
                    i
                })
                .unwrap()
            })
            .collect();
        eventually("four workers run", || pool.counters().running == 4);
        assert_eq!(threads_with_prefix("tp-join"), 4);
        pool.shutdown(true, false);
        assert!(
            jobs.iter().all(JobHandle::is_done),
            "every queued job ran first"
        );
        let counters = pool.counters();
        assert_eq!(
            (
                counters.workers,
                counters.idle,
                counters.running,
                counters.queued
            ),
            (0, 0, 0, 0)
        );
        assert_eq!(counters.completed, 8);
        let values: Vec<_> = jobs.into_iter().map(|job| job.result().unwrap()).collect();
        assert_eq!(values, (0..8).collect::<Vec<_>>());
        eventually("the joined threads are gone", || {
            threads_with_prefix("tp-join") == 0
        });
        pool.shutdown(true, false);
        drop(pool);
        with_harness_slack(before).assert_back_to("a shut-down thread pool");
    });
}

/// A one-worker pool busy until a latch opens, with five jobs queued behind.
struct Backlog {
    /// The pool.
    pool: ThreadPool,
    /// The job keeping the worker busy (value `usize::MAX`).
    busy: JobHandle<usize>,
    /// The queued jobs; job `i` returns `i`.
    queued: Vec<JobHandle<usize>>,
    /// How many queued bodies ran.
    ran: Arc<AtomicUsize>,
    /// The indexes of the queued bodies, in the order they ran.
    order: Arc<Mutex<Vec<usize>>>,
    /// How many done callbacks of the queued jobs ran.
    callbacks: Arc<AtomicUsize>,
}

impl Backlog {
    /// Builds it; the busy job waits on `latch`.
    fn new(latch: &Latch) -> Backlog {
        let pool = ThreadPool::builder().max_workers(1).build();
        let busy = {
            let latch = latch.clone();
            pool.submit(move || {
                latch.wait();
                usize::MAX
            })
            .unwrap()
        };
        eventually("the busy job runs", || busy.is_running());
        let ran = Arc::new(AtomicUsize::new(0));
        let order = Arc::new(Mutex::new(Vec::new()));
        let callbacks = Arc::new(AtomicUsize::new(0));
        let queued = (0..5)
            .map(|i| {
                let (ran, order) = (ran.clone(), order.clone());
                let job = pool
                    .submit(move || {
                        ran.fetch_add(1, SeqCst);
                        order.lock().push(i);
                        i
                    })
                    .unwrap();
                let callbacks = callbacks.clone();
                job.add_done_callback(move || {
                    callbacks.fetch_add(1, SeqCst);
                });
                job
            })
            .collect();
        Backlog {
            pool,
            busy,
            queued,
            ran,
            order,
            callbacks,
        }
    }
}

#[test]
fn shutdown_with_cancel_pending_cancels_every_queued_job() {
    deadline(BUDGET, || {
        let latch = Latch::new();
        let backlog = Backlog::new(&latch);
        let pool = &backlog.pool;
        pool.shutdown(false, true);
        // Resolved by the shutdown itself, while the worker is still busy.
        let queued = &backlog.queued;
        assert!(queued.iter().all(|job| job.is_done() && job.is_cancelled()));
        assert_eq!(backlog.callbacks.load(SeqCst), 5);
        assert!(backlog.busy.is_running());
        assert_eq!(pool.counters().queued, 0);
        latch.open();
        pool.shutdown(true, false);
        assert_eq!(backlog.busy.result(), Ok(usize::MAX));
        for job in backlog.queued {
            assert_eq!(job.result(), Err(JobError::Cancelled));
        }
        assert_eq!(backlog.ran.load(SeqCst), 0);
        assert_eq!(backlog.callbacks.load(SeqCst), 5);
        assert_eq!(backlog.pool.counters().completed, 1);
    });
}

#[test]
fn shutdown_without_cancel_runs_the_queued_jobs_in_order() {
    deadline(BUDGET, || {
        let latch = Latch::new();
        let backlog = Backlog::new(&latch);
        let pool = &backlog.pool;
        pool.shutdown(false, false);
        assert!(pool.is_shutdown());
        assert_eq!(pool.counters().queued, 5, "the queue is kept");
        assert_eq!(pool.submit(|| 0).map(|_| ()), Err(JobError::ShutDown));
        latch.open();
        pool.shutdown(true, false);
        assert_eq!(pool.counters().completed, 6);
        assert_eq!(backlog.busy.result(), Ok(usize::MAX));
        let values: Vec<_> = backlog.queued.into_iter().map(|job| job.result()).collect();
        assert_eq!(values, [Ok(0), Ok(1), Ok(2), Ok(3), Ok(4)]);
        assert_eq!(*backlog.order.lock(), [0, 1, 2, 3, 4]);
        assert_eq!(backlog.ran.load(SeqCst), 5);
        assert_eq!(backlog.callbacks.load(SeqCst), 5);
    });
}

#[test]
fn every_submission_after_shutdown_is_refused() {
    deadline(BUDGET, || {
        let pool = ThreadPool::new();
        assert_eq!(pool.submit(|| 1).unwrap().result(), Ok(1));
        pool.shutdown(true, false);
        pool.shutdown(true, true);
        assert!(pool.is_shutdown() && pool.broken().is_none());
        assert_eq!(pool.submit(|| 1).map(|_| ()), Err(JobError::ShutDown));
        let token_job = pool.submit_with_token(|_| 1).map(|_| ());
        assert_eq!(token_job, Err(JobError::ShutDown));
        match pool.try_submit(|| 2) {
            Err(TrySubmitError::Refused(job, JobError::ShutDown)) => assert_eq!(job(), 2),
            other => panic!("expected Refused(ShutDown), got {other:?}"),
        }
        let refused = pool.try_submit(|| 3).unwrap_err();
        assert!(
            refused.to_string().contains("create a new pool"),
            "{refused}"
        );
        assert_eq!(refused.into_job()(), 3);
        let (queued, _) = block_on(pool.submit_async(|| 4));
        assert_eq!(queued.map(|_| ()), Err(JobError::ShutDown));
        assert_eq!(
            pool.map(|x: u8| x, 0..3).map(|_| ()),
            Err(JobError::ShutDown)
        );
        assert_eq!(pool.counters().completed, 1);
    });
}

/// Regression (second half): `shutdown(wait = true)` called by a job on its own pool skipped
/// the job's own thread and dropped its join handle, so the pool's drop returned while that
/// thread still ran the jobs queued behind.
#[test]
fn a_job_that_shuts_down_its_own_pool_neither_deadlocks_nor_escapes_the_drop() {
    deadline(BUDGET, || {
        let pool = Arc::new(
            ThreadPool::builder()
                .max_workers(1)
                .thread_name_prefix("tp-self")
                .build(),
        );
        let latch = Latch::new();
        let closer = {
            let (pool, latch) = (pool.clone(), latch.clone());
            pool.clone()
                .submit(move || {
                    latch.wait();
                    pool.shutdown(true, false);
                    pool.is_shutdown()
                })
                .unwrap()
        };
        let behind_done = Arc::new(AtomicBool::new(false));
        let behind = {
            let behind_done = behind_done.clone();
            pool.submit(move || {
                thread::sleep(UNIT * 3);
                behind_done.store(true, SeqCst);
            })
            .unwrap()
        };
        latch.open();
        assert_eq!(closer.result_timeout(PATIENCE), Ok(true));
        let pool = Arc::try_unwrap(pool).expect("the job dropped its clone before resolving");
        drop(pool);
        assert!(
            behind_done.load(SeqCst),
            "the drop joined the job queued behind"
        );
        assert_eq!(behind.result(), Ok(()));
        eventually("the pool's thread is gone", || {
            threads_with_prefix("tp-self") == 0
        });
    });
}

#[test]
fn s14_dropping_a_pool_mid_work_finishes_its_jobs_and_joins_its_threads() {
    exclusive(BUDGET, || {
        let before = Resources::now();
        let pool = ThreadPool::builder()
            .max_workers(3)
            .thread_name_prefix("tp-s14")
            .build();
        let ran = Arc::new(AtomicUsize::new(0));
        let jobs: Vec<_> = (0..6)
            .map(|i| {
                let ran = ran.clone();
                pool.submit(move || {
                    thread::sleep(UNIT * 2);
                    ran.fetch_add(1, SeqCst);
                    i
                })
                .unwrap()
            })
            .collect();
        eventually("three workers run", || pool.counters().running == 3);
        assert_eq!(pool.counters().queued, 3);
        drop(pool);
        assert_eq!(ran.load(SeqCst), 6, "the drop waited for every job");
        let values: Vec<_> = jobs.into_iter().map(|job| job.result().unwrap()).collect();
        assert_eq!(values, [0, 1, 2, 3, 4, 5]);
        eventually("no worker thread is left", || {
            threads_with_prefix("tp-s14") == 0
        });
        with_harness_slack(before).assert_back_to("a thread pool dropped mid-work");
    });
}
