//! The one error type of the pools: why a job has no value.
//!
//! A job handle resolves to `Result<T, JobError>`; a refused submission returns a `JobError`
//! too (`ShutDown`, `BrokenPool`), so a caller handles one type. Every message names what
//! happened and, where there is one, the fix. Errors are plain data (`Clone`, `Send`), so they
//! cross threads and process boundaries.
//!
//! This file does not decide *when* an error happens; the pools and `job.rs` do.

use std::fmt;

/// How a worker process ended, as `waitpid` reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerExit {
    /// The exit code, when the worker called `exit` (`None` if a signal killed it).
    pub code: Option<i32>,
    /// The signal that killed it (`None` if it exited), e.g. 9 for SIGKILL, 11 for SIGSEGV.
    pub signal: Option<i32>,
}

impl fmt::Display for WorkerExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code, self.signal) {
            (_, Some(signal)) => write!(f, "killed by signal {signal}"),
            (Some(code), None) => write!(f, "exited with code {code}"),
            (None, None) => f.write_str("ended for an unknown reason"),
        }
    }
}

/// Why a job produced no value, or why a pool refused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError {
    /// The job was cancelled (`cancel`, `abort`, or a shutdown with `cancel_pending`) before
    /// it produced a value.
    Cancelled,
    /// The job panicked; the message is the panic payload. The worker lives on.
    Panicked(String),
    /// The job ran past its timeout; the pool stopped it (a process pool kills its worker).
    TimedOut,
    /// The worker process running the job died (abort, segfault, `exit`, SIGKILL). Only this
    /// job fails; a fresh worker replaces the dead one.
    WorkerDied(WorkerExit),
    /// The pool cannot run jobs any more (an initializer failed, workers keep dying at start,
    /// a registration mismatch). The message says which and how to fix it.
    BrokenPool(String),
    /// The pool was shut down before this submission: create a new pool, or submit before
    /// calling `shutdown`.
    ShutDown,
    /// `result_timeout` gave up waiting; the job is still queued or running. Call again.
    WaitTimedOut,
    /// The value was already taken from this handle (by `result_timeout` or an `.await`).
    AlreadyRetrieved,
    /// A process-pool frame was oversized or corrupt, or a value failed to (de)serialize.
    Protocol(String),
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobError::Cancelled => f.write_str("the job was cancelled"),
            JobError::Panicked(message) => write!(f, "the job panicked: {message}"),
            JobError::TimedOut => f.write_str("the job ran past its timeout and was stopped"),
            JobError::WorkerDied(exit) => write!(
                f,
                "the worker process running the job died ({exit}); a fresh worker replaces it"
            ),
            JobError::BrokenPool(why) => write!(f, "the pool is broken: {why}"),
            JobError::ShutDown => f.write_str(
                "the pool was shut down: create a new pool, or submit before calling shutdown",
            ),
            JobError::WaitTimedOut => f.write_str(
                "the job is not finished yet (result_timeout gave up waiting; call it again)",
            ),
            JobError::AlreadyRetrieved => {
                f.write_str("the job's value was already taken from this handle")
            }
            JobError::Protocol(why) => write!(f, "process pool protocol error: {why}"),
        }
    }
}

impl std::error::Error for JobError {}

/// A non-blocking submission that was refused; the job is handed back.
pub enum TrySubmitError<J> {
    /// The bounded queue is full: try again later, `submit` (blocks), or `submit_async`.
    Full(J),
    /// The pool refused the job for good (`JobError::ShutDown` or `JobError::BrokenPool`).
    Refused(J, JobError),
}

impl<J> TrySubmitError<J> {
    /// The job that was refused.
    pub fn into_job(self) -> J {
        match self {
            TrySubmitError::Full(job) | TrySubmitError::Refused(job, _) => job,
        }
    }
}

impl<J> fmt::Display for TrySubmitError<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySubmitError::Full(_) => f.write_str(
                "the pool's queue is full: retry later, or use submit (blocks) or submit_async",
            ),
            TrySubmitError::Refused(_, error) => write!(f, "{error}"),
        }
    }
}

// By hand, so that a closure job (never `Debug`) still allows `try_submit(f).unwrap()`.
impl<J> fmt::Debug for TrySubmitError<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySubmitError::Full(_) => f.write_str("Full(..)"),
            TrySubmitError::Refused(_, error) => write!(f, "Refused(.., {error:?})"),
        }
    }
}

impl<J> std::error::Error for TrySubmitError<J> {}

/// The text of a panic payload (`&str` or `String`; anything else is named as such).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic with a non-string payload".to_string()
    }
}
