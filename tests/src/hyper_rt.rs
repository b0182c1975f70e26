//! hyper's runtime traits on evloop, without sockets: `HyperTimer` and `HyperExecutor`.
//!
//! - `HyperTimer`'s sleeps end exactly at their deadline on the virtual clock (`sleep` and
//!   `sleep_until`), and its `now` is the loop clock (and `Instant::now()` outside a loop).
//! - `Timer::reset` moves a pending sleep in place, earlier or later; the old deadline is
//!   cancelled: the task is not woken at it (counted polls).
//! - `HyperExecutor` runs a `!Send` future as a detached task, after the caller goes on; a
//!   panic in it reaches the exception handler once and the loop goes on; outside a loop it
//!   panics with the message that names the fix.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use evloop::hyper::{HyperExecutor, HyperTimer};
use hyper::rt::{Executor, Timer};

use crate::util::{deadline, on_virtual_loop, payload_text, record_exception_texts, BUDGET};

/// One second.
const SECOND: Duration = Duration::from_secs(1);

#[test]
fn hyper_timer_sleeps_end_exactly_at_their_deadline_on_the_virtual_clock() {
    let (slept, slept_until, now_matches) = on_virtual_loop(|| async {
        let lp = evloop::get_running_loop().unwrap();
        let start = lp.time();
        HyperTimer.sleep(SECOND * 3).await;
        let slept = lp.time() - start;
        HyperTimer.sleep_until(start + SECOND * 5).await;
        let slept_until = lp.time() - start;
        (slept, slept_until, HyperTimer.now() == lp.time())
    });
    assert_eq!(slept, SECOND * 3);
    assert_eq!(slept_until, SECOND * 5);
    assert!(now_matches, "HyperTimer::now is the loop clock");
}

#[test]
fn hyper_timer_now_is_the_virtual_loop_clock_and_instant_now_outside_a_loop() {
    let (loop_now, loop_time) = on_virtual_loop(|| async {
        evloop::sleep(SECOND * 3600).await;
        let lp = evloop::get_running_loop().unwrap();
        (HyperTimer.now(), lp.time())
    });
    assert_eq!(loop_now, loop_time);
    let before = Instant::now();
    let outside = HyperTimer.now();
    assert!(outside >= before && outside <= Instant::now());
}

/// Awaits `sleep`, counting the polls it takes.
async fn polls_until_done(mut sleep: Pin<Box<dyn hyper::rt::Sleep>>, polls: &Cell<usize>) {
    poll_fn(|cx| {
        polls.set(polls.get() + 1);
        sleep.as_mut().poll(cx)
    })
    .await
}

#[test]
fn hyper_timer_reset_moves_a_pending_sleep_earlier_or_later_and_cancels_the_old_deadline() {
    let (earlier, later, later_polls) = on_virtual_loop(|| async {
        let lp = evloop::get_running_loop().unwrap();
        let start = lp.time();
        // Earlier: a 10 s sleep, polled once, reset to 1 s.
        let mut sleep = HyperTimer.sleep(SECOND * 10);
        let first = poll_fn(|cx| Poll::Ready(sleep.as_mut().poll(cx))).await;
        assert!(first.is_pending());
        HyperTimer.reset(&mut sleep, start + SECOND);
        sleep.await;
        let earlier = lp.time() - start;
        // Later: a sleep due at 2 s, polled once, reset to 4 s; the task must not be woken
        // at 2 s (two polls in all: the first and the one at 4 s).
        let polls = Cell::new(0);
        let mut sleep = HyperTimer.sleep_until(start + SECOND * 2);
        let first = poll_fn(|cx| Poll::Ready(sleep.as_mut().poll(cx))).await;
        assert!(first.is_pending());
        HyperTimer.reset(&mut sleep, start + SECOND * 4);
        polls_until_done(sleep, &polls).await;
        (earlier, lp.time() - start, polls.get())
    });
    assert_eq!(earlier, SECOND);
    assert_eq!(later, SECOND * 4);
    assert_eq!(later_polls, 2, "woken once, at the new deadline only");
}

#[test]
fn hyper_executor_runs_a_not_send_future_as_a_detached_task_after_the_caller_goes_on() {
    let log = on_virtual_loop(|| async {
        let log = Rc::new(RefCell::new(Vec::new()));
        let inner = log.clone(); // an Rc: the future is !Send
        HyperExecutor.execute(async move {
            inner.borrow_mut().push("task starts");
            evloop::sleep(SECOND).await;
            inner.borrow_mut().push("task ends");
        });
        log.borrow_mut().push("execute returned");
        evloop::sleep(SECOND * 2).await;
        let log = log.borrow().clone();
        log
    });
    assert_eq!(log, ["execute returned", "task starts", "task ends"]);
}

#[test]
fn a_panic_in_a_future_given_to_hyper_executor_reaches_the_exception_handler_once() {
    let (reports, after) = on_virtual_loop(|| async {
        let reports = record_exception_texts(&evloop::get_running_loop().unwrap());
        HyperExecutor.execute(async { panic!("a hyper background task panicked") });
        evloop::sleep(SECOND).await;
        let reports = reports.borrow().clone();
        (reports, "the loop went on")
    });
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(reports[0].contains("a hyper background task panicked"));
    assert_eq!(after, "the loop went on");
}

#[test]
fn hyper_executor_outside_a_loop_panics_with_the_message_that_names_the_fix() {
    deadline(BUDGET, || {
        let panicked = catch_unwind(AssertUnwindSafe(|| HyperExecutor.execute(async {})));
        let text = payload_text(&*panicked.unwrap_err());
        assert!(
            text.starts_with("evloop::hyper::HyperExecutor::execute: no running event loop"),
            "{text}"
        );
        assert!(text.contains("drive hyper's connection inside an evloop task"));
    });
}
