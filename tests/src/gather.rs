//! `gather`, `gather_outcomes`, `gather_tasks` (asyncio's `gather`), on the virtual clock.
//!
//! - The values come back in the order given, not in completion order, after the longest
//!   child (the children run concurrently, and start before the gather is awaited).
//! - The first child (in completion order) that panics or is cancelled ends the gather with
//!   its error, at the instant it failed; the other children keep running, and a later panic
//!   among them reaches the exception handler once.
//! - `gather_outcomes` (and `Gather::outcomes`) waits for every child and returns each outcome.
//! - Dropping a gather that has not resolved cancels each unfinished child exactly once (its
//!   future is dropped once, at that instant); a finished child is not touched.
//! - A gather is polled once per completion instant, not once per child (done sinks).
//! - `gather_tasks` takes spawned tasks, finished or not; an empty gather resolves at once;
//!   `gather` outside a loop panics with the no-running-loop message.
//!
//! The helpers at the top (`U`, `units_since`, `Life`, `child`) are shared with `wait.rs`
//! and `timeout.rs`.

use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::time::{Duration, Instant};

use evloop::{EventLoop, TaskError};

use crate::util::{deadline, payload_text, record_exception_texts, virtual_loop, BUDGET};

/// One unit of virtual time.
pub(crate) const U: Duration = Duration::from_millis(10);

/// Loop time since `start`, in whole units (the virtual clock makes it exact).
pub(crate) fn units_since(lp: &EventLoop, start: Instant) -> u32 {
    let elapsed = lp.time() - start;
    assert_eq!(
        elapsed.as_nanos() % U.as_nanos(),
        0,
        "not a whole unit: {elapsed:?}"
    );
    (elapsed.as_nanos() / U.as_nanos()) as u32
}

/// How a test child ends after its sleep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// Returns its value.
    Value(u32),
    /// Panics with `"child <n> failed"`.
    Panic(u32),
}

/// What happened to one child, in units since the test's start.
#[derive(Default, Debug)]
pub(crate) struct Life {
    /// When it returned or panicked (never set for a child cancelled while sleeping).
    pub(crate) ended: Cell<Option<u32>>,
    /// How many times its future was dropped (must end at 1).
    pub(crate) drops: Cell<u32>,
    /// When its future was dropped.
    pub(crate) dropped_at: Cell<Option<u32>>,
}

/// Drops with the child's future and records it in `Life`.
struct LifeGuard {
    /// The record.
    life: Rc<Life>,
    /// The loop and the start, for the time.
    lp: EventLoop,
    /// Time zero.
    start: Instant,
}

impl Drop for LifeGuard {
    fn drop(&mut self) {
        self.life.drops.set(self.life.drops.get() + 1);
        self.life
            .dropped_at
            .set(Some(units_since(&self.lp, self.start)));
    }
}

/// A child that sleeps `units`, then ends as `end`, recording its life.
pub(crate) fn child(
    lp: &EventLoop,
    start: Instant,
    units: u32,
    end: End,
) -> (Rc<Life>, impl Future<Output = u32> + 'static) {
    let life = Rc::new(Life::default());
    let guard = LifeGuard {
        life: life.clone(),
        lp: lp.clone(),
        start,
    };
    let future = async move {
        let guard = guard;
        evloop::sleep(U * units).await;
        guard
            .life
            .ended
            .set(Some(units_since(&guard.lp, guard.start)));
        match end {
            End::Value(value) => value,
            End::Panic(n) => panic!("child {n} failed"),
        }
    };
    (life, future)
}

/// Awaits `gather`, counting its polls in `polls`.
async fn count_polls<T: 'static>(polls: Rc<Cell<u32>>, mut gather: evloop::Gather<T>) -> Vec<T> {
    poll_fn(|cx| {
        polls.set(polls.get() + 1);
        Pin::new(&mut gather).poll(cx)
    })
    .await
    .expect("no child fails")
}

#[test]
fn values_come_back_in_the_order_given_after_the_longest_child() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let start = lp.time();
        let (lives, children): (Vec<_>, Vec<_>) = [(3, 30), (1, 10), (2, 20)]
            .into_iter()
            .map(|(units, value)| child(&lp, start, units, End::Value(value)))
            .unzip();
        let (values, at) = lp
            .run_until_complete(async move {
                let values = evloop::gather(children).await;
                (
                    values,
                    units_since(&evloop::get_running_loop().unwrap(), start),
                )
            })
            .unwrap();
        assert_eq!(values, Ok(vec![30, 10, 20]), "the order given");
        assert_eq!(at, 3, "concurrent: the longest child, not the sum");
        let ended: Vec<_> = lives.iter().map(|life| life.ended.get()).collect();
        assert_eq!(
            ended,
            [Some(3), Some(1), Some(2)],
            "completion order differs"
        );
        assert!(lives.iter().all(|life| life.drops.get() == 1));
        assert_eq!(lp.task_count(), 0);
        lp.close().unwrap();
    });
}

#[test]
fn children_start_before_the_gather_is_awaited() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let start = lp.time();
        let started = Rc::new(Cell::new(0));
        let (values, at) = lp
            .run_until_complete({
                let started = started.clone();
                async move {
                    let gather = evloop::gather((0..4).map(|i| {
                        let started = started.clone();
                        async move {
                            started.set(started.get() + 1);
                            evloop::sleep(U * 2).await;
                            i
                        }
                    }));
                    evloop::sleep(U * 5).await;
                    assert_eq!(started.get(), 4, "the children ran before the await");
                    let values = gather.await;
                    (
                        values,
                        units_since(&evloop::get_running_loop().unwrap(), start),
                    )
                }
            })
            .unwrap();
        assert_eq!(values, Ok(vec![0, 1, 2, 3]));
        assert_eq!(at, 5, "already finished: the await resolves at once");
        lp.close().unwrap();
    });
}

#[test]
fn the_first_failure_ends_the_gather_and_the_others_keep_running() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let seen = record_exception_texts(&lp);
        let start = lp.time();
        let (lives, children): (Vec<_>, Vec<_>) = [
            (4, End::Panic(0)),
            (2, End::Panic(1)),
            (3, End::Value(7)),
            (5, End::Panic(3)),
        ]
        .into_iter()
        .map(|(units, end)| child(&lp, start, units, end))
        .unzip();
        let (result, at) = lp
            .run_until_complete(async move {
                let result = evloop::gather(children).await;
                let at = units_since(&evloop::get_running_loop().unwrap(), start);
                evloop::sleep(U * 10).await;
                (result, at)
            })
            .unwrap();
        assert_eq!(result, Err(TaskError::Panicked("child 1 failed".into())));
        assert_eq!(at, 2, "returns when the first child fails");
        let ended: Vec<_> = lives.iter().map(|life| life.ended.get()).collect();
        assert_eq!(
            ended,
            [Some(4), Some(2), Some(3), Some(5)],
            "siblings kept running"
        );
        assert!(lives.iter().all(|life| life.drops.get() == 1));
        // Nobody observes the later panics: each reaches the exception handler once.
        let mut seen = seen.take();
        seen.sort();
        assert_eq!(seen, ["child 0 failed", "child 3 failed"]);
        lp.close().unwrap();
    });
}

#[test]
fn a_cancelled_child_ends_the_gather_with_cancelled() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let start = lp.time();
        let (_, first) = child(&lp, start, 1, End::Value(1));
        let (life, second) = child(&lp, start, 3, End::Value(2));
        let tasks = [lp.spawn(first), lp.spawn(second)];
        let (result, at) = lp
            .run_until_complete(async move {
                let lp = evloop::get_running_loop().unwrap();
                // The handles are inside the gather: cancel from outside, by the loop.
                let canceller = lp.clone();
                lp.call_later(U * 2, move || {
                    assert_eq!(canceller.cancel_all_tasks(), 1);
                });
                let result = evloop::gather_tasks(tasks).await;
                (result, units_since(&lp, start))
            })
            .unwrap();
        assert_eq!(result, Err(TaskError::Cancelled));
        assert_eq!(at, 2);
        assert_eq!((life.ended.get(), life.dropped_at.get()), (None, Some(2)));
        lp.close().unwrap();
    });
}

#[test]
fn gather_outcomes_waits_for_every_child_and_keeps_each_outcome() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let seen = record_exception_texts(&lp);
        let start = lp.time();
        let (_, value) = child(&lp, start, 3, End::Value(5));
        let (_, panics) = child(&lp, start, 1, End::Panic(1));
        let (cancelled_life, cancelled) = child(&lp, start, 2, End::Value(6));
        let tasks = vec![lp.spawn(value), lp.spawn(panics), lp.spawn(cancelled)];
        assert!(tasks[2].cancel(), "cancelled before its first poll");
        let (outcomes, at) = lp
            .run_until_complete(async move {
                let outcomes = evloop::gather_tasks(tasks).outcomes().await;
                (
                    outcomes,
                    units_since(&evloop::get_running_loop().unwrap(), start),
                )
            })
            .unwrap();
        assert_eq!(
            outcomes,
            [
                Ok(5),
                Err(TaskError::Panicked("child 1 failed".into())),
                Err(TaskError::Cancelled)
            ]
        );
        assert_eq!(at, 3, "waits for the last child despite the errors");
        assert_eq!(cancelled_life.ended.get(), None);
        assert_eq!(cancelled_life.drops.get(), 1);
        assert!(seen.borrow().is_empty(), "every panic was observed");

        // The same through gather_outcomes, with futures.
        let outcomes = lp
            .run_until_complete(async move {
                let (_, a) = child(
                    &evloop::get_running_loop().unwrap(),
                    start,
                    1,
                    End::Panic(9),
                );
                evloop::gather_outcomes([a]).await
            })
            .unwrap();
        assert_eq!(
            outcomes,
            [Err(TaskError::Panicked("child 9 failed".into()))]
        );
        lp.close().unwrap();
    });
}

#[test]
fn dropping_an_unresolved_gather_cancels_each_unfinished_child_once() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let seen = record_exception_texts(&lp);
        let start = lp.time();
        let (lives, children): (Vec<_>, Vec<_>) = [1, 3, 5]
            .into_iter()
            .map(|units| child(&lp, start, units, End::Value(units)))
            .unzip();
        let parent = lp.spawn(async move { evloop::gather(children).await });
        let outcome = lp
            .run_until_complete(async move {
                evloop::sleep(U * 2).await;
                assert!(parent.cancel());
                let outcome = parent.await;
                evloop::sleep(U * 10).await;
                outcome
            })
            .unwrap();
        assert_eq!(outcome, Err(TaskError::Cancelled));
        let ended: Vec<_> = lives.iter().map(|life| life.ended.get()).collect();
        assert_eq!(
            ended,
            [Some(1), None, None],
            "the unfinished children never resumed"
        );
        let drops: Vec<_> = lives.iter().map(|life| life.drops.get()).collect();
        assert_eq!(drops, [1, 1, 1], "each future dropped exactly once");
        let dropped_at: Vec<_> = lives.iter().map(|life| life.dropped_at.get()).collect();
        assert_eq!(
            dropped_at,
            [Some(1), Some(2), Some(2)],
            "cancelled with the gather"
        );
        assert_eq!(lp.task_count(), 0);
        assert!(seen.borrow().is_empty());
        lp.close().unwrap();
    });
}

#[test]
fn a_resolved_gather_cancels_nothing_when_dropped() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let start = lp.time();
        let (slow_life, slow) = child(&lp, start, 4, End::Value(4));
        let tasks = vec![lp.spawn(slow), lp.spawn(async { panic!("early") })];
        let result = lp
            .run_until_complete(async move {
                let mut gather = evloop::gather_tasks(tasks);
                let result = (&mut gather).await;
                drop(gather);
                evloop::sleep(U * 6).await;
                result
            })
            .unwrap();
        assert_eq!(result, Err(TaskError::Panicked("early".into())));
        assert_eq!(slow_life.ended.get(), Some(4), "still ran to completion");
        lp.close().unwrap();
    });
}

#[test]
fn a_gather_is_polled_once_per_completion_instant_not_per_child() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let polls = Rc::new(Cell::new(0));
        // A thousand children finishing at the same instant: one wake for all of them.
        let total = lp
            .run_until_complete({
                let polls = polls.clone();
                async move {
                    let children = (0..1000u64).map(|i| async move {
                        evloop::sleep(U).await;
                        i
                    });
                    let values = count_polls(polls, evloop::gather(children)).await;
                    values.into_iter().sum::<u64>()
                }
            })
            .unwrap();
        assert_eq!(total, 999 * 1000 / 2);
        assert_eq!(polls.get(), 2, "the first poll and one wake");

        // A hundred children finishing one unit apart: one poll per instant.
        polls.set(0);
        let values = lp
            .run_until_complete({
                let polls = polls.clone();
                async move {
                    let children = (1..=100u32).map(|i| async move {
                        evloop::sleep(U * i).await;
                        i
                    });
                    count_polls(polls, evloop::gather(children)).await
                }
            })
            .unwrap();
        assert_eq!(values, (1..=100).collect::<Vec<_>>());
        assert_eq!(polls.get(), 101);
        lp.close().unwrap();
    });
}

#[test]
fn gather_tasks_takes_finished_and_running_tasks_and_empty_resolves_at_once() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let start = lp.time();
        let done = lp.spawn(async { 'a' });
        lp.run_until_complete(evloop::yield_now()).unwrap();
        assert!(done.is_done());
        let running = lp.spawn(async {
            evloop::sleep(U).await;
            'b'
        });
        let values = lp
            .run_until_complete(evloop::gather_tasks([done, running]))
            .unwrap();
        assert_eq!(values, Ok(vec!['a', 'b']));
        assert_eq!(units_since(&lp, start), 1);

        let empty = lp
            .run_until_complete(async {
                let empty: Vec<std::future::Ready<u8>> = Vec::new();
                (
                    evloop::gather(empty).await,
                    evloop::gather_outcomes(Vec::<std::future::Ready<u8>>::new()).await,
                )
            })
            .unwrap();
        assert_eq!(empty, (Ok(vec![]), vec![]));
        assert_eq!(units_since(&lp, start), 1, "no time passed");
        lp.close().unwrap();
    });
}

#[test]
fn gather_outside_a_loop_panics_with_the_fix() {
    deadline(BUDGET, || {
        let payload = std::panic::catch_unwind(|| evloop::gather([async { 1 }])).unwrap_err();
        let text = payload_text(&*payload);
        assert!(
            text.starts_with("evloop::gather: no running event loop"),
            "{text}"
        );
        assert!(text.contains("fix:"), "{text}");
    });
}
