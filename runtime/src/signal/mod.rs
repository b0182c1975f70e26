//! Unix signals on the loop: handlers ([`EventLoop::add_signal_handler`]), awaiting a signal
//! ([`signal`], [`ctrl_c`]), and Ctrl-C in [`run`](crate::run).
//!
//! # How a signal reaches the loop
//!
//! A signal handler runs at an arbitrary moment on an arbitrary thread, where nearly nothing
//! is allowed. So the handler only writes a byte into a *self-pipe*, and the loop does the rest
//! in its own time, like asyncio (`signal.set_wakeup_fd`) and tokio:
//!
//! 1. **hook** (`process.rs`): the first handler or listener of a signal on a loop creates a
//!    Unix stream pair for that loop and signal, and signal-hook registers an action that
//!    writes one byte into it at each delivery;
//! 2. **wake** (`reactor.rs`): the read end is registered with the loop's reactor under
//!    `SIGNAL_TOKEN`, so a delivery wakes a loop blocked in `epoll_wait`; a second action sets
//!    the loop's `arrived` flag, so a busy loop polls (a syscall) only once a signal came;
//! 3. **dispatch** (`loop_signals.rs`): the poll phase reads every pipe of the loop until it
//!    would block, queues one run of the handler per byte with `call_soon`, and wakes the
//!    listeners; the handler runs in the same iteration's run phase, as a normal callback.
//!
//! One pipe per signal and loop (two file descriptors each): the pipe says which signal, the
//! number of bytes says how many deliveries, and several loops on several threads each get
//! every delivery. Closing the loop unhooks everything it hooked.
//!
//! # What is guaranteed
//!
//! - A handler runs once per delivery its pipe recorded, on the loop thread, never inside the
//!   signal handler, in the context it was added from; its panic goes to the exception
//!   handler. The kernel merges a signal sent again before its handler ran, and a pipe that
//!   is full (a loop that does not run while thousands of signals arrive) drops bytes, so
//!   "once per delivery" means once per delivery the process saw, at most that many.
//! - A delivery that arrives while the loop is not running waits in the pipe and is handled
//!   at the next run.
//! - After [`EventLoop::remove_signal_handler`] or a replacement, the old handler never runs
//!   again, not even a run already queued.
//! - A [`Signal`] or [`CtrlC`] sees every delivery after it started listening (and one that
//!   arrived just before but was not read by the loop yet); a [`Signal::recv`] coalesces the
//!   deliveries since the previous one.
//! - When no loop listens to a signal any more, the signal does again what its default
//!   action does (asyncio's `remove_signal_handler` puts `SIG_DFL` back). signal-hook cannot
//!   uninstall its OS handler, so evloop *emulates* the default action from inside it; see
//!   `process.rs` for what that cannot restore (a signal ignored at start-up, or a handler
//!   installed with signal-hook before evloop hooked the signal).
//!
//! The constants here are Linux's numbers (signal-hook's, from `libc`).

use std::fmt;
use std::io;

use crate::event_loop::EventLoop;

mod interrupt;
mod listen;
mod loop_signals;
mod process;

pub(crate) use interrupt::Interrupt;
pub use listen::{ctrl_c, signal, CtrlC, Signal};
pub(crate) use loop_signals::LoopSignals;
pub use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};

/// A signal handler or listener refused, with a message that names the fix.
#[derive(Debug)]
pub enum SignalError {
    /// SIGKILL or SIGSTOP, which no process can catch, or SIGSEGV, SIGILL or SIGFPE, whose
    /// handler must not return (signal-hook's `FORBIDDEN`). asyncio: "sig N cannot be caught".
    Forbidden(i32),
    /// The loop is closed. asyncio: "Event loop is closed".
    Closed,
    /// [`signal`] or [`ctrl_c`] outside a running loop.
    NoRunningLoop,
    /// The OS refused the handler or the self-pipe: an invalid signal number (asyncio:
    /// "sig N out of range"), or no file descriptor left.
    Os {
        /// The signal asked for.
        signum: i32,
        /// What the OS said.
        error: io::Error,
    },
}

/// `SIGINT` for 2, or `signal 99` for a number signal-hook has no name for.
fn name(signum: i32) -> String {
    match signal_hook::low_level::signal_name(signum) {
        Some(name) => format!("{name} ({signum})"),
        None => format!("signal {signum}"),
    }
}

impl fmt::Display for SignalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignalError::Forbidden(signum) => write!(
                f,
                "{} cannot be handled: SIGKILL and SIGSTOP cannot be caught, and a handler of \
                 SIGSEGV, SIGILL or SIGFPE must not return (asyncio: 'cannot be caught'); \
                 fix: handle a signal meant for programs, such as SIGINT, SIGTERM, SIGHUP, \
                 SIGUSR1 or SIGUSR2 (evloop::signal::SIGTERM, ...)",
                name(*signum)
            ),
            SignalError::Closed => f.write_str(
                "Event loop is closed: no signal can reach it; fix: add signal handlers and \
                 listeners before close(), or on a new EventLoop",
            ),
            SignalError::NoRunningLoop => f.write_str(
                "no running event loop on this thread to deliver the signal to; fix: call \
                 evloop::signal::signal() / await evloop::ctrl_c() from a task run by the loop \
                 (or evloop::run), or use EventLoop::add_signal_handler on a loop you hold",
            ),
            SignalError::Os { signum, error } => write!(
                f,
                "could not hook {}: {error}; fix: pass a valid signal number such as \
                 evloop::signal::SIGTERM, or, if file descriptors ran out, close loops you \
                 no longer use or raise the limit (ulimit -n)",
                name(*signum)
            ),
        }
    }
}

impl std::error::Error for SignalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SignalError::Os { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl From<SignalError> for io::Error {
    /// An `io::Error` of kind `Other` wrapping the `SignalError` (what [`CtrlC`] resolves to).
    fn from(error: SignalError) -> io::Error {
        io::Error::other(error)
    }
}

impl EventLoop {
    /// Runs `callback` on this loop each time `signum` is delivered to the process (asyncio's
    /// `loop.add_signal_handler`). Replaces the handler `signum` had on this loop.
    ///
    /// The callback runs as a normal loop callback, never inside the signal handler: once
    /// per delivery, in the context this was called from, its panic reported to the
    /// exception handler (see the [module docs](crate::signal) for the guarantees). A handler
    /// for SIGINT takes Ctrl-C away from [`run`](crate::run): its main future is then not
    /// cancelled.
    ///
    /// # Errors
    ///
    /// [`SignalError::Forbidden`] for SIGKILL, SIGSTOP, SIGSEGV, SIGILL and SIGFPE;
    /// [`SignalError::Closed`] on a closed loop; [`SignalError::Os`] for an invalid signal
    /// number, or if no file descriptor is left for the self-pipe.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use std::time::Duration;
    /// use evloop::signal::SIGUSR1;
    ///
    /// let lp = evloop::EventLoop::new().unwrap();
    /// let seen = Rc::new(Cell::new(0));
    /// let counter = seen.clone();
    /// lp.add_signal_handler(SIGUSR1, move || counter.set(counter.get() + 1)).unwrap();
    /// signal_hook::low_level::raise(SIGUSR1).unwrap(); // as if `kill -USR1 <pid>`
    /// lp.run_until_complete(async {
    ///     while seen.get() == 0 {
    ///         evloop::sleep(Duration::from_millis(1)).await;
    ///     }
    /// })
    /// .unwrap();
    /// assert_eq!(seen.get(), 1);
    /// assert!(lp.remove_signal_handler(SIGUSR1));
    /// lp.close().unwrap();
    /// ```
    pub fn add_signal_handler(
        &self,
        signum: i32,
        callback: impl Fn() + 'static,
    ) -> Result<(), SignalError> {
        let handler = loop_signals::Handler::new(Box::new(callback));
        let core = &self.core;
        let replaced = core.signals.set_handler(core, signum, handler)?;
        drop(replaced); // under no borrow: it may be the user's last reference to something
        Ok(())
    }

    /// Removes the handler of `signum` (asyncio's `loop.remove_signal_handler`); returns
    /// whether there was one. It never runs again, not even a run already queued; once no
    /// loop listens to `signum`, the signal's default action is back.
    ///
    /// # Examples
    ///
    /// ```
    /// use evloop::signal::SIGUSR2;
    ///
    /// let lp = evloop::EventLoop::new().unwrap();
    /// assert!(!lp.remove_signal_handler(SIGUSR2));
    /// lp.add_signal_handler(SIGUSR2, || println!("USR2")).unwrap();
    /// assert!(lp.remove_signal_handler(SIGUSR2));
    /// assert!(!lp.remove_signal_handler(SIGUSR2));
    /// ```
    pub fn remove_signal_handler(&self, signum: i32) -> bool {
        let core = &self.core;
        let removed = core.signals.remove_handler(core, signum);
        removed.is_some()
    }
}
