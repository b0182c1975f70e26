//! `EventLoop::metrics` counters that other threads move: threadsafe posts and the wakeups
//! they cost, and the executor bridge.
//!
//! - `threadsafe_posts` is exactly the messages posted (closures, stops, remote wakes);
//!   `wakeups` is at least one when the loop was blocked, and at most the posts; none before
//!   any post, and then `coalescing_ratio` is `None`.
//! - `executor_jobs_in_flight` during and after `to_thread` (a dropped future leaves at
//!   once); the default executor's counters in the snapshot (`completed` == jobs run).
//!
//! The loop-side counters are in `metrics.rs`. Each test that starts threads checks that
//! none (and no file descriptor) outlives it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::Duration;

use evloop::EventLoop;

use crate::util::{deadline, exclusive, Resources, BUDGET};

/// A future that hands its waker to another thread on its first poll and completes on the
/// next one.
struct RemoteWoken {
    /// Where the waker goes.
    to: Option<mpsc::Sender<Waker>>,
}

impl Future for RemoteWoken {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.to.take() {
            Some(to) => {
                to.send(cx.waker().clone()).unwrap();
                Poll::Pending
            }
            None => Poll::Ready(()),
        }
    }
}

#[test]
fn threadsafe_posts_count_closures_stops_and_remote_wakes_and_wakeups_follow_blocking() {
    exclusive(BUDGET, || {
        let before = Resources::now();
        let lp = EventLoop::new().unwrap();
        let handle = lp.handle();
        let ran = Arc::new(AtomicUsize::new(0));
        // Run 1: the main future parks (nothing else to do: the loop blocks in the poller);
        // a thread posts 3 closures, then wakes the main future: 4 posts.
        let (waker_tx, waker_rx) = mpsc::channel::<Waker>();
        let (h, r) = (handle.clone(), ran.clone());
        let poster = thread::spawn(move || {
            let waker = waker_rx.recv().unwrap();
            thread::sleep(Duration::from_millis(30)); // let the loop block
            for _ in 0..3 {
                let r = r.clone();
                h.call_soon_threadsafe(move || {
                    r.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
            }
            thread::sleep(Duration::from_millis(30));
            waker.wake();
        });
        lp.run_until_complete(RemoteWoken { to: Some(waker_tx) })
            .unwrap();
        poster.join().unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 3);
        let m = lp.metrics();
        assert_eq!(m.threadsafe_posts, 4, "3 closures and 1 remote wake");
        assert_eq!(m.callbacks_run, 3);
        assert!(m.wakeups <= m.threadsafe_posts, "{m:?}");
        // Run 2: run_forever, a thread posts 2 closures and a stop: 3 more posts.
        let (h, r) = (handle.clone(), ran.clone());
        let poster = thread::spawn(move || {
            thread::sleep(Duration::from_millis(30));
            for _ in 0..2 {
                let r = r.clone();
                h.call_soon_threadsafe(move || {
                    r.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
            }
            h.stop().unwrap();
        });
        lp.run_forever().unwrap();
        poster.join().unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 5);
        let m = lp.metrics();
        assert_eq!(m.threadsafe_posts, 4 + 3);
        // The loop had nothing to do for 30 ms three times: it blocked in the poller (no
        // timeout) at least once, and only a wakeup syscall could end that.
        assert!(
            (1..=m.threadsafe_posts).contains(&m.wakeups),
            "the loop was blocked: {m:?}"
        );
        assert!(m.time_polling >= Duration::from_millis(20), "{m:?}");
        let ratio = m.coalescing_ratio().expect("there were wakeups");
        assert!(ratio >= 1.0, "posts per wakeup: {ratio}");
        lp.close().unwrap();
        drop((lp, handle)); // the loop's waker (an eventfd) lives as long as they do
        before.assert_back_to("the posting threads");
    });
}

#[test]
fn no_wakeup_is_counted_before_any_post() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        lp.run_until_complete(evloop::sleep(Duration::from_millis(1)))
            .unwrap();
        let m = lp.metrics();
        assert_eq!((m.threadsafe_posts, m.wakeups), (0, 0));
        assert_eq!(m.coalescing_ratio(), None);
        lp.close().unwrap();
    });
}

#[test]
fn executor_jobs_in_flight_and_the_default_executor_counters() {
    exclusive(BUDGET, || {
        let before = Resources::now();
        let lp = EventLoop::new().unwrap();
        assert_eq!(lp.metrics().default_executor, None, "created on first use");
        let ran = Arc::new(AtomicUsize::new(0));
        let lp2 = lp.clone();
        let pool = lp
            .run_until_complete(async move {
                let job = |ms| {
                    let ran = ran.clone();
                    evloop::to_thread(move || {
                        thread::sleep(Duration::from_millis(ms));
                        ran.fetch_add(1, Ordering::SeqCst);
                    })
                };
                let (a, b) = (job(10), job(40));
                assert_eq!(lp2.metrics().executor_jobs_in_flight, 2);
                let dropped = job(1);
                assert_eq!(lp2.metrics().executor_jobs_in_flight, 3);
                drop(dropped);
                assert_eq!(
                    lp2.metrics().executor_jobs_in_flight,
                    2,
                    "a dropped future is no longer in flight"
                );
                a.await.unwrap();
                assert_eq!(lp2.metrics().executor_jobs_in_flight, 1);
                b.await.unwrap();
                assert_eq!(lp2.metrics().executor_jobs_in_flight, 0);
                let pool = lp2.default_executor();
                lp2.shutdown_default_executor().await; // joins the workers
                let counters = pool.counters();
                assert_eq!(
                    counters.completed,
                    ran.load(Ordering::SeqCst) as u64,
                    "completed == jobs run (the dropped one may or may not have run)"
                );
                assert!(counters.completed >= 2);
                assert_eq!((counters.queued, counters.running), (0, 0));
                pool
            })
            .unwrap();
        drop(pool);
        let m = lp.metrics();
        assert_eq!(m.executor_jobs_in_flight, 0);
        assert_eq!(m.default_executor, None, "shut down and taken");
        assert!(m.threadsafe_posts >= 2, "each completion is a remote wake");
        lp.close().unwrap();
        drop(lp);
        before.assert_back_to("the default executor");
    });
}

#[test]
fn the_default_executor_counters_are_in_the_snapshot_while_it_lives() {
    exclusive(BUDGET, || {
        let before = Resources::now();
        let lp = EventLoop::builder()
            .default_executor_max_workers(2)
            .build()
            .unwrap();
        let lp2 = lp.clone();
        let counters = lp
            .run_until_complete(async move {
                for n in 0..4 {
                    assert_eq!(evloop::to_thread(move || n).await, Ok(n));
                }
                lp2.metrics().default_executor
            })
            .unwrap()
            .expect("to_thread created the default executor");
        assert_eq!(counters.completed, 4);
        assert_eq!((counters.queued, counters.running), (0, 0));
        assert!((1..=2).contains(&counters.workers), "{counters:?}");
        lp.close().unwrap();
        drop(lp);
        before.assert_back_to("the default executor");
    });
}
