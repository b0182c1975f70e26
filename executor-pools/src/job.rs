//! The job handle (concurrent.futures.Future) and the pool's side of it.
//!
//! Submitting a job creates one shared [`JobCell`] seen from two sides:
//!
//! - the caller holds a [`JobHandle<T>`]: wait for the value (`result`, `result_timeout`,
//!   or `.await`), ask for a stop (`cancel`, `abort`), watch (`is_done`, `add_done_callback`);
//! - the pool holds a [`Promise<T>`]: it marks the job started, registers how to stop it while it
//!   runs, and completes it with a value or an error.
//!
//! # States
//!
//! `Queued -> Running -> Finished -> Retrieved`, with shortcuts `Queued -> Finished`
//! (cancelled) and `Running -> Finished` (aborted, or completed). `Finished` is final for the
//! outcome: the first resolution wins; a later `complete` (a thread job that ends after it
//! was aborted) is dropped. `Retrieved` only means the value moved out of the handle.
//! Impossible: `Running` after `Finished`; a done callback run twice; a waiter woken before
//! the outcome is stored.
//!
//! # Callbacks and wakers
//!
//! Done callbacks and the waker of an `.await` run on the thread that resolves the job (a
//! worker, a canceller, or the caller of `add_done_callback` if it was already done), always
//! after the lock is released. A waker of an evloop task woken on a worker thread takes the
//! loop's threadsafe path (crossbeam channel plus the one `mio::Waker`), which is how
//! `run_in_executor` completions reach the loop. A done callback that panics is reported by
//! the panic hook and otherwise ignored (Python logs and ignores it): the other callbacks and
//! the waker still run, and a worker thread that resolved the job lives on.
//!
//! A promise dropped without completing (a pool that discarded a queued job) resolves the job
//! as [`JobError::Cancelled`], so no handle waits forever.
//!
//! # Debug mode: an error nobody retrieved
//!
//! In a debug pool the cell carries a `Watch` (`debug.rs`). The cell dies when the last of its
//! two sides lets go: the handle's drop if the job was already resolved, otherwise the pool's
//! promise right after it resolved the job (on the worker or supervisor thread). If it still
//! holds an error other than `Cancelled`, that is an error nobody took (`result`,
//! `result_timeout` and `.await` move the outcome out), and `Drop for JobCell` reports it,
//! exactly once since a cell dies once, with no lock held (it owns the state by then). A value
//! dropped unretrieved is not reported (fire-and-forget jobs are legitimate).

use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::debug::{report_unretrieved, worth_reporting, Watch};
use crate::error::JobError;

/// A callback run once when the job is resolved.
type DoneCallback = Box<dyn FnOnce() + Send>;

/// Runs done callbacks in order; a panicking one is skipped (module docs, "Callbacks and
/// wakers"), so it cannot kill the worker thread resolving the job nor starve the waker.
fn run_callbacks(callbacks: Vec<DoneCallback>) {
    for callback in callbacks {
        let _ = catch_unwind(AssertUnwindSafe(callback));
    }
}

/// Where a job is in its life (module docs, "States").
enum Stage<T> {
    /// Waiting in the pool's queue; `cancel` still succeeds.
    Queued,
    /// A worker is running it; only `abort` can stop it (if the pool can).
    Running,
    /// Resolved; the outcome waits to be taken.
    Finished(Result<T, JobError>),
    /// Resolved, and the outcome was moved out of the handle.
    Retrieved {
        /// Whether the outcome was `Cancelled`, so `is_cancelled` keeps answering.
        cancelled: bool,
    },
}

/// The part of a job's state that the lock protects.
struct State<T> {
    /// The life stage and, once finished, the outcome.
    stage: Stage<T>,
    /// `add_done_callback` callbacks, taken and run once on resolution.
    callbacks: Vec<DoneCallback>,
    /// The waker of the task awaiting the handle, woken once on resolution.
    waker: Option<Waker>,
    /// How to stop the job while it runs (kill a worker process, trip a token); set by the
    /// pool when the job starts, taken by `abort`.
    stopper: Option<DoneCallback>,
}

/// The state shared by a [`JobHandle`] and its [`Promise`].
pub(crate) struct JobCell<T> {
    /// Stage, callbacks, waker, stopper.
    state: Mutex<State<T>>,
    /// Signalled on resolution, for the blocking `result` and `result_timeout`.
    resolved: Condvar,
    /// In a debug pool, the job's and the pool's names, to report an error nobody retrieved
    /// when the cell dies (module docs, "Debug mode"); `None` otherwise.
    watch: Option<Watch>,
}

impl<T> JobCell<T> {
    // ANCHOR: resolve
    /// Resolves the job with `outcome` if it is not resolved yet; runs the callbacks and the
    /// waker outside the lock. Returns whether this call resolved it.
    fn resolve(&self, outcome: Result<T, JobError>) -> bool {
        let (callbacks, waker) = {
            let mut state = self.state.lock();
            if matches!(state.stage, Stage::Finished(_) | Stage::Retrieved { .. }) {
                return false;
            }
            state.stage = Stage::Finished(outcome);
            state.stopper = None;
            (std::mem::take(&mut state.callbacks), state.waker.take())
        };
        self.resolved.notify_all();
        run_callbacks(callbacks);
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }
    // ANCHOR_END: resolve
}

impl<T> Drop for JobCell<T> {
    /// Reports an error nobody retrieved, in a debug pool (module docs, "Debug mode").
    fn drop(&mut self) {
        let Some(watch) = &self.watch else { return };
        // Careful: the cell is dying, so no one else holds it: `get_mut` needs no lock.
        if let Stage::Finished(Err(error)) = &self.state.get_mut().stage {
            if worth_reporting(error) {
                report_unretrieved(watch, error);
            }
        }
    }
}

/// Creates a queued job: the caller's handle and the pool's promise. `watch` is `Some` in a
/// debug pool (module docs, "Debug mode").
pub(crate) fn job<T>(watch: Option<Watch>) -> (Promise<T>, JobHandle<T>) {
    let cell = Arc::new(JobCell {
        state: Mutex::new(State {
            stage: Stage::Queued,
            callbacks: Vec::new(),
            waker: None,
            stopper: None,
        }),
        resolved: Condvar::new(),
        watch,
    });
    (
        Promise {
            cell: Some(cell.clone()),
        },
        JobHandle { cell },
    )
}

/// A handle to a submitted job, usable from any thread (concurrent.futures.Future).
///
/// Dropping the handle does not stop the job (as in Python); `evloop`'s `run_in_executor`
/// future is the exception: dropping it aborts the job.
///
/// In a debug pool (`ThreadPoolBuilder::debug`, `ProcessPoolBuilder::debug`), a job whose
/// error (anything but `Cancelled`) was never taken from its handle is reported once, when
/// both the handle and the job are gone, as a `log` warning with target
/// `evloop_pools::debug` (asyncio's "Future exception was never retrieved"). A value dropped
/// unretrieved is not reported.
///
/// # Examples
///
/// ```
/// let pool = evloop_pools::ThreadPool::new();
/// let job = pool.submit(|| 6 * 7).unwrap();
/// assert_eq!(job.result(), Ok(42));
/// ```
pub struct JobHandle<T> {
    /// The state shared with the pool's promise.
    cell: Arc<JobCell<T>>,
}

impl<T> JobHandle<T> {
    /// Blocks until the job is resolved and returns its outcome.
    ///
    /// # Errors
    ///
    /// Why the job has no value: [`JobError::Cancelled`], [`JobError::Panicked`],
    /// [`JobError::TimedOut`], [`JobError::WorkerDied`], ...; [`JobError::AlreadyRetrieved`]
    /// if `result_timeout` already took it.
    pub fn result(self) -> Result<T, JobError> {
        self.wait_until(None)
    }

    /// Like [`result`](Self::result), but gives up after `timeout` with
    /// [`JobError::WaitTimedOut`], leaving the job running (Python's `result(timeout)`).
    ///
    /// # Errors
    ///
    /// As [`result`](Self::result), plus [`JobError::WaitTimedOut`].
    pub fn result_timeout(&self, timeout: Duration) -> Result<T, JobError> {
        self.wait_until(Instant::now().checked_add(timeout))
    }

    /// Waits for the outcome until `deadline` (forever if `None`) and takes it.
    fn wait_until(&self, deadline: Option<Instant>) -> Result<T, JobError> {
        let mut state = self.cell.state.lock();
        loop {
            match std::mem::replace(&mut state.stage, Stage::Queued) {
                Stage::Finished(outcome) => {
                    let cancelled = matches!(outcome, Err(JobError::Cancelled));
                    state.stage = Stage::Retrieved { cancelled };
                    return outcome;
                }
                Stage::Retrieved { cancelled } => {
                    state.stage = Stage::Retrieved { cancelled };
                    return Err(JobError::AlreadyRetrieved);
                }
                pending => state.stage = pending,
            }
            match deadline {
                None => self.cell.resolved.wait(&mut state),
                Some(deadline) => {
                    if self
                        .cell
                        .resolved
                        .wait_until(&mut state, deadline)
                        .timed_out()
                        && !matches!(state.stage, Stage::Finished(_) | Stage::Retrieved { .. })
                    {
                        return Err(JobError::WaitTimedOut);
                    }
                }
            }
        }
    }

    /// Cancels the job if it is still queued (Python's `cancel`): it will never run, and
    /// the handle resolves to [`JobError::Cancelled`]. Returns `true` if the job is now
    /// cancelled (also if it already was), `false` if it is running or finished.
    pub fn cancel(&self) -> bool {
        let (callbacks, waker) = {
            let mut state = self.cell.state.lock();
            match &state.stage {
                Stage::Queued => {}
                Stage::Running => return false,
                Stage::Finished(outcome) => return matches!(outcome, Err(JobError::Cancelled)),
                Stage::Retrieved { cancelled } => return *cancelled,
            }
            state.stage = Stage::Finished(Err(JobError::Cancelled));
            (std::mem::take(&mut state.callbacks), state.waker.take())
        };
        self.cell.resolved.notify_all();
        run_callbacks(callbacks);
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }

    // ANCHOR: abort
    /// Stops the job wherever it is: a queued job is cancelled; a running one is stopped as
    /// far as its pool can (a process pool kills the worker; a thread job submitted with a
    /// [`CancelToken`] sees its token tripped; any other running thread job runs on, and its
    /// value is discarded). The handle resolves to [`JobError::Cancelled`] at once. Returns
    /// `false` only if the job had already finished with another outcome.
    pub fn abort(&self) -> bool {
        let stopper = {
            let mut state = self.cell.state.lock();
            match &state.stage {
                Stage::Finished(outcome) => return matches!(outcome, Err(JobError::Cancelled)),
                Stage::Retrieved { cancelled } => return *cancelled,
                Stage::Queued | Stage::Running => state.stopper.take(),
            }
        };
        // Resolve first, so a worker that completes meanwhile finds the job finished.
        let resolved = self.cell.resolve(Err(JobError::Cancelled));
        if let Some(stop) = stopper {
            stop();
        }
        resolved || self.is_cancelled()
    }
    // ANCHOR_END: abort

    /// Whether the job is resolved (a value, an error, or cancelled).
    pub fn is_done(&self) -> bool {
        matches!(
            self.cell.state.lock().stage,
            Stage::Finished(_) | Stage::Retrieved { .. }
        )
    }

    /// Whether a worker is running the job right now.
    pub fn is_running(&self) -> bool {
        matches!(self.cell.state.lock().stage, Stage::Running)
    }

    /// Whether the job was cancelled (by `cancel`, `abort`, or a shutdown).
    pub fn is_cancelled(&self) -> bool {
        match &self.cell.state.lock().stage {
            Stage::Finished(outcome) => matches!(outcome, Err(JobError::Cancelled)),
            Stage::Retrieved { cancelled } => *cancelled,
            Stage::Queued | Stage::Running => false,
        }
    }

    /// Runs `callback` once when the job is resolved, on the thread that resolves it; at once,
    /// on this thread, if it already is (Python's `add_done_callback`). A callback that
    /// panics is reported by the panic hook and otherwise ignored.
    pub fn add_done_callback(&self, callback: impl FnOnce() + Send + 'static) {
        {
            let mut state = self.cell.state.lock();
            if matches!(state.stage, Stage::Queued | Stage::Running) {
                state.callbacks.push(Box::new(callback));
                return;
            }
        }
        run_callbacks(vec![Box::new(callback)]);
    }
}

// ANCHOR: job_handle_poll
impl<T> Future for JobHandle<T> {
    type Output = Result<T, JobError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.cell.state.lock();
        match std::mem::replace(&mut state.stage, Stage::Queued) {
            Stage::Finished(outcome) => {
                let cancelled = matches!(outcome, Err(JobError::Cancelled));
                state.stage = Stage::Retrieved { cancelled };
                Poll::Ready(outcome)
            }
            Stage::Retrieved { cancelled } => {
                state.stage = Stage::Retrieved { cancelled };
                Poll::Ready(Err(JobError::AlreadyRetrieved))
            }
            pending => {
                state.stage = pending;
                match &mut state.waker {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    slot => *slot = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }
}
// ANCHOR_END: job_handle_poll

impl<T> fmt::Debug for JobHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stage = match self.cell.state.lock().stage {
            Stage::Queued => "queued",
            Stage::Running => "running",
            Stage::Finished(_) => "finished",
            Stage::Retrieved { .. } => "retrieved",
        };
        f.debug_struct("JobHandle").field("stage", &stage).finish()
    }
}

/// The pool's side of a job: start it, say how to stop it, complete it.
///
/// Dropped without [`complete`](Promise::complete), it resolves the job as cancelled.
pub(crate) struct Promise<T> {
    /// The shared state; `None` once completed.
    cell: Option<Arc<JobCell<T>>>,
}

impl<T> Promise<T> {
    /// Marks the job running. Returns `false` if it was cancelled while queued: the worker
    /// must then skip it.
    pub(crate) fn start(&self) -> bool {
        let Some(cell) = &self.cell else { return false };
        let mut state = cell.state.lock();
        match state.stage {
            Stage::Queued => {
                state.stage = Stage::Running;
                true
            }
            _ => false,
        }
    }

    /// Registers how to stop the job while it runs (used by `abort`). If the job was
    /// aborted already, `stop` runs at once, here.
    pub(crate) fn set_stopper(&self, stop: impl FnOnce() + Send + 'static) {
        if let Some(cell) = &self.cell {
            let mut state = cell.state.lock();
            if matches!(state.stage, Stage::Queued | Stage::Running) {
                state.stopper = Some(Box::new(stop));
                return;
            }
        }
        stop();
    }

    /// Whether the job was resolved without this promise (cancelled or aborted).
    #[allow(dead_code)] // used by the process pool
    pub(crate) fn is_cancelled(&self) -> bool {
        let Some(cell) = &self.cell else { return false };
        matches!(
            cell.state.lock().stage,
            Stage::Finished(_) | Stage::Retrieved { .. }
        )
    }

    /// Resolves the job with `outcome`. Returns `false` if it was already resolved (aborted
    /// or cancelled), in which case `outcome` is dropped.
    pub(crate) fn complete(mut self, outcome: Result<T, JobError>) -> bool {
        match self.cell.take() {
            Some(cell) => cell.resolve(outcome),
            None => false,
        }
    }
}

impl<T> Drop for Promise<T> {
    fn drop(&mut self) {
        if let Some(cell) = self.cell.take() {
            cell.resolve(Err(JobError::Cancelled));
        }
    }
}

impl<T> fmt::Debug for Promise<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Promise")
            .field("completed", &self.cell.is_none())
            .finish()
    }
}

/// A flag a long thread job polls to stop early (cooperative cancellation).
///
/// A job submitted with `ThreadPool::submit_with_token` receives one, and
/// `JobHandle::abort` trips it. The job decides where to check.
///
/// # Examples
///
/// ```
/// let token = evloop_pools::CancelToken::new();
/// assert!(!token.is_cancelled());
/// token.cancel();
/// assert!(token.is_cancelled());
/// ```
#[derive(Clone, Debug, Default)]
pub struct CancelToken {
    /// Set once by `cancel`; read by the job.
    flag: Arc<AtomicBool>,
}

impl CancelToken {
    /// A token not yet cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the job to stop.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::Release);
    }

    /// Whether the job was asked to stop.
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }
}
