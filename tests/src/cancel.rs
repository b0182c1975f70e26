//! Task cancellation: `Task::cancel`, `cancel_all_tasks`, and cancellation by `close`.
//!
//! - `cancel()` drops the task's future at the next safe point, on the loop thread, while the
//!   loop runs; the awaiter sees `Err(TaskError::Cancelled)`; `is_cancelled` turns true.
//! - `cancel()` returns `false` on a finished task (value, cancelled or panicked).
//! - A task that cancels itself during a poll that completes keeps its value; if that poll
//!   suspends instead, the task ends cancelled and never resumes.
//! - A task cancelled before its first poll is never polled.
//! - Cancelling a task blocked in `sleep` removes its timer: the virtual clock does not jump.
//! - `cancel` then `close` still drops the future exactly once; `cancel_all_tasks` cancels
//!   every unfinished task and counts only new requests.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use evloop::{EventLoop, ExceptionContext, Task, TaskError};

use crate::lifecycle::{poll_once, DropCounter};
use crate::util::{deadline, outcomes, virtual_loop, BUDGET};

/// Records, when dropped, whether a loop was running on the dropping thread.
struct DropWitness {
    /// One entry per drop: `get_running_loop().is_ok()` at that moment.
    drops: Rc<RefCell<Vec<bool>>>,
}

impl Drop for DropWitness {
    fn drop(&mut self) {
        self.drops
            .borrow_mut()
            .push(evloop::get_running_loop().is_ok());
    }
}

#[test]
fn cancel_drops_the_future_on_the_running_loop_and_the_awaiter_sees_cancelled() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let drops = Rc::new(RefCell::new(Vec::new()));
        let resumed = Rc::new(Cell::new(false));
        let start = lp.time();
        let (witness, resumed2) = (
            DropWitness {
                drops: drops.clone(),
            },
            resumed.clone(),
        );
        let mut victim = lp.spawn(async move {
            let _witness = witness;
            evloop::sleep(Duration::from_secs(3600)).await;
            resumed2.set(true);
            "finished"
        });
        let outcome = lp
            .run_until_complete(async {
                evloop::yield_now().await; // the victim now sleeps
                assert!(victim.cancel());
                assert!(
                    !victim.is_done(),
                    "cancel() ends the task at the next safe point"
                );
                (&mut victim).await
            })
            .unwrap();
        assert_eq!(outcome, Err(TaskError::Cancelled));
        assert!(victim.is_done() && victim.is_cancelled());
        assert!(!resumed.get());
        assert_eq!(*drops.borrow(), [true], "dropped once, while the loop ran");
        // Its sleep left the heap: the virtual clock never jumped to it.
        assert_eq!(lp.time(), start);
        assert_eq!(lp.task_count(), 0);
        lp.close().unwrap();
        assert_eq!(drops.borrow().len(), 1);
    });
}

#[test]
fn cancelling_a_sleeping_task_lets_the_clock_stop_at_the_next_live_timer() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let start = lp.time();
        let sleeper = lp.spawn(evloop::sleep(Duration::from_secs(3600)));
        lp.run_until_complete(evloop::sleep(Duration::from_millis(10)))
            .unwrap();
        assert!(sleeper.cancel());
        lp.run_until_complete(evloop::sleep(Duration::from_millis(10)))
            .unwrap();
        assert!(sleeper.is_cancelled());
        assert_eq!(lp.time() - start, Duration::from_millis(20));
        // The dead sleeper is purged lazily: gone after one more iteration.
        lp.stop();
        lp.run_forever().unwrap();
        assert!(format!("{lp:?}").contains("timers: 0"), "{lp:?}");
        assert_eq!(lp.time() - start, Duration::from_millis(20));
        lp.close().unwrap();
    });
}

#[test]
fn cancel_returns_false_once_the_task_has_finished() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        lp.set_exception_handler(Some(Box::new(|_: &ExceptionContext| {})));
        let value = lp.spawn(async { 1 });
        let cancelled = lp.spawn(evloop::yield_now());
        let panicked = lp.spawn(async { panic!("cancel-test panic") });
        assert!(cancelled.cancel());
        assert!(
            cancelled.cancel(),
            "a pending task accepts repeated cancel requests"
        );
        lp.run_until_complete(evloop::yield_now()).unwrap();
        for done in [value.is_done(), cancelled.is_done(), panicked.is_done()] {
            assert!(done);
        }
        assert!(!value.cancel());
        assert!(!cancelled.cancel());
        assert!(!panicked.cancel());
        assert!(!value.is_cancelled() && cancelled.is_cancelled() && !panicked.is_cancelled());
        assert_eq!(lp.run_until_complete(value).unwrap(), Ok(1));
        assert_eq!(
            lp.run_until_complete(cancelled).unwrap(),
            Err(TaskError::Cancelled)
        );
        assert_eq!(
            lp.run_until_complete(panicked).unwrap(),
            Err(TaskError::Panicked("cancel-test panic".into()))
        );
        lp.close().unwrap();
    });
}

#[test]
fn a_task_that_cancels_itself_in_a_completing_poll_keeps_its_value() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let slot: Rc<RefCell<Option<Task<&str>>>> = Rc::new(RefCell::new(None));
        let (slot2, accepted) = (slot.clone(), Rc::new(Cell::new(false)));
        let accepted2 = accepted.clone();
        let task = lp.spawn(async move {
            evloop::yield_now().await; // the handle is in the slot by now
            accepted2.set(slot2.borrow().as_ref().unwrap().cancel());
            "value"
        });
        *slot.borrow_mut() = Some(task);
        let task = {
            lp.run_until_complete(evloop::sleep(Duration::from_millis(1)))
                .unwrap();
            slot.borrow_mut().take().unwrap()
        };
        assert!(accepted.get(), "cancel() during the poll was refused");
        assert!(task.is_done());
        assert!(!task.is_cancelled());
        assert_eq!(lp.run_until_complete(task).unwrap(), Ok("value"));
        lp.close().unwrap();
    });
}

#[test]
fn a_task_that_cancels_itself_then_suspends_never_resumes() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let counter = DropCounter::new();
        let slot: Rc<RefCell<Option<Task<&str>>>> = Rc::new(RefCell::new(None));
        let log = Rc::new(RefCell::new(Vec::new()));
        let (slot2, log2, guard) = (slot.clone(), log.clone(), counter.guard());
        let task = lp.spawn(async move {
            let _guard = guard;
            evloop::yield_now().await;
            assert!(slot2.borrow().as_ref().unwrap().cancel());
            log2.borrow_mut().push("cancelled myself");
            evloop::yield_now().await;
            log2.borrow_mut().push("resumed after cancelling myself");
            "value"
        });
        *slot.borrow_mut() = Some(task);
        lp.run_until_complete(evloop::sleep(Duration::from_millis(1)))
            .unwrap();
        let task = slot.borrow_mut().take().unwrap();
        assert_eq!(*log.borrow(), ["cancelled myself"]);
        assert!(task.is_cancelled());
        assert_eq!(counter.count(), 1);
        assert_eq!(
            lp.run_until_complete(task).unwrap(),
            Err(TaskError::Cancelled)
        );
        lp.close().unwrap();
    });
}

#[test]
fn a_task_cancelled_before_its_first_poll_never_runs() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let counter = DropCounter::new();
        let polled = Rc::new(Cell::new(false));
        let (guard, polled2) = (counter.guard(), polled.clone());
        let task = lp.spawn(async move {
            let _guard = guard;
            polled2.set(true);
        });
        assert!(task.cancel());
        assert_eq!(
            lp.run_until_complete(task).unwrap(),
            Err(TaskError::Cancelled)
        );
        assert!(!polled.get());
        assert_eq!(counter.count(), 1);
        lp.close().unwrap();
    });
}

#[test]
fn cancel_then_close_drops_the_future_once() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let counter = DropCounter::new();
        let guard = counter.guard();
        let task = lp.spawn(async move {
            let _guard = guard;
            evloop::sleep(Duration::from_secs(60)).await;
        });
        lp.stop();
        lp.run_forever().unwrap(); // first poll: the task sleeps
        assert!(task.cancel());
        assert_eq!(counter.count(), 0);
        lp.close().unwrap();
        assert_eq!(counter.count(), 1);
        assert!(task.is_done() && task.is_cancelled());
        assert!(!task.cancel());
        assert_eq!(poll_once(task), Poll::Ready(Err(TaskError::Cancelled)));
        assert_eq!(counter.count(), 1);
    });
}

#[test]
fn cancel_all_tasks_cancels_every_unfinished_task() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let counter = DropCounter::new();
        let start = lp.time();
        let tasks: Vec<_> = (1..=5u64)
            .map(|i| {
                let guard = counter.guard();
                lp.spawn(async move {
                    let _guard = guard;
                    evloop::sleep(Duration::from_secs(i * 3600)).await;
                })
            })
            .collect();
        let finished = lp.spawn(async {});
        lp.run_until_complete(evloop::yield_now()).unwrap();
        assert!(finished.is_done());
        assert_eq!(lp.task_count(), 5);

        let outcomes = lp
            .run_until_complete(async {
                let lp = evloop::get_running_loop().unwrap();
                let first = lp.cancel_all_tasks();
                let again = lp.cancel_all_tasks();
                (first, again, outcomes(tasks).await)
            })
            .unwrap();
        let (first, again, outcomes) = outcomes;
        assert_eq!(first, 5);
        assert_eq!(again, 0, "already-requested tasks were counted again");
        assert_eq!(outcomes, vec![Err(TaskError::Cancelled); 5]);
        assert_eq!(counter.count(), 5);
        assert_eq!(lp.task_count(), 0);
        assert_eq!(lp.cancel_all_tasks(), 0);
        assert_eq!(lp.time(), start, "cancelled sleeps moved the virtual clock");
        assert_eq!(lp.run_until_complete(finished).unwrap(), Ok(()));
        lp.close().unwrap();
    });
}
