//! The threadsafe path, task side: `spawn_threadsafe(_with)` and the `ThreadsafeTask` a
//! foreign thread blocks on.
//!
//! - A `ThreadsafeTask` gives the value, a timeout that hands the task back, cancellation (the
//!   future dropped on the loop thread before `result()` returns), panics with their message,
//!   and `Cancelled` when the loop closes first. `result()` on the loop's own thread panics
//!   with a message naming the fix instead of deadlocking.
//! - A task woken from another thread (the remote wake path) is polled again.
//! - A panic nobody can retrieve (the `ThreadsafeTask` was dropped, before or after the task
//!   panicked) reaches the loop's exception handler exactly once.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use evloop::{EventLoop, LoopThread, TaskError};

use crate::threads::*;
use crate::util::{deadline, BUDGET};

#[test]
fn spawn_threadsafe_result_returns_the_value_and_is_done_follows_it() {
    deadline(BUDGET, || {
        let loop_thread = LoopThread::start().unwrap();
        let gate = Gate::new();
        let task = loop_thread.handle().spawn_threadsafe(parked(&gate, (), 42));
        let task = task.unwrap();
        eventually("the task started", || gate.polls() == 1);
        assert!(!task.is_done());
        gate.open();
        eventually("the task finished", || task.is_done());
        assert_eq!(task.result(), Ok(42));
        let slept = loop_thread.handle().spawn_threadsafe(async {
            evloop::sleep(Duration::from_millis(5)).await;
            "slept"
        });
        assert_eq!(slept.unwrap().result(), Ok("slept"));
        loop_thread.stop().unwrap();
    });
}

#[test]
fn result_timeout_hands_the_task_back_and_result_works_later() {
    deadline(BUDGET, || {
        let loop_thread = LoopThread::start().unwrap();
        let gate = Gate::new();
        let task = loop_thread.handle().spawn_threadsafe(parked(&gate, (), 7));
        let started = Instant::now();
        let task = task.unwrap().result_timeout(Duration::from_millis(30));
        let task = task.expect_err("the gate is closed");
        assert!(started.elapsed() >= Duration::from_millis(30));
        assert!(!task.is_done());
        let task = task
            .result_timeout(Duration::ZERO)
            .expect_err("still closed");
        gate.open();
        assert_eq!(task.result(), Ok(7));
        let quick = loop_thread.handle().spawn_threadsafe(async { 8 }).unwrap();
        assert_eq!(quick.result_timeout(PATIENCE).unwrap(), Ok(8));
        loop_thread.stop().unwrap();
    });
}

#[test]
fn cancel_drops_the_future_on_the_loop_thread_before_result_returns() {
    deadline(BUDGET, || {
        let loop_thread = LoopThread::start().unwrap();
        let (gate, counter) = (Gate::new(), SyncDropCounter::new());
        let task = loop_thread
            .handle()
            .spawn_threadsafe(parked(&gate, counter.guard(), 1));
        let task = task.unwrap();
        eventually("the task started", || gate.polls() == 1);
        assert!(task.cancel());
        assert_eq!(task.result(), Err(TaskError::Cancelled));
        assert_eq!(counter.dropped_on(), [LOOP_THREAD_NAME]);
        assert_eq!(gate.polls(), 1, "a cancelled task is not polled again");
        // Cancelling a finished task does nothing.
        let finished = loop_thread.handle().spawn_threadsafe(async { 5 }).unwrap();
        eventually("the task finished", || finished.is_done());
        assert!(!finished.cancel());
        assert_eq!(finished.result(), Ok(5));
        loop_thread.stop().unwrap();
    });
}

#[test]
fn cancel_before_the_loop_starts_the_task_never_polls_it() {
    deadline(BUDGET, || {
        let loop_thread = LoopThread::start().unwrap();
        let release = block_the_loop(loop_thread.handle());
        let (gate, counter) = (Gate::new(), SyncDropCounter::new());
        let task = loop_thread
            .handle()
            .spawn_threadsafe(parked(&gate, counter.guard(), 1));
        let task = task.unwrap();
        assert!(task.cancel());
        release.send(()).unwrap();
        assert_eq!(task.result(), Err(TaskError::Cancelled));
        assert_eq!(gate.polls(), 0);
        assert_eq!(counter.dropped_on(), [LOOP_THREAD_NAME]);
        loop_thread.stop().unwrap();
    });
}

#[test]
fn a_panicking_threadsafe_task_gives_panicked_with_its_message() {
    deadline(BUDGET, || {
        let loop_thread = LoopThread::start().unwrap();
        let handle = loop_thread.handle();
        let task = handle.spawn_threadsafe(async { panic!("threadsafe boom 17") });
        assert_panicked(task.unwrap().result(), "threadsafe boom 17");
        let maker = || -> std::future::Ready<u8> { panic!("maker boom 23") };
        assert_panicked(
            handle.spawn_threadsafe_with(maker).unwrap().result(),
            "maker boom 23",
        );
        // The loop survived both.
        assert_eq!(
            handle.spawn_threadsafe(async { 3 }).unwrap().result(),
            Ok(3)
        );
        loop_thread.stop().unwrap();
    });
}

#[test]
fn spawn_threadsafe_with_makes_a_local_future_on_the_loop_thread() {
    deadline(BUDGET, || {
        let loop_thread = LoopThread::start().unwrap();
        let task = loop_thread.handle().spawn_threadsafe_with(|| {
            let made_on = thread::current().name().map(str::to_owned);
            let shared = Rc::new(std::cell::Cell::new(20)); // !Send: it never leaves the loop
            let shared2 = shared.clone();
            async move {
                let inner = evloop::spawn(async move {
                    shared2.set(shared2.get() + 1);
                    2
                });
                evloop::sleep(Duration::from_millis(5)).await;
                let factor = inner.await.unwrap();
                (made_on, shared.get() * factor)
            }
        });
        let expected = (Some(LOOP_THREAD_NAME.to_owned()), 42);
        assert_eq!(task.unwrap().result(), Ok(expected));
        loop_thread.stop().unwrap();
    });
}

#[test]
fn closing_the_loop_resolves_pending_threadsafe_tasks_as_cancelled() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let handle = lp.handle();
        let (gate_a, gate_b, counter) = (Gate::new(), Gate::new(), SyncDropCounter::new());
        // Task A: started by the loop and parked on a gate nobody opens. Two iterations: the
        // first starts the task, the second polls it.
        let task_a = handle.spawn_threadsafe(parked(&gate_a, counter.guard(), "a"));
        for _ in 0..2 {
            lp.stop();
            lp.run_forever().unwrap();
        }
        assert_eq!(gate_a.polls(), 1);
        // Task B: posted, never drained.
        let task_b = handle.spawn_threadsafe(parked(&gate_b, counter.guard(), "b"));
        let (task_a, task_b) = (task_a.unwrap(), task_b.unwrap());
        let (waiting_tx, waiting_rx) = mpsc::channel();
        let waiter = thread::spawn(move || {
            // A stopped loop is not a closed one: its tasks stay pending.
            let task_a = task_a.result_timeout(Duration::from_millis(30));
            let task_a = task_a.expect_err("a stopped loop leaves its tasks pending");
            waiting_tx.send(()).unwrap();
            (task_a.result(), task_b.result())
        });
        waiting_rx.recv_timeout(PATIENCE).unwrap();
        lp.close().unwrap();
        let cancelled = (Err(TaskError::Cancelled), Err(TaskError::Cancelled));
        assert_eq!(waiter.join().unwrap(), cancelled);
        // Both futures were dropped once, by close() on the loop's thread; B never polled.
        assert_eq!(counter.dropped_on(), ["test-body", "test-body"]);
        assert_eq!(gate_b.polls(), 0);
    });
}

#[test]
fn result_on_the_loop_thread_panics_instead_of_deadlocking() {
    deadline(BUDGET, || {
        const REFUSAL: &str = "ThreadsafeTask::result called on the thread that owns the loop";
        let loop_thread = LoopThread::start().unwrap();
        let handle = loop_thread.handle().clone();
        let pending = handle.spawn_threadsafe(Gate::new().wait()).unwrap();
        let finished = handle.spawn_threadsafe(async { 9 }).unwrap();
        eventually("the quick task finished", || finished.is_done());
        // From a callback: result() on a pending task panics; on a finished one it returns.
        let (refused, finished) = on_loop(&handle, move || {
            let refused = catch_unwind(AssertUnwindSafe(|| pending.result()));
            (refused.map_err(panic_text), finished.result())
        });
        let message = refused.expect_err("result() on the loop thread must panic");
        assert!(
            message.contains(REFUSAL) && message.contains("fix:"),
            "{message}"
        );
        assert_eq!(finished, Ok(9));
        // From a task: result_timeout panics the same way.
        let pending = handle.spawn_threadsafe(Gate::new().wait()).unwrap();
        let probe = handle.spawn_threadsafe(async move {
            let wait = || pending.result_timeout(Duration::from_millis(1)).is_ok();
            catch_unwind(AssertUnwindSafe(wait)).map_err(panic_text)
        });
        let message = probe.unwrap().result().unwrap().expect_err("must panic");
        assert!(message.contains(REFUSAL), "{message}");
        // The loop still runs.
        assert_eq!(
            handle.spawn_threadsafe(async { 1 }).unwrap().result(),
            Ok(1)
        );
        loop_thread.stop().unwrap();
        // On the thread that owns a loop that is not running (yet): the same refusal, not
        // a hang, since only this thread could ever run that loop.
        let lp = EventLoop::new().unwrap();
        let never_started = lp.handle().spawn_threadsafe(async { 2 }).unwrap();
        let refused = catch_unwind(AssertUnwindSafe(|| never_started.result()));
        let message = refused.map_err(panic_text).expect_err("must panic");
        assert!(message.contains(REFUSAL), "{message}");
        lp.close().unwrap();
    });
}

#[test]
fn a_task_woken_from_another_thread_completes() {
    deadline(BUDGET, || {
        // A spawn_threadsafe task on a loop thread.
        let loop_thread = LoopThread::start().unwrap();
        let gate = Gate::new();
        let task = loop_thread.handle().spawn_threadsafe(gate.wait()).unwrap();
        let opener = open_later(&gate, Duration::from_millis(20));
        assert_eq!(task.result(), Ok(()));
        opener.join().unwrap();
        assert_eq!(
            gate.polls(),
            2,
            "polled once before the wake and once after"
        );
        loop_thread.stop().unwrap();
        // A local task and the main future of run_until_complete on this thread's loop.
        let lp = EventLoop::new().unwrap();
        let (task_gate, main_gate) = (Gate::new(), Gate::new());
        let local = lp.spawn(task_gate.wait());
        let openers = [
            open_later(&task_gate, Duration::from_millis(20)),
            open_later(&main_gate, Duration::from_millis(40)),
        ];
        let main = main_gate.wait();
        let outcome = lp.run_until_complete(async move {
            main.await;
            local.await
        });
        assert_eq!(outcome, Ok(Ok(())));
        openers.into_iter().for_each(|o| o.join().unwrap());
        assert_eq!((task_gate.polls(), main_gate.polls()), (2, 2));
        lp.close().unwrap();
    });
}

#[test]
fn a_detached_threadsafe_task_panic_reaches_the_exception_handler() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let seen = crate::panics::record_exceptions(&lp);
        drop(
            lp.handle()
                .spawn_threadsafe(async { panic!("detached boom 31") }),
        );
        // Two iterations: the first starts the task, the second polls it (and it panics).
        for _ in 0..2 {
            lp.stop();
            lp.run_forever().unwrap();
        }
        let reports: Vec<String> = seen
            .borrow()
            .iter()
            .map(|context| context.panic.clone().unwrap_or_default())
            .collect();
        assert!(
            reports.len() == 1 && reports[0].contains("detached boom 31"),
            "{reports:?}"
        );
        lp.close().unwrap();
    });
}

#[test]
fn a_threadsafe_task_panic_dropped_unretrieved_reaches_the_exception_handler_once() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let seen = crate::panics::record_exceptions(&lp);
        let task = lp
            .handle()
            .spawn_threadsafe(async { panic!("stored boom 32") })
            .unwrap();
        for _ in 0..2 {
            lp.stop();
            lp.run_forever().unwrap();
        }
        assert!(task.is_done());
        assert!(
            seen.borrow().is_empty(),
            "stored, not reported, while the handle lives"
        );
        // Dropped unretrieved: the report travels through the threadsafe path.
        std::thread::spawn(move || drop(task)).join().unwrap();
        lp.stop();
        lp.run_forever().unwrap();
        let reports: Vec<String> = seen
            .borrow()
            .iter()
            .map(|context| context.panic.clone().unwrap_or_default())
            .collect();
        assert!(
            reports.len() == 1 && reports[0].contains("stored boom 32"),
            "{reports:?}"
        );
        lp.close().unwrap();
    });
}
