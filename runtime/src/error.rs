//! The errors a user of the loop can hit, each with a message that names the fix.
//!
//! # The error design
//!
//! evloop splits misuse into two kinds, the same way tokio and the standard library do:
//!
//! - **Conditions a program can meet at run time and may want to handle** return a
//!   [`LoopError`]: running a loop while another runs on the same thread, running a closed
//!   loop, closing a running loop (closing a closed loop is a no-op, as in asyncio), asking for the running loop where there is none,
//!   a run interrupted by Ctrl-C. Signal handlers have their own `signal::SignalError`.
//!   The threadsafe calls return [`LoopClosed`], which hands the refused closure or future
//!   back, because a foreign thread cannot know when the loop closes.
//! - **Scheduling on a loop you closed yourself** (`call_soon`, `call_later`, `call_at`,
//!   `spawn` on a closed [`EventLoop`](crate::EventLoop)) and calling the free [`spawn`](crate::spawn)
//!   outside a loop are programming errors: they panic with the same message a `LoopError` would
//!   print, like `tokio::spawn` outside a runtime. asyncio raises `RuntimeError` for both.
//!
//! The outcome of a task is not a loop error: it is a [`TaskError`] (cancelled or panicked),
//! delivered to whoever awaits the task.
//!
//! This file does not decide *when* an error is raised; `event_loop.rs` and `remote.rs` do.

use std::fmt;

/// A misuse of an [`EventLoop`](crate::EventLoop), refused with a message that names the fix.
///
/// Every variant's `Display` text starts with asyncio's wording where asyncio has one, so a
/// search for the Python message finds the Rust one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoopError {
    /// `run_until_complete`/`run_forever` was called while an event loop (this one or another)
    /// is already running on this thread. asyncio: "Cannot run the event loop while another
    /// loop is running" / "This event loop is already running".
    NestedRun,
    /// The loop was closed; nothing can run on it any more. asyncio: "Event loop is closed".
    Closed,
    /// `close()` was called while the loop is running. asyncio: "Cannot close a running event
    /// loop".
    CloseWhileRunning,
    /// No event loop is running on this thread (from `get_running_loop()` or `spawn()`).
    /// asyncio: "no running event loop".
    NoRunningLoop,
    /// `run_until_complete` returned because `stop()` was called before its future finished.
    /// asyncio: "Event loop stopped before Future completed."
    StoppedBeforeComplete,
    /// The OS refused a poller or its waker while creating a loop (the text is the OS
    /// error), usually because the process ran out of file descriptors.
    Create(String),
    /// `evloop::run` was interrupted by SIGINT (Ctrl-C): it cancelled (dropped) the main
    /// future, let every task unwind and closed the loop. asyncio raises `KeyboardInterrupt`.
    Interrupted,
}

impl fmt::Display for LoopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            LoopError::NestedRun => {
                "cannot run the event loop while another loop is running on this thread \
                 (asyncio: 'cannot be called from a running event loop'); \
                 fix: `.await` the future from inside the running loop instead, \
                 or run the second loop on its own thread with evloop::LoopThread"
            }
            LoopError::Closed => {
                "Event loop is closed; fix: create a new EventLoop (or use evloop::run, \
                 which creates and closes one for you)"
            }
            LoopError::CloseWhileRunning => {
                "cannot close a running event loop; fix: call stop() and close() once \
                 run_forever()/run_until_complete() has returned"
            }
            LoopError::NoRunningLoop => {
                "no running event loop on this thread; fix: call this from a task or callback \
                 run by EventLoop::run_until_complete / run_forever (or evloop::run), or use the \
                 methods of an EventLoop you hold"
            }
            LoopError::StoppedBeforeComplete => {
                "Event loop stopped before Future completed; fix: do not call stop() while \
                 run_until_complete() is waiting, or use run_forever() if you mean to stop"
            }
            LoopError::Interrupted => {
                "interrupted by SIGINT (Ctrl-C): the main future was cancelled and every task \
                 unwound (asyncio: KeyboardInterrupt); fix: nothing if the user meant to stop \
                 the program (exit with status 130, as shells expect), or handle Ctrl-C \
                 yourself with evloop::ctrl_c() or EventLoop::add_signal_handler(SIGINT, ..) \
                 and run() leaves it to you"
            }
            LoopError::Create(os_error) => {
                return write!(
                    f,
                    "could not create the event loop's poller: {os_error}; fix: close loops \
                     you no longer use, or raise the file descriptor limit (ulimit -n)"
                );
            }
        };
        f.write_str(text)
    }
}

impl std::error::Error for LoopError {}

/// How a task ended, when it did not end with its value.
///
/// `Task<T>` resolves to `Result<T, TaskError>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskError {
    /// The task was cancelled (by `Task::cancel`, by `close()`, or by `evloop::run` cancelling
    /// leftovers) before it finished; its future was dropped on the loop thread.
    Cancelled,
    /// The task's future panicked; the string is the panic message.
    Panicked(String),
}

impl TaskError {
    /// `true` for [`TaskError::Cancelled`].
    pub fn is_cancelled(&self) -> bool {
        matches!(self, TaskError::Cancelled)
    }

    /// `true` for [`TaskError::Panicked`].
    pub fn is_panic(&self) -> bool {
        matches!(self, TaskError::Panicked(_))
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Cancelled => f.write_str("task was cancelled"),
            TaskError::Panicked(message) => write!(f, "task panicked: {message}"),
        }
    }
}

impl std::error::Error for TaskError {}

/// A threadsafe call refused because the loop is closed; it hands back what it was given.
///
/// Returned by [`LoopHandle::call_soon_threadsafe`](crate::LoopHandle::call_soon_threadsafe)
/// and [`LoopHandle::spawn_threadsafe`](crate::LoopHandle::spawn_threadsafe). The closure or
/// future inside never ran and never will: take it back with [`LoopClosed::into_inner`], or drop
/// the error to drop it.
pub struct LoopClosed<T>(pub T);

impl<T> LoopClosed<T> {
    /// Takes back the closure or future that the closed loop refused.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for LoopClosed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LoopClosed(..)")
    }
}

impl<T> fmt::Display for LoopClosed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "Event loop is closed: the call was refused and handed back unrun; \
             fix: post to a loop that is still open (check LoopHandle::is_closed), \
             or stop posting before you close it",
        )
    }
}

impl<T> std::error::Error for LoopClosed<T> {}

/// Turns a panic payload into the message it carried (`&str` or `String`), or a placeholder.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}
