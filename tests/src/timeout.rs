//! `wait_for`, `timeout`, `timeout_at` and `shield`, on the virtual clock.
//!
//! - A future that finishes in time gives `Ok(value)` at its own instant.
//! - On expiry the inner future is dropped (its Drop has run when the caller sees the error),
//!   exactly at the limit, and `TimedOut` says after how long; `timeout_at` counts from the
//!   first poll to the deadline.
//! - A value ready at the deadline wins over the timeout.
//! - A zero (or past) limit polls the inner future exactly once: ready -> `Ok`, else `Err`.
//! - A huge limit saturates instead of overflowing.
//! - `shield`: cancelling (dropping) the awaiter, or timing out around the shield, does not
//!   cancel the inner task; it runs to completion and its outcome can still be awaited.

use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use evloop::TaskError;

use crate::gather::{child, units_since, End, U};
use crate::util::{deadline, record_exception_texts, virtual_loop, BUDGET};

#[test]
fn a_fast_future_returns_its_value_at_its_own_instant() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let start = lp.time();
        let (life, work) = child(&lp, start, 2, End::Value(7));
        let (outcome, at) = lp
            .run_until_complete(async move {
                let outcome = evloop::wait_for(U * 5, work).await;
                (
                    outcome,
                    units_since(&evloop::get_running_loop().unwrap(), start),
                )
            })
            .unwrap();
        assert_eq!(outcome, Ok(7));
        assert_eq!(at, 2);
        assert_eq!((life.ended.get(), life.drops.get()), (Some(2), 1));
        // The timeout's wake-up was released: nothing pulls the clock to 5 units.
        lp.run_until_complete(async {}).unwrap();
        assert_eq!(units_since(&lp, start), 2);
        lp.close().unwrap();
    });
}

#[test]
fn expiry_drops_the_inner_future_before_returning_the_error() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let start = lp.time();
        let (life, slow) = child(&lp, start, 10, End::Value(1));
        let observed = lp
            .run_until_complete({
                let life = life.clone();
                async move {
                    // Look at the drops in the very poll that returns the error, while the
                    // Timeout itself is still alive.
                    let mut timeout = evloop::wait_for(U * 3, slow);
                    let (outcome, drops_then, dropped_at) = poll_fn(|cx| {
                        Pin::new(&mut timeout)
                            .poll(cx)
                            .map(|outcome| (outcome, life.drops.get(), life.dropped_at.get()))
                    })
                    .await;
                    (outcome.unwrap_err(), drops_then, dropped_at)
                }
            })
            .unwrap();
        let (error, drops_then, dropped_at) = observed;
        assert_eq!((drops_then, dropped_at), (1, Some(3)));
        assert_eq!(error.after(), U * 3);
        assert_eq!(
            error.to_string(),
            "timed out after 30ms; fix: allow more time (a longer timeout), or make the \
             awaited work finish sooner"
        );
        assert_eq!(life.ended.get(), None, "never resumed");
        lp.run_until_complete(evloop::sleep(U * 20)).unwrap();
        assert_eq!(life.drops.get(), 1);
        lp.close().unwrap();
    });
}

#[test]
fn timeout_and_timeout_at_expire_exactly_at_their_limit() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let start = lp.time();
        lp.run_until_complete(async move {
            let lp = evloop::get_running_loop().unwrap();
            let error = evloop::timeout(U * 2, std::future::pending::<()>())
                .await
                .unwrap_err();
            assert_eq!((error.after(), units_since(&lp, start)), (U * 2, 2));
            // The deadline is absolute; TimedOut reports the time from the first poll.
            let when = start + U * 6;
            let pending = evloop::timeout_at(when, std::future::pending::<()>());
            evloop::sleep(U).await; // created at 2, first polled at 3
            let error = pending.await.unwrap_err();
            assert_eq!((error.after(), units_since(&lp, start)), (U * 3, 6));
            // A value ready at the deadline wins.
            let tie = evloop::timeout(U * 2, evloop::sleep(U * 2)).await;
            assert_eq!((tie, units_since(&lp, start)), (Ok(()), 8));
            // A huge limit saturates.
            let huge = evloop::timeout(Duration::MAX, async { 5 }).await;
            assert_eq!(huge, Ok(5));
            let far = evloop::wait_for(Duration::MAX, evloop::sleep(U)).await;
            assert_eq!((far, units_since(&lp, start)), (Ok(()), 9));
        })
        .unwrap();
        lp.close().unwrap();
    });
}

#[test]
fn a_zero_or_past_limit_polls_the_future_exactly_once() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let start = lp.time();
        lp.run_until_complete(async move {
            let lp = evloop::get_running_loop().unwrap();
            let polls = Rc::new(Cell::new(0));
            let counting = |ready_at: u32| {
                let polls = polls.clone();
                poll_fn(move |cx| {
                    polls.set(polls.get() + 1);
                    if polls.get() >= ready_at {
                        Poll::Ready("ready")
                    } else {
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    }
                })
            };
            assert_eq!(
                evloop::wait_for(Duration::ZERO, counting(1)).await,
                Ok("ready")
            );
            assert_eq!(polls.get(), 1);
            polls.set(0);
            let error = evloop::wait_for(Duration::ZERO, counting(2))
                .await
                .unwrap_err();
            assert_eq!((polls.get(), error.after()), (1, Duration::ZERO));
            polls.set(0);
            let past = lp.time() - U;
            assert!(evloop::timeout_at(past, counting(2)).await.is_err());
            assert_eq!(polls.get(), 1);
            assert_eq!(units_since(&lp, start), 0, "no time passed");
        })
        .unwrap();
        lp.close().unwrap();
    });
}

#[test]
fn shield_survives_the_cancellation_of_its_awaiter() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let start = lp.time();
        let (life, work) = child(&lp, start, 4, End::Value(42));
        let outer_dropped = Rc::new(Cell::new(false));
        let outer = lp.spawn({
            let outer_dropped = outer_dropped.clone();
            async move {
                struct Flag(Rc<Cell<bool>>);
                impl Drop for Flag {
                    fn drop(&mut self) {
                        self.0.set(true);
                    }
                }
                let _flag = Flag(outer_dropped);
                evloop::shield(work).await
            }
        });
        lp.run_until_complete(async move {
            evloop::sleep(U).await;
            assert!(outer.cancel());
            assert_eq!(outer.await, Err(TaskError::Cancelled));
            evloop::sleep(U * 10).await;
        })
        .unwrap();
        assert!(outer_dropped.get());
        assert_eq!(life.ended.get(), Some(4), "the shielded work finished");
        assert_eq!(life.drops.get(), 1);
        assert_eq!(lp.task_count(), 0);
        lp.close().unwrap();
    });
}

#[test]
fn shield_under_wait_for_keeps_running_and_its_outcome_can_be_awaited() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let seen = record_exception_texts(&lp);
        let start = lp.time();
        let (_, work) = child(&lp, start, 5, End::Value(9));
        let (_, failing) = child(&lp, start, 3, End::Panic(1));
        lp.run_until_complete(async move {
            let lp = evloop::get_running_loop().unwrap();
            // asyncio: `task = shield(x); try: await wait_for(task, 2) except TimeoutError:
            // ...; await task`.
            let mut task = evloop::shield(work);
            assert!(evloop::wait_for(U * 2, &mut task).await.is_err());
            assert!(!task.is_done(), "not cancelled by the timeout");
            assert_eq!(task.await, Ok(9));
            assert_eq!(units_since(&lp, start), 5);
            // The shield gives the outcome, a panic included.
            assert_eq!(
                evloop::shield(failing).await,
                Err(TaskError::Panicked("child 1 failed".into()))
            );
        })
        .unwrap();
        assert!(seen.borrow().is_empty());
        lp.close().unwrap();
    });
}

/// `wait_for` needs no `'static` future: it may borrow.
#[test]
fn wait_for_accepts_a_borrowing_future() {
    deadline(BUDGET, || {
        let lp = virtual_loop();
        let text = String::from("borrowed");
        let len = lp
            .run_until_complete(evloop::wait_for(U, async { text.len() }))
            .unwrap();
        assert_eq!(len, Ok(8));
        fn assert_future<F: Future>(_: &F) {}
        assert_future(&evloop::timeout(U, async { &text }));
        lp.close().unwrap();
    });
}
