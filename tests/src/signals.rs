//! Signals delivered in-process: handlers, listeners, and what `signal/` guarantees.
//!
//! - A handler runs once per delivery, on the loop thread, as a loop callback (never inside
//!   the signal handler), in the context it was added from; its panic goes to the exception
//!   handler. A delivery wakes a loop blocked in the poller.
//! - `remove_signal_handler` and a replacement stop the old handler, even a run already queued.
//! - Forbidden and invalid signals, and a closed loop, are refused with the fix in the message.
//! - Every listener sees every delivery; `recv` coalesces; a closed loop ends its listeners.
//! - Several loops each get every delivery; removing or closing releases every descriptor.
//!
//! Signals are process-wide and the suite runs in parallel, so every test that raises one runs
//! under `exclusive`, raises only SIGUSR1 or SIGUSR2 (never SIGINT: `signals_ctrl_c.rs` sends
//! real Ctrl-Cs to a child process), and keeps a handler or listener of that signal alive while
//! it raises it: an unhooked SIGUSR1 does its default action again, which ends the process.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::thread;
use std::time::Duration;

use evloop::signal::{signal, SignalError, SIGUSR1, SIGUSR2};
use evloop::{ContextVar, EventLoop};
use signal_hook::low_level::raise;

use crate::util::{
    deadline, exclusive, poll_once, record_exception_texts, settle, CountingWaker, Resources,
    BUDGET,
};

/// A shared counter and a handler that bumps it.
fn counter() -> (Rc<Cell<usize>>, impl Fn() + 'static) {
    let count = Rc::new(Cell::new(0));
    let bump = count.clone();
    (count, move || bump.set(bump.get() + 1))
}

/// Raises `signum` on this process `times` times (each delivered before `raise` returns).
fn raise_times(signum: i32, times: usize) {
    for _ in 0..times {
        raise(signum).expect("raise");
    }
}

/// Lets `lp` run a few iterations (every delivery already raised is handled by then).
fn settle_on(lp: &EventLoop) {
    lp.run_until_complete(settle()).unwrap();
}

#[test]
fn a_handler_runs_once_per_delivery_as_a_loop_callback_on_the_loop_thread() {
    exclusive(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let runs = Rc::new(RefCell::new(Vec::new()));
        let log = runs.clone();
        lp.add_signal_handler(SIGUSR1, move || {
            let inside_loop = evloop::get_running_loop().is_ok();
            log.borrow_mut().push((thread::current().id(), inside_loop));
        })
        .unwrap();
        raise_times(SIGUSR1, 3);
        assert!(runs.borrow().is_empty(), "never inside the signal handler");
        settle_on(&lp);
        assert_eq!(*runs.borrow(), vec![(thread::current().id(), true); 3]);
        // Raised while the loop runs, from a task.
        lp.run_until_complete(async {
            raise_times(SIGUSR1, 2);
            settle().await;
        })
        .unwrap();
        settle_on(&lp);
        assert_eq!(runs.borrow().len(), 5, "once per delivery, no more");
        lp.close().unwrap();
    });
}

#[test]
fn a_delivery_from_another_thread_wakes_a_loop_blocked_in_the_poller() {
    exclusive(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let (count, bump) = counter();
        lp.add_signal_handler(SIGUSR1, bump).unwrap();
        let raiser = thread::spawn(|| {
            thread::sleep(Duration::from_millis(50));
            raise(SIGUSR1).unwrap(); // the handler runs on this thread, not the loop's
        });
        // No timer and no ready work: the loop blocks in epoll until the self-pipe wakes it.
        let received = lp
            .run_until_complete(async {
                let mut usr1 = signal(SIGUSR1).unwrap();
                usr1.recv().await
            })
            .unwrap();
        raiser.join().unwrap();
        settle_on(&lp);
        assert_eq!((received, count.get()), (Some(()), 1));
        lp.close().unwrap();
    });
}

#[test]
fn remove_signal_handler_stops_it_even_a_run_already_queued() {
    exclusive(BUDGET, || {
        let (lp, keeper) = (EventLoop::new().unwrap(), EventLoop::new().unwrap());
        let (count, bump) = counter();
        let (kept, keep) = counter();
        keeper.add_signal_handler(SIGUSR1, keep).unwrap(); // keeps SIGUSR1 hooked
        lp.add_signal_handler(SIGUSR1, bump).unwrap();
        // Queued before the delivery's run: it removes the handler first.
        let removed = Rc::new(Cell::new(None));
        let (lp2, removed2) = (lp.clone(), removed.clone());
        lp.call_soon(move || removed2.set(Some(lp2.remove_signal_handler(SIGUSR1))));
        raise(SIGUSR1).unwrap();
        settle_on(&lp);
        assert_eq!((removed.get(), count.get()), (Some(true), 0));
        raise(SIGUSR1).unwrap();
        settle_on(&lp);
        assert_eq!(count.get(), 0);
        assert!(!lp.remove_signal_handler(SIGUSR1), "nothing left to remove");
        settle_on(&keeper);
        assert_eq!(kept.get(), 2, "the other loop saw both deliveries");
        lp.close().unwrap();
        keeper.close().unwrap();
    });
}

#[test]
fn a_new_handler_replaces_the_old_one_which_never_runs_again() {
    exclusive(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let ((a, bump_a), (b, bump_b), (c, bump_c)) = (counter(), counter(), counter());
        lp.add_signal_handler(SIGUSR2, bump_a).unwrap();
        raise(SIGUSR2).unwrap();
        settle_on(&lp);
        lp.add_signal_handler(SIGUSR2, bump_b).unwrap();
        raise(SIGUSR2).unwrap();
        settle_on(&lp);
        assert_eq!((a.get(), b.get()), (1, 1));
        // Replaced after the delivery was dispatched to B, before B's run: nobody runs it.
        let lp2 = lp.clone();
        let replace = RefCell::new(Some(bump_c));
        lp.call_soon(move || {
            let bump_c = replace.borrow_mut().take().unwrap();
            lp2.add_signal_handler(SIGUSR2, bump_c).unwrap();
        });
        raise(SIGUSR2).unwrap();
        settle_on(&lp);
        assert_eq!((a.get(), b.get(), c.get()), (1, 1, 0));
        raise(SIGUSR2).unwrap();
        settle_on(&lp);
        assert_eq!((a.get(), b.get(), c.get()), (1, 1, 1));
        lp.close().unwrap();
    });
}

#[test]
fn forbidden_and_invalid_signals_are_refused_naming_the_fix() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        use signal_hook::consts::{SIGFPE, SIGILL, SIGKILL, SIGSEGV, SIGSTOP};
        for (signum, name) in [
            (SIGKILL, "SIGKILL"),
            (SIGSTOP, "SIGSTOP"),
            (SIGSEGV, "SIGSEGV"),
            (SIGILL, "SIGILL"),
            (SIGFPE, "SIGFPE"),
        ] {
            let error = lp.add_signal_handler(signum, || {}).unwrap_err();
            assert!(matches!(error, SignalError::Forbidden(n) if n == signum));
            let text = error.to_string();
            assert!(text.contains(name) && text.contains("fix: handle a signal meant for"));
        }
        for invalid in [0, 1000] {
            let error = lp.add_signal_handler(invalid, || {}).unwrap_err();
            assert!(matches!(error, SignalError::Os { signum, .. } if signum == invalid));
            assert!(error
                .to_string()
                .contains("fix: pass a valid signal number"));
        }
        let from_task = lp
            .run_until_complete(async { signal(signal_hook::consts::SIGKILL).map(drop) })
            .unwrap();
        assert!(matches!(from_task, Err(SignalError::Forbidden(_))));
        lp.close().unwrap();
    });
}

#[test]
fn a_closed_loop_refuses_handlers_and_ends_its_listeners() {
    exclusive(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let mut usr2 = lp
            .run_until_complete(async { signal(SIGUSR2).unwrap() })
            .unwrap();
        let (wakes, waker) = CountingWaker::new();
        assert!(poll_once(&mut Box::pin(usr2.recv()), &waker).is_pending());
        lp.close().unwrap();
        assert_eq!(wakes.count(), 1, "close wakes a waiting listener");
        assert!(poll_once(&mut Box::pin(usr2.recv()), &waker) == std::task::Poll::Ready(None));
        let error = lp.add_signal_handler(SIGUSR2, || {}).unwrap_err();
        assert!(matches!(error, SignalError::Closed));
        assert!(error.to_string().contains("fix: add signal handlers"));
        assert!(!lp.remove_signal_handler(SIGUSR2));
    });
}

#[test]
fn every_listener_sees_every_delivery_and_recv_coalesces() {
    exclusive(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let received = lp
            .run_until_complete(async {
                let counts = [Rc::new(Cell::new(0)), Rc::new(Cell::new(0))];
                let listeners = counts.clone().map(|count| {
                    let mut usr2 = signal(SIGUSR2).unwrap();
                    evloop::spawn(async move {
                        while usr2.recv().await.is_some() {
                            count.set(count.get() + 1);
                        }
                    })
                });
                settle().await;
                raise(SIGUSR2).unwrap();
                settle().await;
                let after_one = counts.clone().map(|c| c.get());
                raise_times(SIGUSR2, 3); // before the loop reads them: one recv
                settle().await;
                let after_three = counts.clone().map(|c| c.get());
                for task in &listeners {
                    task.cancel();
                }
                (after_one, after_three)
            })
            .unwrap();
        assert_eq!(received, ([1, 1], [2, 2]));
        lp.close().unwrap();
    });
}

#[test]
fn a_handler_runs_in_its_context_and_its_panic_is_reported() {
    exclusive(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let reports = record_exception_texts(&lp);
        let user = Rc::new(ContextVar::<&'static str>::new("user"));
        let seen = Rc::new(RefCell::new(Vec::new()));
        let token = user.set("ada");
        let (user2, seen2) = (user.clone(), seen.clone());
        lp.add_signal_handler(SIGUSR1, move || {
            let runs = seen2.borrow().len();
            seen2.borrow_mut().push(user2.get());
            if runs == 0 {
                panic!("first run fails");
            }
        })
        .unwrap();
        user.reset(token);
        raise_times(SIGUSR1, 2);
        settle_on(&lp);
        assert_eq!(*seen.borrow(), [Some("ada"), Some("ada")]);
        assert_eq!(*reports.borrow(), ["first run fails"]);
        lp.close().unwrap();
    });
}

#[test]
fn each_loop_gets_every_delivery() {
    exclusive(BUDGET, || {
        let (first, second) = (EventLoop::new().unwrap(), EventLoop::new().unwrap());
        let ((one, bump_one), (two, bump_two)) = (counter(), counter());
        first.add_signal_handler(SIGUSR2, bump_one).unwrap();
        second.add_signal_handler(SIGUSR2, bump_two).unwrap();
        raise_times(SIGUSR2, 2);
        settle_on(&first);
        settle_on(&second);
        assert_eq!((one.get(), two.get()), (2, 2));
        first.close().unwrap();
        second.close().unwrap();
    });
}

#[test]
fn removing_and_closing_release_every_descriptor() {
    exclusive(BUDGET, || {
        let before = Resources::now();
        let lp = EventLoop::new().unwrap();
        let with_loop = Resources::now().fds;
        lp.add_signal_handler(SIGUSR1, || {}).unwrap();
        lp.add_signal_handler(SIGUSR2, || {}).unwrap();
        lp.add_signal_handler(SIGUSR2, || {}).unwrap(); // a replacement reuses the pipe
        assert_eq!(
            Resources::now().fds,
            with_loop + 4,
            "one pipe (2 fds) per signal"
        );
        assert!(lp.remove_signal_handler(SIGUSR1) && lp.remove_signal_handler(SIGUSR2));
        assert_eq!(Resources::now().fds, with_loop);
        lp.add_signal_handler(SIGUSR1, || {}).unwrap();
        let usr2 = lp.run_until_complete(async { signal(SIGUSR2) }).unwrap();
        lp.close().unwrap();
        drop(usr2);
        drop(lp);
        before.assert_back_to("signal pipes");
    });
}

#[test]
fn ctrl_c_outside_a_loop_is_an_error_and_inside_waits_for_sigint() {
    exclusive(BUDGET, || {
        let (_, waker) = CountingWaker::new();
        let outside = poll_once(&mut evloop::ctrl_c(), &waker);
        let std::task::Poll::Ready(Err(error)) = outside else {
            panic!("expected an error outside a loop, got {outside:?}");
        };
        assert!(error.to_string().contains("no running event loop"));
        let lp = EventLoop::new().unwrap();
        let waited = lp
            .run_until_complete(async {
                evloop::timeout(Duration::from_millis(20), evloop::ctrl_c()).await
            })
            .unwrap();
        assert!(waited.is_err(), "no SIGINT came: {waited:?}");
        lp.close().unwrap();
    });
}
