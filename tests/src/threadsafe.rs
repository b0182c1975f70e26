//! The threadsafe path, posting side: `LoopHandle::call_soon_threadsafe` and `stop`.
//!
//! - Posts from many threads each run exactly once, in per-thread order; a post wakes a loop
//!   blocked in its poller promptly, and posts made while the loop is busy (or from the loop
//!   thread itself) are not lost to the coalesced wakeup.
//! - `stop()` from another thread ends `run_forever`, after the posts made before it.
//! - A closed loop refuses every call and hands the closure, future or maker back unrun
//!   (dropping it drops it exactly once); posts racing `close()` each run once or are dropped
//!   unrun, never both, never after the close.
//!
//! `threadsafe_task.rs` covers `spawn_threadsafe` and the `ThreadsafeTask` handle.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use evloop::{EventLoop, LoopError, LoopHandle, LoopThread};

use crate::threads::*;
use crate::util::{deadline, BUDGET};

#[test]
fn posts_from_many_threads_run_once_each_in_per_thread_order() {
    deadline(BUDGET, || {
        const THREADS: usize = 4;
        const POSTS: usize = 500;
        let loop_thread = LoopThread::start().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let log2 = log.clone();
        post_from_threads(loop_thread.handle(), THREADS, POSTS, move |from, seq| {
            let log = log2.clone();
            move || log.lock().unwrap().push((from, seq))
        });
        on_loop(loop_thread.handle(), || ());
        let log = log.lock().unwrap().clone();
        assert_eq!(log.len(), THREADS * POSTS);
        for from in 0..THREADS {
            let own: Vec<usize> = log.iter().filter(|p| p.0 == from).map(|p| p.1).collect();
            assert_eq!(own, (0..POSTS).collect::<Vec<_>>(), "thread {from}'s posts");
        }
        loop_thread.stop().unwrap();
    });
}

#[test]
fn a_post_wakes_a_loop_blocked_in_poll_promptly() {
    deadline(BUDGET, || {
        let loop_thread = LoopThread::start().unwrap();
        for round in 0..5 {
            // No work and no timer: the loop now blocks in the poller with no timeout.
            thread::sleep(Duration::from_millis(50));
            let posted = Instant::now();
            let latency = on_loop(loop_thread.handle(), Instant::now) - posted;
            assert!(
                latency < Duration::from_millis(500),
                "round {round}: {latency:?}"
            );
        }
        loop_thread.stop().unwrap();
    });
}

#[test]
fn posts_made_while_the_loop_is_busy_all_run_once() {
    deadline(BUDGET, || {
        const THREADS: usize = 2;
        const POSTS: usize = 2000;
        let loop_thread = LoopThread::start().unwrap();
        let release = block_the_loop(loop_thread.handle());
        let runs: Arc<Vec<AtomicUsize>> =
            Arc::new((0..THREADS * POSTS).map(|_| AtomicUsize::new(0)).collect());
        let runs2 = runs.clone();
        post_from_threads(loop_thread.handle(), THREADS, POSTS, move |from, seq| {
            let runs = runs2.clone();
            move || {
                runs[from * POSTS + seq].fetch_add(1, SeqCst);
            }
        });
        assert!(
            runs.iter().all(|r| r.load(SeqCst) == 0),
            "the loop was busy"
        );
        release.send(()).unwrap();
        on_loop(loop_thread.handle(), || ());
        let counts: Vec<usize> = runs.iter().map(|r| r.load(SeqCst)).collect();
        assert!(counts.iter().all(|&c| c == 1), "run counts: {counts:?}");
        loop_thread.stop().unwrap();
    });
}

#[test]
fn a_post_made_on_the_loop_thread_runs() {
    deadline(BUDGET, || {
        /// Reports its thread, then posts the next link from the loop thread.
        fn link(handle: LoopHandle, left: usize, report: mpsc::Sender<Option<String>>) {
            report
                .send(thread::current().name().map(str::to_owned))
                .unwrap();
            if left > 0 {
                let next = handle.clone();
                let post = move || link(next, left - 1, report);
                handle.call_soon_threadsafe(post).unwrap();
            }
        }
        const LINKS: usize = 100;
        let loop_thread = LoopThread::start().unwrap();
        let (tx, rx) = mpsc::channel();
        let handle = loop_thread.handle().clone();
        let first = move || link(handle, LINKS - 1, tx);
        loop_thread.handle().call_soon_threadsafe(first).unwrap();
        for _ in 0..LINKS {
            let ran_on = rx.recv_timeout(PATIENCE).expect("the next link ran");
            assert_eq!(ran_on.as_deref(), Some(LOOP_THREAD_NAME));
        }
        // The last link dropped the only sender: exactly LINKS links ran.
        let end = rx.recv_timeout(PATIENCE);
        assert_eq!(end, Err(mpsc::RecvTimeoutError::Disconnected));
        loop_thread.stop().unwrap();
    });
}

#[test]
fn stop_from_another_thread_stops_run_forever() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let (handle, ran) = (lp.handle(), Arc::new(AtomicBool::new(false)));
        let ran2 = ran.clone();
        let started = Instant::now();
        let stopper = thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            handle
                .call_soon_threadsafe(move || ran2.store(true, SeqCst))
                .unwrap();
            handle.stop().unwrap();
        });
        lp.run_forever().unwrap();
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert!(ran.load(SeqCst), "a post made before stop() runs first");
        assert!(!lp.is_running());
        stopper.join().unwrap();
        lp.close().unwrap();
    });
}

#[test]
fn after_close_threadsafe_calls_hand_their_work_back_unrun() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let handle = lp.handle();
        lp.close().unwrap();
        let poster = thread::spawn(move || {
            assert!(handle.is_closed());
            let (counter, gate) = (SyncDropCounter::new(), Gate::new());
            let ran = Arc::new(AtomicBool::new(false));
            let (guard, ran2) = (counter.guard(), ran.clone());
            let post = move || {
                let _guard = guard;
                ran2.store(true, SeqCst);
            };
            let refused = handle.call_soon_threadsafe(post).unwrap_err();
            assert!(
                refused.to_string().contains("Event loop is closed"),
                "{refused}"
            );
            let closure = refused.into_inner();
            assert_eq!(counter.count(), 0, "the closure is handed back alive");
            drop(closure);
            assert_eq!(counter.count(), 1);
            // Dropping the error drops the closure, once.
            let guard = counter.guard();
            drop(
                handle
                    .call_soon_threadsafe(move || drop(guard))
                    .unwrap_err(),
            );
            assert_eq!(counter.count(), 2);
            // spawn_threadsafe hands the future back (never polled), spawn_threadsafe_with the
            // maker (never called).
            let future = parked(&gate, counter.guard(), ());
            drop(handle.spawn_threadsafe(future).unwrap_err().into_inner());
            let (guard, ran2) = (counter.guard(), ran.clone());
            let maker = move || {
                ran2.store(true, SeqCst);
                parked(&Gate::new(), guard, ())
            };
            drop(handle.spawn_threadsafe_with(maker).unwrap_err());
            assert_eq!(counter.count(), 4);
            assert_eq!(handle.stop(), Err(LoopError::Closed));
            assert!(!ran.load(SeqCst) && gate.polls() == 0, "refused work ran");
        });
        poster.join().unwrap();
    });
}

#[test]
fn posts_racing_close_each_run_once_or_are_dropped_once() {
    deadline(BUDGET, || {
        const POSTERS: usize = 4;
        const MAX_POSTS: usize = 200_000;
        let lp = EventLoop::new().unwrap();
        let counter = SyncDropCounter::new();
        let (run_log, closing) = (
            Arc::new(Mutex::new(Vec::new())),
            Arc::new(AtomicBool::new(false)),
        );
        let barrier = Arc::new(Barrier::new(POSTERS + 1));
        // Each poster posts until 10 posts were refused; returns (posted, first refused).
        let posters: Vec<_> = (0..POSTERS)
            .map(|from| {
                let (handle, barrier, counter) = (lp.handle(), barrier.clone(), counter.clone());
                let (run_log, closing) = (run_log.clone(), closing.clone());
                thread::spawn(move || {
                    barrier.wait();
                    let (mut seq, mut first_refused) = (0, None);
                    while seq < MAX_POSTS && first_refused.is_none_or(|first| seq < first + 10) {
                        let (guard, run_log) = (counter.guard(), run_log.clone());
                        let late = closing.clone();
                        let post = move || {
                            let _guard = guard;
                            run_log.lock().unwrap().push((from, seq, late.load(SeqCst)));
                        };
                        let refused = handle.call_soon_threadsafe(post).is_err();
                        assert!(refused || first_refused.is_none(), "accepted after refusal");
                        first_refused = first_refused.or(refused.then_some(seq));
                        seq += 1;
                        if seq % 20 == 0 {
                            thread::sleep(Duration::from_micros(50));
                        }
                    }
                    (seq, first_refused.expect("the poster saw the close"))
                })
            })
            .collect();
        // Release the posters from inside the running loop; stop after 10 ms; close.
        lp.call_soon(move || {
            barrier.wait();
        });
        let lp2 = lp.clone();
        lp.call_later(Duration::from_millis(10), move || lp2.stop());
        lp.run_forever().unwrap();
        closing.store(true, SeqCst);
        lp.close().unwrap();
        let outcomes: Vec<(usize, usize)> =
            posters.into_iter().map(|p| p.join().unwrap()).collect();
        let run_log = run_log.lock().unwrap().clone();
        assert!(
            run_log.iter().all(|run| !run.2),
            "a post ran after close began"
        );
        for (from, &(_, first_refused)) in outcomes.iter().enumerate() {
            // What ran is a prefix of the accepted posts, each once, in posting order.
            let ran: Vec<usize> = run_log
                .iter()
                .filter(|r| r.0 == from)
                .map(|r| r.1)
                .collect();
            assert_eq!(ran, (0..ran.len()).collect::<Vec<_>>(), "poster {from}");
            assert!(
                ran.len() <= first_refused,
                "poster {from}: a refused post ran"
            );
        }
        // Every closure was dropped exactly once: after its run, unrun by close, or refused.
        let posted: usize = outcomes.iter().map(|o| o.0).sum();
        assert_eq!(counter.count(), posted);
        assert!(!run_log.is_empty(), "the loop ran posts before it closed");
    });
}
