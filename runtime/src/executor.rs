//! The bridge to the pools: `run_in_executor`, the default executor, and `to_thread`.
//!
//! Blocking work must never run on the loop. [`EventLoop::run_in_executor`] hands a job to
//! a pool from `evloop-pools` (a [`ThreadPool`] for a closure, a `ProcessPool` for a call of a
//! registered function) and returns a future, [`RunInExecutor`], that resolves on the loop
//! thread when the job is done. The path back is the loop's threadsafe path: the worker
//! resolves the job's handle, which wakes the awaiting task's `Waker` on the worker thread;
//! that waker posts a `Remote::Wake` into the loop's channel and notifies the one shared
//! `mio::Waker` (see `remote.rs` and `task/waker.rs`). Nothing here needs its own channel.
//!
//! # Eager submission, and what cancelling does
//!
//! As in asyncio, the job is queued when `run_in_executor` is *called*, not when the future is
//! first polled, so several calls run concurrently even if awaited one after the other. (If a
//! bounded queue is full, the job waits in the future and is queued as soon as there is room,
//! without blocking the loop.) Dropping the future before it resolves (a cancelled task does)
//! aborts the job: a queued job never runs; a running process job is killed with its worker;
//! a running thread job cannot be stopped, so it runs on and its value is discarded, unless it
//! polls a `CancelToken`.
//!
//! # The default executor
//!
//! Each loop lazily creates a [`ThreadPool`] (asyncio's default `ThreadPoolExecutor`, threads
//! named `evloop-default-{n}`) the first time [`to_thread`] or
//! [`EventLoop::run_in_default_executor`] needs it. [`EventLoop::set_default_executor`]
//! replaces it, [`Builder::default_executor_max_workers`](crate::Builder::default_executor_max_workers)
//! sizes it. [`run`](crate::run) shuts it down and waits for its threads
//! ([`EventLoop::shutdown_default_executor`]) while the loop still runs, so jobs that post
//! back to the loop finish; `close` shuts it down without waiting (asyncio's
//! `shutdown(wait=False)`): its threads end when their jobs do.

use std::future::Future;
use std::ops::Deref;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use evloop_pools::{Executor, JobError, JobHandle, JobScope, ThreadPool, TrySubmitError};
use parking_lot::Mutex;

use crate::context::Context as VarContext;
use crate::current;
use crate::error::LoopError;
use crate::event_loop::EventLoop;
use crate::label::Label;
use crate::trace::{current_track, thread_title, LoopTrace, Phase};

// ANCHOR: run_in_executor_future
/// Where a [`RunInExecutor`] future is.
enum Stage<J, R> {
    /// The bounded queue was full at the call: the job waits here for room.
    Waiting(J),
    /// Queued or running; the handle resolves when the job is done.
    Submitted(JobHandle<R>),
    /// The pool refused the job at the call.
    Refused(JobError),
    /// The outcome was returned.
    Done,
}

/// The future of [`EventLoop::run_in_executor`], [`EventLoop::run_in_default_executor`] and
/// [`to_thread`]: the job's value, or why it has none.
///
/// Dropping it before it resolves aborts the job (module docs).
#[must_use = "the job is aborted when this future is dropped; await it"]
pub struct RunInExecutor<P, J>
where
    P: Deref,
    P::Target: Executor<J>,
{
    /// The pool (a reference, or an `Arc` for the default executor).
    pool: P,
    /// The job's progress.
    stage: Stage<J, <P::Target as Executor<J>>::Output>,
    /// Counts this future in its loop's `executor_inflight` until it resolves or is dropped.
    inflight: Option<InFlight>,
    /// A copy of the caller's context, kept while the job waits for room: a thread job runs
    /// inside it on the worker (`job_scope`).
    context: VarContext,
    /// The job's trace flow, while the loop records a trace (`trace/`).
    trace: Option<JobTrace>,
}
// ANCHOR_END: run_in_executor_future

/// A traced job: where its slice goes and the flow arrow that links it to the loop.
struct JobTrace {
    /// The loop's recorder and track.
    loop_trace: LoopTrace,
    /// The flow arrow: submit (loop) -> job (worker) -> result (loop).
    flow: u64,
    /// The job's name (its closure's type).
    name: &'static str,
}

impl JobTrace {
    /// Starts a flow at the submitting poll, if `event_loop` records a trace.
    fn start(event_loop: &EventLoop, name: &'static str) -> Option<JobTrace> {
        let loop_trace = event_loop.core.trace.borrow().clone()?;
        let flow = loop_trace.recorder.next_flow();
        loop_trace
            .recorder
            .flow(Phase::FlowStart, flow, loop_trace.track, Instant::now());
        Some(JobTrace {
            loop_trace,
            flow,
            name,
        })
    }

    /// Ends the flow at the poll that received the job's outcome.
    fn finish(self) {
        let JobTrace {
            loop_trace, flow, ..
        } = self;
        loop_trace
            .recorder
            .flow(Phase::FlowEnd, flow, loop_trace.track, Instant::now());
    }
}

/// One unresolved `run_in_executor` future, counted in `Core::executor_inflight` (the loop
/// spins briefly before blocking while the count is not zero).
struct InFlight(EventLoop);

impl InFlight {
    /// Counts one more future on `event_loop`.
    fn new(event_loop: &EventLoop) -> InFlight {
        let core = &event_loop.core;
        core.executor_inflight.set(core.executor_inflight.get() + 1);
        InFlight(event_loop.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let core = &self.0.core;
        core.executor_inflight.set(core.executor_inflight.get() - 1);
    }
}

/// Whether spinning while waiting for another thread can pay off: not on one core.
pub(crate) fn spinning_helps() -> bool {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get())) > 1
}

impl<P, J> RunInExecutor<P, J>
where
    P: Deref,
    P::Target: Executor<J>,
{
    // ANCHOR: run_in_executor_new
    /// Queues `job` (named `name` in traces) now if there is room (eager, like asyncio).
    fn new(event_loop: &EventLoop, pool: P, job: J, name: &'static str) -> Self {
        let context = VarContext::current();
        let trace = JobTrace::start(event_loop, name);
        let stage = match pool.try_submit_job_scoped(job, job_scope(&context, trace.as_ref())) {
            Ok(handle) => Stage::Submitted(handle),
            Err(TrySubmitError::Full(job)) => Stage::Waiting(job),
            Err(TrySubmitError::Refused(_, error)) => Stage::Refused(error),
        };
        let inflight = match stage {
            Stage::Refused(_) => None,
            _ => Some(InFlight::new(event_loop)),
        };
        RunInExecutor {
            pool,
            stage,
            inflight,
            context,
            trace,
        }
    }
    // ANCHOR_END: run_in_executor_new
}

// ANCHOR: job_scope
/// The scope a thread job runs inside: `context` installed as the worker thread's current
/// context (what the job sets stays in a copy), like `asyncio.to_thread`; and, while the loop
/// records a trace, the job's slice on its worker's track and the middle of its flow arrow.
fn job_scope(context: &VarContext, trace: Option<&JobTrace>) -> JobScope {
    let context = context.clone();
    let Some(trace) = trace else {
        return JobScope::new(move |job| context.run_owned(job));
    };
    let recorder = trace.loop_trace.recorder.clone();
    let (flow, name) = (trace.flow, trace.name);
    JobScope::new(move |job| {
        let track = current_track();
        recorder.name_track(track, || thread_title(track));
        let start = Instant::now();
        let ran = catch_unwind(AssertUnwindSafe(|| context.run_owned(job)));
        let end = Instant::now();
        recorder.slice(Label::Job { name }, track, start, end);
        let middle = start + end.saturating_duration_since(start) / 2;
        recorder.flow(Phase::FlowStep, flow, track, middle);
        if let Err(payload) = ran {
            resume_unwind(payload);
        }
    })
}
// ANCHOR_END: job_scope

// The future never pins its fields: `JobHandle` is `Unpin` and the job is moved, not polled.
impl<P, J> Unpin for RunInExecutor<P, J>
where
    P: Deref,
    P::Target: Executor<J>,
{
}

impl<P, J> Future for RunInExecutor<P, J>
where
    P: Deref,
    P::Target: Executor<J>,
{
    type Output = Result<<P::Target as Executor<J>>::Output, JobError>;

    // ANCHOR: run_in_executor_poll
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        loop {
            match std::mem::replace(&mut this.stage, Stage::Done) {
                Stage::Waiting(job) => match this
                    .pool
                    .try_submit_job_scoped(job, job_scope(&this.context, this.trace.as_ref()))
                {
                    Ok(handle) => this.stage = Stage::Submitted(handle),
                    Err(TrySubmitError::Refused(_, error)) => {
                        this.inflight = None;
                        return Poll::Ready(Err(error));
                    }
                    Err(TrySubmitError::Full(job)) => {
                        this.stage = Stage::Waiting(job);
                        // Careful: register for room before retrying, so none is missed.
                        if this.pool.poll_space(cx).is_pending() {
                            return Poll::Pending;
                        }
                    }
                },
                Stage::Submitted(mut handle) => {
                    return match Pin::new(&mut handle).poll(cx) {
                        Poll::Ready(outcome) => {
                            this.inflight = None;
                            if let Some(trace) = this.trace.take() {
                                trace.finish();
                            }
                            Poll::Ready(outcome)
                        }
                        Poll::Pending => {
                            this.stage = Stage::Submitted(handle);
                            Poll::Pending
                        }
                    };
                }
                Stage::Refused(error) => return Poll::Ready(Err(error)),
                Stage::Done => panic!("RunInExecutor polled after it returned its outcome"),
            }
        }
    }
    // ANCHOR_END: run_in_executor_poll
}

// ANCHOR: run_in_executor_drop
impl<P, J> Drop for RunInExecutor<P, J>
where
    P: Deref,
    P::Target: Executor<J>,
{
    fn drop(&mut self) {
        if let Stage::Submitted(handle) = &self.stage {
            handle.abort();
        }
    }
}
// ANCHOR_END: run_in_executor_drop

/// The future of [`EventLoop::run_in_default_executor`].
pub type RunInDefaultExecutor<F> = RunInExecutor<Arc<ThreadPool>, F>;

/// The future of [`to_thread`]: the closure, wrapped to run in a copy of the caller's
/// context, on the default executor.
pub type ToThread<R> = RunInExecutor<Arc<ThreadPool>, Box<dyn FnOnce() -> R + Send>>;

impl EventLoop {
    /// Runs `job` in `executor` and returns a future of its outcome (asyncio's
    /// `loop.run_in_executor(executor, func)`). The job is queued now (module docs); the
    /// future resolves on this loop's thread. With a [`ThreadPool`] the job is a closure;
    /// with a `ProcessPool` it is a `Call` of a registered function
    /// (`SQUARE.call(7)`).
    ///
    /// A thread job runs inside a copy of the caller's context, so the
    /// [`ContextVar`](crate::ContextVar)s it reads have the calling task's values and what it
    /// sets stays in the copy (asyncio's `loop.run_in_executor` does not copy the context,
    /// only `to_thread` does; evloop does it for both, so no job ever sees a context left
    /// behind on its worker thread by an earlier job). A process job carries no context.
    ///
    /// `executor` is a reference to a pool (`&pool`), or an owned `Arc` of one
    /// (`pool.clone()`) when the future must be `'static`, for example inside
    /// [`spawn`](crate::spawn).
    ///
    /// # Errors (in the output)
    ///
    /// Whatever the job's handle resolves to: [`JobError::Panicked`], [`JobError::Cancelled`],
    /// [`JobError::ShutDown`] for a shut-down pool, ...
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use evloop::pools::ThreadPool;
    ///
    /// let pool = ThreadPool::builder().max_workers(2).build();
    /// let lp = evloop::EventLoop::new().unwrap();
    /// let value = lp.run_until_complete(async {
    ///     let lp = evloop::get_running_loop().unwrap();
    ///     lp.run_in_executor(&pool, || {
    ///         std::thread::sleep(Duration::from_millis(5)); // blocking is fine here
    ///         6 * 7
    ///     }).await
    /// }).unwrap();
    /// assert_eq!(value, Ok(42));
    /// ```
    // ANCHOR: run_in_executor
    pub fn run_in_executor<P, J>(&self, executor: P, job: J) -> RunInExecutor<P, J>
    where
        P: Deref,
        P::Target: Executor<J>,
    {
        let name = executor.job_name(&job);
        RunInExecutor::new(self, executor, job, name)
    }
    // ANCHOR_END: run_in_executor

    /// Runs the closure `f` in this loop's default executor (asyncio's
    /// `loop.run_in_executor(None, func)`), inside a copy of the caller's context (see
    /// [`run_in_executor`](EventLoop::run_in_executor)).
    ///
    /// # Panics
    ///
    /// If the loop is closed (its default executor is shut down).
    pub fn run_in_default_executor<F, R>(&self, f: F) -> RunInDefaultExecutor<F>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        RunInExecutor::new(self, self.default_executor(), f, std::any::type_name::<F>())
    }

    // ANCHOR: default_executor
    /// The loop's default executor, created on first use (module docs).
    ///
    /// # Panics
    ///
    /// If the loop is closed: its default executor is shut down.
    pub fn default_executor(&self) -> Arc<ThreadPool> {
        if self.is_closed() {
            panic!("EventLoop::default_executor: {}", LoopError::Closed);
        }
        let mut slot = self.core.default_executor.borrow_mut();
        slot.get_or_insert_with(|| {
            let mut builder = ThreadPool::builder()
                .thread_name_prefix("evloop-default")
                .debug(self.core.debug.get());
            if let Some(n) = self.core.default_executor_max_workers {
                builder = builder.max_workers(n);
            }
            Arc::new(builder.build())
        })
        .clone()
    }
    // ANCHOR_END: default_executor

    /// Replaces the default executor (asyncio's `set_default_executor`). The previous one,
    /// if any, is shut down without waiting; its queued jobs still run.
    pub fn set_default_executor(&self, pool: Arc<ThreadPool>) {
        let previous = self.core.default_executor.borrow_mut().replace(pool);
        if let Some(previous) = previous {
            retire(previous, false);
        }
    }

    // ANCHOR: shutdown_default_executor
    /// Shuts the default executor down and waits for its threads to finish, while the loop
    /// keeps running (asyncio's `loop.shutdown_default_executor()`); `evloop::run` calls it.
    /// Jobs still queued run first. Returns at once if no default executor was created.
    pub async fn shutdown_default_executor(&self) {
        let Some(pool) = self.core.default_executor.borrow_mut().take() else {
            return;
        };
        pool.shutdown(false, false);
        Joined::start(pool).await;
    }
    // ANCHOR_END: shutdown_default_executor
}

// ANCHOR: retire
/// Shuts `pool` down without blocking this thread: the last reference is dropped (and the
/// threads joined) on a short-lived thread of its own.
pub(crate) fn retire(pool: Arc<ThreadPool>, cancel_pending: bool) {
    pool.shutdown(false, cancel_pending);
    let spawned = std::thread::Builder::new()
        .name("evloop-executor-retire".into())
        .spawn(move || drop(pool));
    // Careful: if the OS refuses even this thread, the pool was handed back inside the
    // error and is dropped (and joined) here; nothing leaks.
    drop(spawned);
}
// ANCHOR_END: retire

/// A future that resolves once a shut-down pool's threads have been joined, which happens on
/// a helper thread so the loop keeps running meanwhile.
struct Joined {
    /// `(joined, waker to wake when it is)`, shared with the helper thread.
    state: Arc<Mutex<(bool, Option<Waker>)>>,
}

impl Joined {
    /// Starts joining `pool` on a helper thread.
    fn start(pool: Arc<ThreadPool>) -> Joined {
        let state = Arc::new(Mutex::new((false, None::<Waker>)));
        let shared = state.clone();
        let join = move || {
            pool.shutdown(true, false);
            drop(pool);
            let waker = {
                let mut state = shared.lock();
                state.0 = true;
                state.1.take()
            };
            if let Some(waker) = waker {
                waker.wake();
            }
        };
        if let Err(error) = std::thread::Builder::new()
            .name("evloop-executor-join".into())
            .spawn(join)
        {
            // No thread for the join: this is already shutting down, so join here.
            drop(error);
            state.lock().0 = true;
        }
        Joined { state }
    }
}

impl Future for Joined {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.state.lock();
        if state.0 {
            Poll::Ready(())
        } else {
            state.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// Runs the closure `f` on the running loop's default executor and returns a future of its
/// value (asyncio's `asyncio.to_thread`). The loop stays free while `f` blocks, and `f` runs
/// in a copy of the calling task's context, so [`ContextVar`](crate::ContextVar)s read there
/// see the caller's values (and what `f` sets stays in the copy).
///
/// # Panics
///
/// Outside a running loop, with the [`LoopError::NoRunningLoop`] message.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let n = evloop::run(async {
///     evloop::to_thread(|| {
///         std::thread::sleep(Duration::from_millis(5)); // a blocking call
///         7
///     }).await
/// }).unwrap();
/// assert_eq!(n, Ok(7));
/// ```
// ANCHOR: to_thread
pub fn to_thread<F, R>(f: F) -> ToThread<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let Some(lp) = current::running_loop() else {
        panic!("evloop::to_thread: {}", LoopError::NoRunningLoop)
    };
    // Like asyncio.to_thread: the job runs in a copy of the caller's context (every
    // run_in_executor job does, see RunInExecutor::new).
    let job: Box<dyn FnOnce() -> R + Send> = Box::new(f);
    RunInExecutor::new(&lp, lp.default_executor(), job, std::any::type_name::<F>())
}
// ANCHOR_END: to_thread
