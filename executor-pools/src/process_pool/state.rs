//! The shared state of a process pool: the queue, the counts, and the rules that change them.
//!
//! # How the pool grows
//!
//! One supervisor thread per worker slot. A submit that leaves more queued jobs than idle
//! supervisors starts one more supervisor, up to `max_workers` (the thread pool's rule); a
//! supervisor starts its worker process when it takes its first job, and a fresh one whenever
//! the last one ended. Slots never shrink before shutdown (Python's process pool keeps its
//! workers too).
//!
//! # Invariants, enforced under `Inner::state`
//!
//! - `supervisors <= max_workers`; `idle + running <= supervisors`; one worker per slot.
//! - A job is popped exactly once; a popped job whose handles were all cancelled is skipped.
//! - Once `broken` is set it stays set, the queue is empty, and no worker starts again.
//! - Nothing that can run user code (a done callback, a waker, a `Serialize` impl) runs under
//!   the lock: it goes into an [`Aftermath`] finished after the lock is released.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Waker;
use std::thread::{self, JoinHandle};

use parking_lot::{Condvar, Mutex};

use super::builder::ProcessPoolBuilder;
use super::job::{Job, Switch};
use super::registry::Signature;
use super::supervisor::supervise;
use crate::error::JobError;
use crate::queue::{self, Refuse};

impl Refuse for Job {
    fn refuse(self, error: JobError) {
        self.fail(error);
    }
}

/// What a locked section leaves to finish after the lock is released (`queue.rs`).
pub(crate) type Aftermath = queue::Aftermath<Job>;

/// Everything the lock protects.
pub(crate) struct PoolState {
    /// Jobs waiting for a supervisor, FIFO.
    pub(crate) queue: VecDeque<Job>,
    /// Live supervisor threads (worker slots).
    pub(crate) supervisors: usize,
    /// Supervisors waiting for a job (the growth rule compares it with the queue).
    pub(crate) idle: usize,
    /// Supervisors handling a job (starting a worker for it, or waiting for its reply).
    pub(crate) running: usize,
    /// Jobs a worker resolved (a value, a panic, a death, a timeout).
    pub(crate) completed: u64,
    /// Jobs accepted into the queue (`Counters::submitted`).
    pub(crate) submitted: u64,
    /// Worker starts that replaced an ended worker or retried a failed start.
    pub(crate) restarts: u64,
    /// Failed worker starts since the last successful one (`max_startup_failures`).
    pub(crate) startup_failures: u32,
    /// Set by `shutdown`: no new jobs; supervisors retire their workers when the queue is empty.
    pub(crate) shutdown: bool,
    /// Why the pool broke; every refused or queued job gets this message.
    pub(crate) broken: Option<String>,
    /// Wakers of `submit_async` futures waiting for room in a bounded queue.
    pub(crate) space_wakers: Vec<Waker>,
    /// Join handles of every supervisor started and not yet joined.
    pub(crate) threads: Vec<JoinHandle<()>>,
    /// Numbers the next supervisor (its slot and thread name).
    pub(crate) next_slot: usize,
    /// The live worker process of each slot that has one.
    pub(crate) pids: BTreeMap<usize, u32>,
    /// The switch of each slot's running job, so dropping the pool can stop them all.
    pub(crate) switches: BTreeMap<usize, Switch>,
}

/// The state shared by the pool handle and its supervisors.
pub(crate) struct Inner {
    /// The queue and the counts.
    pub(crate) state: Mutex<PoolState>,
    /// Idle supervisors wait here for a job (or shutdown).
    pub(crate) work_ready: Condvar,
    /// Blocking `submit`s wait here for room in a bounded queue.
    pub(crate) space_ready: Condvar,
    /// Set when the pool is dropped: supervisors stop running jobs and kill their workers.
    /// An atomic, because a supervisor polls it while a worker starts, without the lock.
    pub(crate) terminating: AtomicBool,
    /// Numbers requests, so a stray reply is caught.
    pub(crate) next_job_id: AtomicU64,
    /// A lock-free copy of `queue.len()`, written under the lock, read by spinning supervisors.
    pub(crate) queued: AtomicUsize,
    /// The parent registry's signatures (the handshake and `submit` check against them).
    pub(crate) signatures: Vec<Signature>,
    /// The pool's label for debug reports, `Some` only in a debug pool (`debug.rs`).
    pub(crate) label: Option<Arc<str>>,
    /// The options the pool was built with.
    pub(crate) config: ProcessPoolBuilder,
}

impl Inner {
    /// The state of a new pool.
    pub(crate) fn new(config: ProcessPoolBuilder) -> Self {
        Inner {
            state: Mutex::new(PoolState {
                queue: VecDeque::new(),
                supervisors: 0,
                idle: 0,
                running: 0,
                completed: 0,
                submitted: 0,
                restarts: 0,
                startup_failures: 0,
                shutdown: false,
                broken: None,
                space_wakers: Vec::new(),
                threads: Vec::new(),
                next_slot: 0,
                pids: BTreeMap::new(),
                switches: BTreeMap::new(),
            }),
            work_ready: Condvar::new(),
            space_ready: Condvar::new(),
            terminating: AtomicBool::new(false),
            next_job_id: AtomicU64::new(1),
            queued: AtomicUsize::new(0),
            signatures: config.signatures(),
            label: crate::debug::pool_label(
                config.debug,
                "ProcessPool",
                &config.thread_name_prefix,
            ),
            config,
        }
    }

    /// Whether the pool was dropped.
    pub(crate) fn terminating(&self) -> bool {
        self.terminating.load(Ordering::Acquire)
    }

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
    /// Queues `job` (the caller checked refusal and room) and wakes or starts a supervisor.
    pub(crate) fn push(self: &Arc<Self>, state: &mut PoolState, job: Job) -> Aftermath {
        state.queue.push_back(job);
        state.submitted += 1;
        self.queued.store(state.queue.len(), Ordering::Relaxed);
        if state.queue.len() > state.idle && state.supervisors < self.config.max_workers {
            self.start_supervisor(state)
        } else {
            self.work_ready.notify_one();
            Aftermath::default()
        }
    }
    // ANCHOR_END: push

    /// Starts one supervisor thread (called under the lock; the thread only takes the lock).
    fn start_supervisor(self: &Arc<Self>, state: &mut PoolState) -> Aftermath {
        state.threads.retain(|handle| !handle.is_finished());
        state.next_slot += 1;
        let slot = state.next_slot;
        let name = format!("{}-{slot}", self.config.thread_name_prefix);
        let inner = self.clone();
        match thread::Builder::new()
            .name(name)
            .spawn(move || supervise(inner, slot))
        {
            Ok(handle) => {
                state.supervisors += 1;
                state.threads.push(handle);
                Aftermath::default()
            }
            // Careful: if the OS refuses a thread but supervisors exist, they take the job;
            // if none exists the pool can never run it, so it is broken.
            Err(error) if state.supervisors == 0 => {
                self.break_pool(state, format!("no supervisor thread could start ({error})"))
            }
            Err(_) => {
                self.work_ready.notify_one();
                Aftermath::default()
            }
        }
    }

    // ANCHOR: break_pool
    /// Marks the pool broken (the first reason wins), takes every queued job to fail with
    /// `BrokenPool`, and wakes everyone who waits.
    pub(crate) fn break_pool(&self, state: &mut PoolState, why: String) -> Aftermath {
        let why = state.broken.get_or_insert(why).clone();
        let error = JobError::BrokenPool(why);
        self.work_ready.notify_all();
        self.space_ready.notify_all();
        self.queued.store(0, Ordering::Relaxed);
        Aftermath {
            failed: state.queue.drain(..).map(|j| (j, error.clone())).collect(),
            wakers: state.space_wakers.drain(..).collect(),
        }
    }
    // ANCHOR_END: break_pool

    /// Stops taking jobs; with `cancel_pending`, takes the queued ones to cancel.
    pub(crate) fn shut(&self, state: &mut PoolState, cancel_pending: bool) -> Aftermath {
        state.shutdown = true;
        self.work_ready.notify_all();
        self.space_ready.notify_all();
        Aftermath {
            failed: if cancel_pending {
                self.queued.store(0, Ordering::Relaxed);
                let queued = state.queue.drain(..);
                queued.map(|job| (job, JobError::Cancelled)).collect()
            } else {
                Vec::new()
            },
            wakers: state.space_wakers.drain(..).collect(),
        }
    }

    // ANCHOR: terminate
    /// What `Drop` does: shut down, cancel the queue, and stop every running job (its
    /// worker is killed and its handle resolves `Cancelled`). Never blocks on a worker.
    pub(crate) fn terminate(&self) {
        self.terminating.store(true, Ordering::Release);
        let (aftermath, switches) = {
            let mut state = self.state.lock();
            let aftermath = self.shut(&mut state, true);
            let switches: Vec<Switch> = state.switches.values().cloned().collect();
            (aftermath, switches)
        };
        switches.iter().for_each(Switch::fire);
        aftermath.finish();
    }
    // ANCHOR_END: terminate
}
