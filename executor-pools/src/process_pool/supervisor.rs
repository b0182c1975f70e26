//! The parent side of one worker slot: the supervisor thread.
//!
//! A supervisor takes jobs from the shared queue one at a time and runs each on its worker
//! process, starting one when it has none. It blocks in a socket read while the job runs;
//! three things end that read: the reply, the job's deadline (a socket timeout), or the
//! job's [`Switch`] (`abort`, or the pool being dropped, shuts the socket down).
//!
//! # The worker's fate after a job
//!
//! | what happened | the job gets | the worker |
//! |---|---|---|
//! | a reply | its value, or `Panicked` | kept (retired after `max_tasks_per_child` jobs) |
//! | the deadline passed | `TimedOut` | killed |
//! | the switch fired | `Cancelled` (already, if aborted) | killed |
//! | EOF or a write error | `WorkerDied(exit status)` | reaped |
//! | an oversized or garbled reply | `Protocol` | killed |
//! | an argument over `max_frame_size` | `Protocol` (nothing was sent) | kept |
//!
//! The next job gets a fresh worker. Every worker is reaped before this thread forgets it.
//! No user code runs here except the done callbacks and wakers of the handles it resolves and
//! a single call's [`JobScope`](crate::JobScope), always with the pool lock released.
//!
//! # A job's scope
//!
//! A call submitted with `try_submit_job_scoped` runs its scope here, around
//! `run_on_worker`: entered once the call is marked running and its switch is armed, just
//! before the request is sent (so the job's timeout starts after the scope's set-up); left
//! just after the handle is resolved. A slice drawn from it therefore covers the job's whole
//! time on the worker, plus the decoding and resolution the slot is busy with, but not the
//! worker's start-up nor its recycling. A job that never gets that far (cancelled while
//! queued, failed by a broken pool) drops its scope unentered. A scope that panics or never
//! calls the job cannot lose it: the job runs after the scope (`JobScope::run_or_after`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::MutexGuard;
use std::task::Waker;
use std::time::{Duration, Instant};

use super::job::{Job, Settle, Switch};
use super::protocol::{
    read_frame, write_frame, Blob, Deadline, FrameError, ToParent, ToWorker, WorkerError,
};
use super::spawn::{start_worker, StartError, Worker};
use super::state::Inner;
use crate::error::{JobError, WorkerExit};
use crate::queue;

// ANCHOR: supervise
/// The body of a supervisor thread: take jobs and run them until shutdown (with an empty
/// queue), a broken pool, or the pool's drop; then retire the worker and leave.
pub(crate) fn supervise(inner: Arc<Inner>, slot: usize) {
    let mut worker: Option<Worker> = None;
    let mut first_start = true;
    // Whether `mark_done` already counted this supervisor idle after its last job.
    let mut counted_idle = false;
    while let Some(job) = next_job(&inner, counted_idle) {
        counted_idle = run_job(&inner, slot, &mut worker, &mut first_start, job);
        if !counted_idle {
            inner.state.lock().running -= 1;
        }
    }
    // Retire the worker: ask it to exit, or kill it if the pool was dropped.
    if let Some(worker) = worker.take() {
        if inner.terminating() {
            worker.kill();
        } else {
            worker.retire();
        }
    }
    let mut state = inner.state.lock();
    state.pids.remove(&slot);
    state.supervisors -= 1;
}
// ANCHOR_END: supervise

// ANCHOR: next_job
/// Takes the next job, waiting while the queue is empty; `None` when the supervisor should
/// leave. `counted_idle`: `mark_done` counted this supervisor idle after its last job.
fn next_job(inner: &Inner, counted_idle: bool) -> Option<Job> {
    let mut state = inner.state.lock();
    // Careful: take back the early idle count under the same lock that pops the next job or
    // counts us idle again, so a submitter never sees `idle` understated in between (it would
    // start a second worker for a strictly sequential caller).
    if counted_idle {
        state.idle -= 1;
    }
    let job = loop {
        if state.broken.is_some() || inner.terminating() {
            return None;
        }
        if let Some(job) = state.queue.pop_front() {
            inner.queued.store(state.queue.len(), Ordering::Relaxed);
            break job;
        }
        if state.shutdown {
            return None;
        }
        state.idle += 1;
        // Spin briefly before sleeping: a loop awaiting calls one after another submits the
        // next within microseconds (as the thread pool's workers do, `thread_pool/worker.rs`).
        MutexGuard::unlocked(&mut state, || {
            queue::spin_for_job(&inner.queued, queue::default_spin())
        });
        if state.queue.is_empty() && !state.shutdown && state.broken.is_none() {
            inner.work_ready.wait(&mut state);
        }
        state.idle -= 1;
    };
    state.running += 1;
    // A slot freed up: wake one blocked submitter and every async one.
    let wakers = if inner.config.queue_capacity.is_some() {
        inner.space_ready.notify_one();
        std::mem::take(&mut state.space_wakers)
    } else {
        Vec::new()
    };
    drop(state);
    wakers.into_iter().for_each(Waker::wake);
    Some(job)
}
// ANCHOR_END: next_job

/// Counts the job done and this supervisor idle *before* its handles resolve, so a caller
/// that submits its next call as soon as it has this one's value finds an idle supervisor and
/// no second worker starts (as the thread pool does, `thread_pool/worker.rs`).
fn mark_done(state: &mut super::state::PoolState) {
    state.running -= 1;
    state.completed += 1;
    state.idle += 1;
}

/// Runs `job` on this slot's worker (starting one if needed). Returns whether it ran, in
/// which case `mark_done` already counted it.
fn run_job(
    inner: &Arc<Inner>,
    slot: usize,
    worker: &mut Option<Worker>,
    first_start: &mut bool,
    job: Job,
) -> bool {
    // ANCHOR: run_job_worker
    // Skip a job cancelled while queued, before starting a worker for it.
    if job.is_cancelled() {
        return false;
    }
    // A worker that died while idle (killed, out of memory) is reaped and replaced here, so
    // its death fails no job.
    if worker.as_mut().is_some_and(Worker::has_exited) {
        end_worker(inner, slot, worker, Ending::Died);
    }
    // Make sure a live worker is there.
    if worker.is_none() {
        match start(inner, slot, first_start) {
            Ok(started) => *worker = Some(started),
            Err(Some(error)) => {
                job.fail(error);
                return false;
            }
            // The pool was dropped: dropping the job resolves its handles `Cancelled`.
            Err(None) => return false,
        }
    }
    let Some(live) = worker.as_mut() else {
        return false;
    };
    // ANCHOR_END: run_job_worker
    // ANCHOR: mark_running
    // Mark the calls running; skip the ones cancelled meanwhile.
    let Job {
        function,
        timeout,
        batch,
        elements,
        scope,
    } = job;
    let (payloads, settles): (Vec<Blob>, Vec<Box<dyn Settle>>) = elements
        .into_iter()
        .filter(|element| element.settle.start())
        .map(|element| (element.payload, element.settle))
        .unzip();
    if settles.is_empty() {
        return false;
    }
    // ANCHOR_END: mark_running
    // ANCHOR: arm_switch
    // Arm the switch: `abort` of every call, or the pool's drop, stops the worker.
    let switch = Switch::new(live.stream.clone());
    {
        let mut state = inner.state.lock();
        state.switches.insert(slot, switch.clone());
        if inner.terminating() {
            switch.fire();
        }
    }
    let remaining = Arc::new(AtomicUsize::new(settles.len()));
    for settle in &settles {
        let (switch, remaining) = (switch.clone(), remaining.clone());
        settle.set_stopper(Box::new(move || {
            if remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                switch.fire();
            }
        }));
    }
    // ANCHOR_END: arm_switch
    // ANCHOR: run_scoped
    // Run the job on the worker, inside its scope if it has one.
    let request = Request {
        function,
        timeout,
        batch,
        payloads,
    };
    let on_worker = || run_on_worker(inner, slot, worker, request, settles, switch);
    match scope {
        // Careful: the scope is user code. `run_or_after` runs the job even if the scope
        // panics or never calls it, and swallows the panic: this thread must live on, and
        // calls already marked running must resolve.
        Some(scope) => scope.run_or_after(on_worker),
        None => on_worker(),
    }
    // ANCHOR_END: run_scoped
    // ANCHOR: recycle
    // Recycle the worker after `max_tasks_per_child` jobs.
    if let Some(live) = worker.as_mut() {
        live.jobs += 1;
        if inner
            .config
            .max_tasks_per_child
            .is_some_and(|max| live.jobs >= max)
        {
            end_worker(inner, slot, worker, Ending::Retire);
        }
    }
    // ANCHOR_END: recycle
    true
}

/// What `run_on_worker` sends: the calls of a job marked running.
struct Request {
    /// The registered function to run.
    function: &'static str,
    /// The call's own timeout (`None`: the pool's default); the clock starts at the send.
    timeout: Option<Duration>,
    /// Sent as `RunBatch` (a chunk) rather than `Run`.
    batch: bool,
    /// The encoded arguments of the calls still running, in order.
    payloads: Vec<Blob>,
}

/// The part of a job that a [`JobScope`](crate::JobScope) wraps: send the request, wait for
/// the reply, disarm the switch, count the job done, decide the worker's fate, and resolve the
/// handles. So a slice drawn from the scope covers the job's whole time on the worker (from
/// before the worker can see the request to after the value is visible to the caller), but
/// neither the worker's start-up nor its recycling.
fn run_on_worker(
    inner: &Arc<Inner>,
    slot: usize,
    worker: &mut Option<Worker>,
    request: Request,
    settles: Vec<Box<dyn Settle>>,
    switch: Switch,
) {
    let Request {
        function,
        timeout,
        batch,
        payloads,
    } = request;
    // ANCHOR: send_request
    // Send the request and wait for the reply.
    let until = timeout
        .or(inner.config.default_timeout)
        .map(|timeout| Instant::now() + timeout);
    let job_id = inner.next_job_id.fetch_add(1, Ordering::Relaxed);
    let request = if batch {
        ToWorker::RunBatch {
            job_id,
            function: function.to_string(),
            payloads,
        }
    } else {
        ToWorker::Run {
            job_id,
            function: function.to_string(),
            payload: payloads.into_iter().next().unwrap_or_default(),
        }
    };
    let exchange = match worker.as_ref() {
        Some(live) => exchange(inner, live, &request, job_id, settles.len(), until),
        // Careful: cannot happen (`run_job` made sure of a worker); settle as if it died.
        None => Exchange::Lost,
    };
    drop(request);
    // Disarm the switch.
    let fired = switch.disarm();
    {
        let mut state = inner.state.lock();
        state.switches.remove(&slot);
        mark_done(&mut state);
    }
    // ANCHOR_END: send_request
    // ANCHOR: settle
    // Settle the calls and decide the worker's fate (module docs, the table).
    match exchange {
        Exchange::Replied(outcomes) => {
            if fired {
                end_worker(inner, slot, worker, Ending::Kill);
            }
            settles
                .into_iter()
                .zip(outcomes)
                .for_each(|(settle, outcome)| settle.finish(outcome));
        }
        Exchange::Refused(why) => {
            if fired {
                end_worker(inner, slot, worker, Ending::Kill);
            }
            fail_all(settles, JobError::Protocol(why));
        }
        Exchange::Lost if fired => {
            end_worker(inner, slot, worker, Ending::Kill);
            fail_all(settles, JobError::Cancelled);
        }
        Exchange::Lost => {
            let exit = end_worker(inner, slot, worker, Ending::Died);
            if inner.config.break_on_worker_death {
                let why = format!(
                    "a worker died ({exit}) while running a job, and the pool was built with \
                     break_on_worker_death(true)"
                );
                let aftermath = inner.break_pool(&mut inner.state.lock(), why);
                aftermath.finish();
            }
            fail_all(settles, JobError::WorkerDied(exit));
        }
        Exchange::TimedOut => {
            end_worker(inner, slot, worker, Ending::Kill);
            fail_all(settles, JobError::TimedOut);
        }
        Exchange::Garbled(why) => {
            end_worker(inner, slot, worker, Ending::Kill);
            fail_all(settles, JobError::Protocol(why));
        }
    }
    // ANCHOR_END: settle
}

/// Resolves every handle with `error`.
fn fail_all(settles: Vec<Box<dyn Settle>>, error: JobError) {
    for settle in settles {
        settle.fail(error.clone());
    }
}

/// How one request went.
enum Exchange {
    /// The worker replied with one outcome per call.
    Replied(Vec<Result<Blob, WorkerError>>),
    /// The request was not sent (too large, or not encodable); the worker is fine.
    Refused(String),
    /// The connection ended: the worker died, or the switch shut the socket down.
    Lost,
    /// The job's deadline passed.
    TimedOut,
    /// The reply was oversized, undecodable, or not the answer to this request.
    Garbled(String),
}

// ANCHOR: exchange
/// Sends `request` and reads its reply, all before `until`.
fn exchange(
    inner: &Inner,
    worker: &Worker,
    request: &ToWorker,
    job_id: u64,
    calls: usize,
    until: Option<Instant>,
) -> Exchange {
    let max = inner.config.max_frame_size;
    let link = || Deadline {
        stream: &worker.stream,
        until,
        stopped: None,
    };
    let lost = |error: FrameError| match error {
        FrameError::TimedOut => Exchange::TimedOut,
        FrameError::Closed | FrameError::Io(_) => Exchange::Lost,
        FrameError::TooLarge { .. } | FrameError::Codec(_) => Exchange::Garbled(error.to_string()),
    };
    // Send; a frame over the limit is refused before anything is written.
    match write_frame(link(), request, max) {
        Ok(()) => {}
        Err(error @ (FrameError::TooLarge { .. } | FrameError::Codec(_))) => {
            return Exchange::Refused(format!("the argument cannot be sent: {error}"))
        }
        Err(error) => return lost(error),
    }
    // Read the reply and check it answers this request.
    match read_frame::<ToParent>(link(), max) {
        Ok(ToParent::Done {
            job_id: id,
            outcome,
        }) if id == job_id && calls == 1 => Exchange::Replied(vec![outcome]),
        Ok(ToParent::BatchDone {
            job_id: id,
            outcomes,
        }) if id == job_id && outcomes.len() == calls => Exchange::Replied(outcomes),
        Ok(other) => Exchange::Garbled(format!(
            "worker {} sent an unexpected reply: {}",
            worker.pid,
            describe(&other)
        )),
        Err(error) => lost(error),
    }
}
// ANCHOR_END: exchange

/// A short description of a message, for errors (never the payload bytes).
fn describe(message: &ToParent) -> String {
    match message {
        ToParent::Hello { .. } => "Hello".into(),
        ToParent::Ready => "Ready".into(),
        ToParent::InitFailed(_) => "InitFailed".into(),
        ToParent::Done { job_id, .. } => format!("Done for job {job_id}"),
        ToParent::BatchDone { job_id, outcomes } => {
            format!(
                "BatchDone for job {job_id} with {} outcomes",
                outcomes.len()
            )
        }
    }
}

/// How a worker is ended.
#[derive(Clone, Copy)]
enum Ending {
    /// Killed (timeout, abort, protocol error, drop).
    Kill,
    /// It closed its socket: reap it for its exit status.
    Died,
    /// Asked to exit (`max_tasks_per_child`).
    Retire,
}

/// Ends the slot's worker, reaps it, and forgets its pid. Returns how it exited.
fn end_worker(
    inner: &Inner,
    slot: usize,
    worker: &mut Option<Worker>,
    ending: Ending,
) -> WorkerExit {
    let exit = match (worker.take(), ending) {
        (None, _) => WorkerExit {
            code: None,
            signal: None,
        },
        (Some(worker), Ending::Kill) => worker.kill(),
        (Some(worker), Ending::Died) => worker.died(),
        (Some(worker), Ending::Retire) => worker.retire(),
    };
    inner.state.lock().pids.remove(&slot);
    exit
}

// ANCHOR: start
/// Starts a worker for this slot, retrying failed starts until `max_startup_failures` in a
/// row break the pool. `Err(None)`: the pool was dropped meanwhile.
fn start(
    inner: &Arc<Inner>,
    slot: usize,
    first_start: &mut bool,
) -> Result<Worker, Option<JobError>> {
    loop {
        // Refuse when broken or dropped; count a replacement.
        {
            let mut state = inner.state.lock();
            if let Some(why) = &state.broken {
                return Err(Some(JobError::BrokenPool(why.clone())));
            }
            if inner.terminating() {
                return Err(None);
            }
            if !std::mem::replace(first_start, false) {
                state.restarts += 1;
            }
        }
        // Start it, outside the lock.
        let stopped = || inner.terminating();
        let why = match start_worker(&inner.config, &inner.signatures, &stopped) {
            Ok(worker) => {
                let mut state = inner.state.lock();
                state.startup_failures = 0;
                state.pids.insert(slot, worker.pid);
                return Ok(worker);
            }
            Err(StartError::Stopped) => return Err(None),
            Err(StartError::Mismatch(why)) => {
                let aftermath = inner.break_pool(&mut inner.state.lock(), why.clone());
                aftermath.finish();
                return Err(Some(JobError::BrokenPool(why)));
            }
            Err(StartError::Failed(why)) => why,
        };
        // Count the failure; enough in a row break the pool.
        let failures = {
            let mut state = inner.state.lock();
            state.startup_failures += 1;
            let failures = state.startup_failures;
            if failures >= inner.config.max_startup_failures {
                let why = format!("{failures} worker starts failed in a row; the last: {why}");
                let aftermath = inner.break_pool(&mut state, why);
                let why = state.broken.clone().unwrap_or_default();
                drop(state);
                aftermath.finish();
                return Err(Some(JobError::BrokenPool(why)));
            }
            failures
        };
        // Careful: back off a little, so a failing program is not restarted in a tight loop.
        std::thread::sleep(Duration::from_millis(20) * failures);
    }
}
// ANCHOR_END: start
