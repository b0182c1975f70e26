//! `TaskGroup`: who may spawn into a group, when, and in which context.
//!
//! - Spawning into a group that is shutting down drops the future unpolled (it never starts).
//! - Spawning through a spawner into a finished group (joined or dropped) panics with
//!   "TaskGroup is finished".
//! - A child can spawn into its own group, and `join` waits for the new child too.
//! - Children run in a copy of the spawner's context (the body's, or the spawning child's).
//! - A child cancelled from outside the group (`cancel_all_tasks`) is a failure,
//!   `CancelledOutside`, not a panic in `join`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::LazyLock;
use std::time::Duration;

use evloop::{ContextVar, GroupFailure, TaskGroup};

use crate::task_group::{child, End, Log};
use crate::util::{deadline, payload_text, BUDGET};

#[test]
fn spawning_into_a_group_that_is_shutting_down_drops_the_future_unpolled() {
    deadline(BUDGET, || {
        let log = Log::new();
        let l = log.clone();
        let outcome = log.run(async move {
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
        });
        assert_eq!(
            outcome.unwrap_err().into_failures(),
            [GroupFailure::Failed("a fails".into())]
        );
        // The late futures were dropped at once: their guard never existed (no "starts").
        #[rustfmt::skip]
        let expected = [
            (0, "a starts"),
            (10, "a ends"), (10, "a dropped"),
            (20, "spawned late"),
        ];
        log.finish_with(&expected);
    });
}

#[test]
fn spawning_through_a_spawner_into_a_finished_group_panics() {
    deadline(BUDGET, || {
        let log = Log::new();
        let l = log.clone();
        let messages = log.run(async move {
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
        });
        for message in messages {
            assert!(
                message.starts_with("TaskGroup is finished") && message.contains("fix:"),
                "{message}"
            );
        }
        #[rustfmt::skip]
        let expected = [
            (0, "a starts"), (10, "a ends"), (10, "a dropped"),
        ];
        log.finish_with(&expected);
    });
}

#[test]
fn a_child_can_spawn_into_its_own_group_and_join_waits_for_it() {
    deadline(BUDGET, || {
        let log = Log::new();
        let l = log.clone();
        let values = log.run(async move {
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
        });
        assert_eq!(values, Ok(vec![1, 2]));
        #[rustfmt::skip]
        let expected = [
            (10, "parent child ends"),
            (10, "sibling starts"),
            (30, "sibling ends"), (30, "sibling dropped"),
            (30, "joined"),
        ];
        log.finish_with(&expected);
    });
}

/// A variable for the context test.
static WHO: LazyLock<ContextVar<&'static str>> = LazyLock::new(|| ContextVar::new("who"));

#[test]
fn children_run_in_a_copy_of_the_spawners_context() {
    deadline(BUDGET, || {
        let log = Log::new();
        let (values, after) = log.run(async {
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
        });
        assert_eq!(values, Ok(vec![Some("parent"), Some("child")]));
        assert_eq!(after, Some("parent"), "a child's change stays in the child");
        log.finish();
    });
}

#[test]
fn a_child_cancelled_from_outside_the_group_is_a_failure_and_the_siblings_are_cancelled() {
    deadline(BUDGET, || {
        let lp = evloop::EventLoop::builder()
            .virtual_clock(true)
            .build()
            .unwrap();
        let dropped = std::rc::Rc::new(std::cell::Cell::new(0));
        let outcome = lp
            .run_until_complete(async {
                let group = TaskGroup::<u8, String>::new();
                for _ in 0..2 {
                    let dropped = dropped.clone();
                    group.spawn(async move {
                        /// Counts its drop.
                        struct Counted(std::rc::Rc<std::cell::Cell<u32>>);
                        impl Drop for Counted {
                            fn drop(&mut self) {
                                self.0.set(self.0.get() + 1);
                            }
                        }
                        let _counted = Counted(dropped);
                        evloop::sleep(Duration::from_secs(60)).await;
                        Ok(1)
                    });
                }
                evloop::yield_now().await;
                // Cancels every task but this one (the running main future is not a task).
                let lp = evloop::get_running_loop().unwrap();
                assert_eq!(lp.cancel_all_tasks(), 2);
                group.join().await
            })
            .unwrap();
        let error = outcome.expect_err("the group has no value for a cancelled child");
        // The first outside cancellation puts the group into shutdown; the second child's
        // cancellation then counts like one the group made itself (not a failure).
        assert_eq!(error.failures(), [GroupFailure::CancelledOutside]);
        assert!(error
            .to_string()
            .contains("cancelled from outside the group"));
        assert_eq!(
            dropped.get(),
            2,
            "each child's future was dropped exactly once"
        );
        lp.close().unwrap();
    });
}
