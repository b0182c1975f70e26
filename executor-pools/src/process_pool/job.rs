//! A queued process job as the supervisors see it, and the switch that aborts it.
//!
//! A [`Job`] is one request to one worker: a single call (`Run`) or a `map` chunk
//! (`RunBatch`). Each of its [`Element`]s is an encoded argument and the type-erased promise
//! of one handle ([`Settle`]), so a chunk's elements resolve one by one: a panic on one
//! element fails only that element. A single call may carry a [`JobScope`], which the
//! supervisor runs around the call's run on the worker.
//!
//! A [`Switch`] stops the worker that runs a job by shutting its socket down, which wakes the
//! supervisor blocked reading the reply. It is armed for exactly one job: disarmed when the
//! job ends, after which firing it does nothing, so a late `abort` can never hit the next job
//! on the same worker.

use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::de::DeserializeOwned;

use super::protocol::{Blob, WorkerError};
use crate::error::JobError;
use crate::executor::JobScope;
use crate::job::Promise;

/// The pool's side of one handle, with the value type erased.
pub(crate) trait Settle: Send {
    /// Marks the handle running; `false` if it was cancelled (then skip it).
    fn start(&self) -> bool;
    /// Whether the handle was resolved without the pool (cancelled or aborted).
    fn is_cancelled(&self) -> bool;
    /// Registers what `abort` runs while the job runs.
    fn set_stopper(&self, stop: Box<dyn FnOnce() + Send>);
    /// Resolves the handle from the worker's outcome, decoding the value.
    fn finish(self: Box<Self>, outcome: Result<Blob, WorkerError>);
    /// Resolves the handle with `error`.
    fn fail(self: Box<Self>, error: JobError);
}

impl<R: DeserializeOwned + Send + 'static> Settle for Promise<R> {
    fn start(&self) -> bool {
        Promise::start(self)
    }

    fn is_cancelled(&self) -> bool {
        Promise::is_cancelled(self)
    }

    fn set_stopper(&self, stop: Box<dyn FnOnce() + Send>) {
        Promise::set_stopper(self, stop);
    }

    // ANCHOR: finish
    fn finish(self: Box<Self>, outcome: Result<Blob, WorkerError>) {
        let outcome = match outcome {
            Ok(bytes) => postcard::from_bytes(&bytes.0).map_err(|error| {
                JobError::Protocol(format!(
                    "could not decode the value as `{}`: {error}",
                    std::any::type_name::<R>()
                ))
            }),
            Err(WorkerError::Panicked(message)) => Err(JobError::Panicked(message)),
            Err(WorkerError::Codec(why)) => Err(JobError::Protocol(why)),
        };
        self.complete(outcome);
    }
    // ANCHOR_END: finish

    fn fail(self: Box<Self>, error: JobError) {
        self.complete(Err(error));
    }
}

/// One call inside a job: its argument and its handle's promise.
pub(crate) struct Element {
    /// The encoded argument.
    pub(crate) payload: Blob,
    /// The handle to resolve.
    pub(crate) settle: Box<dyn Settle>,
}

/// One request for a worker: a single call or a `map` chunk.
pub(crate) struct Job {
    /// The registered function to run.
    pub(crate) function: &'static str,
    /// The call's own timeout (`None`: the pool's default).
    pub(crate) timeout: Option<Duration>,
    /// Sent as `RunBatch` (a chunk) rather than `Run`.
    pub(crate) batch: bool,
    /// The calls, in order (exactly one unless `batch`).
    pub(crate) elements: Vec<Element>,
    /// What the job's run on its worker goes inside, on the supervisor thread, if the
    /// submitter gave one (`try_submit_job_scoped`; single calls only). Dropped unentered if
    /// the job never runs.
    pub(crate) scope: Option<JobScope>,
}

impl Job {
    /// Whether every handle of the job was resolved already (so it need not run).
    pub(crate) fn is_cancelled(&self) -> bool {
        self.elements.iter().all(|e| e.settle.is_cancelled())
    }

    /// Resolves every handle with `error`.
    pub(crate) fn fail(self, error: JobError) {
        for element in self.elements {
            element.settle.fail(error.clone());
        }
    }
}

/// What the switch protects.
#[derive(Debug, Default)]
struct SwitchState {
    /// The running job's worker socket; `None` once disarmed.
    stream: Option<Arc<UnixStream>>,
    /// Whether it fired while armed.
    fired: bool,
}

/// Stops the worker running one job (see the module docs). Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Switch {
    /// Shared by the supervisor, the job's stoppers, and the pool (for `Drop`).
    state: Arc<Mutex<SwitchState>>,
}

// ANCHOR: switch
impl Switch {
    /// A switch armed on `stream`.
    pub(crate) fn new(stream: Arc<UnixStream>) -> Self {
        Switch {
            state: Arc::new(Mutex::new(SwitchState {
                stream: Some(stream),
                fired: false,
            })),
        }
    }

    /// Shuts the socket down if the switch is still armed (the supervisor's read then ends).
    pub(crate) fn fire(&self) {
        let mut state = self.state.lock();
        if let Some(stream) = state.stream.take() {
            state.fired = true;
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Disarms the switch; returns whether it fired first (the worker's socket is shut then).
    pub(crate) fn disarm(&self) -> bool {
        let mut state = self.state.lock();
        state.stream = None;
        state.fired
    }
}
// ANCHOR_END: switch
