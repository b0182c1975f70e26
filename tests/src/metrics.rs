//! `EventLoop::metrics`: every counter of a `LoopMetrics` snapshot, with exact counts.
//!
//! - `callbacks_run` counts `call_soon` callbacks, due timers and threadsafe closures once
//!   each; a cancelled callback (still in the ready queue, or a timer) is not run, so not counted.
//! - `task_polls` counts each poll: a task that yields k times is polled k + 1 times, the
//!   main future of `run_until_complete` counts too, a cancellation is one poll slot, and a
//!   task that wakes itself during its last poll is still polled (and counted) once.
//! - `tasks_spawned` / `tasks_completed` / `tasks_alive`: cancelled and panicked tasks count
//!   as completed; `close()` completes the pending ones.
//! - `timers_pending` counts timers and sleeps, not cancelled timers; `ready_depth` is the
//!   queue now, `ready_depth_max` the largest iteration; `iterations` one per `run_once`.
//! - `polls` / `time_polling` cover an idle sleep, `time_running` a blocking callback;
//!   `busy_fraction` follows from them.
//! - `Display` shows the numbers.
//!
//! What other threads move (threadsafe posts, wakeups, the executor) is in
//! `metrics_threads.rs`.
//!
//! Time-based assertions use generous margins (a loaded CI machine only makes things slower).

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::thread;
use std::time::Duration;

use evloop::{EventLoop, LoopMetrics};

use crate::util::{deadline, record_exceptions, virtual_loop, BUDGET};

/// Yields `n` times.
async fn yields(n: usize) {
    for _ in 0..n {
        evloop::yield_now().await;
    }
}

#[test]
fn callbacks_run_counts_each_callback_and_due_timer_once_and_skips_cancelled_ones() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let ran = Rc::new(Cell::new(0));
        let bump = |ran: &Rc<Cell<u32>>| {
            let ran = ran.clone();
            move || ran.set(ran.get() + 1)
        };
        for _ in 0..3 {
            lp.call_soon(bump(&ran));
        }
        lp.call_later(Duration::from_millis(5), bump(&ran));
        lp.call_later(Duration::from_millis(10), bump(&ran));
        lp.call_soon(bump(&ran)).cancel();
        lp.call_later(Duration::from_millis(1), bump(&ran)).cancel();
        assert_eq!(lp.metrics().callbacks_run, 0, "nothing ran before the loop");
        lp.run_until_complete(evloop::sleep(Duration::from_millis(20)))
            .unwrap();
        assert_eq!(ran.get(), 5);
        let m = lp.metrics();
        assert_eq!(
            m.callbacks_run, 5,
            "3 call_soon + 2 timers; the 2 cancelled ones did not run"
        );
        lp.close().unwrap();
    });
}

#[test]
fn task_polls_count_every_poll_and_the_main_future() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let a = lp.spawn(yields(3)); // 4 polls
        let b = lp.spawn(async {
            // 3 polls: the first, and one per sleep that ends.
            evloop::sleep(Duration::from_millis(5)).await;
            evloop::sleep(Duration::from_millis(5)).await;
        });
        let c = lp.spawn(async {}); // 1 poll
        lp.run_until_complete(evloop::sleep(Duration::from_millis(100)))
            .unwrap(); // the main future: 2 polls (start, end of its sleep)
        assert!(a.is_done() && b.is_done() && c.is_done());
        assert_eq!(lp.metrics().task_polls, 4 + 3 + 1 + 2);
        // Another run: its main future yields twice, so 3 more polls.
        lp.run_until_complete(yields(2)).unwrap();
        assert_eq!(lp.metrics().task_polls, 10 + 3);
        lp.close().unwrap();
    });
}

/// A future that wakes its own task during the poll in which it completes (a combinator
/// that finishes after waking itself, say).
pub(crate) struct WakeSelfThenDone;

impl Future for WakeSelfThenDone {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        cx.waker().wake_by_ref();
        Poll::Ready(())
    }
}

#[test]
fn a_task_that_wakes_itself_in_its_last_poll_is_polled_and_counted_once() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let polls = Rc::new(Cell::new(0));
        let p = polls.clone();
        let task = lp.spawn(async move {
            p.set(p.get() + 1);
            WakeSelfThenDone.await
        });
        lp.run_until_complete(yields(3)).unwrap();
        assert!(task.is_done());
        assert_eq!(polls.get(), 1);
        assert_eq!(
            lp.metrics().task_polls,
            1 + 4,
            "the task's stale wake is not a poll (the main future: 4)"
        );
        lp.close().unwrap();
    });
}

#[test]
fn tasks_spawned_completed_and_alive_count_cancelled_and_panicked_tasks_as_completed() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let seen = record_exceptions(&lp);
        let value = lp.spawn(async { 7 });
        let panics = lp.spawn(async { panic!("metrics: this task panics on purpose") });
        let cancelled_early = lp.spawn(async {});
        assert!(cancelled_early.cancel(), "cancelled before its first poll");
        let sleeper = lp.spawn(evloop::sleep(Duration::from_secs(10)));
        let forever = lp.spawn(std::future::pending::<()>());
        let m = lp.metrics();
        assert_eq!(
            (m.tasks_spawned, m.tasks_completed, m.tasks_alive),
            (5, 0, 5)
        );
        lp.run_until_complete(async {
            evloop::sleep(Duration::from_millis(5)).await;
            assert!(sleeper.cancel(), "cancelled while it sleeps");
            evloop::yield_now().await;
        })
        .unwrap();
        let m = lp.metrics();
        assert_eq!(m.tasks_spawned, 5);
        assert_eq!(m.tasks_completed, 4, "value, panic, and two cancels");
        assert_eq!(m.tasks_alive, 1);
        assert_eq!(lp.task_count(), 1);
        assert!(value.is_done() && panics.is_done() && !forever.is_done());
        lp.close().unwrap();
        let m = lp.metrics();
        assert_eq!(
            (m.tasks_spawned, m.tasks_completed, m.tasks_alive),
            (5, 5, 0),
            "close() cancels the last one"
        );
        assert!(seen.borrow().is_empty(), "every outcome had a handle");
    });
}

#[test]
fn timers_pending_counts_timers_and_sleeps_but_not_cancelled_timers() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let timers: Vec<_> = (1..=4)
            .map(|ms| lp.call_later(Duration::from_millis(ms), || {}))
            .collect();
        assert_eq!(lp.metrics().timers_pending, 4);
        assert!(timers[1].cancel());
        assert!(!timers[1].cancel(), "a second cancel changes nothing");
        assert_eq!(lp.metrics().timers_pending, 3);
        let lp2 = lp.clone();
        lp.run_until_complete(async move {
            let sleeper = evloop::spawn(evloop::sleep(Duration::from_millis(50)));
            evloop::yield_now().await; // the sleeper registers its timer
                                       // 3 callbacks and the sleeper (this task is not sleeping now).
            assert_eq!(lp2.metrics().timers_pending, 4);
            sleeper.await.unwrap();
            assert_eq!(lp2.metrics().timers_pending, 0, "everything fired");
        })
        .unwrap();
        lp.close().unwrap();
    });
}

#[test]
fn ready_depth_is_the_queue_now_and_its_max_the_largest_iteration() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let depth_seen = Rc::new(Cell::new(usize::MAX));
        let (lp2, seen) = (lp.clone(), depth_seen.clone());
        lp.call_soon(move || seen.set(lp2.metrics().ready_depth));
        for _ in 0..4 {
            lp.call_soon(|| {});
        }
        let _tasks = [lp.spawn(async {}), lp.spawn(async {})];
        let m = lp.metrics();
        assert_eq!((m.ready_depth, m.ready_depth_max), (7, 0));
        lp.run_until_complete(async {}).unwrap();
        assert_eq!(
            depth_seen.get(),
            7,
            "inside the first callback: 6 entries behind it and the main future"
        );
        let m = lp.metrics();
        assert_eq!(m.ready_depth, 0);
        assert_eq!(m.ready_depth_max, 8, "7 entries and the main future");
        assert_eq!(m.iterations, 1);
        lp.close().unwrap();
    });
}

#[test]
fn iterations_count_each_run_once() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        assert_eq!(lp.metrics().iterations, 0);
        lp.stop();
        lp.run_forever().unwrap(); // stop before run_forever: exactly one iteration
        assert_eq!(lp.metrics().iterations, 1);
        lp.run_until_complete(yields(3)).unwrap(); // one iteration per poll
        assert_eq!(lp.metrics().iterations, 1 + 4);
        lp.call_later(Duration::from_millis(10), || {});
        lp.run_until_complete(evloop::sleep(Duration::from_millis(20)))
            .unwrap(); // start, timer at 10, sleep ends at 20
        assert_eq!(lp.metrics().iterations, 5 + 3);
        assert_eq!(
            lp.metrics().polls,
            0,
            "a virtual loop without I/O never polls"
        );
        lp.close().unwrap();
    });
}

#[test]
fn time_polling_covers_an_idle_sleep() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let fresh = lp.metrics();
        assert_eq!(fresh.busy_fraction(), None, "no run yet");
        lp.run_until_complete(evloop::sleep(Duration::from_millis(50)))
            .unwrap();
        let m = lp.metrics();
        assert!(m.polls >= 1, "{m:?}");
        assert!(
            m.time_polling >= Duration::from_millis(45),
            "the loop idled in the poller for the sleep: {m:?}"
        );
        assert!(m.time_running < m.time_polling, "{m:?}");
        let busy = m.busy_fraction().unwrap();
        assert!((0.0..0.5).contains(&busy), "an idle loop: {busy}");
        lp.close().unwrap();
    });
}

#[test]
fn time_running_covers_a_blocking_callback() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        lp.call_soon(|| thread::sleep(Duration::from_millis(30)));
        lp.run_until_complete(async {}).unwrap();
        let m = lp.metrics();
        assert!(
            m.time_running >= Duration::from_millis(30),
            "the loop ran the callback for 30 ms: {m:?}"
        );
        assert_eq!(
            m.polls, 0,
            "work was ready, and without I/O sources the poll is skipped"
        );
        assert_eq!(m.time_polling, Duration::ZERO);
        assert_eq!(m.busy_fraction(), Some(1.0));
        lp.close().unwrap();
    });
}

/// The number right after the words `key` in `text` (split on whitespace).
fn number_after(text: &str, key: &str) -> u64 {
    let words: Vec<&str> = text.split_whitespace().collect();
    let key: Vec<&str> = key.split_whitespace().collect();
    let at = words
        .windows(key.len())
        .position(|window| window == key.as_slice())
        .unwrap_or_else(|| panic!("{key:?} not in {text:?}"));
    words[at + key.len()]
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .unwrap_or_else(|_| panic!("no number after {key:?} in {text:?}"))
}

#[test]
fn display_shows_the_key_numbers() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        for _ in 0..3 {
            lp.call_soon(|| {});
        }
        lp.run_until_complete(async {
            let task = evloop::spawn(yields(1));
            task.await.unwrap();
            evloop::to_thread(|| 1).await.unwrap();
        })
        .unwrap();
        let m: LoopMetrics = lp.metrics();
        let text = m.to_string();
        assert_eq!(number_after(&text, "iterations"), m.iterations);
        assert_eq!(number_after(&text, "callbacks"), 3);
        assert_eq!(number_after(&text, "task polls"), m.task_polls);
        let polls = format!("task polls {} polls", m.task_polls);
        assert_eq!(number_after(&text, &polls), m.polls);
        assert_eq!(number_after(&text, "spawned"), 1);
        assert_eq!(number_after(&text, "completed"), 1);
        assert_eq!(number_after(&text, "alive"), 0);
        assert_eq!(number_after(&text, "posts"), m.threadsafe_posts);
        assert_eq!(number_after(&text, "wakeups"), m.wakeups);
        assert_eq!(number_after(&text, "in flight"), 0);
        assert!(text.contains("time: running"), "{text}");
        let pool = text
            .split_once("default executor:")
            .unwrap_or_else(|| panic!("no executor line in {text:?}"))
            .1;
        assert_eq!(number_after(pool, "completed"), 1);
        lp.close().unwrap();
    });
}
