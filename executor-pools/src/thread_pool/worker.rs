//! The shared state of a thread pool and the loop each worker thread runs.
//!
//! # How the pool grows and shrinks
//!
//! Workers start on demand: a submit that leaves more queued jobs than idle workers starts
//! one more thread, up to `max_workers`. So a job never waits behind a busy worker while a
//! thread could be started, and no thread starts while an idle one could take the job. A
//! worker counts as idle from the moment its job returns, before the job's handle resolves:
//! otherwise a caller woken by the result could submit its next job while the worker is
//! still on its way back to the queue, and start a needless thread.
//! An idle worker exits after `idle_timeout` without a job. (Python starts a thread per submit
//! unless its idle semaphore says one is free; tokio's blocking pool uses the same
//! idle-count rule as here.)
//!
//! # Invariants, enforced under `Inner::state`
//!
//! - `workers <= max_workers`; `idle + running <= workers`.
//! - A job is popped exactly once; a popped job whose handle was cancelled is skipped.
//! - No job runs, and no initializer runs, while the lock is held.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Waker;
use std::thread::{self, JoinHandle};
use std::time::Instant;

use parking_lot::{Condvar, Mutex, MutexGuard};

use super::builder::ThreadPoolBuilder;
use crate::error::{panic_message, JobError};
use crate::queue::{self, Refuse};

/// A queued job, type-erased (see `ThreadPool::submit` for the concrete kinds).
pub(crate) trait Work: Send {
    /// Runs the job and completes its handle, calling `finished` once between the end of the
    /// job and the completion. A job cancelled while queued is skipped: dropped unrun, without
    /// calling `finished`.
    fn run(self: Box<Self>, finished: &mut dyn FnMut());
    /// Resolves the handle with `error` without running the job.
    fn fail(self: Box<Self>, error: JobError);
}

impl Refuse for Box<dyn Work> {
    fn refuse(self, error: JobError) {
        self.fail(error);
    }
}

/// What a locked section leaves to finish after the lock is released (`queue.rs`).
pub(crate) type Aftermath = queue::Aftermath<Box<dyn Work>>;

/// Everything the lock protects.
pub(crate) struct PoolState {
    /// Jobs waiting for a worker, FIFO.
    pub(crate) queue: VecDeque<Box<dyn Work>>,
    /// Live worker threads.
    pub(crate) workers: usize,
    /// Workers blocked waiting for a job (the growth rule compares it with the queue).
    pub(crate) idle: usize,
    /// Workers running a job.
    pub(crate) running: usize,
    /// Jobs that ran (a value or a panic).
    pub(crate) completed: u64,
    /// Jobs accepted into the queue (`Counters::submitted`).
    pub(crate) submitted: u64,
    /// Set by `shutdown`: no new jobs; workers exit when the queue is empty.
    pub(crate) shutdown: bool,
    /// Set when an initializer failed: the message every refused job gets.
    pub(crate) broken: Option<String>,
    /// Wakers of `submit_async` futures waiting for room in a bounded queue.
    pub(crate) space_wakers: Vec<Waker>,
    /// Join handles of every worker started and not yet joined.
    pub(crate) threads: Vec<JoinHandle<()>>,
    /// Numbers the next worker thread's name.
    pub(crate) next_thread: usize,
}

/// The state shared by the pool handle and its workers.
pub(crate) struct Inner {
    /// The queue and the counts.
    pub(crate) state: Mutex<PoolState>,
    /// Idle workers wait here for a job (or shutdown).
    pub(crate) work_ready: Condvar,
    /// Blocking `submit`s wait here for room in a bounded queue.
    pub(crate) space_ready: Condvar,
    /// The options the pool was built with.
    pub(crate) config: ThreadPoolBuilder,
    /// A lock-free copy of `queue.len()`, written under the lock, read by spinning workers.
    pub(crate) queued: AtomicUsize,
    /// The pool's label for debug reports, `Some` only in a debug pool (`debug.rs`).
    pub(crate) label: Option<Arc<str>>,
}

impl Inner {
    /// The error for a refused submission, if the pool refuses them now.
    pub(crate) fn refusal(state: &PoolState) -> Option<JobError> {
        queue::refusal(&state.broken, state.shutdown)
    }

    /// Whether a bounded queue is full.
    pub(crate) fn is_full(&self, state: &PoolState) -> bool {
        self.config
            .queue_capacity
            .is_some_and(|capacity| state.queue.len() >= capacity)
    }

    // ANCHOR: push
    /// Queues `work` (the caller checked refusal and room) and wakes or starts a worker.
    pub(crate) fn push(self: &Arc<Self>, state: &mut PoolState, work: Box<dyn Work>) -> Aftermath {
        state.queue.push_back(work);
        state.submitted += 1;
        self.queued.store(state.queue.len(), Ordering::Relaxed);
        if state.queue.len() > state.idle && state.workers < self.config.max_workers {
            self.start_worker(state)
        } else {
            self.work_ready.notify_one();
            Aftermath::default()
        }
    }
    // ANCHOR_END: push

    /// Starts one worker thread (called under the lock; the thread only takes the lock).
    fn start_worker(self: &Arc<Self>, state: &mut PoolState) -> Aftermath {
        // Join workers that exited on their idle timeout, so handles do not pile up.
        state.threads.retain(|handle| !handle.is_finished());
        state.next_thread += 1;
        let name = format!("{}-{}", self.config.thread_name_prefix, state.next_thread);
        let mut builder = thread::Builder::new().name(name);
        if let Some(bytes) = self.config.stack_size {
            builder = builder.stack_size(bytes);
        }
        let inner = self.clone();
        match builder.spawn(move || inner.worker_main()) {
            Ok(handle) => {
                state.workers += 1;
                state.threads.push(handle);
                Aftermath::default()
            }
            // Careful: if the OS refuses a thread but others exist, they will take the job;
            // if none exists the pool can never run it, so it is broken.
            Err(error) if state.workers == 0 => {
                let why = format!("no worker thread could start ({error})");
                self.break_pool(state, why)
            }
            Err(_) => {
                self.work_ready.notify_one();
                Aftermath::default()
            }
        }
    }

    /// Marks the pool broken, takes every queued job to fail with `BrokenPool`, and wakes
    /// everyone who waits. The caller finishes the aftermath after releasing the lock.
    pub(crate) fn break_pool(&self, state: &mut PoolState, why: String) -> Aftermath {
        let error = JobError::BrokenPool(why.clone());
        state.broken = Some(why);
        self.work_ready.notify_all();
        self.space_ready.notify_all();
        self.queued.store(0, Ordering::Relaxed);
        Aftermath {
            failed: state.queue.drain(..).map(|w| (w, error.clone())).collect(),
            wakers: state.space_wakers.drain(..).collect(),
        }
    }

    /// The loop of one worker thread: initialize, then take and run jobs until shutdown or
    /// the idle timeout.
    fn worker_main(self: Arc<Self>) {
        // Run the initializer, outside the lock; a failure breaks the pool.
        if let Some(init) = self.config.initializer.clone() {
            let failure = match catch_unwind(AssertUnwindSafe(|| init())) {
                Ok(Ok(())) => None,
                Ok(Err(message)) => Some(message),
                Err(payload) => Some(format!("it panicked: {}", panic_message(&*payload))),
            };
            if let Some(message) = failure {
                let name = thread::current().name().unwrap_or("?").to_string();
                let why = format!(
                    "the initializer failed in worker thread {name:?}: {message} \
                     (fix the initializer; this pool can run no job)"
                );
                let mut state = self.state.lock();
                state.workers -= 1;
                if state.broken.is_none() {
                    let aftermath = self.break_pool(&mut state, why);
                    drop(state);
                    aftermath.finish();
                }
                return;
            }
        }
        let mut state = self.state.lock();
        loop {
            // ANCHOR: take_job
            // Take the next job, waiting while the queue is empty.
            let work = loop {
                if state.broken.is_some() {
                    state.workers -= 1;
                    return;
                }
                if let Some(work) = state.queue.pop_front() {
                    self.queued.store(state.queue.len(), Ordering::Relaxed);
                    break work;
                }
                if state.shutdown {
                    state.workers -= 1;
                    return;
                }
                // Idle (the growth rule counts us) but awake: spin briefly before sleeping.
                state.idle += 1;
                if !self.config.spin.is_zero() {
                    MutexGuard::unlocked(&mut state, || {
                        queue::spin_for_job(&self.queued, self.config.spin)
                    });
                    if !state.queue.is_empty() || state.shutdown || state.broken.is_some() {
                        state.idle -= 1;
                        continue;
                    }
                }
                let timed_out = match self.config.idle_timeout {
                    Some(timeout) => {
                        let deadline = Instant::now() + timeout;
                        self.work_ready.wait_until(&mut state, deadline).timed_out()
                    }
                    None => {
                        self.work_ready.wait(&mut state);
                        false
                    }
                };
                state.idle -= 1;
                if timed_out && state.queue.is_empty() && !state.shutdown {
                    state.workers -= 1;
                    return;
                }
            };
            // ANCHOR_END: take_job
            // A slot freed up: wake one blocked submitter and every async one.
            let wakers = if self.config.queue_capacity.is_some() {
                self.space_ready.notify_one();
                std::mem::take(&mut state.space_wakers)
            } else {
                Vec::new()
            };
            // Run it, outside the lock.
            state.running += 1;
            drop(state);
            wakers.into_iter().for_each(Waker::wake);
            // Careful: the worker counts as idle again *before* the job's handle resolves, so
            // a caller that submits its next job as soon as it has this one's result finds it
            // idle and no second thread starts (sequential jobs reuse one thread).
            let mut finished = false;
            // Careful: a panic can still escape a job after its body (a discarded value or a
            // skipped closure whose `Drop` panics); catch it, so the counts stay true and the
            // worker lives on.
            let _ = catch_unwind(AssertUnwindSafe(|| {
                work.run(&mut || {
                    finished = true;
                    let mut state = self.state.lock();
                    state.running -= 1;
                    state.completed += 1;
                    state.idle += 1;
                });
            }));
            state = self.state.lock();
            if finished {
                state.idle -= 1;
            } else {
                state.running -= 1;
            }
        }
    }
}
