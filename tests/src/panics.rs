//! The panic policy: a panic never kills the loop, and each one reaches exactly one place.
//!
//! - A panicking callback: later callbacks still run; the exception handler gets exactly one
//!   context, with the panic message and no task id.
//! - A panicking task: its awaiter gets `Err(TaskError::Panicked(message))` and the handler
//!   hears nothing; if its handle was dropped before the panic, the handler hears it exactly
//!   once, with the task id; if the handle is dropped unawaited after the panic, the handler
//!   hears it exactly once, at that drop ("never retrieved").
//! - A panicking exception handler does not kill the loop either.
//! - A panic in `run_until_complete`'s own future unwinds out of it; the loop is then idle and
//!   usable again, with the work it still held intact.
//!
//! Every test installs its own exception handler, so stderr stays quiet apart from Rust's
//! panic hook (process-global, deliberately left alone).

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::Duration;

use evloop::{EventLoop, ExceptionContext, TaskError};

use crate::util::{deadline, BUDGET};

/// Installs a handler on `lp` that records every context it is given.
pub(crate) fn record_exceptions(lp: &EventLoop) -> Rc<RefCell<Vec<ExceptionContext>>> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let seen2 = seen.clone();
    lp.set_exception_handler(Some(Box::new(move |context: &ExceptionContext| {
        seen2.borrow_mut().push(context.clone())
    })));
    seen
}

#[test]
fn a_panicking_callback_does_not_kill_the_loop() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let seen = record_exceptions(&lp);
        let log = Rc::new(RefCell::new(Vec::new()));
        let log2 = log.clone();
        lp.call_soon(move || log2.borrow_mut().push("before"));
        lp.call_soon(|| panic!("callback boom {}", 7));
        let (lp2, log3) = (lp.clone(), log.clone());
        lp.call_soon(move || {
            log3.borrow_mut().push("after, same iteration");
            let log4 = log3.clone();
            lp2.call_soon(move || log4.borrow_mut().push("next iteration"));
        });
        lp.run_until_complete(evloop::sleep(Duration::from_millis(1)))
            .unwrap();
        assert_eq!(
            *log.borrow(),
            ["before", "after, same iteration", "next iteration"]
        );
        let seen = seen.borrow();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].panic.as_deref(), Some("callback boom 7"));
        assert_eq!(seen[0].task_id, None);
        assert!(seen[0].message.contains("callback"), "{:?}", seen[0]);
        lp.close().unwrap();
    });
}

#[test]
fn a_panicking_timer_callback_does_not_kill_the_loop() {
    deadline(BUDGET, || {
        let lp = EventLoop::builder().virtual_clock(true).build().unwrap();
        let seen = record_exceptions(&lp);
        let ran = Rc::new(Cell::new(false));
        let ran2 = ran.clone();
        lp.call_later(Duration::from_millis(5), || panic!("timer boom"));
        lp.call_later(Duration::from_millis(5), move || ran2.set(true));
        lp.run_until_complete(evloop::sleep(Duration::from_millis(10)))
            .unwrap();
        assert!(ran.get());
        let panics: Vec<_> = seen.borrow().iter().map(|c| c.panic.clone()).collect();
        assert_eq!(panics, [Some("timer boom".to_owned())]);
        lp.close().unwrap();
    });
}

#[test]
fn a_panicking_task_reaches_its_awaiter_not_the_handler() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let seen = record_exceptions(&lp);
        let task = lp.spawn(async {
            evloop::yield_now().await;
            panic!("task boom {}", 42);
        });
        let sibling = lp.spawn(async { "sibling unaffected" });
        let outcome = lp.run_until_complete(task).unwrap();
        assert_eq!(outcome, Err(TaskError::Panicked("task boom 42".into())));
        assert_eq!(
            lp.run_until_complete(sibling).unwrap(),
            Ok("sibling unaffected")
        );
        // Awaited from a task, the same.
        let nested = lp
            .run_until_complete(async { evloop::spawn(async { panic!("nested boom") }).await })
            .unwrap();
        assert_eq!(nested, Err(TaskError::Panicked("nested boom".into())));
        lp.close().unwrap();
        assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    });
}

#[test]
fn a_detached_task_panic_reaches_the_handler_once_with_its_id() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let seen = record_exceptions(&lp);
        let task = lp.spawn(async {
            evloop::yield_now().await;
            panic!("detached boom");
        });
        let id = task.id();
        drop(task);
        lp.run_until_complete(async {
            for _ in 0..3 {
                evloop::yield_now().await;
            }
        })
        .unwrap();
        lp.close().unwrap();
        let seen = seen.borrow();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].task_id, Some(id));
        assert_eq!(seen[0].panic.as_deref(), Some("detached boom"));
    });
}

#[test]
fn a_handle_dropped_unawaited_after_the_panic_reports_once() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let seen = record_exceptions(&lp);
        let task = lp.spawn(async { panic!("never retrieved boom") });
        let id = task.id();
        lp.run_until_complete(async {
            for _ in 0..3 {
                evloop::yield_now().await;
            }
        })
        .unwrap();
        assert!(task.is_done());
        assert!(
            seen.borrow().is_empty(),
            "reported while the handle could still see it"
        );
        drop(task);
        {
            let seen = seen.borrow();
            assert_eq!(seen.len(), 1, "{seen:?}");
            assert_eq!(seen[0].task_id, Some(id));
            assert_eq!(seen[0].panic.as_deref(), Some("never retrieved boom"));
            assert!(seen[0].message.contains("never retrieved"), "{:?}", seen[0]);
        }
        lp.close().unwrap();
        assert_eq!(seen.borrow().len(), 1);
    });
}

#[test]
fn a_panicking_exception_handler_does_not_kill_the_loop() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let calls = Rc::new(Cell::new(0));
        let calls2 = calls.clone();
        lp.set_exception_handler(Some(Box::new(move |_: &ExceptionContext| {
            calls2.set(calls2.get() + 1);
            panic!("the handler itself panicked");
        })));
        let ran = Rc::new(Cell::new(0));
        lp.call_soon(|| panic!("first callback boom"));
        let ran2 = ran.clone();
        lp.call_soon(move || ran2.set(ran2.get() + 1));
        lp.call_soon(|| panic!("second callback boom"));
        let ran3 = ran.clone();
        lp.call_soon(move || ran3.set(ran3.get() + 1));
        let value = lp.run_until_complete(async { "still alive" }).unwrap();
        assert_eq!(value, "still alive");
        assert_eq!(ran.get(), 2);
        assert_eq!(
            calls.get(),
            2,
            "the handler stayed installed and was called per panic"
        );
        lp.close().unwrap();
    });
}

#[test]
fn call_exception_handler_reaches_the_current_handler() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let replaced = record_exceptions(&lp);
        let seen = record_exceptions(&lp);
        let context = ExceptionContext {
            message: "reported by user code".into(),
            panic: None,
            task_id: Some(3),
        };
        lp.call_exception_handler(&context);
        assert_eq!(*seen.borrow(), [context]);
        assert!(replaced.borrow().is_empty());
        lp.close().unwrap();
    });
}

#[test]
fn a_panic_in_the_main_future_unwinds_and_leaves_the_loop_usable() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let seen = record_exceptions(&lp);
        let log = Rc::new(RefCell::new(Vec::new()));
        let background = lp.spawn(async {
            evloop::yield_now().await;
            evloop::yield_now().await;
            "background done"
        });
        let caught = catch_unwind(AssertUnwindSafe(|| {
            lp.run_until_complete(async {
                let lp = evloop::get_running_loop().unwrap();
                let log2 = log.clone();
                // Queued behind the main future, in the iteration it panics in.
                lp.call_soon(move || log2.borrow_mut().push("queued before the panic"));
                evloop::yield_now().await;
                panic!("main boom");
            })
        }));
        let payload = caught.expect_err("the panic did not unwind out of run_until_complete");
        assert_eq!(crate::util::payload_text(&*payload), "main boom");
        assert!(!lp.is_running());
        assert!(!lp.is_closed());
        assert!(evloop::get_running_loop().is_err());
        assert!(
            seen.borrow().is_empty(),
            "the main panic also went to the handler"
        );

        // Usable again: the work it held survives, and runs exactly once.
        assert_eq!(lp.run_until_complete(async { 5 }).unwrap(), 5);
        assert_eq!(
            lp.run_until_complete(background).unwrap(),
            Ok("background done")
        );
        assert_eq!(*log.borrow(), ["queued before the panic"]);
        lp.stop();
        lp.run_forever().unwrap();
        assert_eq!(log.borrow().len(), 1);
        lp.close().unwrap();
    });
}

#[test]
fn a_task_future_that_panics_while_dropped_is_reported_and_still_cancelled() {
    deadline(BUDGET, || {
        /// Panics when dropped.
        struct PanicOnDrop;
        impl Drop for PanicOnDrop {
            fn drop(&mut self) {
                panic!("drop boom");
            }
        }
        let lp = EventLoop::new().unwrap();
        let seen = record_exceptions(&lp);
        let task = lp.spawn(async {
            let _bomb = PanicOnDrop;
            evloop::sleep(Duration::from_secs(3600)).await;
        });
        let outcome = lp
            .run_until_complete(async {
                evloop::yield_now().await;
                assert!(task.cancel());
                task.await
            })
            .unwrap();
        assert_eq!(outcome, Err(TaskError::Cancelled));
        let seen = seen.borrow();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].panic.as_deref(), Some("drop boom"));
        assert!(seen[0].task_id.is_some());
        lp.close().unwrap();
    });
}

#[test]
fn a_task_future_that_returns_then_panics_in_drop_keeps_its_value_and_the_loop() {
    deadline(BUDGET, || {
        /// A hand-written future: ready at once with 7, then panics when dropped.
        struct ReadyThenBoom;
        impl std::future::Future for ReadyThenBoom {
            type Output = u32;
            fn poll(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<u32> {
                std::task::Poll::Ready(7)
            }
        }
        impl Drop for ReadyThenBoom {
            fn drop(&mut self) {
                panic!("late drop boom");
            }
        }
        let lp = EventLoop::new().unwrap();
        let seen = record_exceptions(&lp);
        let task = lp.spawn(ReadyThenBoom);
        let after = Rc::new(Cell::new(0));
        let after2 = after.clone();
        let outcome = lp
            .run_until_complete(async move {
                let value = task.await;
                evloop::yield_now().await;
                after2.set(after2.get() + 1);
                value
            })
            .unwrap();
        assert_eq!(
            outcome,
            Ok(7),
            "the value survives its future's panicking drop"
        );
        assert_eq!(after.get(), 1, "the loop went on");
        let seen = seen.borrow();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].panic.as_deref(), Some("late drop boom"));
        lp.close().unwrap();
    });
}
