//! `TaskGroup`, the plain form (`new`, `spawn`, `join`), and the helpers that
//! `task_group_scoped.rs` and `task_group_spawn.rs` share.
//!
//! Every test runs on the virtual clock and records a timeline of `(ms, event)`: when each
//! child starts, ends, and when its future is dropped (a guard inside it). Comparing whole
//! timelines checks exact counts and orders at once: a child that ran twice, finished after
//! it was cancelled, or was dropped twice shows up as an extra or misplaced line.
//!
//! - All children succeed: `join` returns after the slowest, with the values in spawn order;
//!   an empty group joins at once.
//! - The first failure cancels the siblings and is reported; failures at the same instant
//!   are all reported, in order; a panic is a failure (and is not reported to the exception
//!   handler: the group retrieved it).
//! - Dropping the join future (cancelling the parent) or the group cancels every child.
//! - The joiner is woken once, not once per child; the error's `Display`.
//!
//! Spawning rules are in `task_group_spawn.rs`, the scoped form in `task_group_scoped.rs`.

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::rc::Rc;
use std::time::{Duration, Instant};

use evloop::{EventLoop, ExceptionContext, GroupFailure, TaskGroup, TaskGroupError};

use crate::util::{deadline, record_exceptions, virtual_loop, BUDGET};

/// A timeline of events on one loop, in virtual milliseconds since the start.
#[derive(Clone)]
pub(crate) struct Log {
    pub(crate) lp: EventLoop,
    start: Instant,
    events: Rc<RefCell<Vec<(u64, String)>>>,
    /// What reached the exception handler.
    reports: Rc<RefCell<Vec<ExceptionContext>>>,
}

impl Log {
    /// A fresh loop on the virtual clock, with an exception handler that records.
    pub(crate) fn new() -> Log {
        let lp = virtual_loop();
        let reports = record_exceptions(&lp);
        Log {
            start: lp.time(),
            lp,
            events: Rc::default(),
            reports,
        }
    }

    pub(crate) fn now(&self) -> u64 {
        self.lp.time().duration_since(self.start).as_millis() as u64
    }

    pub(crate) fn note(&self, event: impl Into<String>) {
        let now = self.now();
        self.events.borrow_mut().push((now, event.into()));
    }

    /// Runs `future` to completion on the loop.
    pub(crate) fn run<F: Future>(&self, future: F) -> F::Output {
        self.lp.run_until_complete(future).expect("run the loop")
    }

    /// The timeline so far.
    pub(crate) fn events(&self) -> Vec<(u64, String)> {
        self.events.borrow().clone()
    }

    /// Checks that nothing is left running and nothing reached the exception handler, then
    /// closes the loop.
    pub(crate) fn finish(self) {
        assert_eq!(self.lp.task_count(), 0, "tasks left running");
        assert!(
            self.reports.borrow().is_empty(),
            "exception handler: {:?}",
            self.reports.borrow()
        );
        self.lp.close().unwrap();
    }

    /// Checks that the whole timeline is `expected` (`(ms, "event")` pairs), then [`finish`]es.
    ///
    /// [`finish`]: Log::finish
    pub(crate) fn finish_with(self, expected: &[(u64, &str)]) {
        assert_eq!(self.events(), timeline(expected));
        self.finish();
    }
}

/// Builds an expected timeline from `(ms, "event")` pairs.
pub(crate) fn timeline(events: &[(u64, &str)]) -> Vec<(u64, String)> {
    events.iter().map(|&(at, e)| (at, e.to_owned())).collect()
}

/// Notes `"<name> dropped"` when the future holding it is dropped.
pub(crate) struct Guard {
    pub(crate) log: Log,
    pub(crate) name: &'static str,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.log.note(format!("{} dropped", self.name));
    }
}

/// How a scripted child ends.
#[derive(Clone, Copy)]
pub(crate) enum End {
    Ok(u64),
    Err(&'static str),
    Panic,
}

/// A child that notes its start, sleeps `ms`, notes its end and ends as `end` says.
pub(crate) fn child(
    log: &Log,
    name: &'static str,
    ms: u64,
    end: End,
) -> impl Future<Output = Result<u64, String>> {
    let log = log.clone();
    async move {
        let _guard = Guard {
            log: log.clone(),
            name,
        };
        log.note(format!("{name} starts"));
        evloop::sleep(Duration::from_millis(ms)).await;
        log.note(format!("{name} ends"));
        match end {
            End::Ok(value) => Ok(value),
            End::Err(error) => Err(error.to_owned()),
            End::Panic => panic!("{name} panics"),
        }
    }
}

/// Spawns the scripted children `(name, ms, end)` into a new group, in that order, joins it
/// and notes `"joined"`.
fn join_children(
    log: &Log,
    children: &[(&'static str, u64, End)],
) -> Result<Vec<u64>, TaskGroupError<String>> {
    let (l, children) = (log.clone(), children.to_vec());
    log.run(async move {
        let group = TaskGroup::new();
        for (name, ms, end) in children {
            group.spawn(child(&l, name, ms, end));
        }
        let outcome = group.join().await;
        l.note("joined");
        outcome
    })
}

fn failed(errors: &[&str]) -> TaskGroupError<String> {
    let failures: Vec<GroupFailure<String>> = errors
        .iter()
        .map(|e| GroupFailure::Failed((*e).to_owned()))
        .collect();
    // Built through the public API: a group whose children fail with `errors`.
    let log = Log::new();
    let error = log.run(async move {
        let group = TaskGroup::<u64, String>::new();
        for failure in failures {
            group.spawn(async move { Err(failure.into_error().unwrap()) });
        }
        group.join().await.unwrap_err()
    });
    log.finish();
    error
}

#[test]
fn all_children_succeed_join_returns_after_the_slowest_with_values_in_spawn_order() {
    deadline(BUDGET, || {
        let log = Log::new();
        let values = join_children(
            &log,
            &[
                ("a", 30, End::Ok(1)),
                ("b", 10, End::Ok(2)),
                ("c", 20, End::Ok(3)),
            ],
        );
        assert_eq!(values, Ok(vec![1, 2, 3]));
        #[rustfmt::skip]
        let expected = [
            (0, "a starts"), (0, "b starts"), (0, "c starts"),
            (10, "b ends"), (10, "b dropped"),
            (20, "c ends"), (20, "c dropped"),
            (30, "a ends"), (30, "a dropped"),
            (30, "joined"),
        ];
        log.finish_with(&expected);
    });
}

#[test]
fn an_empty_group_joins_at_once() {
    deadline(BUDGET, || {
        let log = Log::new();
        let (plain, scoped) = log.run(async {
            let plain = TaskGroup::<u8, ()>::new().join().await;
            let scoped = TaskGroup::<u8, ()>::run(|_| async { Ok(()) }).await;
            (plain, scoped)
        });
        assert_eq!(plain, Ok(vec![]));
        assert_eq!(scoped, Ok(vec![]));
        assert_eq!(log.now(), 0);
        log.finish();
    });
}

#[test]
fn the_first_failure_cancels_the_siblings_and_is_reported() {
    deadline(BUDGET, || {
        let log = Log::new();
        let outcome = join_children(
            &log,
            &[
                ("a", 10, End::Err("a fails")),
                ("b", 50, End::Ok(2)),
                ("c", 20, End::Err("c fails")),
            ],
        );
        let error = outcome.unwrap_err();
        assert_eq!(error.failures(), [GroupFailure::Failed("a fails".into())]);
        #[rustfmt::skip]
        let expected = [
            (0, "a starts"), (0, "b starts"), (0, "c starts"),
            (10, "a ends"), (10, "a dropped"),
            (10, "b dropped"), (10, "c dropped"),
            (10, "joined"),
        ];
        log.finish_with(&expected);
    });
}

#[test]
fn failures_at_the_same_instant_are_all_reported_in_order() {
    deadline(BUDGET, || {
        let log = Log::new();
        let outcome = join_children(
            &log,
            &[
                ("a", 10, End::Err("a fails")),
                ("b", 10, End::Ok(2)),
                ("c", 10, End::Panic),
                ("d", 10, End::Err("d fails")),
                ("e", 11, End::Err("e fails")),
            ],
        );
        let error = outcome.unwrap_err();
        assert_eq!(
            error.failures(),
            [
                GroupFailure::Failed("a fails".into()),
                GroupFailure::Panicked("c panics".into()),
                GroupFailure::Failed("d fails".into()),
            ]
        );
        assert_eq!(error.first(), &GroupFailure::Failed("a fails".into()));
        let text = error.to_string();
        assert!(
            text.contains("(3 failures), the first: a fails;"),
            "Display names the first failure and the count: {text}"
        );
        #[rustfmt::skip]
        let expected = [
            (0, "a starts"), (0, "b starts"), (0, "c starts"), (0, "d starts"), (0, "e starts"),
            (10, "a ends"), (10, "a dropped"),
            (10, "b ends"), (10, "b dropped"),
            (10, "c ends"), (10, "c dropped"),
            (10, "d ends"), (10, "d dropped"),
            (10, "e dropped"),
            (10, "joined"),
        ];
        log.finish_with(&expected);
    });
}

#[test]
fn a_panic_is_a_failure_and_the_group_retrieves_it() {
    deadline(BUDGET, || {
        let log = Log::new();
        let outcome = join_children(&log, &[("a", 20, End::Ok(1)), ("b", 10, End::Panic)]);
        let error = outcome.unwrap_err();
        assert_eq!(
            error.failures(),
            [GroupFailure::Panicked("b panics".into())]
        );
        assert!(error.first().is_panic());
        #[rustfmt::skip]
        let expected = [
            (0, "a starts"), (0, "b starts"),
            (10, "b ends"), (10, "b dropped"),
            (10, "a dropped"),
            (10, "joined"),
        ];
        // `finish_with` checks that the exception handler saw nothing.
        log.finish_with(&expected);
    });
}

#[test]
fn cancelling_the_parent_cancels_every_child() {
    deadline(BUDGET, || {
        let log = Log::new();
        let l = log.clone();
        let parent = log.lp.spawn(async move {
            let group = TaskGroup::new();
            group.spawn(child(&l, "a", 10, End::Ok(1)));
            group.spawn(child(&l, "b", 30, End::Ok(2)));
            group.spawn(child(&l, "c", 40, End::Err("c fails")));
            let outcome = group.join().await;
            l.note("joined");
            outcome
        });
        let l = log.clone();
        let cancelled = log.run(async move {
            evloop::sleep(Duration::from_millis(15)).await;
            l.note("cancel parent");
            assert!(parent.cancel());
            evloop::sleep(Duration::from_millis(100)).await;
            parent.is_cancelled()
        });
        assert!(cancelled);
        #[rustfmt::skip]
        let expected = [
            (0, "a starts"), (0, "b starts"), (0, "c starts"),
            (10, "a ends"), (10, "a dropped"),
            (15, "cancel parent"),
            (15, "b dropped"), (15, "c dropped"),
        ];
        log.finish_with(&expected);
    });
}

#[test]
fn dropping_the_group_unjoined_cancels_every_child() {
    deadline(BUDGET, || {
        let log = Log::new();
        let l = log.clone();
        log.run(async move {
            let group = TaskGroup::new();
            group.spawn(child(&l, "a", 10, End::Ok(1)));
            group.spawn(child(&l, "b", 30, End::Err("b fails")));
            evloop::sleep(Duration::from_millis(5)).await;
            drop(group);
            l.note("group dropped");
            evloop::sleep(Duration::from_millis(100)).await;
        });
        #[rustfmt::skip]
        let expected = [
            (0, "a starts"), (0, "b starts"),
            (5, "group dropped"),
            (5, "a dropped"), (5, "b dropped"),
        ];
        log.finish_with(&expected);
    });
}

#[test]
fn the_joiner_is_woken_once_when_the_last_child_ends_not_once_per_child() {
    deadline(BUDGET, || {
        let log = Log::new();
        let (values, polls) = log.run(async {
            let group = TaskGroup::new();
            for i in 0..100u64 {
                group.spawn(async move {
                    evloop::sleep(Duration::from_millis(i + 1)).await;
                    Ok::<_, ()>(i)
                });
            }
            let mut join = pin!(group.join());
            let mut polls = 0;
            let values = poll_fn(|cx| {
                polls += 1;
                join.as_mut().poll(cx)
            })
            .await;
            (values, polls)
        });
        assert_eq!(values, Ok((0..100).collect::<Vec<_>>()));
        assert_eq!(polls, 2, "one poll to park, one when the last child ended");
        assert_eq!(log.now(), 100);
        log.finish();
    });
}

#[test]
fn the_group_error_names_the_first_failure_and_the_count() {
    deadline(BUDGET, || {
        let error = failed(&["disk full", "timeout"]);
        assert_eq!(
            error.to_string(),
            "unhandled errors in a TaskGroup (2 failures), the first: disk full; the children \
             still running were cancelled; fix: handle the error inside the child, or read \
             TaskGroupError::failures() for every failure"
        );
        assert_eq!(
            error.clone().into_first(),
            GroupFailure::Failed("disk full".into())
        );
        let boxed: Box<dyn std::error::Error> = Box::new(error);
        assert!(boxed
            .to_string()
            .starts_with("unhandled errors in a TaskGroup"));
        assert_eq!(
            GroupFailure::<String>::Panicked("oops".into()).to_string(),
            "panicked: oops"
        );
    });
}
