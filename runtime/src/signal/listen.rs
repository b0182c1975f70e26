//! Awaiting a signal: [`Signal`] (tokio's `signal::unix::signal`) and [`CtrlC`] (tokio's
//! `signal::ctrl_c`).
//!
//! Both are listeners in the loop's signal table (`loop_signals.rs`). A listener counts the
//! deliveries since it last returned; [`Signal::recv`] takes them all at once, so deliveries
//! that arrive while nobody awaits are *coalesced* into one `recv`, as in tokio. Several
//! listeners of the same signal each see every delivery.
//!
//! This file does not hook signals or read pipes; the table does.

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::loop_signals::Listener;
use super::{SignalError, SIGINT};
use crate::current::running_loop;
use crate::event_loop::EventLoop;

/// A stream of deliveries of one signal to the running loop (tokio's `Signal`).
///
/// Made by [`signal`]. Listening starts when it is created: each [`recv`](Signal::recv)
/// resolves once at least one delivery arrived since the previous `recv` resolved (or since
/// the `Signal` was made); deliveries in between are coalesced into one. Dropping it stops
/// listening (and once nobody on the process listens, the signal does what it did before:
/// see the [module docs](crate::signal)).
///
/// # Examples
///
/// ```
/// use evloop::signal::{signal, SIGUSR1};
///
/// evloop::run(async {
///     let mut usr1 = signal(SIGUSR1).unwrap();
///     signal_hook::low_level::raise(SIGUSR1).unwrap(); // as if `kill -USR1 <pid>`
///     assert_eq!(usr1.recv().await, Some(()));
/// })
/// .unwrap();
/// ```
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<evloop::signal::Signal>(); // a listener stays on its loop's thread
/// ```
pub struct Signal {
    /// The loop whose signal table holds the listener.
    event_loop: EventLoop,
    /// The signal number.
    signum: i32,
    /// The listener in that table.
    listener: Rc<Listener>,
}

/// Starts listening to `signum` on the running loop (tokio's `signal::unix::signal`).
///
/// # Errors
///
/// [`SignalError::NoRunningLoop`] outside a running loop; [`SignalError::Forbidden`] for
/// SIGKILL, SIGSTOP, SIGSEGV, SIGILL and SIGFPE; [`SignalError::Os`] for an invalid signal
/// number or when no file descriptor is left for the self-pipe.
///
/// # Examples
///
/// ```
/// use evloop::signal::{signal, SignalError, SIGTERM};
///
/// assert!(matches!(signal(SIGTERM), Err(SignalError::NoRunningLoop)));
/// evloop::run(async {
///     let sigkill = signal_hook::consts::SIGKILL;
///     assert!(matches!(signal(sigkill), Err(SignalError::Forbidden(_))));
/// })
/// .unwrap();
/// ```
pub fn signal(signum: i32) -> Result<Signal, SignalError> {
    let event_loop = running_loop().ok_or(SignalError::NoRunningLoop)?;
    Signal::on(&event_loop, signum, false)
}

impl Signal {
    /// Listens to `signum` on `event_loop`; a `fallback` listener gets a delivery only when
    /// nobody else on the loop wants it (`run`'s interrupt).
    pub(crate) fn on(
        event_loop: &EventLoop,
        signum: i32,
        fallback: bool,
    ) -> Result<Signal, SignalError> {
        let listener = event_loop
            .core
            .signals
            .listen(&event_loop.core, signum, fallback)?;
        Ok(Signal {
            event_loop: event_loop.clone(),
            signum,
            listener,
        })
    }

    /// The signal number it listens to.
    pub fn signum(&self) -> i32 {
        self.signum
    }

    /// Waits for the next delivery: `Some(())`, or `None` once the loop closed (no delivery
    /// will ever come). Cancel-safe: dropping the future loses no delivery.
    pub async fn recv(&mut self) -> Option<()> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for a delivery (the poll form of [`recv`](Signal::recv)); keeps `cx`'s waker if
    /// there is none yet.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        if self.listener.take_pending() > 0 {
            return Poll::Ready(Some(()));
        }
        if self.listener.is_closed() {
            return Poll::Ready(None);
        }
        self.listener.set_waker(cx.waker());
        Poll::Pending
    }

    /// Deliveries this fallback listener let someone else have since the last call.
    pub(crate) fn take_passed(&self) -> u64 {
        self.listener.take_passed()
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        let core = &self.event_loop.core;
        core.signals.unlisten(core, self.signum, &self.listener);
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("signum", &self.signum)
            .finish_non_exhaustive()
    }
}

/// Resolves at the next SIGINT (Ctrl-C) after it is first polled (tokio's `ctrl_c`).
///
/// Listening starts at the first poll, on the loop running then. Every `CtrlC` awaiting at
/// the time of a SIGINT resolves. While a program awaits Ctrl-C itself, [`run`](crate::run)
/// leaves that SIGINT to it (its main future is not cancelled).
///
/// # Errors
///
/// The future resolves to an `io::Error` (of kind `Other`, wrapping a [`SignalError`]) when
/// first polled outside a running loop, if the OS refuses the self-pipe, or when the loop
/// closes before a SIGINT came.
///
/// # Examples
///
/// ```no_run
/// evloop::run(async {
///     let work = evloop::spawn(async { /* serve until told to stop */ });
///     evloop::ctrl_c().await.unwrap();
///     println!("Ctrl-C: shutting down");
///     work.cancel();
/// })
/// .unwrap();
/// ```
pub fn ctrl_c() -> CtrlC {
    CtrlC {
        state: State::Unpolled,
    }
}

/// The future of [`ctrl_c`].
#[must_use = "futures do nothing unless polled"]
pub struct CtrlC {
    /// Where it is in its life.
    state: State,
}

/// The states of a [`CtrlC`].
enum State {
    /// Not polled yet: not listening.
    Unpolled,
    /// Listening since the first poll.
    Listening(Signal),
    /// Resolved; the listener is gone.
    Done,
}

impl Future for CtrlC {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let State::Unpolled = this.state {
            match signal(SIGINT) {
                Ok(listening) => this.state = State::Listening(listening),
                Err(error) => {
                    this.state = State::Done;
                    return Poll::Ready(Err(error.into()));
                }
            }
        }
        let State::Listening(listening) = &mut this.state else {
            panic!("CtrlC polled after it resolved; fix: call evloop::ctrl_c() again");
        };
        let outcome = match listening.poll_recv(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Some(())) => Ok(()),
            Poll::Ready(None) => Err(SignalError::Closed.into()),
        };
        this.state = State::Done;
        Poll::Ready(outcome)
    }
}

impl fmt::Debug for CtrlC {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Unpolled => "unpolled",
            State::Listening(_) => "listening",
            State::Done => "done",
        };
        f.debug_struct("CtrlC").field("state", &state).finish()
    }
}
