//! Timeouts: `wait_for`, `timeout` and `timeout_at` (asyncio's `wait_for` and `timeout`),
//! and their error, [`TimedOut`].
//!
//! A [`Timeout`] owns the inner future and a [`Sleep`] on the loop's clock (so the virtual
//! clock makes timeouts exact). Each poll polls the inner future first, then the sleep: a
//! value that is ready by the deadline is never thrown away. When the sleep fires first, the
//! inner future is dropped (that is cancellation in Rust) *before* `Err(TimedOut)` is
//! returned, so its cleanup has run when the caller sees the error.
//!
//! The deadline of `wait_for`/`timeout` is fixed at the first poll (when the `await` starts,
//! as in asyncio), before the inner future's first poll. A zero (or past) limit still polls
//! the inner future once: it completes if it can without waiting (asyncio 3.12).
//!
//! This file does not spawn anything: the inner future runs inside the caller's task.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::current::running_loop;
use crate::sleep::{sleep, sleep_until, Sleep};

/// The error of a future that did not finish in time (asyncio's `TimeoutError`).
///
/// Returned by [`wait_for`], [`timeout`], [`timeout_at`], and once by
/// [`AsCompleted::next`](crate::AsCompleted::next).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let error = evloop::run(async {
///     evloop::wait_for(Duration::from_millis(5), std::future::pending::<()>()).await
/// })
/// .unwrap()
/// .unwrap_err();
/// assert_eq!(error.after(), Duration::from_millis(5));
/// assert!(error.to_string().starts_with("timed out after 5ms"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimedOut {
    /// How long was allowed.
    after: Duration,
}

impl TimedOut {
    /// A timeout of `after`.
    pub(crate) fn after_duration(after: Duration) -> Self {
        TimedOut { after }
    }

    /// How long was allowed before giving up.
    pub fn after(&self) -> Duration {
        self.after
    }
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "timed out after {:?}; fix: allow more time (a longer timeout), or make the \
             awaited work finish sooner",
            self.after
        )
    }
}

impl std::error::Error for TimedOut {}

/// Awaits `future` for at most `limit` of loop time (asyncio's `wait_for(aw, timeout)`).
///
/// Resolves to `Ok(value)` if the future finished in time, else drops (cancels) it and
/// resolves to `Err(TimedOut)`. A future ready at the deadline keeps its value. A zero limit
/// polls the future once: it succeeds only if it completes without waiting. It is
/// [`timeout`] under asyncio's older name.
///
/// # Errors
///
/// [`TimedOut`] if `limit` passed first; the future was dropped by then.
///
/// # Panics
///
/// When polled outside a running loop (it needs the loop's clock), like [`sleep`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// evloop::run(async {
///     let quick = evloop::wait_for(Duration::from_secs(1), async { 42 }).await;
///     assert_eq!(quick, Ok(42));
///     let slow = evloop::wait_for(Duration::ZERO, evloop::sleep(Duration::from_secs(1))).await;
///     assert!(slow.is_err());
/// })
/// .unwrap();
/// ```
pub fn wait_for<F: Future>(limit: Duration, future: F) -> Timeout<F> {
    timeout(limit, future)
}

/// Awaits `future` for at most `limit` of loop time (asyncio's `async with timeout(limit)`).
///
/// The same future as [`wait_for`]; the limit counts from the first poll.
///
/// # Errors
///
/// [`TimedOut`] if `limit` passed first; the future was dropped by then.
///
/// # Panics
///
/// When polled outside a running loop, like [`sleep`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// evloop::run(async {
///     let work = async {
///         evloop::sleep(Duration::from_secs(10)).await;
///         "done"
///     };
///     let outcome = evloop::timeout(Duration::from_millis(10), work).await;
///     assert_eq!(outcome.unwrap_err().after(), Duration::from_millis(10));
/// })
/// .unwrap();
/// ```
pub fn timeout<F: Future>(limit: Duration, future: F) -> Timeout<F> {
    Timeout {
        future: Some(Box::pin(future)),
        timer: sleep(limit),
        limit: Limit::After(limit),
    }
}

/// Awaits `future` until the loop clock reads `deadline` (asyncio's `timeout_at`).
///
/// A deadline already past polls the future once. The [`TimedOut`] error reports the time
/// from the first poll to the deadline.
///
/// # Errors
///
/// [`TimedOut`] if the deadline passed first; the future was dropped by then.
///
/// # Panics
///
/// When polled outside a running loop, like [`sleep`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// evloop::run(async {
///     let lp = evloop::get_running_loop().unwrap();
///     let deadline = lp.time() + Duration::from_millis(20);
///     let first = evloop::timeout_at(deadline, evloop::sleep(Duration::from_millis(5))).await;
///     assert_eq!(first, Ok(()));
///     let second = evloop::timeout_at(deadline, evloop::sleep(Duration::from_secs(5))).await;
///     assert!(second.is_err());
///     assert!(lp.time() >= deadline);
/// })
/// .unwrap();
/// ```
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout {
        future: Some(Box::pin(future)),
        timer: sleep_until(deadline),
        limit: Limit::At(deadline),
    }
}

/// How a [`Timeout`]'s limit was given, for the `TimedOut` it may return.
#[derive(Debug, Clone, Copy)]
enum Limit {
    /// A duration, not polled yet.
    After(Duration),
    /// A deadline, not polled yet.
    At(Instant),
    /// Polled: the limit as a duration from the first poll.
    Started(Duration),
}

/// The future of [`wait_for`], [`timeout`] and [`timeout_at`]: `Ok(value)`, or
/// `Err(TimedOut)` once the inner future was dropped.
#[must_use = "a Timeout does nothing unless awaited"]
pub struct Timeout<F> {
    /// The inner future, boxed so it is pinned without unsafe; `None` once this future
    /// returned (dropped on timeout before returning).
    future: Option<Pin<Box<F>>>,
    /// The deadline's wake-up on the loop clock.
    timer: Sleep,
    /// The limit, turned into a duration at the first poll.
    limit: Limit,
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, TimedOut>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let Some(future) = this.future.as_mut() else {
            panic!("a Timeout was polled after it returned; fix: await it once");
        };
        // First poll: start the clock before the inner future runs.
        let mut expired = None;
        if let Limit::After(_) | Limit::At(_) = this.limit {
            this.limit = Limit::Started(match this.limit {
                Limit::At(deadline) => match running_loop() {
                    Some(lp) => deadline.saturating_duration_since(lp.time()),
                    None => Duration::ZERO,
                },
                Limit::After(limit) | Limit::Started(limit) => limit,
            });
            expired = Some(Pin::new(&mut this.timer).poll(cx).is_ready());
        }
        // The inner future first: a value ready at the deadline is kept.
        if let Poll::Ready(value) = future.as_mut().poll(cx) {
            this.future = None;
            // Release the wake-up now rather than when this future is dropped.
            this.timer = sleep(Duration::ZERO);
            return Poll::Ready(Ok(value));
        }
        let expired = expired.unwrap_or_else(|| Pin::new(&mut this.timer).poll(cx).is_ready());
        if !expired {
            return Poll::Pending;
        }
        // Cancel the inner future (its Drop runs now), then report.
        this.future = None;
        let Limit::Started(after) = this.limit else {
            unreachable!("the limit is started at the first poll")
        };
        Poll::Ready(Err(TimedOut::after_duration(after)))
    }
}

impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("limit", &self.limit)
            .field("returned", &self.future.is_none())
            .finish()
    }
}
