//! `wait` (with `ReturnWhen`) and `as_completed`, on the virtual clock.
//!
//! `wait`:
//! - `FirstCompleted` returns at the first completion instant with every task done by then;
//!   `FirstException` at the first panic (a cancellation does not count), or when all are done;
//!   `AllCompleted` when all are done; done and pending keep the order given.
//! - A timeout returns what is done so far, without an error; pending tasks are never
//!   cancelled and keep running after `wait` returned (and after a `Wait` is dropped).
//! - Done tasks keep their outcome (awaiting one resolves at once); a condition already met
//!   returns without the clock moving; an empty input returns two empty lists at once.
//!
//! `as_completed`:
//! - yields `(index, outcome)` in completion order (ties in the order given), panics and
//!   cancellations included, then `None`;
//! - on timeout, yields one `TimedOut` (after the limit, counted from the call) and then
//!   `None`; `into_remaining` hands back the tasks not yielded, still running;
//! - `next` is cancellation-safe: dropping it (here by a `wait_for` around it) loses nothing.

use std::time::Duration;

use evloop::{ReturnWhen, Task, TaskError};

use crate::gather::{child, units_since, End, Life, U};
use crate::util::{deadline, outcomes, record_exception_texts, virtual_loop, BUDGET};

/// Spawns one child per `(units, end)` on the running loop; their lives and tasks.
fn spawn_children(ends: &[(u32, End)]) -> (Vec<std::rc::Rc<Life>>, Vec<Task<u32>>) {
    let lp = evloop::get_running_loop().unwrap();
    let start = lp.time();
    ends.iter()
        .map(|&(units, end)| {
            let (life, future) = child(&lp, start, units, end);
            (life, evloop::spawn(future))
        })
        .unzip()
}

/// The ids of `tasks`, to compare lists of tasks by identity.
fn ids(tasks: &[Task<u32>]) -> Vec<u64> {
    tasks.iter().map(Task::id).collect()
}

#[test]
fn first_completed_returns_at_the_first_completion_and_pending_keep_running() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let start = lp.time();
        let out = lp
            .run_until_complete(async move {
                let lp = evloop::get_running_loop().unwrap();
                let ends = [
                    (3, End::Value(0)),
                    (2, End::Value(1)),
                    (5, End::Value(2)),
                    (2, End::Value(3)),
                ];
                let (lives, tasks) = spawn_children(&ends);
                let all = ids(&tasks);
                let (done, pending) = evloop::wait(tasks, ReturnWhen::FirstCompleted, None).await;
                assert_eq!(units_since(&lp, start), 2);
                assert_eq!(
                    ids(&done),
                    [all[1], all[3]],
                    "both tasks of the first instant, in the order given"
                );
                assert_eq!(ids(&pending), [all[0], all[2]]);
                let mut values = Vec::new();
                for task in done {
                    values.push(task.await.unwrap());
                }
                assert_eq!(units_since(&lp, start), 2, "done tasks resolve at once");
                // The pending ones were not cancelled: they finish on their own.
                let (done, pending) = evloop::wait(pending, ReturnWhen::AllCompleted, None).await;
                assert_eq!(units_since(&lp, start), 5);
                assert!(pending.is_empty());
                for task in done {
                    values.push(task.await.unwrap());
                }
                let ended: Vec<_> = lives.iter().map(|life| life.ended.get()).collect();
                (values, ended)
            })
            .unwrap();
        assert_eq!(
            out,
            (vec![1, 3, 0, 2], vec![Some(3), Some(2), Some(5), Some(2)])
        );
        lp.close().unwrap();
    });
}

#[test]
fn first_exception_returns_at_the_first_panic_not_at_a_cancellation() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let seen = record_exception_texts(&lp);
        let start = lp.time();
        lp.run_until_complete(async move {
            let lp = evloop::get_running_loop().unwrap();
            let ends = [
                (1, End::Value(0)),
                (4, End::Value(1)),
                (3, End::Panic(2)),
                (6, End::Value(3)),
            ];
            let (_, tasks) = spawn_children(&ends);
            tasks[1].cancel(); // ends at 0: not an exception
            let (done, pending) = evloop::wait(tasks, ReturnWhen::FirstException, None).await;
            assert_eq!(units_since(&lp, start), 3);
            assert_eq!(done.len(), 3);
            assert_eq!(pending.len(), 1);
            assert_eq!(
                outcomes(done).await,
                [
                    Ok(0),
                    Err(TaskError::Cancelled),
                    Err(TaskError::Panicked("child 2 failed".into()))
                ]
            );
            // Without any panic it waits for all.
            let (_, tasks) = spawn_children(&[(1, End::Value(0)), (2, End::Value(1))]);
            let (done, pending) = evloop::wait(tasks, ReturnWhen::FirstException, None).await;
            assert_eq!((done.len(), pending.len()), (2, 0));
            assert_eq!(units_since(&lp, start), 5);
            drop(pending);
        })
        .unwrap();
        assert!(
            seen.borrow().is_empty(),
            "the panic was observed through the done task"
        );
        lp.close().unwrap();
    });
}

#[test]
fn a_timeout_returns_what_is_done_without_cancelling_anything() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let seen = record_exception_texts(&lp);
        let start = lp.time();
        let lives = lp
            .run_until_complete(async move {
                let lp = evloop::get_running_loop().unwrap();
                let ends = [
                    (5, End::Value(0)),
                    (1, End::Value(1)),
                    (2, End::Panic(2)),
                    (7, End::Value(3)),
                ];
                let (lives, tasks) = spawn_children(&ends);
                let all = ids(&tasks);
                let (done, pending) =
                    evloop::wait(tasks, ReturnWhen::AllCompleted, Some(U * 3)).await;
                assert_eq!(
                    units_since(&lp, start),
                    3,
                    "returned at the timeout, no error"
                );
                assert_eq!(ids(&done), [all[1], all[2]]);
                assert_eq!(ids(&pending), [all[0], all[3]]);
                drop(done);
                // FirstCompleted with a timeout shorter than the next completion.
                let (done, pending) =
                    evloop::wait(pending, ReturnWhen::FirstCompleted, Some(U)).await;
                assert!(done.is_empty());
                assert_eq!(units_since(&lp, start), 4);
                assert_eq!(ids(&pending), [all[0], all[3]]);
                // A zero timeout only looks.
                let (done, pending) =
                    evloop::wait(pending, ReturnWhen::AllCompleted, Some(Duration::ZERO)).await;
                assert!(done.is_empty());
                assert_eq!(units_since(&lp, start), 4, "did not wait");
                // Dropping a Wait (after one poll, by a zero wait_for) detaches its tasks: they still
                // finish.
                let polled_once = evloop::wait(pending, ReturnWhen::AllCompleted, None);
                assert!(evloop::wait_for(Duration::ZERO, polled_once).await.is_err());
                evloop::sleep(U * 10).await;
                lives
            })
            .unwrap();
        let ended: Vec<_> = lives.iter().map(|life| life.ended.get()).collect();
        assert_eq!(ended, [Some(5), Some(1), Some(2), Some(7)]);
        assert!(lives.iter().all(|life| life.drops.get() == 1));
        // The panicked done task was dropped unawaited: reported once, like any task.
        assert_eq!(*seen.borrow(), ["child 2 failed"]);
        lp.close().unwrap();
    });
}

#[test]
fn a_condition_already_met_returns_without_waiting_and_empty_returns_empty() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let start = lp.time();
        lp.run_until_complete(async move {
            let lp = evloop::get_running_loop().unwrap();
            let (_, tasks) = spawn_children(&[(0, End::Value(0)), (9, End::Value(1))]);
            evloop::yield_now().await;
            assert!(tasks[0].is_done());
            let (done, pending) = evloop::wait(tasks, ReturnWhen::FirstCompleted, None).await;
            assert_eq!((done.len(), pending.len()), (1, 1));
            assert_eq!(units_since(&lp, start), 0);
            let (_, panicked) = spawn_children(&[(0, End::Panic(5))]);
            evloop::yield_now().await;
            let mut all = pending;
            all.extend(panicked);
            let (done, pending) = evloop::wait(all, ReturnWhen::FirstException, None).await;
            assert_eq!((done.len(), pending.len()), (1, 1));
            assert_eq!(units_since(&lp, start), 0);
            assert!(done[0].is_done());
            for task in done {
                assert_eq!(
                    task.await,
                    Err(TaskError::Panicked("child 5 failed".into()))
                );
            }
            pending[0].cancel();
            let nothing: Vec<Task<u32>> = Vec::new();
            let (done, pending) =
                evloop::wait(nothing, ReturnWhen::AllCompleted, Some(U * 100)).await;
            assert!(done.is_empty() && pending.is_empty());
            assert_eq!(units_since(&lp, start), 0, "an empty wait returns at once");
        })
        .unwrap();
        lp.close().unwrap();
    });
}

#[test]
fn as_completed_yields_in_completion_order_with_indices() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let seen = record_exception_texts(&lp);
        let start = lp.time();
        let items = lp
            .run_until_complete(async move {
                let lp = evloop::get_running_loop().unwrap();
                let ends = [
                    (3, End::Value(0)),
                    (1, End::Panic(1)),
                    (3, End::Value(2)),
                    (2, End::Value(3)),
                    (8, End::Value(4)),
                ];
                let (_, tasks) = spawn_children(&ends);
                tasks[4].cancel();
                let mut completed = evloop::as_completed_tasks(tasks, None);
                assert_eq!(completed.len(), 5);
                let mut items = Vec::new();
                while let Some(item) = completed.next().await {
                    let (index, outcome) = item.expect("no timeout");
                    items.push((index, outcome, units_since(&lp, start)));
                }
                assert!(completed.is_empty());
                assert!(completed.next().await.is_none(), "stays finished");
                items
            })
            .unwrap();
        assert_eq!(
            items,
            [
                (4, Err(TaskError::Cancelled), 0),
                (1, Err(TaskError::Panicked("child 1 failed".into())), 1),
                (3, Ok(3), 2),
                (0, Ok(0), 3),
                (2, Ok(2), 3),
            ]
        );
        assert!(seen.borrow().is_empty());
        lp.close().unwrap();
    });
}

#[test]
fn as_completed_times_out_once_and_the_rest_keep_running() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let start = lp.time();
        let (items, lives) = lp
            .run_until_complete(async move {
                let lp = evloop::get_running_loop().unwrap();
                let jobs = [5u32, 1, 2, 9].map(|units| {
                    let (life, future) = child(&lp, start, units, End::Value(units));
                    (life, future)
                });
                let (lives, futures): (Vec<_>, Vec<_>) = jobs.into_iter().unzip();
                let mut completed = evloop::as_completed(futures, Some(U * 3));
                evloop::sleep(U).await; // the timeout counts from the call
                let mut items = Vec::new();
                while let Some(item) = completed.next().await {
                    items.push((
                        item.map(|(i, outcome)| (i, outcome.unwrap())),
                        units_since(&lp, start),
                    ));
                }
                let remaining = completed.into_remaining();
                assert_eq!(remaining.len(), 2);
                assert!(
                    remaining.iter().all(|task| !task.is_done()),
                    "not cancelled"
                );
                let (done, _) = evloop::wait(remaining, ReturnWhen::AllCompleted, None).await;
                let mut late = Vec::new();
                for task in done {
                    late.push(task.await.unwrap());
                }
                assert_eq!(late, [5, 9], "the order given");
                (items, lives)
            })
            .unwrap();
        let timed_out = items[2].0.unwrap_err();
        assert_eq!(items[..2], [(Ok((1, 1)), 1), (Ok((2, 2)), 2)]);
        assert_eq!(items[2].1, 3);
        assert_eq!(items.len(), 3, "None after the TimedOut");
        assert_eq!(timed_out.after(), U * 3);
        let ended: Vec<_> = lives.iter().map(|life| life.ended.get()).collect();
        assert_eq!(ended, [Some(5), Some(1), Some(2), Some(9)]);
        lp.close().unwrap();
    });
}

#[test]
fn as_completed_next_is_cancellation_safe() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let start = lp.time();
        let (got, timeouts) = lp
            .run_until_complete(async move {
                let lp = evloop::get_running_loop().unwrap();
                let ends: Vec<_> = (1..=4).map(|i| (i * 2, End::Value(i))).collect();
                let (_, tasks) = spawn_children(&ends);
                let mut completed = evloop::as_completed_tasks(tasks, None);
                let (mut got, mut timeouts) = (Vec::new(), 0);
                loop {
                    // Give up on each `next` after one unit: the outcome must wait for us.
                    match evloop::wait_for(U, completed.next()).await {
                        Ok(Some(item)) => got.push((item.unwrap().0, units_since(&lp, start))),
                        Ok(None) => break,
                        Err(_) => timeouts += 1,
                    }
                }
                (got, timeouts)
            })
            .unwrap();
        assert_eq!(got, [(0, 2), (1, 4), (2, 6), (3, 8)]);
        assert_eq!(timeouts, 4);
        lp.close().unwrap();
    });
}
