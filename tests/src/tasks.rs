//! Tasks: `spawn`, awaiting a `Task`, and what the loop guarantees about them.
//!
//! - Awaiting a task gives its value, also when a task awaits a task it spawned.
//! - `task_count` counts unfinished tasks; `is_done` flips exactly when the task ends.
//! - Dropping a `Task` handle detaches the task: it still runs to completion.
//! - `yield_now` lets every other ready task run before the yielding one continues.
//! - `get_running_loop` inside a task is the loop that runs it.
//! - `run_until_complete` accepts a future that borrows the caller's locals.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use evloop::EventLoop;

use crate::util::{deadline, BUDGET};

/// Whether `a` and `b` are the same loop (compared through their handles' loop ids).
fn same_loop(a: &EventLoop, b: &EventLoop) -> bool {
    format!("{:?}", a.handle()) == format!("{:?}", b.handle())
}

#[test]
fn awaiting_a_task_returns_its_value() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let task = lp.spawn(async { 6 * 7 });
        assert_eq!(lp.run_until_complete(task).unwrap(), Ok(42));

        // Awaited from inside the loop, with the value produced after a suspension.
        let got = lp
            .run_until_complete(async {
                let task = evloop::spawn(async {
                    evloop::yield_now().await;
                    String::from("after a yield")
                });
                task.await
            })
            .unwrap();
        assert_eq!(got.as_deref(), Ok("after a yield"));
        lp.close().unwrap();
    });
}

#[test]
fn a_task_can_await_a_task_it_spawned() {
    deadline(BUDGET, || {
        let lp = EventLoop::builder().virtual_clock(true).build().unwrap();
        let outer = lp.spawn(async {
            let inner = evloop::spawn(async {
                evloop::sleep(Duration::from_millis(10)).await;
                41
            });
            let innermost = evloop::spawn(async { 1 });
            inner.await.unwrap() + innermost.await.unwrap()
        });
        assert_eq!(lp.run_until_complete(outer).unwrap(), Ok(42));
        assert_eq!(lp.task_count(), 0);
        lp.close().unwrap();
    });
}

#[test]
fn task_count_counts_unfinished_tasks() {
    deadline(BUDGET, || {
        let lp = EventLoop::builder().virtual_clock(true).build().unwrap();
        assert_eq!(lp.task_count(), 0);
        let tasks: Vec<_> = (1..=3u64)
            .map(|i| lp.spawn(evloop::sleep(Duration::from_millis(10 * i))))
            .collect();
        assert_eq!(lp.task_count(), 3);
        let counts = lp
            .run_until_complete(async {
                let lp = evloop::get_running_loop().unwrap();
                let mut counts = vec![lp.task_count()];
                for task in tasks {
                    task.await.unwrap();
                    counts.push(lp.task_count());
                }
                // A running task counts itself.
                let me = evloop::spawn(async { evloop::get_running_loop().unwrap().task_count() });
                counts.push(me.await.unwrap());
                counts
            })
            .unwrap();
        assert_eq!(counts, [3, 2, 1, 0, 1]);
        assert_eq!(lp.task_count(), 0);
        lp.close().unwrap();
    });
}

#[test]
fn is_done_flips_when_the_task_ends() {
    deadline(BUDGET, || {
        let lp = EventLoop::builder().virtual_clock(true).build().unwrap();
        let task = lp.spawn(evloop::sleep(Duration::from_millis(10)));
        assert!(!task.is_done());
        lp.run_until_complete(evloop::sleep(Duration::from_millis(5)))
            .unwrap();
        assert!(!task.is_done());
        lp.run_until_complete(evloop::sleep(Duration::from_millis(10)))
            .unwrap();
        assert!(task.is_done());
        assert!(!task.is_cancelled());
        assert_eq!(lp.run_until_complete(task).unwrap(), Ok(()));
        lp.close().unwrap();
    });
}

#[test]
fn dropping_a_task_handle_does_not_cancel_the_task() {
    deadline(BUDGET, || {
        let lp = EventLoop::builder().virtual_clock(true).build().unwrap();
        let steps = Rc::new(Cell::new(0));
        let steps2 = steps.clone();
        let task = lp.spawn(async move {
            steps2.set(1);
            evloop::sleep(Duration::from_millis(10)).await;
            steps2.set(2);
        });
        let id = task.id();
        drop(task);
        assert_eq!(lp.task_count(), 1);
        lp.run_until_complete(evloop::sleep(Duration::from_millis(20)))
            .unwrap();
        assert_eq!(
            steps.get(),
            2,
            "the detached task {id} did not run to completion"
        );
        assert_eq!(lp.task_count(), 0);
        lp.close().unwrap();
    });
}

#[test]
fn task_ids_are_unique() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let mut ids: Vec<_> = (0..10).map(|_| lp.spawn(async {}).id()).collect();
        lp.run_until_complete(evloop::yield_now()).unwrap();
        ids.extend((0..10).map(|_| lp.spawn(async {}).id()));
        let count = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), count, "task ids were reused");
        lp.close().unwrap();
    });
}

#[test]
fn yield_now_lets_other_ready_tasks_run_first() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let log = Rc::new(RefCell::new(Vec::new()));
        let worker = |name: &'static str| {
            let log = log.clone();
            async move {
                for i in 0..3 {
                    log.borrow_mut().push(format!("{name}{i}"));
                    evloop::yield_now().await;
                }
            }
        };
        let a = lp.spawn(worker("a"));
        let b = lp.spawn(worker("b"));
        lp.run_until_complete(async {
            a.await.unwrap();
            b.await.unwrap();
        })
        .unwrap();
        assert_eq!(*log.borrow(), ["a0", "b0", "a1", "b1", "a2", "b2"]);
        lp.close().unwrap();
    });
}

#[test]
fn yield_now_lets_ready_callbacks_run_first() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let log = Rc::new(RefCell::new(Vec::new()));
        let log2 = log.clone();
        lp.run_until_complete(async move {
            let lp = evloop::get_running_loop().unwrap();
            let log3 = log2.clone();
            lp.call_soon(move || log3.borrow_mut().push("callback"));
            log2.borrow_mut().push("before yield");
            evloop::yield_now().await;
            log2.borrow_mut().push("after yield");
        })
        .unwrap();
        assert_eq!(*log.borrow(), ["before yield", "callback", "after yield"]);
        lp.close().unwrap();
    });
}

#[test]
fn get_running_loop_inside_a_task_is_the_loop_that_runs_it() {
    deadline(BUDGET, || {
        let first = EventLoop::new().unwrap();
        let second = EventLoop::new().unwrap();
        assert!(!same_loop(&first, &second));
        for lp in [&first, &second] {
            let task = lp.spawn(async {
                let current = evloop::get_running_loop().unwrap();
                assert!(current.is_running());
                current
            });
            let seen = lp.run_until_complete(task).unwrap().unwrap();
            assert!(same_loop(&seen, lp));
        }
        first.close().unwrap();
        second.close().unwrap();
    });
}

#[test]
fn run_until_complete_accepts_a_future_borrowing_locals() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let mut collected = Vec::new();
        let text = String::from("borrowed from the caller's stack");
        let first_word = lp
            .run_until_complete(async {
                for i in 0..3 {
                    collected.push(i);
                    evloop::yield_now().await;
                }
                text.split(' ').next().unwrap()
            })
            .unwrap();
        assert_eq!(first_word, "borrowed");
        assert_eq!(collected, [0, 1, 2]);
        lp.close().unwrap();
    });
}
