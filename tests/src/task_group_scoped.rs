//! `TaskGroup`, the scoped form (`TaskGroup::run`, asyncio's `async with TaskGroup()`), with
//! the timeline helpers of `task_group.rs`.
//!
//! - Cancelling the parent drops the body, then cancels the children.
//! - A body error cancels the children and is reported; a body panic is a failure.
//! - A child failure drops the body; the group then waits for the children.
//! - Nested groups: an inner failure fails the outer group; cancelling the outer group
//!   cancels the grandchildren.

use std::future::Future;
use std::time::Duration;

use evloop::{GroupFailure, TaskGroup};

use crate::task_group::{child, timeline, End, Guard, Log};
use crate::util::{deadline, BUDGET};

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
        log.run(async move {
            evloop::sleep(Duration::from_millis(15)).await;
            l.note("cancel parent");
            parent.cancel();
            evloop::sleep(Duration::from_millis(200)).await;
        });
        #[rustfmt::skip]
        let expected = [
            (0, "a starts"), (0, "b starts"),
            (10, "a ends"), (10, "a dropped"),
            (15, "cancel parent"),
            (15, "body dropped"), (15, "b dropped"),
        ];
        log.finish_with(&expected);
    });
}

#[test]
fn a_body_error_cancels_the_children_and_is_reported() {
    deadline(BUDGET, || {
        let log = Log::new();
        let l = log.clone();
        let outcome = log.run(TaskGroup::run(move |group| async move {
            group.spawn(child(&l, "a", 5, End::Ok(1)));
            group.spawn(child(&l, "b", 20, End::Ok(2)));
            evloop::sleep(Duration::from_millis(10)).await;
            l.note("body fails");
            Err("body fails".to_owned())
        }));
        assert_eq!(
            outcome.unwrap_err().failures(),
            [GroupFailure::Failed("body fails".into())]
        );
        #[rustfmt::skip]
        let expected = [
            (0, "a starts"), (0, "b starts"),
            (5, "a ends"), (5, "a dropped"),
            (10, "body fails"),
            (10, "b dropped"),
        ];
        log.finish_with(&expected);
    });
}

#[test]
fn a_body_panic_is_a_failure() {
    deadline(BUDGET, || {
        let log = Log::new();
        let l = log.clone();
        let outcome = log.run(TaskGroup::<u64, String>::run(move |group| async move {
            group.spawn(child(&l, "a", 20, End::Ok(1)));
            evloop::sleep(Duration::from_millis(10)).await;
            panic!("the body panics");
        }));
        assert_eq!(
            outcome.unwrap_err().failures(),
            [GroupFailure::Panicked("the body panics".into())]
        );
        log.finish_with(&[(0, "a starts"), (10, "a dropped")]);
    });
}

#[test]
fn a_child_failure_drops_the_body_then_the_group_waits_for_the_children() {
    deadline(BUDGET, || {
        let log = Log::new();
        let l = log.clone();
        let l2 = log.clone();
        let outcome = log.run(async move {
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
        });
        assert_eq!(
            outcome.unwrap_err().failures(),
            [GroupFailure::Failed("a fails".into())]
        );
        #[rustfmt::skip]
        let expected = [
            (0, "a starts"), (0, "b starts"),
            (10, "a ends"), (10, "a dropped"),
            (10, "body dropped"),
            (10, "b dropped"),
            (10, "joined"),
        ];
        log.finish_with(&expected);
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
        let outcome = log.run(TaskGroup::run(move |outer| async move {
            outer.spawn(nested(&l, End::Err("deep")));
            outer.spawn(child(&l, "outer 2", 40, End::Ok(1)));
            Ok(())
        }));
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
        let outcome = log.run(TaskGroup::run(move |outer| async move {
            outer.spawn(nested(&l, End::Ok(40)));
            Ok::<(), String>(())
        }));
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
        log.run(async move {
            evloop::sleep(Duration::from_millis(15)).await;
            l.note("cancel parent");
            parent.cancel();
            evloop::sleep(Duration::from_millis(100)).await;
        });
        #[rustfmt::skip]
        let expected = [
            (0, "inner 1 starts"), (0, "inner 2 starts"),
            (10, "inner 1 ends"), (10, "inner 1 dropped"),
            (15, "cancel parent"),
            (15, "inner 2 dropped"),
        ];
        log.finish_with(&expected);
    });
}
