//! The loop's lifecycle: `stop`, `close`, `is_running` and `is_closed`.
//!
//! - `stop()` from a callback lets the current iteration finish (callbacks that were already
//!   ready still run, what they schedule does not), then `run_forever` returns; `stop()`
//!   before `run_forever` gives exactly one iteration.
//! - `close()` is idempotent, runs nothing, and drops every scheduled callback, timer and task
//!   future exactly once; tasks it ends are cancelled.
//! - `is_running` / `is_closed` follow the loop through its life.
//! - Closing releases the poller: creating and closing many loops leaves no file descriptor
//!   behind, even when tasks, timers and callbacks still held clones of the loop.
//!
//! This file also holds the helpers the other behaviour files share: [`DropCounter`] (a
//! drop-counting guard to capture in closures and futures, to prove "dropped exactly once"),
//! [`poll_once`] (to read a `Task` after `close()`) and [`fds_only`] (for the leak
//! check of `exclusive` tests).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use evloop::{EventLoop, TaskError};

use crate::util::{deadline, exclusive, Resources, BUDGET};

/// Counts the drops of the [`DropGuard`]s it hands out.
#[derive(Clone, Default)]
pub(crate) struct DropCounter {
    /// Drops so far, shared with every guard.
    drops: Rc<Cell<usize>>,
}

impl DropCounter {
    /// A counter at zero.
    pub(crate) fn new() -> Self {
        DropCounter::default()
    }

    /// A guard that bumps this counter when dropped; move it into a closure or future.
    pub(crate) fn guard(&self) -> DropGuard {
        DropGuard {
            drops: self.drops.clone(),
        }
    }

    /// How many guards were dropped.
    pub(crate) fn count(&self) -> usize {
        self.drops.get()
    }
}

/// Bumps its [`DropCounter`] when dropped.
pub(crate) struct DropGuard {
    /// The counter's cell.
    drops: Rc<Cell<usize>>,
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
    }
}

/// `before` with its thread count lifted out of reach, so that `assert_back_to` checks file
/// descriptors only.
///
/// Careful: while an `exclusive` body runs, the test harness may start the thread of the next
/// test (which then waits for the body to end), so a thread count taken inside the body can
/// rise by one without any leak. File descriptors have no such noise.
pub(crate) fn fds_only(before: Resources) -> Resources {
    Resources {
        threads: usize::MAX,
        ..before
    }
}

/// Polls `future` once with a waker that does nothing (to read a `Task` after `close()`).
pub(crate) fn poll_once<F: Future>(future: F) -> Poll<F::Output> {
    /// A waker that ignores wakes.
    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);
    pin!(future).poll(&mut cx)
}

#[test]
fn stop_from_a_callback_finishes_the_current_iteration_then_returns() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let log = Rc::new(RefCell::new(Vec::new()));
        let push = |name: &'static str| {
            let log = log.clone();
            move || log.borrow_mut().push(name)
        };
        let (lp2, log2, later) = (lp.clone(), log.clone(), push("scheduled by the stopper"));
        lp.call_soon(push("before"));
        lp.call_soon(move || {
            log2.borrow_mut().push("stopper");
            lp2.call_soon(later);
            lp2.stop();
        });
        lp.call_soon(push("after, already ready"));
        lp.run_forever().unwrap();
        assert_eq!(*log.borrow(), ["before", "stopper", "after, already ready"]);
        assert!(!lp.is_running());

        // The next run picks up where the stopped one left off.
        lp.stop();
        lp.run_forever().unwrap();
        assert_eq!(
            *log.borrow(),
            [
                "before",
                "stopper",
                "after, already ready",
                "scheduled by the stopper"
            ]
        );
        lp.close().unwrap();
    });
}

#[test]
fn stop_before_run_forever_runs_exactly_one_iteration() {
    deadline(BUDGET, || {
        let lp = EventLoop::builder().virtual_clock(true).build().unwrap();
        let log = Rc::new(RefCell::new(Vec::new()));
        let (lp2, log2) = (lp.clone(), log.clone());
        lp.call_soon(move || {
            log2.borrow_mut().push("first iteration");
            let log3 = log2.clone();
            lp2.call_soon(move || log3.borrow_mut().push("second iteration"));
        });
        let log4 = log.clone();
        let timer = lp.call_later(Duration::from_secs(1), move || {
            log4.borrow_mut().push("timer")
        });
        let start = lp.time();
        lp.stop();
        lp.run_forever().unwrap();
        assert_eq!(*log.borrow(), ["first iteration"]);
        // Stopping is not waiting: the virtual clock did not jump to the timer.
        assert_eq!(lp.time(), start);
        assert!(!timer.cancelled());

        // The stop request was consumed: the next stop() again gives one iteration.
        lp.stop();
        lp.run_forever().unwrap();
        assert_eq!(*log.borrow(), ["first iteration", "second iteration"]);
        lp.close().unwrap();
    });
}

#[test]
fn close_is_idempotent() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let counter = DropCounter::new();
        let guard = counter.guard();
        lp.call_soon(move || drop(guard));
        assert!(!lp.is_closed());
        lp.close().unwrap();
        assert!(lp.is_closed());
        assert_eq!(counter.count(), 1);
        lp.close().unwrap();
        lp.close().unwrap();
        assert!(lp.is_closed());
        assert_eq!(counter.count(), 1);
    });
}

#[test]
fn close_drops_every_callback_timer_and_task_future_once_and_runs_none() {
    deadline(BUDGET, || {
        let lp = EventLoop::builder().virtual_clock(true).build().unwrap();
        let ran = Rc::new(Cell::new(0));
        let polled = Rc::new(Cell::new(0));
        let callbacks = DropCounter::new();
        let timers = DropCounter::new();
        let futures = DropCounter::new();

        // Callbacks in the ready queue.
        for _ in 0..10 {
            let (guard, ran) = (callbacks.guard(), ran.clone());
            lp.call_soon(move || {
                let _guard = guard;
                ran.set(ran.get() + 1);
            });
        }
        // Timers in the heap, one of them cancelled already (dropped at its cancel).
        let mut timer_handles = Vec::new();
        for i in 0..10 {
            let (guard, ran) = (timers.guard(), ran.clone());
            timer_handles.push(lp.call_later(Duration::from_secs(i + 1), move || {
                let _guard = guard;
                ran.set(ran.get() + 1);
            }));
        }
        assert!(timer_handles[3].cancel());
        assert_eq!(timers.count(), 1);
        // Tasks never polled, and tasks parked in a sleep (after one real iteration).
        let mut tasks = Vec::new();
        for i in 0..10 {
            let (guard, polled) = (futures.guard(), polled.clone());
            let task = lp.spawn(async move {
                let _guard = guard;
                polled.set(polled.get() + 1);
                if i % 2 == 0 {
                    evloop::sleep(Duration::from_secs(3600)).await;
                }
                "finished"
            });
            tasks.push(task);
        }
        lp.stop();
        lp.run_forever().unwrap();
        // The iteration ran the callbacks and first polls; the odd tasks finished.
        assert_eq!(ran.get(), 10);
        assert_eq!(callbacks.count(), 10);
        assert_eq!(polled.get(), 10);
        assert_eq!(futures.count(), 5);
        assert_eq!(lp.task_count(), 5);

        // Schedule a fresh batch that never gets an iteration.
        for _ in 0..10 {
            let (guard, ran) = (callbacks.guard(), ran.clone());
            lp.call_soon(move || {
                let _guard = guard;
                ran.set(ran.get() + 1);
            });
        }
        let unpolled = DropCounter::new();
        let guard = unpolled.guard();
        let never_polled = lp.spawn(async move {
            let _guard = guard;
            unreachable!("a task spawned on a loop that is then closed never runs")
        });

        lp.close().unwrap();
        assert_eq!(ran.get(), 10, "close ran a callback");
        assert_eq!(callbacks.count(), 20);
        assert_eq!(timers.count(), 10);
        assert_eq!(futures.count(), 10);
        assert_eq!(unpolled.count(), 1);
        assert_eq!(polled.get(), 10, "close polled a task");
        assert_eq!(lp.task_count(), 0);

        // Tasks ended by close are cancelled; finished ones keep their value.
        for (i, mut task) in tasks.into_iter().enumerate() {
            assert!(task.is_done());
            let expected = if i % 2 == 0 {
                Err(TaskError::Cancelled)
            } else {
                Ok("finished")
            };
            assert_eq!(task.is_cancelled(), expected.is_err());
            assert_eq!(poll_once(&mut task), Poll::Ready(expected));
        }
        assert!(never_polled.is_cancelled());
        assert_eq!(
            poll_once(never_polled),
            Poll::Ready(Err(TaskError::Cancelled))
        );

        // Handles of discarded timers say they were not cancelled, and cannot be any more.
        for (i, handle) in timer_handles.iter().enumerate() {
            assert_eq!(handle.cancelled(), i == 3);
            assert!(!handle.cancel());
        }
        drop(lp);
        assert_eq!(callbacks.count() + timers.count() + futures.count(), 40);
    });
}

#[test]
fn dropping_an_unclosed_loop_drops_its_work_once() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let counter = DropCounter::new();
        let ran = Rc::new(Cell::new(false));
        let (guard, ran2) = (counter.guard(), ran.clone());
        lp.call_soon(move || {
            let _guard = guard;
            ran2.set(true);
        });
        let guard = counter.guard();
        lp.call_later(Duration::from_secs(60), move || drop(guard));
        let guard = counter.guard();
        drop(lp.spawn(async move {
            let _guard = guard;
        }));
        drop(lp);
        assert_eq!(counter.count(), 3);
        assert!(!ran.get());
    });
}

#[test]
fn is_running_and_is_closed_follow_the_loop() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        assert!(!lp.is_running() && !lp.is_closed());

        let seen = Rc::new(RefCell::new(Vec::new()));
        let (lp2, seen2) = (lp.clone(), seen.clone());
        lp.call_soon(move || {
            seen2
                .borrow_mut()
                .push(("callback", lp2.is_running(), lp2.is_closed()));
            lp2.stop();
        });
        lp.run_forever().unwrap();
        assert!(!lp.is_running());

        let inside = lp
            .run_until_complete(async {
                let current = evloop::get_running_loop().unwrap();
                (current.is_running(), current.is_closed())
            })
            .unwrap();
        assert_eq!(inside, (true, false));
        assert!(!lp.is_running() && !lp.is_closed());
        assert_eq!(*seen.borrow(), [("callback", true, false)]);

        lp.close().unwrap();
        assert!(!lp.is_running() && lp.is_closed());
    });
}

#[test]
fn closing_loops_releases_their_file_descriptors() {
    exclusive(BUDGET, || {
        let before = Resources::now();
        let mut loops = Vec::new();
        for _ in 0..50 {
            let lp = EventLoop::new().unwrap();
            // Work that holds a clone of the loop (a cycle through the loop's own queues),
            // which close() must break.
            let lp2 = lp.clone();
            lp.call_soon(move || drop(lp2));
            let lp3 = lp.clone();
            lp.call_later(Duration::from_secs(60), move || drop(lp3));
            let lp4 = lp.clone();
            drop(lp.spawn(async move {
                evloop::sleep(Duration::from_secs(60)).await;
                drop(lp4);
            }));
            // Let the task park in its sleep.
            lp.stop();
            lp.run_forever().unwrap();
            loops.push(lp);
        }
        let created = Resources::now();
        assert!(
            created.fds >= before.fds + 50,
            "each loop holds at least its poller: before {before:?}, with 50 loops {created:?}"
        );
        for lp in &loops {
            lp.close().unwrap();
        }
        let closed = Resources::now();
        assert!(
            closed.fds + 50 <= created.fds,
            "close() released no poller: with 50 loops {created:?}, after close {closed:?}"
        );
        drop(loops);
        fds_only(before).assert_back_to("50 closed and dropped loops");
    });
}

#[test]
fn close_survives_a_drop_that_schedules_more_work() {
    deadline(BUDGET, || {
        /// Tries to schedule a callback on the loop when dropped.
        struct Reschedules {
            /// The loop to schedule on.
            lp: EventLoop,
            /// Counts the drops of the callback it tries to schedule.
            nested: DropCounter,
        }
        impl Drop for Reschedules {
            fn drop(&mut self) {
                let guard = self.nested.guard();
                self.lp.call_soon(move || drop(guard));
            }
        }
        let lp = EventLoop::new().unwrap();
        let reports = Rc::new(RefCell::new(Vec::new()));
        let reports2 = reports.clone();
        lp.set_exception_handler(Some(Box::new(move |context: &evloop::ExceptionContext| {
            reports2.borrow_mut().push(context.clone())
        })));
        let nested = DropCounter::new();
        let outer = Reschedules {
            lp: lp.clone(),
            nested: nested.clone(),
        };
        lp.call_soon(move || drop(outer));
        lp.close().unwrap();
        assert!(lp.is_closed());
        assert_eq!(nested.count(), 1, "the refused callback was kept");
        let reports = reports.borrow();
        assert_eq!(reports.len(), 1, "{reports:?}");
        let panic = reports[0].panic.as_deref().unwrap_or_default();
        assert!(panic.contains("Event loop is closed"), "{:?}", reports[0]);
    });
}
