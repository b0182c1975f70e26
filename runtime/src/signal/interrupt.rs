//! `evloop::run`'s Ctrl-C: asyncio.Runner's SIGINT handling.
//!
//! On the main thread, `run` installs an [`Interrupt`] for the duration of the run:
//!
//! 1. the first SIGINT cancels the main future: [`Interrupt::race`] stops polling it and drops
//!    it, inside the loop; `run` then does its normal shutdown (every task left is cancelled
//!    and unwinds, the loop closes) and returns `Err(LoopError::Interrupted)`;
//! 2. a second SIGINT exits the process at once with status 130 (128 + SIGINT, what a shell
//!    reports for Ctrl-C), even if the loop is stuck in a cleanup that never ends.
//!
//! Step 2 cannot wait for the loop, so it happens inside the signal handler: two signal-hook
//! actions, registered in this order, share one flag: `register_conditional_shutdown` exits
//! if the flag is set, then `flag::register` sets it. The first SIGINT passes the first action
//! and sets the flag; the second one exits.
//!
//! The program's own Ctrl-C handling wins: the interrupt listens as a *fallback*
//! (`loop_signals.rs`), so a SIGINT that arrives while the loop has a SIGINT handler
//! (`add_signal_handler`) or another listener (`ctrl_c()`, `signal(SIGINT)`) goes to them
//! instead; the interrupt then clears the flag, so the next SIGINT does not exit either. (If
//! the loop is stuck before it could clear it, the next SIGINT does exit: a safety net.)
//!
//! Dropping the `Interrupt` (after the loop closed) removes both actions and the listener, so
//! SIGINT does again what it did before the run (see `process.rs` for the fine print).
//!
//! asyncio installs its handler only when SIGINT has Python's default handler; evloop cannot
//! see the OS disposition without `unsafe`, so it installs on the main thread (the thread
//! whose name is `"main"`) and never elsewhere: tests and loops on other threads are untouched.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;

use signal_hook::low_level::unregister;
use signal_hook::SigId;

use super::listen::Signal;
use super::SIGINT;
use crate::event_loop::EventLoop;

/// The exit status of the second SIGINT: 128 + SIGINT, as a shell reports Ctrl-C.
pub(crate) const EXIT_STATUS: i32 = 128 + SIGINT;

/// `run`'s SIGINT handling, installed for one run (module docs).
pub(crate) struct Interrupt {
    /// The fallback listener on the run's loop: the first SIGINT meant for `run`.
    signal: Signal,
    /// Set by every SIGINT in the handler; while set, the next SIGINT exits the process.
    /// Cleared by the loop when a SIGINT went to the program's own handling.
    armed: Arc<AtomicBool>,
    /// The `register_conditional_shutdown` action (status 130 if `armed`).
    exit_if_armed: SigId,
    /// The `flag::register` action that sets `armed`, registered after `exit_if_armed`.
    arm: SigId,
}

impl Interrupt {
    /// Installs the SIGINT handling on `event_loop` if this is the main thread; `None`
    /// elsewhere, or if the OS refuses (the run then goes on without it).
    pub(crate) fn install(event_loop: &EventLoop) -> Option<Interrupt> {
        if std::thread::current().name() != Some("main") {
            return None;
        }
        let signal = Signal::on(event_loop, SIGINT, true).ok()?;
        let armed = Arc::new(AtomicBool::new(false));
        // Order matters: the exit checks the flag before the arming sets it.
        let exit_if_armed =
            signal_hook::flag::register_conditional_shutdown(SIGINT, EXIT_STATUS, armed.clone())
                .ok()?;
        let Ok(arm) = signal_hook::flag::register(SIGINT, armed.clone()) else {
            unregister(exit_if_armed);
            return None;
        };
        Some(Interrupt {
            signal,
            armed,
            exit_if_armed,
            arm,
        })
    }

    // ANCHOR: race
    /// Polls `future` until it completes (`Some(output)`) or a SIGINT meant for `run` arrives
    /// (`None`); either way `future` is dropped before this returns, inside the loop.
    pub(crate) async fn race<F: Future>(&mut self, future: F) -> Option<F::Output> {
        let mut future = pin!(future);
        poll_fn(|cx| {
            if let Poll::Ready(output) = future.as_mut().poll(cx) {
                return Poll::Ready(Some(output));
            }
            // A SIGINT the program handled itself: it is theirs, so no exit at the next one.
            if self.signal.take_passed() > 0 {
                self.armed.store(false, Ordering::SeqCst);
            }
            match self.signal.poll_recv(cx) {
                Poll::Ready(Some(())) => Poll::Ready(None),
                Poll::Ready(None) | Poll::Pending => Poll::Pending,
            }
        })
        .await
    }
    // ANCHOR_END: race
}

impl Drop for Interrupt {
    fn drop(&mut self) {
        // The exit first: between the two, a SIGINT may set the flag but never exits.
        unregister(self.exit_if_armed);
        unregister(self.arm);
    }
}
