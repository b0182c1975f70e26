//! Where panics go that nobody can observe: the loop's exception handler.
//!
//! # The panic policy
//!
//! A panic never kills the loop. Every callback and every task poll runs under
//! `catch_unwind`, and the panic is delivered to exactly one place:
//!
//! - a task's panic goes to whoever awaits its `Task<T>`, as `TaskError::Panicked(message)`;
//! - if nobody can (the handle was dropped, before or after the panic), and for callbacks,
//!   which have no awaiter, it goes to the loop's exception handler, with a context saying
//!   where it came from (asyncio's `call_exception_handler(context)`).
//!
//! The default handler prints one line to stderr: `evloop: <message>: <panic message>`
//! (stderr rather than the `log` facade, so nothing is lost when no logger is installed).
//! Rust's own panic hook still prints its usual "thread panicked at" line first; silence it
//! with `std::panic::set_hook` if you must. The panic in `run_until_complete`'s own future is
//! not caught: it unwinds out of `run_until_complete` to its caller, as in tokio's `block_on`.
//!
//! This file does not catch panics; `run_once.rs` and `task/cell.rs` do.

use std::fmt;

/// Where an unobserved panic came from and what it said (asyncio's handler `context`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionContext {
    /// What happened, e.g. "Exception in callback".
    pub message: String,
    /// The panic message, if this context reports a panic.
    pub panic: Option<String>,
    /// The id of the task involved, if any.
    pub task_id: Option<u64>,
}

impl ExceptionContext {
    /// A context for a panicking callback.
    pub(crate) fn callback_panic(message: &str, panic: String) -> Self {
        ExceptionContext {
            message: message.to_owned(),
            panic: Some(panic),
            task_id: None,
        }
    }

    /// A context for a task's panic nobody can observe.
    pub(crate) fn task_panic(message: &str, task_id: u64, panic: String) -> Self {
        ExceptionContext {
            message: message.to_owned(),
            panic: Some(panic),
            task_id: Some(task_id),
        }
    }
}

impl fmt::Display for ExceptionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(id) = self.task_id {
            write!(f, " (task {id})")?;
        }
        if let Some(panic) = &self.panic {
            write!(f, ": {panic}")?;
        }
        Ok(())
    }
}

/// The handler type accepted by [`EventLoop::set_exception_handler`](crate::EventLoop::set_exception_handler).
pub type ExceptionHandler = dyn Fn(&ExceptionContext);

/// The default handler: one line on stderr (asyncio's `default_exception_handler`).
pub fn default_exception_handler(context: &ExceptionContext) {
    eprintln!("evloop: {context}");
}
