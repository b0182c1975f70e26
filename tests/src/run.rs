//! `evloop::run`, asyncio's `asyncio.run`: a fresh loop per call, the main future's value,
//! and the shutdown.
//!
//! - `run` returns the main future's value, on a fresh loop that is gone afterwards.
//! - Tasks left over when the main future ends are cancelled, and their cleanup (`Drop`) runs
//!   inside the loop, exactly once each, before `run` returns; so do tasks their cleanup
//!   spawns; callbacks and timers still scheduled are dropped exactly once.
//! - A panic in the main future propagates out of `run`, after the same cleanup.
//! - `run` inside a running loop is refused with `NestedRun`.

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::Duration;

use evloop::{EventLoop, LoopError};

use crate::lifecycle::DropCounter;
use crate::util::{deadline, BUDGET};

/// Records, when dropped, whether it was dropped inside a running loop.
struct Cleanup {
    /// Its name, for the log.
    name: &'static str,
    /// `(name, inside a running loop)` per drop.
    log: Rc<RefCell<Vec<(&'static str, bool)>>>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let running = evloop::get_running_loop().is_ok();
        self.log.borrow_mut().push((self.name, running));
    }
}

#[test]
fn run_returns_the_value_of_the_main_future() {
    deadline(BUDGET, || {
        let value = evloop::run(async {
            let task = evloop::spawn(async {
                evloop::sleep(Duration::from_millis(1)).await;
                40
            });
            task.await.unwrap() + 2
        });
        assert_eq!(value, Ok(42));
        assert_eq!(
            evloop::get_running_loop().unwrap_err(),
            LoopError::NoRunningLoop
        );
    });
}

#[test]
fn each_run_uses_a_fresh_loop_that_is_closed_afterwards() {
    deadline(BUDGET, || {
        let grab = || evloop::run(async { evloop::get_running_loop().unwrap() }).unwrap();
        let (first, second): (EventLoop, EventLoop) = (grab(), grab());
        assert_ne!(
            format!("{:?}", first.handle()),
            format!("{:?}", second.handle())
        );
        assert!(first.is_closed() && second.is_closed());
    });
}

#[test]
fn leftover_tasks_are_cancelled_and_cleaned_up_before_run_returns() {
    deadline(BUDGET, || {
        let log = Rc::new(RefCell::new(Vec::new()));
        let resumed = Rc::new(Cell::new(0));
        let callbacks = DropCounter::new();
        let (log2, resumed2, callbacks2) = (log.clone(), resumed.clone(), callbacks.clone());
        let value = evloop::run(async move {
            let cleanup = |name| Cleanup {
                name,
                log: log2.clone(),
            };
            // Parked in a long sleep, handle kept.
            let (c, r) = (cleanup("sleeper"), resumed2.clone());
            let _kept = evloop::spawn(async move {
                let _c = c;
                evloop::sleep(Duration::from_secs(3600)).await;
                r.set(r.get() + 1);
            });
            // Parked in a long sleep, handle dropped.
            let (c, r) = (cleanup("detached"), resumed2.clone());
            drop(evloop::spawn(async move {
                let _c = c;
                evloop::sleep(Duration::from_secs(3600)).await;
                r.set(r.get() + 1);
            }));
            // A timer that never fires.
            let lp = evloop::get_running_loop().unwrap();
            let guard = callbacks2.guard();
            lp.call_later(Duration::from_secs(3600), move || drop(guard));
            evloop::yield_now().await; // the sleepers park
                                       // Never polled: spawned as the main future ends.
            let (c, r) = (cleanup("never polled"), resumed2.clone());
            drop(evloop::spawn(async move {
                let _c = c;
                r.set(r.get() + 1);
            }));
            // A callback still queued when the main future ends (run or dropped, once).
            let guard = callbacks2.guard();
            lp.call_soon(move || drop(guard));
            "main value"
        });
        assert_eq!(value, Ok("main value"));
        let mut log = log.borrow().clone();
        log.sort_unstable();
        assert_eq!(
            log,
            [
                ("detached", true),
                ("never polled", true),
                ("sleeper", true)
            ],
            "each leftover is cleaned up once, inside the loop"
        );
        assert_eq!(
            resumed.get(),
            0,
            "a leftover task ran past its cancellation"
        );
        assert_eq!(callbacks.count(), 2);
    });
}

#[test]
fn tasks_spawned_by_a_leftover_cleanup_are_cleaned_up_too() {
    deadline(BUDGET, || {
        /// Spawns a task of its own when dropped.
        struct SpawnsOnDrop {
            /// Dropped by the task spawned from `drop`.
            child: Option<Cleanup>,
        }
        impl Drop for SpawnsOnDrop {
            fn drop(&mut self) {
                let child = self.child.take();
                drop(evloop::spawn(async move {
                    let _child = child;
                    evloop::sleep(Duration::from_secs(3600)).await;
                }));
            }
        }
        let log = Rc::new(RefCell::new(Vec::new()));
        let log2 = log.clone();
        evloop::run(async move {
            let parent = SpawnsOnDrop {
                child: Some(Cleanup {
                    name: "spawned by a cleanup",
                    log: log2,
                }),
            };
            drop(evloop::spawn(async move {
                let _parent = parent;
                evloop::sleep(Duration::from_secs(3600)).await;
            }));
            evloop::yield_now().await;
        })
        .unwrap();
        assert_eq!(*log.borrow(), [("spawned by a cleanup", true)]);
    });
}

#[test]
fn a_panic_in_the_main_future_propagates_after_the_cleanup() {
    deadline(BUDGET, || {
        let log = Rc::new(RefCell::new(Vec::new()));
        let log2 = log.clone();
        let caught = catch_unwind(AssertUnwindSafe(|| {
            evloop::run(async move {
                let cleanup = Cleanup {
                    name: "leftover",
                    log: log2,
                };
                drop(evloop::spawn(async move {
                    let _cleanup = cleanup;
                    evloop::sleep(Duration::from_secs(3600)).await;
                }));
                evloop::yield_now().await;
                panic!("main future boom");
            })
        }));
        let payload = caught.expect_err("the panic did not propagate out of run");
        assert_eq!(
            payload.downcast_ref::<&str>().copied(),
            Some("main future boom")
        );
        assert_eq!(*log.borrow(), [("leftover", true)]);
        assert!(evloop::get_running_loop().is_err());
        // The thread can run again.
        assert_eq!(evloop::run(async { 7 }), Ok(7));
    });
}

#[test]
fn run_inside_a_running_loop_is_nested_run() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let inner_polled = Rc::new(Cell::new(false));
        let polled2 = inner_polled.clone();
        let nested = lp
            .run_until_complete(async move { evloop::run(async move { polled2.set(true) }) })
            .unwrap();
        assert_eq!(nested, Err(LoopError::NestedRun));
        assert!(!inner_polled.get());
        assert!(!lp.is_closed() && !lp.is_running());
        lp.close().unwrap();
    });
}

#[test]
fn ready_callbacks_run_at_shutdown_and_pending_timers_are_dropped_once() {
    deadline(BUDGET, || {
        let ran = Rc::new(Cell::new(0));
        let dropped = Rc::new(Cell::new(0));
        /// Counts its drop.
        struct Dropped(Rc<Cell<u32>>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                self.0.set(self.0.get() + 1);
            }
        }
        let (ran2, dropped2) = (ran.clone(), dropped.clone());
        let value = evloop::run(async move {
            let lp = evloop::get_running_loop().unwrap();
            // Ready when the main future ends: runs during shutdown, as in asyncio.
            let (r, d) = (ran2.clone(), Dropped(dropped2.clone()));
            lp.call_soon(move || {
                let _d = d;
                r.set(r.get() + 1);
            });
            // Not due before close: dropped unrun, exactly once.
            let (r, d) = (ran2.clone(), Dropped(dropped2.clone()));
            lp.call_later(Duration::from_secs(3600), move || {
                let _d = d;
                r.set(r.get() + 100);
            });
            "done"
        });
        assert_eq!(value, Ok("done"));
        assert_eq!(ran.get(), 1, "only the ready callback ran");
        assert_eq!(dropped.get(), 2, "each closure dropped exactly once");
    });
}
