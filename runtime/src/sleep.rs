//! Futures that wait on the loop's clock: `sleep`, `sleep_until`, and `yield_now`.
//!
//! A [`Sleep`] is a timer in disguise: its first poll files the polling task (or a clone of
//! its waker, for a foreign waker) with the timers as a *sleeper* (no callback, no allocation
//! beyond the slab slot); dropping the `Sleep` cancels the sleeper (lazily purged, see
//! `timers.rs`). It completes once the loop clock reads its deadline or later, so it never
//! completes early. [`YieldNow`] wakes its task at once and returns `Pending` once: the task
//! goes to the back of the ready queue and runs again next iteration (asyncio's `sleep(0)`).
//!
//! These futures use the running loop at poll time; polled outside one, they panic with the
//! `NoRunningLoop` message.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::current::running_loop;
use crate::error::LoopError;
use crate::timers::SleeperKey;

/// Waits for `delay` of loop time (asyncio's `sleep`). Huge delays saturate (never fire).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// evloop::run(async {
///     let lp = evloop::get_running_loop().unwrap();
///     let start = lp.time();
///     evloop::sleep(Duration::from_millis(5)).await;
///     assert!(lp.time() - start >= Duration::from_millis(5));
/// }).unwrap();
/// ```
pub fn sleep(delay: Duration) -> Sleep {
    Sleep {
        deadline: Deadline::After(delay),
        sleeper: None,
    }
}

/// Waits until the loop clock reads `deadline` (tokio's `sleep_until`).
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline: Deadline::At(deadline),
        sleeper: None,
    }
}

/// Yields to the loop once: everything already ready runs before this task continues.
///
/// # Examples
///
/// ```
/// evloop::run(async { evloop::yield_now().await }).unwrap();
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// When a [`Sleep`] ends: relative until its first poll fixes it against the loop clock.
#[derive(Debug, Clone, Copy)]
enum Deadline {
    /// `sleep(delay)`, not polled yet.
    After(Duration),
    /// A fixed loop time.
    At(Instant),
}

/// The future returned by [`sleep`] and [`sleep_until`]. It is `Send`, so futures handed to
/// [`LoopHandle::spawn_threadsafe`](crate::LoopHandle::spawn_threadsafe) can sleep.
///
/// ```
/// fn assert_send<T: Send>(_: &T) {}
/// assert_send(&evloop::sleep(std::time::Duration::from_millis(1)));
/// ```
#[derive(Debug)]
#[must_use = "a Sleep does nothing unless awaited"]
pub struct Sleep {
    /// When it ends.
    deadline: Deadline,
    /// The loop id and sleeper key of the registered wake-up, once polled (plain data, so
    /// the future stays `Send`).
    sleeper: Option<(u64, SleeperKey)>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let lp = running_loop().unwrap_or_else(|| {
            panic!(
                "evloop::sleep polled outside a loop: {}",
                LoopError::NoRunningLoop
            )
        });
        let core = &lp.core;
        let deadline = match self.deadline {
            Deadline::At(when) => when,
            Deadline::After(delay) => {
                // First poll: fix the deadline against the clock; it is due now only if the
                // delay is zero.
                let when = core.clock.deadline_after(delay);
                self.deadline = Deadline::At(when);
                if delay.is_zero() {
                    return Poll::Ready(());
                }
                when
            }
        };
        // Due? The last timer phase's clock reading answers without a syscall when it is
        // already past the deadline (that is how a woken sleeper finds itself due).
        let due =
            core.last_now.get().is_some_and(|now| now >= deadline) || core.clock.now() >= deadline;
        if due {
            // Careful: a sleeper that fired is already gone; one still in the heap (polled
            // early by another wake, at or after its deadline) fires once more, harmlessly.
            self.sleeper = None;
            return Poll::Ready(());
        }
        let target = core.wake_target(cx.waker());
        // Already registered on this loop: make sure it wakes the current task.
        let target = match self.sleeper {
            Some((loop_id, sleeper)) if loop_id == core.id => {
                let rearmed = core.timers.borrow_mut().rearm_sleeper(sleeper, target);
                match rearmed {
                    Ok(unused) => {
                        drop(unused);
                        return Poll::Pending;
                    }
                    Err(target) => target,
                }
            }
            _ => target,
        };
        let sleeper = core.timers.borrow_mut().push_sleeper(deadline, target);
        self.sleeper = Some((core.id, sleeper));
        Poll::Pending
    }
}

impl Sleep {
    /// Removes the registered wake-up, if this thread runs the loop that holds it. Elsewhere
    /// (another thread, or after the loop stopped) the wake-up is left to fire harmlessly.
    fn cancel_sleeper(&mut self) {
        let Some((loop_id, sleeper)) = self.sleeper.take() else {
            return;
        };
        if let Some(lp) = running_loop() {
            if lp.core.id == loop_id {
                let target = lp.core.timers.borrow_mut().cancel_sleeper(sleeper);
                drop(target);
            }
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel_sleeper();
    }
}

/// The future returned by [`yield_now`].
#[derive(Debug)]
#[must_use = "yield_now does nothing unless awaited"]
pub struct YieldNow {
    /// Whether it already returned `Pending` once.
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
