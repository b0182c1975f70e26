//! `TaskGroup`: asyncio's `TaskGroup`, in its plain (`join`) and scoped (`run`) forms.
//!
//! Every test runs on the virtual clock and records a timeline of `(ms, event)`: when each
//! child starts, ends, and when its future is dropped (a guard inside it). Comparing whole
//! timelines checks exact counts and orders at once: a child that ran twice, finished after
//! it was cancelled, or was dropped twice shows up as an extra or misplaced line.
//!
//! - All children succeed: `join` returns after the slowest, with the values in spawn order.
//! - The first failure cancels the siblings and is reported; failures at the same instant
//!   are all reported, in order; a panic is a failure (and is not reported to the exception
//!   handler: the group retrieved it).
//! - Dropping the join future (cancelling the parent) or the group cancels every child.
//! - Spawning into a group that is shutting down drops the future unpolled; through a
//!   spawner, into a finished group, panics with "TaskGroup is finished".
//! - `run`: a body error cancels the children; a child failure drops the body; a body panic
//!   is a failure.
//! - Nested groups; a child spawning into its own group; the context children run in; the
//!   joiner is woken once, not once per child.

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::rc::Rc;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use evloop::{ContextVar, EventLoop, ExceptionContext, GroupFailure, TaskGroup, TaskGroupError};

use crate::util::{deadline, payload_text, BUDGET};

/// A timeline of events on one loop, in virtual milliseconds since the start.
#[derive(Clone)]
struct Log {
    lp: EventLoop,
    start: Instant,
    events: Rc<RefCell<Vec<(u64, String)>>>,
    /// What reached the exception handler.
    reports: Rc<RefCell<Vec<ExceptionContext>>>,
}

impl Log {
    /// A fresh loop on the virtual clock, with an exception handler that records.
    fn new() -> Log {
        let lp = EventLoop::builder().virtual_clock(true).build().unwrap();
        let reports = Rc::new(RefCell::new(Vec::new()));
        let sink = reports.clone();
        lp.set_exception_handler(Some(Box::new(move |context: &ExceptionContext| {
            sink.borrow_mut().push(context.clone())
        })));
        Log {
            start: lp.time(),
            lp,
            events: Rc::default(),
            reports,
        }
    }

    fn now(&self) -> u64 {
        self.lp.time().duration_since(self.start).as_millis() as u64
    }

    fn note(&self, event: impl Into<String>) {
        let now = self.now();
        self.events.borrow_mut().push((now, event.into()));
    }

    /// The timeline so far.
    fn events(&self) -> Vec<(u64, String)> {
        self.events.borrow().clone()
    }

    /// Checks that nothing is left running and nothing reached the exception handler, then
    /// closes the loop.
    fn finish(self) {
        assert_eq!(self.lp.task_count(), 0, "tasks left running");
        assert!(
            self.reports.borrow().is_empty(),
            "exception handler: {:?}",
            self.reports.borrow()
        );
        self.lp.close().unwrap();
    }
}

/// Builds an expected timeline from `(ms, "event")` pairs.
fn timeline(events: &[(u64, &str)]) -> Vec<(u64, String)> {
    events.iter().map(|&(at, e)| (at, e.to_owned())).collect()
}

/// Notes `"<name> dropped"` when the future holding it is dropped.
struct Guard {
    log: Log,
    name: &'static str,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.log.note(format!("{} dropped", self.name));
    }
}

/// How a scripted child ends.
#[derive(Clone, Copy)]
enum End {
    Ok(u64),
    Err(&'static str),
    Panic,
}

/// A child that notes its start, sleeps `ms`, notes its end and ends as `end` says.
fn child(
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

fn failed(errors: &[&str]) -> TaskGroupError<String> {
    let failures: Vec<GroupFailure<String>> = errors
        .iter()
        .map(|e| GroupFailure::Failed((*e).to_owned()))
        .collect();
    // Built through the public API: a group whose children fail with `errors`.
    let log = Log::new();
    let error = log
        .lp
        .run_until_complete(async move {
            let group = TaskGroup::<u64, String>::new();
            for failure in failures {
                group.spawn(async move { Err(failure.into_error().unwrap()) });
            }
            group.join().await.unwrap_err()
        })
        .unwrap();
    log.finish();
    error
}

#[test]
fn all_children_succeed_join_returns_after_the_slowest_with_values_in_spawn_order() {
    deadline(BUDGET, || {
        let log = Log::new();
        let l = log.clone();
        let values = log
            .lp
            .run_until_complete(async move {
                let group = TaskGroup::new();
                group.spawn(child(&l, "a", 30, End::Ok(1)));
                group.spawn(child(&l, "b", 10, End::Ok(2)));
                group.spawn(child(&l, "c", 20, End::Ok(3)));
                let values = group.join().await;
                l.note("joined");
                values
            })
            .unwrap();
        assert_eq!(values, Ok(vec![1, 2, 3]));
        #[rustfmt::skip]
        let expected = timeline(&[
            (0, "a starts"), (0, "b starts"), (0, "c starts"),
            (10, "b ends"), (10, "b dropped"),
            (20, "c ends"), (20, "c dropped"),
            (30, "a ends"), (30, "a dropped"),
            (30, "joined"),
        ]);
        assert_eq!(log.events(), expected);
        log.finish();
    });
}

#[test]
fn an_empty_group_joins_at_once() {
    deadline(BUDGET, || {
        let log = Log::new();
        let (plain, scoped) = log
            .lp
            .run_until_complete(async {
                let plain = TaskGroup::<u8, ()>::new().join().await;
                let scoped = TaskGroup::<u8, ()>::run(|_| async { Ok(()) }).await;
                (plain, scoped)
            })
            .unwrap();
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
        let l = log.clone();
        let outcome = log
            .lp
            .run_until_complete(async move {
                let group = TaskGroup::new();
                group.spawn(child(&l, "a", 10, End::Err("a fails")));
                group.spawn(child(&l, "b", 50, End::Ok(2)));
                group.spawn(child(&l, "c", 20, End::Err("c fails")));
                let outcome = group.join().await;
                l.note("joined");
                outcome
            })
            .unwrap();
        let error = outcome.unwrap_err();
        assert_eq!(error.failures(), [GroupFailure::Failed("a fails".into())]);
        #[rustfmt::skip]
        let expected = timeline(&[
            (0, "a starts"), (0, "b starts"), (0, "c starts"),
            (10, "a ends"), (10, "a dropped"),
            (10, "b dropped"), (10, "c dropped"),
            (10, "joined"),
        ]);
        assert_eq!(log.events(), expected);
        log.finish();
    });
}

#[test]
fn failures_at_the_same_instant_are_all_reported_in_order() {
    deadline(BUDGET, || {
        let log = Log::new();
        let l = log.clone();
        let outcome = log
            .lp
            .run_until_complete(async move {
                let group = TaskGroup::new();
                group.spawn(child(&l, "a", 10, End::Err("a fails")));
                group.spawn(child(&l, "b", 10, End::Ok(2)));
                group.spawn(child(&l, "c", 10, End::Panic));
                group.spawn(child(&l, "d", 10, End::Err("d fails")));
                group.spawn(child(&l, "e", 11, End::Err("e fails")));
                group.join().await
            })
            .unwrap();
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
            text.contains("a fails") && text.contains("1 of 3"),
            "Display names the first failure and the count: {text}"
        );
        #[rustfmt::skip]
        let expected = timeline(&[
            (0, "a starts"), (0, "b starts"), (0, "c starts"), (0, "d starts"), (0, "e starts"),
            (10, "a ends"), (10, "a dropped"),
            (10, "b ends"), (10, "b dropped"),
            (10, "c ends"), (10, "c dropped"),
            (10, "d ends"), (10, "d dropped"),
            (10, "e dropped"),
        ]);
        assert_eq!(log.events(), expected);
        log.finish();
    });
}

#[test]
fn a_panic_is_a_failure_and_the_group_retrieves_it() {
    deadline(BUDGET, || {
        let log = Log::new();
        let l = log.clone();
        let outcome = log
            .lp
            .run_until_complete(async move {
                let group = TaskGroup::new();
                group.spawn(child(&l, "a", 20, End::Ok(1)));
                group.spawn(child(&l, "b", 10, End::Panic));
                group.join().await
            })
            .unwrap();
        let error = outcome.unwrap_err();
        assert_eq!(
            error.failures(),
            [GroupFailure::Panicked("b panics".into())]
        );
        assert!(error.first().is_panic());
        #[rustfmt::skip]
        let expected = timeline(&[
            (0, "a starts"), (0, "b starts"),
            (10, "b ends"), (10, "b dropped"),
            (10, "a dropped"),
        ]);
        assert_eq!(log.events(), expected);
        // `finish` checks that the exception handler saw nothing.
        log.finish();
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
        let parent = log
            .lp
            .run_until_complete(async move {
                evloop::sleep(Duration::from_millis(15)).await;
                l.note("cancel parent");
                assert!(parent.cancel());
                evloop::sleep(Duration::from_millis(100)).await;
                parent
            })
            .unwrap();
        assert!(parent.is_cancelled());
        #[rustfmt::skip]
        let expected = timeline(&[
            (0, "a starts"), (0, "b starts"), (0, "c starts"),
            (10, "a ends"), (10, "a dropped"),
            (15, "cancel parent"),
            (15, "b dropped"), (15, "c dropped"),
        ]);
        assert_eq!(log.events(), expected);
        log.finish();
    });
}

#[test]
fn cancelling_the_parent_of_a_scoped_group_drops_the_body_then_cancels_the_children() {
    deadline(BUDGET, || {
        let log = Log::new();
        let l = log.clone();
        let parent = log.lp.spawn(TaskGroup::run(move |group| async move {
            let _guard = Guard {
                log: l.clone(),
                name: "body",
            };
            group.spawn(child(&l, "a", 10, End::Ok(1)));
            group.spawn(child(&l, "b", 30, End::Ok(2)));
            evloop::sleep(Duration::from_millis(100)).await;
            l.note("body ends");
            Ok(())
        }));
        let l = log.clone();
        log.lp
            .run_until_complete(async move {
                evloop::sleep(Duration::from_millis(15)).await;
                l.note("cancel parent");
                parent.cancel();
                evloop::sleep(Duration::from_millis(200)).await;
            })
            .unwrap();
        #[rustfmt::skip]
        let expected = timeline(&[
            (0, "a starts"), (0, "b starts"),
            (10, "a ends"), (10, "a dropped"),
            (15, "cancel parent"),
            (15, "body dropped"), (15, "b dropped"),
        ]);
        assert_eq!(log.events(), expected);
        log.finish();
    });
}

#[test]
fn dropping_the_group_unjoined_cancels_every_child() {
    deadline(BUDGET, || {
        let log = Log::new();
        let l = log.clone();
        log.lp
            .run_until_complete(async move {
                let group = TaskGroup::new();
                group.spawn(child(&l, "a", 10, End::Ok(1)));
                group.spawn(child(&l, "b", 30, End::Err("b fails")));
                evloop::sleep(Duration::from_millis(5)).await;
                drop(group);
                l.note("group dropped");
                evloop::sleep(Duration::from_millis(100)).await;
            })
            .unwrap();
        #[rustfmt::skip]
        let expected = timeline(&[
            (0, "a starts"), (0, "b starts"),
            (5, "group dropped"),
            (5, "a dropped"), (5, "b dropped"),
        ]);
        assert_eq!(log.events(), expected);
        log.finish();
    });
}

#[test]
fn spawning_into_a_group_that_is_shutting_down_drops_the_future_unpolled() {
    deadline(BUDGET, || {
        let log = Log::new();
        let l = log.clone();
        let outcome = log
            .lp
            .run_until_complete(async move {
                let group = TaskGroup::new();
                let spawner = group.spawner();
                group.spawn(child(&l, "a", 10, End::Err("a fails")));
                evloop::sleep(Duration::from_millis(20)).await;
                assert!(group.is_shutting_down());
                assert!(spawner.is_shutting_down());
                assert!(!spawner.is_finished());
                group.spawn(child(&l, "late", 10, End::Ok(2)));
                spawner.spawn(child(&l, "later", 10, End::Ok(3)));
                l.note("spawned late");
                group.join().await
            })
            .unwrap();
        assert_eq!(
            outcome.unwrap_err().into_failures(),
            [GroupFailure::Failed("a fails".into())]
        );
        // The late futures were dropped at once: their guard never existed (no "starts").
        #[rustfmt::skip]
        let expected = timeline(&[
            (0, "a starts"),
            (10, "a ends"), (10, "a dropped"),
            (20, "spawned late"),
        ]);
        assert_eq!(log.events(), expected);
        log.finish();
    });
}

#[test]
fn spawning_through_a_spawner_into_a_finished_group_panics() {
    deadline(BUDGET, || {
        let log = Log::new();
        let l = log.clone();
        let messages = log
            .lp
            .run_until_complete(async move {
                // Joined.
                let group = TaskGroup::new();
                let joined = group.spawner();
                group.spawn(child(&l, "a", 10, End::Ok(1)));
                assert_eq!(group.join().await, Ok(vec![1]));
                // Dropped.
                let group = TaskGroup::<u64, String>::new();
                let dropped = group.spawner();
                drop(group);
                let mut messages = Vec::new();
                for spawner in [joined, dropped] {
                    assert!(spawner.is_finished());
                    let refused = catch_unwind(AssertUnwindSafe(|| {
                        spawner.spawn(child(&l, "stray", 10, End::Ok(2)))
                    }));
                    messages.push(payload_text(&*refused.unwrap_err()));
                }
                messages
            })
            .unwrap();
        for message in messages {
            assert!(
                message.starts_with("TaskGroup is finished") && message.contains("fix:"),
                "{message}"
            );
        }
        #[rustfmt::skip]
        let expected = timeline(&[
            (0, "a starts"), (10, "a ends"), (10, "a dropped"),
        ]);
        assert_eq!(log.events(), expected);
        log.finish();
    });
}

#[test]
fn a_body_error_cancels_the_children_and_is_reported() {
    deadline(BUDGET, || {
        let log = Log::new();
        let l = log.clone();
        let outcome = log
            .lp
            .run_until_complete(TaskGroup::run(move |group| async move {
                group.spawn(child(&l, "a", 5, End::Ok(1)));
                group.spawn(child(&l, "b", 20, End::Ok(2)));
                evloop::sleep(Duration::from_millis(10)).await;
                l.note("body fails");
                Err("body fails".to_owned())
            }))
            .unwrap();
        assert_eq!(
            outcome.unwrap_err().failures(),
            [GroupFailure::Failed("body fails".into())]
        );
        #[rustfmt::skip]
        let expected = timeline(&[
            (0, "a starts"), (0, "b starts"),
            (5, "a ends"), (5, "a dropped"),
            (10, "body fails"),
            (10, "b dropped"),
        ]);
        assert_eq!(log.events(), expected);
        log.finish();
    });
}

#[test]
fn a_body_panic_is_a_failure() {
    deadline(BUDGET, || {
        let log = Log::new();
        let l = log.clone();
        let outcome = log
            .lp
            .run_until_complete(TaskGroup::<u64, String>::run(move |group| async move {
                group.spawn(child(&l, "a", 20, End::Ok(1)));
                evloop::sleep(Duration::from_millis(10)).await;
                panic!("the body panics");
            }))
            .unwrap();
        assert_eq!(
            outcome.unwrap_err().failures(),
            [GroupFailure::Panicked("the body panics".into())]
        );
        assert_eq!(
            log.events(),
            timeline(&[(0, "a starts"), (10, "a dropped")])
        );
        log.finish();
    });
}

#[test]
fn a_child_failure_drops_the_body_then_the_group_waits_for_the_children() {
    deadline(BUDGET, || {
        let log = Log::new();
        let l = log.clone();
        let l2 = log.clone();
        let outcome = log
            .lp
            .run_until_complete(async move {
                let outcome = TaskGroup::run(move |group| async move {
                    let _guard = Guard {
                        log: l.clone(),
                        name: "body",
                    };
                    group.spawn(child(&l, "a", 10, End::Err("a fails")));
                    group.spawn(child(&l, "b", 30, End::Ok(2)));
                    evloop::sleep(Duration::from_millis(100)).await;
                    l.note("body ends");
                    Ok(())
                })
                .await;
                l2.note("joined");
                outcome
            })
            .unwrap();
        assert_eq!(
            outcome.unwrap_err().failures(),
            [GroupFailure::Failed("a fails".into())]
        );
        #[rustfmt::skip]
        let expected = timeline(&[
            (0, "a starts"), (0, "b starts"),
            (10, "a ends"), (10, "a dropped"),
            (10, "body dropped"),
            (10, "b dropped"),
            (10, "joined"),
        ]);
        assert_eq!(log.events(), expected);
        log.finish();
    });
}

/// A child that runs a nested group of two grandchildren and passes its failure on.
fn nested(log: &Log, first: End) -> impl Future<Output = Result<u64, String>> {
    let log = log.clone();
    async move {
        let values = TaskGroup::run(move |inner| async move {
            inner.spawn(child(&log, "inner 1", 10, first));
            inner.spawn(child(&log, "inner 2", 50, End::Ok(2)));
            Ok(())
        })
        .await
        .map_err(|error| format!("inner group: {}", error.first()))?;
        Ok(values.iter().sum())
    }
}

#[test]
fn a_failure_in_a_nested_group_fails_the_outer_group() {
    deadline(BUDGET, || {
        let log = Log::new();
        let l = log.clone();
        let outcome = log
            .lp
            .run_until_complete(TaskGroup::run(move |outer| async move {
                outer.spawn(nested(&l, End::Err("deep")));
                outer.spawn(child(&l, "outer 2", 40, End::Ok(1)));
                Ok(())
            }))
            .unwrap();
        assert_eq!(
            outcome.unwrap_err().failures(),
            [GroupFailure::Failed("inner group: deep".into())]
        );
        #[rustfmt::skip]
        let expected = timeline(&[
            (0, "outer 2 starts"), (0, "inner 1 starts"), (0, "inner 2 starts"),
            (10, "inner 1 ends"), (10, "inner 1 dropped"),
            (10, "inner 2 dropped"),
            (10, "outer 2 dropped"),
        ]);
        assert_eq!(log.events(), expected);

        // And a nested group that succeeds gives its value to the outer one.
        let l = log.clone();
        let outcome = log
            .lp
            .run_until_complete(TaskGroup::run(move |outer| async move {
                outer.spawn(nested(&l, End::Ok(40)));
                Ok::<(), String>(())
            }))
            .unwrap();
        assert_eq!(outcome, Ok(vec![42]));
        log.finish();
    });
}

#[test]
fn cancelling_the_outer_group_cancels_the_grandchildren() {
    deadline(BUDGET, || {
        let log = Log::new();
        let l = log.clone();
        let parent = log.lp.spawn(async move {
            let group = TaskGroup::new();
            group.spawn(nested(&l, End::Ok(1)));
            group.join().await
        });
        let l = log.clone();
        log.lp
            .run_until_complete(async move {
                evloop::sleep(Duration::from_millis(15)).await;
                l.note("cancel parent");
                parent.cancel();
                evloop::sleep(Duration::from_millis(100)).await;
            })
            .unwrap();
        #[rustfmt::skip]
        let expected = timeline(&[
            (0, "inner 1 starts"), (0, "inner 2 starts"),
            (10, "inner 1 ends"), (10, "inner 1 dropped"),
            (15, "cancel parent"),
            (15, "inner 2 dropped"),
        ]);
        assert_eq!(log.events(), expected);
        log.finish();
    });
}

#[test]
fn a_child_can_spawn_into_its_own_group_and_join_waits_for_it() {
    deadline(BUDGET, || {
        let log = Log::new();
        let l = log.clone();
        let values = log
            .lp
            .run_until_complete(async move {
                let group = TaskGroup::new();
                let spawner = group.spawner();
                let l2 = l.clone();
                group.spawn(async move {
                    evloop::sleep(Duration::from_millis(10)).await;
                    spawner.spawn(child(&l2, "sibling", 20, End::Ok(2)));
                    l2.note("parent child ends");
                    Ok(1)
                });
                let values = group.join().await;
                l.note("joined");
                values
            })
            .unwrap();
        assert_eq!(values, Ok(vec![1, 2]));
        #[rustfmt::skip]
        let expected = timeline(&[
            (10, "parent child ends"),
            (10, "sibling starts"),
            (30, "sibling ends"), (30, "sibling dropped"),
            (30, "joined"),
        ]);
        assert_eq!(log.events(), expected);
        log.finish();
    });
}

/// A variable for the context test.
static WHO: LazyLock<ContextVar<&'static str>> = LazyLock::new(|| ContextVar::new("who"));

#[test]
fn children_run_in_a_copy_of_the_spawners_context() {
    deadline(BUDGET, || {
        let log = Log::new();
        let (values, after) = log
            .lp
            .run_until_complete(async {
                WHO.set("parent");
                let values = TaskGroup::run(|group| async move {
                    let inner = group.clone();
                    group.spawn(async move {
                        let seen = WHO.get();
                        WHO.set("child");
                        inner.spawn(async { Ok::<_, ()>(WHO.get()) });
                        Ok(seen)
                    });
                    Ok(())
                })
                .await;
                (values, WHO.get())
            })
            .unwrap();
        assert_eq!(values, Ok(vec![Some("parent"), Some("child")]));
        assert_eq!(after, Some("parent"), "a child's change stays in the child");
        log.finish();
    });
}

#[test]
fn the_joiner_is_woken_once_when_the_last_child_ends_not_once_per_child() {
    deadline(BUDGET, || {
        let log = Log::new();
        let (values, polls) = log
            .lp
            .run_until_complete(async {
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
            })
            .unwrap();
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
            "unhandled errors in a TaskGroup: disk full (1 of 2 failure(s); the children still \
             running were cancelled); fix: handle the error inside the child, or match on \
             TaskGroupError::failures() to see every failure"
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
