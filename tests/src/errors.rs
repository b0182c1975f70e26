//! Misuse of the loop: every `LoopError` variant is produced by the misuse it names, and its
//! message names the fix.
//!
//! - `NestedRun`: `run_until_complete` / `run_forever` / `evloop::run` while a loop (the same
//!   one or another) runs on this thread; the running loop is not disturbed.
//! - `Closed`: running a closed loop. Scheduling on a closed loop (`call_soon`, `call_later`,
//!   `call_at`, `spawn`) panics with "Event loop is closed" and drops the refused closure.
//! - `CloseWhileRunning`: `close()` from inside the loop; the loop keeps running.
//! - `NoRunningLoop`: `get_running_loop()` outside a loop; the free `spawn` and a `sleep`
//!   polled outside a loop panic with the same message.
//! - `StoppedBeforeComplete`: `stop()` while `run_until_complete` waits.
//! - `Create`: the OS refusing a poller (checked in a child process that used up its fds).

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant};

use evloop::{EventLoop, LoopError};

use crate::lifecycle::{poll_once, DropCounter};
use crate::util::{deadline, BUDGET};

/// Asserts that `error` displays every one of `phrases` and names a fix.
fn assert_message(error: &LoopError, phrases: &[&str]) {
    let text = error.to_string();
    for phrase in phrases {
        assert!(
            text.contains(phrase),
            "{error:?} displays {text:?}, without {phrase:?}"
        );
    }
    assert!(
        text.contains("fix:"),
        "{error:?} displays {text:?}, which names no fix"
    );
}

/// Runs `f`, which must panic, and returns its panic message.
fn panic_message_of(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    crate::util::payload_text(&*payload)
}

#[test]
fn nested_runs_of_the_same_loop_are_refused() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let polled = Rc::new(Cell::new(false));
        let (lp2, polled2) = (lp.clone(), polled.clone());
        let (from_main, from_callback) = lp
            .run_until_complete(async move {
                let polled3 = polled2.clone();
                let nested = lp2.run_until_complete(async move { polled3.set(true) });
                let forever = lp2.run_forever();
                assert!(
                    lp2.is_running(),
                    "a refused nested run marked the loop idle"
                );
                let from_callback = Rc::new(Cell::new(None));
                let (lp3, slot) = (lp2.clone(), from_callback.clone());
                lp2.call_soon(move || slot.set(Some(lp3.run_forever())));
                evloop::yield_now().await;
                ((nested, forever), from_callback.take())
            })
            .unwrap();
        assert_eq!(
            from_main,
            (Err(LoopError::NestedRun), Err(LoopError::NestedRun))
        );
        assert_eq!(from_callback, Some(Err(LoopError::NestedRun)));
        assert!(!polled.get(), "the refused future was polled");
        assert_message(
            &LoopError::NestedRun,
            &["cannot be called from a running event loop"],
        );
        // Nothing was left behind: the loop runs normally again.
        assert_eq!(lp.run_until_complete(async { 1 }).unwrap(), 1);
        lp.close().unwrap();
    });
}

#[test]
fn running_a_second_loop_inside_a_running_loop_is_refused() {
    deadline(BUDGET, || {
        let outer = EventLoop::new().unwrap();
        let inner = EventLoop::new().unwrap();
        let inner2 = inner.clone();
        let results = outer
            .run_until_complete(async move {
                let until = inner2.run_until_complete(async { 1 });
                let forever = inner2.run_forever();
                let run = evloop::run(async { 2 });
                assert!(!inner2.is_running());
                let still_outer = evloop::get_running_loop().unwrap().is_running();
                (until, forever, run, still_outer)
            })
            .unwrap();
        assert_eq!(
            results,
            (
                Err(LoopError::NestedRun),
                Err(LoopError::NestedRun),
                Err(LoopError::NestedRun),
                true
            )
        );
        // The second loop is fine on its own.
        assert_eq!(inner.run_until_complete(async { 3 }).unwrap(), 3);
        inner.close().unwrap();
        outer.close().unwrap();
    });
}

#[test]
fn evloop_run_inside_evloop_run_is_refused() {
    deadline(BUDGET, || {
        let inner_polled = Rc::new(Cell::new(false));
        let polled2 = inner_polled.clone();
        let nested = evloop::run(async move {
            evloop::run(async move {
                polled2.set(true);
            })
        })
        .unwrap();
        assert_eq!(nested, Err(LoopError::NestedRun));
        assert!(!inner_polled.get());
    });
}

#[test]
fn running_a_closed_loop_is_refused() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        lp.close().unwrap();
        let counter = DropCounter::new();
        let guard = counter.guard();
        let refused = lp.run_until_complete(async move {
            let _guard = guard;
            unreachable!("a closed loop polled a future")
        });
        assert_eq!(refused.unwrap_err(), LoopError::Closed);
        assert_eq!(counter.count(), 1, "the refused future was not dropped");
        let error = lp.run_forever().unwrap_err();
        assert_eq!(error, LoopError::Closed);
        assert_message(&error, &["Event loop is closed"]);
        assert!(!lp.is_running());
    });
}

/// One way of scheduling on a loop, named after the method it calls.
type Attempt = (&'static str, Box<dyn FnOnce()>);

#[test]
fn scheduling_on_a_closed_loop_panics_and_drops_the_closure() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        lp.close().unwrap();
        let counter = DropCounter::new();
        let attempts: Vec<Attempt> = vec![
            ("call_soon", {
                let (lp, guard) = (lp.clone(), counter.guard());
                Box::new(move || drop(lp.call_soon(move || drop(guard))))
            }),
            ("call_later", {
                let (lp, guard) = (lp.clone(), counter.guard());
                Box::new(move || drop(lp.call_later(Duration::from_millis(1), move || drop(guard))))
            }),
            ("call_at", {
                let (lp, guard) = (lp.clone(), counter.guard());
                Box::new(move || drop(lp.call_at(Instant::now(), move || drop(guard))))
            }),
            ("spawn", {
                let (lp, guard) = (lp.clone(), counter.guard());
                Box::new(move || drop(lp.spawn(async move { drop(guard) })))
            }),
        ];
        for (i, (what, attempt)) in attempts.into_iter().enumerate() {
            let message = panic_message_of(attempt);
            assert!(
                message.contains("Event loop is closed"),
                "{what}: {message:?}"
            );
            assert!(
                message.contains(what),
                "{what}'s panic does not name it: {message:?}"
            );
            assert_eq!(counter.count(), i + 1, "{what} kept the refused closure");
        }
    });
}

#[test]
fn close_while_running_is_refused_and_the_loop_keeps_running() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let from_callback = Rc::new(Cell::new(None));
        let (lp2, slot) = (lp.clone(), from_callback.clone());
        lp.call_soon(move || slot.set(Some(lp2.close())));
        let lp3 = lp.clone();
        let from_main = lp
            .run_until_complete(async move {
                let refused = lp3.close();
                evloop::yield_now().await;
                (refused, lp3.is_closed(), lp3.is_running())
            })
            .unwrap();
        assert_eq!(from_main, (Err(LoopError::CloseWhileRunning), false, true));
        let error = from_callback.take().unwrap().unwrap_err();
        assert_eq!(error, LoopError::CloseWhileRunning);
        assert_message(&error, &["stop()", "close"]);
        assert!(!lp.is_closed());
        lp.close().unwrap();
        assert!(lp.is_closed());
    });
}

#[test]
fn get_running_loop_outside_a_loop_is_an_error() {
    deadline(BUDGET, || {
        let error = evloop::get_running_loop().unwrap_err();
        assert_eq!(error, LoopError::NoRunningLoop);
        assert_message(&error, &["no running event loop"]);
        // Also after a loop ran on this thread, and between runs.
        let lp = EventLoop::new().unwrap();
        lp.run_until_complete(async {
            assert!(evloop::get_running_loop().is_ok());
        })
        .unwrap();
        assert_eq!(
            evloop::get_running_loop().unwrap_err(),
            LoopError::NoRunningLoop
        );
        lp.close().unwrap();
    });
}

#[test]
fn spawn_and_sleep_outside_a_loop_panic_naming_the_fix() {
    deadline(BUDGET, || {
        let counter = DropCounter::new();
        let guard = counter.guard();
        let message = panic_message_of(move || {
            drop(evloop::spawn(async move { drop(guard) }));
        });
        assert!(message.contains("no running event loop"), "{message:?}");
        assert!(message.contains("fix:"), "{message:?}");
        assert_eq!(counter.count(), 1, "the refused future was not dropped");

        let message = panic_message_of(|| {
            let _ = poll_once(evloop::sleep(Duration::from_millis(1)));
        });
        assert!(message.contains("no running event loop"), "{message:?}");
    });
}

#[test]
fn stop_during_run_until_complete_is_stopped_before_complete() {
    deadline(BUDGET, || {
        let lp = EventLoop::builder().virtual_clock(true).build().unwrap();
        let start = lp.time();
        let counter = DropCounter::new();
        let guard = counter.guard();
        let lp2 = lp.clone();
        lp.call_later(Duration::from_millis(10), move || lp2.stop());
        let error = lp
            .run_until_complete(async move {
                let _guard = guard;
                evloop::sleep(Duration::from_secs(3600)).await;
            })
            .unwrap_err();
        assert_eq!(error, LoopError::StoppedBeforeComplete);
        assert_message(
            &error,
            &["Event loop stopped before Future completed", "stop()"],
        );
        assert_eq!(counter.count(), 1, "the abandoned future was not dropped");
        assert!(!lp.is_running());

        // The stop request was consumed; the loop runs again, and the abandoned sleep no
        // longer pulls the virtual clock.
        assert_eq!(lp.run_until_complete(async { 1 }).unwrap(), 1);
        lp.run_until_complete(evloop::sleep(Duration::from_millis(5)))
            .unwrap();
        assert_eq!(lp.time() - start, Duration::from_millis(15));
        // A future that stops the loop and completes in the same poll keeps its value.
        let lp3 = lp.clone();
        let value = lp.run_until_complete(async move {
            lp3.stop();
            "completed"
        });
        assert_eq!(value, Ok("completed"));
        lp.close().unwrap();
    });
}

/// Set in the environment of the child process that `loop_creation_failure_is_a_create_error`
/// starts with a file descriptor limit of [`CHILD_FD_LIMIT`].
const FD_LIMITED_CHILD: &str = "EVLOOP_TESTS_FD_LIMITED_CHILD";
/// The child's `ulimit -n`: enough for the dynamic loader and the test harness.
const CHILD_FD_LIMIT: usize = 32;

#[test]
fn loop_creation_failure_is_a_create_error() {
    if std::env::var_os(FD_LIMITED_CHILD).is_some() {
        // In the child: use up every file descriptor, so no poller can be created.
        deadline(BUDGET, || {
            let mut hoard = Vec::new();
            while let Ok(file) = std::fs::File::open("/dev/null") {
                hoard.push(file);
                assert!(
                    hoard.len() <= CHILD_FD_LIMIT,
                    "the fd limit is not in force"
                );
            }
            assert!(EventLoop::new().is_err());
            match evloop::run(async { unreachable!("ran without a loop") }) {
                Err(error @ LoopError::Create(_)) => {
                    assert_message(&error, &["could not create the event loop", "ulimit"]);
                }
                other => panic!("expected LoopError::Create, got {other:?}"),
            }
            // With descriptors to spare, loops can be created again.
            drop(hoard);
            assert_eq!(evloop::run(async { 1 }), Ok(1));
        });
        return;
    }
    deadline(BUDGET, || {
        let exe = std::env::current_exe().unwrap();
        let output = Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -n {CHILD_FD_LIMIT} && exec \"$0\" \"$@\""))
            .arg(exe)
            .args([
                "--exact",
                "errors::loop_creation_failure_is_a_create_error",
                "--test-threads=1",
            ])
            .env(FD_LIMITED_CHILD, "1")
            .output()
            .expect("start the fd-limited child");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "the fd-limited child failed: {}\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    });
}
