//! The mechanics both pools' job queues share: the aftermath of a locked section, the
//! refusal rule, the registry of `submit_async` wakers, and the short spin of an idle worker.
//!
//! Each pool keeps its own queue and counts under its own lock (`thread_pool/worker.rs`,
//! `process_pool/state.rs`); what is here is the part that is the same word for word. The
//! invariant it serves: user code (a done callback, a waker) never runs under a pool's lock,
//! so a locked section collects that work in an [`Aftermath`] and the caller finishes it after
//! unlocking.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::error::JobError;

/// A queued job that can be resolved with an error without running.
pub(crate) trait Refuse {
    /// Resolves the job's handle(s) with `error`.
    fn refuse(self, error: JobError);
}

/// What a caller must finish after releasing the lock: jobs to fail, wakers to wake.
#[must_use = "the jobs and wakers must be finished after the lock is released"]
pub(crate) struct Aftermath<J> {
    /// Jobs refused or dropped, and the error each gets.
    pub(crate) failed: Vec<(J, JobError)>,
    /// Wakers of `submit_async` futures to wake.
    pub(crate) wakers: Vec<Waker>,
}

impl<J> Default for Aftermath<J> {
    fn default() -> Self {
        Aftermath {
            failed: Vec::new(),
            wakers: Vec::new(),
        }
    }
}

impl<J: Refuse> Aftermath<J> {
    /// Fails the jobs and wakes the wakers. Call with the lock released.
    pub(crate) fn finish(self) {
        for (job, error) in self.failed {
            job.refuse(error);
        }
        self.wakers.into_iter().for_each(Waker::wake);
    }
}

/// The error for a refused submission, if the pool refuses them now: a broken pool says why,
/// a shut-down pool says how to fix it.
pub(crate) fn refusal(broken: &Option<String>, shutdown: bool) -> Option<JobError> {
    match (broken, shutdown) {
        (Some(why), _) => Some(JobError::BrokenPool(why.clone())),
        (None, true) => Some(JobError::ShutDown),
        (None, false) => None,
    }
}

/// Adds `waker` to the wakers waiting for room, unless it is there already.
pub(crate) fn wait_for_room(wakers: &mut Vec<Waker>, waker: &Waker) {
    if !wakers.iter().any(|w| w.will_wake(waker)) {
        wakers.push(waker.clone());
    }
}

/// Whether this machine has more than one core (spinning only delays others on one core).
pub(crate) fn several_cores() -> bool {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get())) > 1
}

/// How long an idle worker spins for a job by default: 50 µs on a multi-core machine, none on
/// one core.
pub(crate) fn default_spin() -> Duration {
    if several_cores() {
        Duration::from_micros(50)
    } else {
        Duration::ZERO
    }
}

// ANCHOR: spin
/// Spins for up to `budget` until `queued` (a lock-free copy of a queue's length) says a job
/// is waiting. A loop that awaits jobs one after another submits the next within
/// microseconds; a sleeping worker would cost a futex wake and a trip through the scheduler
/// for each.
pub(crate) fn spin_for_job(queued: &AtomicUsize, budget: Duration) {
    let start = Instant::now();
    while start.elapsed() < budget {
        for _ in 0..64 {
            if queued.load(Ordering::Relaxed) > 0 {
                return;
            }
            std::hint::spin_loop();
        }
    }
}
// ANCHOR_END: spin
