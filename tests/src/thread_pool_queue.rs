//! `ThreadPool` with a bounded queue: back-pressure in its three forms.
//!
//! Every test starts from the same full pool ([`full_pool`]): one worker blocked in a job on
//! a [`Latch`], one job waiting in a queue of capacity one. Then:
//!
//! - a blocking `submit` blocks until the worker frees a slot, and then queues its job;
//! - `try_submit` refuses at once with `Full`, handing back the very closure it was given
//!   (calling it proves it: it runs once, on the test thread, and never on the pool);
//! - `submit_async` stays pending without blocking, is woken exactly once by the worker that
//!   frees a slot, and then queues its job;
//! - a shutdown releases blocked and pending submitters with `ShutDown`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;

use evloop_pools::{JobError, JobHandle, ThreadPool, TrySubmitError};

use crate::thread_pool::{block_on, block_on_then, current_name, Latch};
use crate::threads::eventually;
use crate::util::{deadline, BUDGET, UNIT};

/// A pool of one worker (threads named `{prefix}-{n}`) and a queue of one, both taken: the
/// first job (value 1) runs until `latch` opens, the second (value 2) waits in the queue.
fn full_pool(prefix: &str, latch: &Latch) -> (Arc<ThreadPool>, JobHandle<u32>, JobHandle<u32>) {
    let pool = ThreadPool::builder()
        .max_workers(1)
        .queue_capacity(Some(1))
        .thread_name_prefix(prefix)
        .build();
    let running = {
        let latch = latch.clone();
        pool.submit(move || {
            latch.wait();
            1
        })
        .unwrap()
    };
    eventually("the first job runs", || running.is_running());
    let queued = pool.submit(|| 2).unwrap();
    let counters = pool.counters();
    assert_eq!((counters.running, counters.queued), (1, 1));
    (Arc::new(pool), running, queued)
}

#[test]
fn a_blocking_submit_waits_for_room() {
    deadline(BUDGET, || {
        let latch = Latch::new();
        let (pool, running, queued) = full_pool("tp-block", &latch);
        let returned = Arc::new(AtomicBool::new(false));
        let submitter = {
            let (pool, returned) = (pool.clone(), returned.clone());
            thread::spawn(move || {
                let job = pool.submit(|| 3);
                returned.store(true, SeqCst);
                job.unwrap().result()
            })
        };
        thread::sleep(UNIT * 2);
        assert!(
            !returned.load(SeqCst),
            "submit blocked while the queue was full"
        );
        assert_eq!(pool.counters().queued, 1);
        latch.open();
        assert_eq!(submitter.join().unwrap(), Ok(3));
        assert_eq!((running.result(), queued.result()), (Ok(1), Ok(2)));
        assert_eq!(pool.counters().completed, 3);
    });
}

#[test]
fn try_submit_hands_back_the_same_closure_when_full() {
    deadline(BUDGET, || {
        let latch = Latch::new();
        let (pool, running, queued) = full_pool("tp-try", &latch);
        let calls = Arc::new(AtomicUsize::new(0));
        let job = {
            let calls = calls.clone();
            move || {
                calls.fetch_add(1, SeqCst);
                (current_name(), 99)
            }
        };
        let refused = pool.try_submit(job).unwrap_err();
        assert!(refused.to_string().contains("queue is full"), "{refused}");
        let job = match refused {
            TrySubmitError::Full(job) => job,
            TrySubmitError::Refused(_, error) => panic!("expected Full, got {error:?}"),
        };
        assert_eq!(
            job(),
            (current_name(), 99),
            "the closure came back and runs here"
        );
        assert_eq!(calls.load(SeqCst), 1);
        latch.open();
        assert_eq!((running.result(), queued.result()), (Ok(1), Ok(2)));
        // With room again, the same kind of call is taken.
        let taken = pool.try_submit(|| 4).expect("room in the queue");
        assert_eq!(taken.result(), Ok(4));
        pool.shutdown(true, false);
        assert_eq!(
            calls.load(SeqCst),
            1,
            "the pool never ran the refused closure"
        );
        assert_eq!(pool.counters().completed, 3);
    });
}

#[test]
fn submit_async_waits_for_room_and_is_woken_by_the_worker() {
    deadline(BUDGET, || {
        let latch = Latch::new();
        let (pool, running, queued) = full_pool("tp-async", &latch);
        let polled = Arc::new(AtomicBool::new(false));
        let waiting = {
            let (pool, polled) = (pool.clone(), polled.clone());
            thread::spawn(move || {
                let submit = pool.submit_async(|| 3);
                let (job, woken_on) = block_on_then(submit, || polled.store(true, SeqCst));
                (job.unwrap().result(), woken_on)
            })
        };
        eventually("submit_async is pending", || polled.load(SeqCst));
        thread::sleep(UNIT);
        assert!(!waiting.is_finished(), "submit_async waited for room");
        assert_eq!(pool.counters().queued, 1);
        latch.open();
        let (value, woken_on) = waiting.join().unwrap();
        assert_eq!(value, Ok(3));
        assert_eq!(
            woken_on,
            ["tp-async-1"],
            "woken once, by the worker freeing a slot"
        );
        assert_eq!((running.result(), queued.result()), (Ok(1), Ok(2)));
        // With room, it is ready at the first poll, and nothing wakes it.
        let (job, woken_on) = block_on(pool.submit_async(|| 5));
        assert_eq!(job.unwrap().result(), Ok(5));
        assert!(woken_on.is_empty(), "{woken_on:?}");
    });
}

#[test]
fn shutdown_releases_blocked_and_pending_submitters() {
    deadline(BUDGET, || {
        let latch = Latch::new();
        let (pool, running, queued) = full_pool("tp-release", &latch);
        let blocked = {
            let pool = pool.clone();
            thread::spawn(move || pool.submit(|| 3).map(|_| ()))
        };
        let polled = Arc::new(AtomicBool::new(false));
        let pending = {
            let (pool, polled) = (pool.clone(), polled.clone());
            thread::spawn(move || {
                block_on_then(pool.submit_async(|| 4), || polled.store(true, SeqCst))
            })
        };
        eventually("submit_async is pending", || polled.load(SeqCst));
        thread::sleep(UNIT * 2);
        assert!(!blocked.is_finished() && !pending.is_finished());
        pool.shutdown(false, false);
        assert_eq!(blocked.join().unwrap(), Err(JobError::ShutDown));
        let (refused, woken_on) = pending.join().unwrap();
        assert_eq!(refused.map(|_| ()), Err(JobError::ShutDown));
        assert_eq!(woken_on, [current_name()], "woken by the shutdown");
        // Jobs already queued still run.
        latch.open();
        assert_eq!((running.result(), queued.result()), (Ok(1), Ok(2)));
    });
}
