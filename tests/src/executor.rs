//! The bridge from the loop to the pools: `run_in_executor`, the default executor, `to_thread`.
//!
//! What is checked: a job's value (or panic) comes back to the awaiting task; the loop was
//! woken by the completion itself (it had nothing else to wake it), which is the threadsafe
//! path; calls are queued eagerly, so jobs awaited one after the other still overlap; dropping
//! the future cancels a queued job and discards a running one's value; a full bounded queue
//! makes the future wait without blocking the loop; the default executor is created lazily,
//! sized by the builder, shut down and joined by `evloop::run`, and shut down by `close`;
//! several loops share one pool.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use evloop::pools::{CancelToken, Cancellable, JobError, ThreadPool};
use evloop::EventLoop;

use crate::util::{deadline, exclusive, threads_named, Resources, BUDGET, UNIT};

#[test]
fn a_thread_job_value_reaches_the_awaiting_task_and_wakes_the_loop() {
    deadline(BUDGET, || {
        let pool = ThreadPool::builder().max_workers(1).build();
        let lp = EventLoop::new().unwrap();
        let loop_thread = thread::current().id();
        let (value, job_thread, resumed_on) = lp
            .run_until_complete(async {
                let lp = evloop::get_running_loop().unwrap();
                // Nothing else is scheduled: only the completion can wake the loop's poll.
                let job = lp.run_in_executor(&pool, || {
                    thread::sleep(UNIT);
                    (42, thread::current().id())
                });
                let (value, job_thread) = job.await.unwrap();
                (value, job_thread, thread::current().id())
            })
            .unwrap();
        assert_eq!(value, 42);
        assert_ne!(job_thread, loop_thread, "the job ran on a pool thread");
        assert_eq!(
            resumed_on, loop_thread,
            "the task resumed on the loop thread"
        );
        assert_eq!(pool.counters().completed, 1);
    });
}

#[test]
fn a_panicking_job_resolves_to_panicked_and_the_loop_lives_on() {
    deadline(BUDGET, || {
        let pool = ThreadPool::builder().max_workers(1).build();
        let lp = EventLoop::new().unwrap();
        let (first, second) = lp
            .run_until_complete(async {
                let lp = evloop::get_running_loop().unwrap();
                let first = lp
                    .run_in_executor(&pool, || -> u8 { panic!("bad input 7") })
                    .await;
                let second = lp.run_in_executor(&pool, || 8u8).await;
                (first, second)
            })
            .unwrap();
        assert_eq!(first, Err(JobError::Panicked("bad input 7".into())));
        assert_eq!(second, Ok(8));
    });
}

#[test]
fn calls_are_queued_eagerly_so_sequential_awaits_overlap() {
    deadline(BUDGET, || {
        let pool = ThreadPool::builder().max_workers(3).build();
        let lp = EventLoop::new().unwrap();
        let elapsed = lp
            .run_until_complete(async {
                let lp = evloop::get_running_loop().unwrap();
                let start = Instant::now();
                let jobs: Vec<_> = (0..3)
                    .map(|i| {
                        lp.run_in_executor(&pool, move || {
                            thread::sleep(UNIT * 4);
                            i
                        })
                    })
                    .collect();
                let mut values = Vec::new();
                for job in jobs {
                    values.push(job.await.unwrap());
                }
                assert_eq!(values, [0, 1, 2]);
                start.elapsed()
            })
            .unwrap();
        // Three 4-unit sleeps: ~4 units when they overlap, 12 in sequence.
        assert!(elapsed >= UNIT * 4);
        assert!(
            elapsed < UNIT * 10,
            "jobs ran one after the other: {elapsed:?}"
        );
    });
}

#[test]
fn dropping_the_future_cancels_a_queued_job_and_discards_a_running_one() {
    deadline(BUDGET, || {
        let pool = ThreadPool::builder().max_workers(1).build();
        let ran = Arc::new(AtomicUsize::new(0));
        let (started_tx, started_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let lp = EventLoop::new().unwrap();
        lp.run_until_complete(async {
            let lp = evloop::get_running_loop().unwrap();
            let busy = lp.run_in_executor(&pool, move || {
                started_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                "discarded"
            });
            let queued = {
                let ran = ran.clone();
                lp.run_in_executor(&pool, move || {
                    ran.fetch_add(1, Ordering::SeqCst);
                })
            };
            started_rx.recv().unwrap();
            drop(queued); // never ran: cancelled in the queue
            drop(busy); // running: its value will be discarded
            release_tx.send(()).unwrap();
        })
        .unwrap();
        pool.shutdown(true, false);
        assert_eq!(ran.load(Ordering::SeqCst), 0, "the cancelled job never ran");
        assert_eq!(pool.counters().completed, 1, "only the running job ran");
    });
}

#[test]
fn cancelling_the_awaiting_task_trips_the_token_of_a_running_job() {
    deadline(BUDGET, || {
        let pool = Arc::new(ThreadPool::builder().max_workers(1).build());
        let (started_tx, started_rx) = mpsc::channel();
        let (stopped_tx, stopped_rx) = mpsc::channel();
        let lp = EventLoop::new().unwrap();
        let rounds = lp
            .run_until_complete(async {
                let shared = pool.clone();
                let task = evloop::spawn(async move {
                    let lp = evloop::get_running_loop().unwrap();
                    let job = Cancellable(move |token: CancelToken| {
                        started_tx.send(()).unwrap();
                        let mut rounds = 0u64;
                        while !token.is_cancelled() {
                            rounds += 1;
                            thread::sleep(Duration::from_millis(1));
                        }
                        stopped_tx.send(rounds).unwrap();
                        rounds
                    });
                    // An owned Arc of the pool keeps the task's future 'static.
                    lp.run_in_executor(shared, job).await
                });
                evloop::sleep(UNIT).await;
                started_rx.recv().unwrap();
                task.cancel();
                task.await
            })
            .unwrap();
        assert!(rounds.is_err(), "the task was cancelled");
        // The token stopped the job: it reports its rounds and the worker is free again.
        assert!(stopped_rx.recv_timeout(Duration::from_secs(5)).is_ok());
        assert_eq!(pool.submit(|| 5).unwrap().result(), Ok(5));
    });
}

#[test]
fn a_full_bounded_queue_makes_the_future_wait_without_blocking_the_loop() {
    deadline(BUDGET, || {
        let pool = ThreadPool::builder()
            .max_workers(1)
            .queue_capacity(Some(1))
            .build();
        let lp = EventLoop::new().unwrap();
        let (ticks, values) = lp
            .run_until_complete(async {
                let lp = evloop::get_running_loop().unwrap();
                let slow = |i: u32| {
                    move || {
                        thread::sleep(UNIT * 2);
                        i
                    }
                };
                // One running, one queued, the third waits for room inside its future.
                let jobs: Vec<_> = (0..3).map(|i| lp.run_in_executor(&pool, slow(i))).collect();
                let ticker = evloop::spawn(async {
                    let mut ticks = 0;
                    for _ in 0..4 {
                        evloop::sleep(UNIT).await;
                        ticks += 1;
                    }
                    ticks
                });
                let mut values = Vec::new();
                for job in jobs {
                    values.push(job.await.unwrap());
                }
                (ticker.await.unwrap(), values)
            })
            .unwrap();
        assert_eq!(values, [0, 1, 2]);
        assert_eq!(ticks, 4, "the loop kept ticking while the queue was full");
    });
}

#[test]
fn a_shut_down_pool_refuses_with_an_error_naming_the_fix() {
    deadline(BUDGET, || {
        let pool = ThreadPool::new();
        pool.shutdown(true, false);
        let lp = EventLoop::new().unwrap();
        let outcome = lp
            .run_until_complete(async {
                let lp = evloop::get_running_loop().unwrap();
                lp.run_in_executor(&pool, || 1).await
            })
            .unwrap();
        assert_eq!(outcome, Err(JobError::ShutDown));
        assert!(JobError::ShutDown.to_string().contains("create a new pool"));
    });
}

#[test]
fn to_thread_uses_a_lazy_default_executor_that_run_shuts_down_and_joins() {
    exclusive(BUDGET, || {
        let before = Resources::now();
        assert_eq!(threads_named("evloop-default"), 0);
        let (names, seen_during) = evloop::run(async {
            let lp = evloop::get_running_loop().unwrap();
            // Nothing is created until it is needed.
            assert!(format!("{lp:?}").contains("EventLoop"));
            let jobs: Vec<_> = (0..3)
                .map(|_| {
                    evloop::to_thread(|| {
                        thread::sleep(UNIT);
                        thread::current().name().unwrap_or("").to_owned()
                    })
                })
                .collect();
            let mut names = Vec::new();
            for job in jobs {
                names.push(job.await.unwrap());
            }
            (names, threads_named("evloop-default"))
        })
        .unwrap();
        assert!(
            names.iter().all(|name| name.starts_with("evloop-default-")),
            "{names:?}"
        );
        assert_eq!(seen_during, 3, "three overlapping jobs, three threads");
        // evloop::run joined the default executor's threads before returning.
        assert_eq!(threads_named("evloop-default"), 0);
        before.assert_back_to("evloop::run with to_thread");
    });
}

#[test]
fn the_builder_sizes_the_default_executor_and_close_shuts_it_down() {
    exclusive(BUDGET, || {
        let lp = EventLoop::builder()
            .default_executor_max_workers(1)
            .build()
            .unwrap();
        let threads = lp
            .run_until_complete(async {
                let lp = evloop::get_running_loop().unwrap();
                let a = lp.run_in_default_executor(|| thread::current().id());
                let b = lp.run_in_default_executor(|| thread::current().id());
                (a.await.unwrap(), b.await.unwrap())
            })
            .unwrap();
        assert_eq!(threads.0, threads.1, "one worker at most");
        assert_eq!(lp.default_executor().max_workers(), 1);
        let pool = lp.default_executor();
        lp.close().unwrap();
        assert!(pool.is_shutdown(), "close shut the default executor down");
        drop(pool);
        let start = Instant::now();
        while threads_named("evloop-default") > 0 {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "default executor threads left"
            );
            thread::sleep(Duration::from_millis(5));
        }
    });
}

#[test]
#[should_panic(expected = "no running event loop")]
fn to_thread_outside_a_loop_panics_naming_the_fix() {
    drop(evloop::to_thread(|| 1));
}

#[test]
fn shutdown_default_executor_waits_while_jobs_post_back_to_the_loop() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let handle = lp.handle();
        let posted = lp
            .run_until_complete(async {
                let lp = evloop::get_running_loop().unwrap();
                let counter = Arc::new(AtomicUsize::new(0));
                let seen = counter.clone();
                // The job posts back to the loop and waits for the post to run: joining the
                // pool by blocking the loop thread would deadlock here.
                let job = lp.run_in_default_executor(move || {
                    let task = handle
                        .spawn_threadsafe(async move {
                            seen.fetch_add(1, Ordering::SeqCst);
                        })
                        .unwrap();
                    task.result().unwrap();
                });
                evloop::sleep(UNIT).await;
                lp.shutdown_default_executor().await;
                drop(job);
                counter.load(Ordering::SeqCst)
            })
            .unwrap();
        assert_eq!(posted, 1);
    });
}

#[test]
fn several_loops_on_several_threads_share_one_pool_s8() {
    deadline(BUDGET, || {
        let pool = Arc::new(ThreadPool::builder().max_workers(5).build());
        let barrier = Arc::new(Barrier::new(5));
        let loops: Vec<_> = (0..5u64)
            .map(|i| {
                let pool = pool.clone();
                let barrier = barrier.clone();
                thread::spawn(move || {
                    let lp = EventLoop::new().unwrap();
                    barrier.wait();
                    let me = thread::current().id();
                    let (value, resumed) = lp
                        .run_until_complete(async {
                            let lp = evloop::get_running_loop().unwrap();
                            let value = lp
                                .run_in_executor(&pool, move || {
                                    thread::sleep(UNIT);
                                    i * 100
                                })
                                .await
                                .unwrap();
                            (value, thread::current().id())
                        })
                        .unwrap();
                    assert_eq!(resumed, me, "each loop resumes on its own thread");
                    value
                })
            })
            .collect();
        let values: Vec<u64> = loops.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(values, [0, 100, 200, 300, 400]);
        assert_eq!(pool.counters().completed, 5);
    });
}
