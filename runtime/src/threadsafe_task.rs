//! `ThreadsafeTask`: the handle `spawn_threadsafe` gives to a foreign thread
//! (what asyncio's `run_coroutine_threadsafe` returns: a `concurrent.futures.Future`).
//!
//! The poster and the loop share one [`State`] behind a mutex and a condition variable. The
//! future travels to the loop inside a [`SpawnRemote`] message; on the loop thread it becomes an
//! ordinary task whose outcome (value, panic or cancellation) is written into the state, which
//! wakes any thread blocked in `result()`.
//!
//! Every path resolves the state exactly once, so `result()` never waits forever:
//! the task finishes; the task is cancelled (its future dropped: a drop guard resolves
//! `Cancelled`); the message is dropped unrun because the loop closed (the message's own drop
//! resolves `Cancelled`); or `cancel()` arrives before the loop starts the task.
//!
//! This file does not choose when the loop runs the task; `remote.rs` delivers it.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::current;
use crate::error::TaskError;
use crate::exception::{default_exception_handler, ExceptionContext};
use crate::remote::{CallSoon, Remote, RemoteCall, Shared};
use crate::task::CatchUnwind;

/// What the poster and the loop share.
struct State<T> {
    /// The outcome and the cancellation bookkeeping.
    inner: Mutex<Inner<T>>,
    /// Signalled once, when the outcome is written.
    done: Condvar,
}

/// The mutable part of [`State`].
struct Inner<T> {
    /// `Some` once resolved, until `result` takes it.
    outcome: Option<Result<T, TaskError>>,
    /// Set exactly once, when the outcome is written.
    resolved: bool,
    /// `cancel()` was called; the loop checks it before starting the task.
    cancel_requested: bool,
    /// The loop-side task `(key, id)` once started, so `cancel()` can reach it.
    task: Option<(usize, u64)>,
    /// False once the `ThreadsafeTask` is dropped: then a panic has no awaiter, and goes to
    /// the loop's exception handler instead (as for a local task whose handle was dropped).
    has_handle: bool,
}

impl<T> State<T> {
    /// Writes the outcome if none was written yet, and wakes the waiters. Called on the loop
    /// thread; a panic nobody can retrieve any more is reported there instead of stored.
    fn resolve(&self, outcome: Result<T, TaskError>) {
        let mut inner = self.inner.lock();
        if inner.resolved {
            return;
        }
        inner.resolved = true;
        match outcome {
            Err(TaskError::Panicked(message)) if !inner.has_handle => {
                drop(inner);
                report_unretrieved_panic(message);
            }
            outcome => {
                inner.outcome = Some(outcome);
                self.done.notify_all();
            }
        }
    }
}

/// Hands a threadsafe task's panic that nobody will retrieve to the exception handler of the
/// loop running on this thread (or to the default handler if none runs).
fn report_unretrieved_panic(message: String) {
    let context = ExceptionContext::callback_panic(
        "ThreadsafeTask exception was never retrieved (the task panicked and its \
         ThreadsafeTask was dropped)",
        message,
    );
    match current::running_loop() {
        Some(event_loop) => event_loop.core.report(context),
        None => default_exception_handler(&context),
    }
}

/// How a posted task gets its future on the loop thread.
pub(crate) trait Start: Send + 'static {
    /// The future that runs as the task (it need not be `Send` itself).
    type Future: Future<Output = Self::Output> + 'static;
    /// Its output, which crosses back to the poster.
    type Output: Send + 'static;
    /// Produces the future, on the loop thread.
    fn start(self) -> Self::Future;
}

/// `spawn_threadsafe`: the future itself travels.
pub(crate) struct FromFuture<F>(pub(crate) F);

impl<F> Start for FromFuture<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    type Future = F;
    type Output = F::Output;
    fn start(self) -> F {
        self.0
    }
}

/// `spawn_threadsafe_with`: a `Send` closure travels and makes a possibly `!Send` future on
/// the loop thread.
pub(crate) struct FromFn<M>(pub(crate) M);

impl<M, F> Start for FromFn<M>
where
    M: FnOnce() -> F + Send + 'static,
    F: Future + 'static,
    F::Output: Send + 'static,
{
    type Future = F;
    type Output = F::Output;
    fn start(self) -> F {
        (self.0)()
    }
}

/// The message that carries a task to the loop and starts it there.
pub(crate) struct SpawnRemote<S: Start> {
    /// The future or its maker, until the loop takes it (or a refused post takes it back).
    start: Option<S>,
    /// Where the outcome goes.
    state: Arc<State<S::Output>>,
    /// Where `spawn_threadsafe` was called: the task's spawn location in debug reports.
    at: &'static std::panic::Location<'static>,
}

impl<S: Start> SpawnRemote<S> {
    /// The message, and the handle the poster keeps.
    pub(crate) fn new(
        start: S,
        shared: Arc<Shared>,
        at: &'static std::panic::Location<'static>,
    ) -> (Self, ThreadsafeTask<S::Output>) {
        let state = Arc::new(State {
            inner: Mutex::new(Inner {
                outcome: None,
                resolved: false,
                cancel_requested: false,
                task: None,
                has_handle: true,
            }),
            done: Condvar::new(),
        });
        let job = SpawnRemote {
            start: Some(start),
            state: state.clone(),
            at,
        };
        (job, ThreadsafeTask { state, shared })
    }

    /// Takes the future (or maker) back out of a refused message; its drop then resolves
    /// nothing.
    pub(crate) fn into_start(mut self) -> S {
        self.start
            .take()
            .expect("a refused message still holds its future")
    }
}

impl<S: Start> RemoteCall for SpawnRemote<S> {
    // ANCHOR: spawn_remote_call
    fn call(mut self: Box<Self>) {
        let start = self.start.take().expect("a message runs once");
        let state = self.state.clone();
        let inner = state.inner.lock();
        if inner.cancel_requested {
            drop(inner);
            drop(start);
            state.resolve(Err(TaskError::Cancelled));
            return;
        }
        drop(inner);
        // Careful: making the future is user code, run under no lock; a panic in it becomes
        // the task's outcome.
        let future = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| start.start()))
        {
            Ok(future) => future,
            Err(payload) => {
                state.resolve(Err(TaskError::Panicked(crate::error::panic_message(
                    &*payload,
                ))));
                return;
            }
        };
        let mut inner = state.inner.lock();
        if inner.cancel_requested {
            drop(inner);
            drop(future);
            state.resolve(Err(TaskError::Cancelled));
            return;
        }
        let event_loop =
            current::running_loop().expect("threadsafe posts run inside the loop's run phase");
        let guard = ResolveOnDrop(Some(self.state.clone()));
        let task = event_loop.spawn_at(
            async move {
                let outcome = CatchUnwind::new(future).await;
                guard.resolve(outcome);
            },
            self.at,
        );
        inner.task = Some(task.key_and_id());
    }
    // ANCHOR_END: spawn_remote_call

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send> {
        self
    }

    fn name(&self) -> &'static str {
        std::any::type_name::<S>()
    }
}

impl<S: Start> Drop for SpawnRemote<S> {
    fn drop(&mut self) {
        if let Some(start) = self.start.take() {
            // Dropped unrun (the loop closed before it drained the message).
            drop(start);
            let mut inner = self.state.inner.lock();
            if !inner.resolved {
                inner.resolved = true;
                inner.outcome = Some(Err(TaskError::Cancelled));
                self.state.done.notify_all();
            }
        }
    }
}

/// Resolves the state `Cancelled` if the loop-side task is dropped before it finished.
struct ResolveOnDrop<T>(Option<Arc<State<T>>>);

impl<T> ResolveOnDrop<T> {
    /// Resolves with the task's outcome and disarms the guard.
    fn resolve(mut self, outcome: Result<T, TaskError>) {
        if let Some(state) = self.0.take() {
            state.resolve(outcome);
        }
    }
}

impl<T> Drop for ResolveOnDrop<T> {
    fn drop(&mut self) {
        if let Some(state) = self.0.take() {
            state.resolve(Err(TaskError::Cancelled));
        }
    }
}

/// A task started with [`LoopHandle::spawn_threadsafe`](crate::LoopHandle::spawn_threadsafe),
/// seen from the thread that started it (a `concurrent.futures.Future`).
///
/// It is `Send`: block on it from any thread except the loop's own (that would block the loop
/// that must finish it, so it panics instead).
pub struct ThreadsafeTask<T> {
    /// The outcome, shared with the loop-side task.
    state: Arc<State<T>>,
    /// The loop, to send cancellations to.
    shared: Arc<Shared>,
}

impl<T> ThreadsafeTask<T> {
    /// Blocks until the task ends and returns its outcome.
    ///
    /// # Errors
    ///
    /// [`TaskError::Cancelled`] if it was cancelled (or its loop closed first),
    /// [`TaskError::Panicked`] if it panicked.
    ///
    /// # Panics
    ///
    /// If called on the thread of the running loop it waits for, which would deadlock.
    pub fn result(self) -> Result<T, TaskError> {
        self.refuse_on_loop_thread();
        let mut inner = self.state.inner.lock();
        while !inner.resolved {
            self.state.done.wait(&mut inner);
        }
        inner.outcome.take().expect("outcome written with resolved")
    }

    /// Waits at most `timeout` for the outcome.
    ///
    /// Returns `Ok(outcome)` if the task ended in time, or `Err(self)` (the task still
    /// running) so the caller can wait again or [`cancel`](ThreadsafeTask::cancel) it.
    ///
    /// # Errors
    ///
    /// `Err(self)` on timeout, as above.
    ///
    /// # Panics
    ///
    /// If called on the thread of the running loop it waits for.
    pub fn result_timeout(self, timeout: Duration) -> Result<Result<T, TaskError>, Self> {
        self.refuse_on_loop_thread();
        let deadline = Instant::now().checked_add(timeout);
        let mut inner = self.state.inner.lock();
        while !inner.resolved {
            let timed_out = match deadline {
                Some(deadline) => self.state.done.wait_until(&mut inner, deadline).timed_out(),
                None => {
                    self.state.done.wait(&mut inner);
                    false
                }
            };
            if timed_out && !inner.resolved {
                drop(inner);
                return Err(self);
            }
        }
        Ok(inner.outcome.take().expect("outcome written with resolved"))
    }

    // ANCHOR: threadsafe_cancel
    /// Requests cancellation; the task's future is dropped on the loop thread.
    ///
    /// Returns `false` if the task had already ended. A `true` means the outcome will be
    /// `Cancelled` unless the task finishes before the loop processes the request.
    pub fn cancel(&self) -> bool {
        let mut inner = self.state.inner.lock();
        if inner.resolved {
            return false;
        }
        inner.cancel_requested = true;
        if let Some((key, task_id)) = inner.task {
            // Careful: a closed loop refuses the message, but close() has already cancelled
            // every task, which resolved this state.
            let _ = self.shared.post(Remote::Cancel { key, task_id });
        }
        true
    }
    // ANCHOR_END: threadsafe_cancel

    /// Whether the task has ended (with a value, a panic or a cancellation).
    pub fn is_done(&self) -> bool {
        self.state.inner.lock().resolved
    }

    /// Panics with a clear message if this thread owns the loop we would wait for: only
    /// this thread can run that loop, so blocking here would wait forever (whether the loop
    /// is running right now, as inside one of its callbacks, or not yet).
    fn refuse_on_loop_thread(&self) {
        if std::thread::current().id() == self.shared.owner && !self.is_done() {
            panic!(
                "ThreadsafeTask::result called on the thread that owns the loop that must \
                 finish it: this would block that loop forever; fix: `.await` the work inside \
                 the loop (EventLoop::spawn returns an awaitable Task), and block on \
                 ThreadsafeTask only from other threads"
            );
        }
    }
}

impl<T> Drop for ThreadsafeTask<T> {
    /// Marks the outcome unobservable; a panic already stored and never retrieved is sent to
    /// the loop's exception handler (through the threadsafe path, since this may be any
    /// thread), or, if the loop is closed, reported on the dropping thread.
    fn drop(&mut self) {
        let mut inner = self.state.inner.lock();
        inner.has_handle = false;
        if !matches!(inner.outcome, Some(Err(TaskError::Panicked(_)))) {
            return;
        }
        let Some(Err(TaskError::Panicked(message))) = inner.outcome.take() else {
            return;
        };
        drop(inner);
        let report = CallSoon::new(move || report_unretrieved_panic(message));
        if let Err(Remote::Call(refused)) = self.shared.post(Remote::Call(Box::new(report))) {
            refused.call();
        }
    }
}

impl<T> fmt::Debug for ThreadsafeTask<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadsafeTask")
            .field("done", &self.is_done())
            .finish()
    }
}
