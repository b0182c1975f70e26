//! The loop's clock: the real monotonic clock, or a virtual one for tests.
//!
//! The real clock is `Instant::now()`. The virtual clock starts at the real "now" and only
//! moves when the loop has nothing to do but wait for a timer: then it jumps straight to that
//! timer's deadline instead of sleeping (tokio's paused clock with auto-advance). Programs
//! that are all timers run instantly and deterministically under it, which is what the
//! ordering tests and the proptest models need. I/O and threadsafe posts still work; the loop
//! only jumps when a non-blocking poll found nothing.
//!
//! This file does not decide when to jump; the timeout phase of `run_once.rs` does.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// How far in the future a "huge" delay saturates: about 30 years (tokio uses the same
/// horizon), far enough to never fire and small enough that `Instant` arithmetic never
/// overflows.
pub(crate) const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// The time source of one loop.
pub(crate) enum Clock {
    /// `Instant::now()`.
    Real,
    /// A virtual instant that `advance_to` moves forward when the loop would otherwise sleep.
    Virtual(Cell<Instant>),
}

impl Clock {
    /// The current loop time.
    pub(crate) fn now(&self) -> Instant {
        match self {
            Clock::Real => Instant::now(),
            Clock::Virtual(now) => now.get(),
        }
    }

    /// `true` for the virtual clock.
    pub(crate) fn is_virtual(&self) -> bool {
        matches!(self, Clock::Virtual(_))
    }

    // ANCHOR: advance_to
    /// Moves a virtual clock forward to `when` (never backwards); the real clock ignores it.
    pub(crate) fn advance_to(&self, when: Instant) {
        if let Clock::Virtual(now) = self {
            if when > now.get() {
                now.set(when);
            }
        }
    }
    // ANCHOR_END: advance_to

    // ANCHOR: deadline_after
    /// `now + delay`, saturating at [`FAR_FUTURE`] instead of panicking on overflow.
    pub(crate) fn deadline_after(&self, delay: Duration) -> Instant {
        let now = self.now();
        now.checked_add(delay.min(FAR_FUTURE))
            .unwrap_or(now + FAR_FUTURE)
    }
    // ANCHOR_END: deadline_after
}
