//! Model-based property of `ThreadPool`: random programs of submit / try_submit / cancel /
//! abort / shutdown, run from one to three threads at once, against a model of the outcomes
//! each job may have.
//!
//! # The program
//!
//! A pool of 1-3 workers, with an unbounded queue or one of capacity 1-3, and sometimes an
//! idle timeout of 500 µs (so workers exit and start again during the case). Each of 1-3
//! threads runs up to twelve operations on the shared `Arc<ThreadPool>`: submit or try_submit
//! a job (its body returns a value, panics, sleeps 100-600 µs, or waits for the case's gate),
//! `cancel` or `abort` one of the last three jobs this thread submitted. One thread may end with
//! `shutdown(cancel_pending)` (with `wait` only when no job is gated). Then the driver joins
//! the threads, opens the gate, and shuts the pool down with `wait`.
//!
//! Careful: a blocking `submit` on a bounded queue in a case with gated jobs could wait
//! forever (the gate opens only after the operations), so there it is a `try_submit`.
//!
//! # The model (`props_thread_pool_model.rs`)
//!
//! A job is *certainly queued* when `max_workers` gated jobs of its own thread, accepted
//! before it and never stopped, are ahead of it: a `cancel` or `abort` must then return
//! `true`, and the job must end `Cancelled` without running. Otherwise the model allows the
//! ends that the `cancel`s and `abort`s' return values leave possible (`model::allowed`): a
//! job no one stopped ends with its value or its panic (or `Cancelled`, unrun, if the shutdown
//! cancels pending jobs).
//!
//! # What is checked
//!
//! Every job's end and body runs are allowed by the model, and every handle agrees with
//! itself (`is_done`, `is_cancelled`, the value or the panic message). Beyond the model:
//! every accepted job resolved exactly once (its done callback ran once); every body ran at
//! most once; every closure was dropped exactly once, the refused ones at once (a `Full`
//! hands back the very closure: dropping it is its one drop); `Full` only on a bounded queue,
//! `ShutDown` only after a shutdown; no job was lost (after the final shutdown nothing is
//! queued or running, no worker is left, and `completed` equals the number of bodies that
//! ran); `workers <= max_workers` and `idle + running <= workers` in every sample (taken in
//! job bodies and after every operation); with one worker, each thread's jobs start in the
//! order it submitted them (FIFO).

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, OnceLock, Weak};
use std::thread;

use evloop_pools::{JobError, JobHandle, ThreadPool, TrySubmitError};
use parking_lot::Mutex;
use proptest::prelude::*;

use crate::props_thread_pool_model::*;
use crate::thread_pool::Latch;
use crate::util::{cases, deadline};

/// What the jobs of one case record, shared by every thread.
struct Stats {
    /// Body runs of each job, by id.
    runs: Vec<AtomicU32>,
    /// Drops of each job's closure, by id.
    drops: Vec<AtomicU32>,
    /// Done-callback runs of each job, by id.
    callbacks: Vec<AtomicU32>,
    /// Job ids in the order their bodies started.
    started: Mutex<Vec<usize>>,
    /// The most workers seen in any sample.
    most_workers: AtomicUsize,
    /// Samples with `idle + running > workers`, if any.
    inconsistent: Mutex<Vec<evloop_pools::Counters>>,
    /// The pool, for the samples taken in job bodies.
    pool: OnceLock<Weak<ThreadPool>>,
    /// What gated jobs wait for.
    gate: Latch,
}

impl Stats {
    /// Fresh stats for `jobs` job ids.
    fn new(jobs: usize) -> Arc<Stats> {
        let zeros = || (0..jobs).map(|_| AtomicU32::new(0)).collect();
        Arc::new(Stats {
            runs: zeros(),
            drops: zeros(),
            callbacks: zeros(),
            started: Mutex::new(Vec::new()),
            most_workers: AtomicUsize::new(0),
            inconsistent: Mutex::new(Vec::new()),
            pool: OnceLock::new(),
            gate: Latch::new(),
        })
    }

    /// Samples the pool's counters.
    fn sample(&self, pool: &ThreadPool) {
        let counters = pool.counters();
        self.most_workers.fetch_max(counters.workers, SeqCst);
        if counters.idle + counters.running > counters.workers {
            self.inconsistent.lock().push(counters);
        }
    }
}

/// Owned by a job's closure: counts the closure's drop.
struct DropGuard {
    /// Where to count.
    stats: Arc<Stats>,
    /// Whose drop it counts.
    id: usize,
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.stats.drops[self.id].fetch_add(1, SeqCst);
    }
}

/// The closure of job `id`.
fn job(stats: &Arc<Stats>, id: usize, kind: Kind) -> impl FnOnce() -> u64 + Send + 'static {
    let guard = DropGuard {
        stats: stats.clone(),
        id,
    };
    move || {
        let stats = &guard.stats;
        stats.runs[id].fetch_add(1, SeqCst);
        stats.started.lock().push(id);
        if let Some(pool) = stats.pool.get().and_then(Weak::upgrade) {
            stats.sample(&pool);
        }
        match kind {
            Kind::Value => {}
            Kind::Panic => panic!("{}", panic_message(id)),
            Kind::Sleep(micros) => thread::sleep(std::time::Duration::from_micros(micros)),
            Kind::Gated => stats.gate.wait(),
        }
        value(id)
    }
}

/// A submission the pool refused.
#[derive(Debug)]
struct Refusal {
    /// The job's id.
    id: usize,
    /// `Full`, or the error of a refusal for good.
    why: Result<(), JobError>,
    /// Drops of the closure right after the test dropped what came back (must be 1).
    drops_after: u32,
}

/// What one operation thread saw.
#[derive(Default)]
struct ThreadLog {
    /// Its accepted jobs, in submission order.
    jobs: Vec<JobLog>,
    /// Their handles, in the same order.
    handles: Vec<JobHandle<u64>>,
    /// Its refused submissions.
    refused: Vec<Refusal>,
}

impl ThreadLog {
    /// Submits job `id` (blocking or not), and logs it as accepted (with a done callback
    /// that counts) or refused (with the drops of its closure right after the refusal).
    fn submit(
        &mut self,
        pool: &ThreadPool,
        stats: &Arc<Stats>,
        id: usize,
        kind: Kind,
        blocking: bool,
    ) {
        let attempt = if blocking {
            pool.submit(job(stats, id, kind)).map_err(Err)
        } else {
            pool.try_submit(job(stats, id, kind))
                .map_err(|refused| match refused {
                    // Dropping what came back drops the closure (checked below: its one drop).
                    TrySubmitError::Full(_) => Ok(()),
                    TrySubmitError::Refused(_, error) => Err(error),
                })
        };
        match attempt {
            Ok(handle) => {
                let stats = stats.clone();
                handle.add_done_callback(move || {
                    stats.callbacks[id].fetch_add(1, SeqCst);
                });
                self.jobs.push(JobLog {
                    id,
                    kind,
                    stops: Vec::new(),
                });
                self.handles.push(handle);
            }
            Err(why) => self.refused.push(Refusal {
                id,
                why,
                drops_after: stats.drops[id].load(SeqCst),
            }),
        }
    }

    /// Cancels or aborts the `back`-th latest accepted job (if any), noting whether the model
    /// says it is certainly queued.
    fn stop(&mut self, back: usize, abort: bool, max_workers: usize) {
        if self.jobs.is_empty() {
            return;
        }
        let seq = self.jobs.len() - 1 - back % self.jobs.len();
        let certain = certainly_queued(&self.jobs, seq, max_workers);
        let handle = &self.handles[seq];
        let returned = if abort {
            handle.abort()
        } else {
            handle.cancel()
        };
        self.jobs[seq].stops.push(Stop {
            abort,
            returned,
            certain,
        });
    }
}

/// Runs the operations of thread `thread` of `program`, sampling the counters after each.
fn run_thread(
    program: &Program,
    thread: usize,
    pool: &ThreadPool,
    stats: &Arc<Stats>,
) -> ThreadLog {
    let mut log = ThreadLog::default();
    for (seq, &op) in program.threads[thread].iter().enumerate() {
        let id = job_id(thread, seq);
        match op {
            Op::Submit(kind) => {
                let blocking = program.blocking_submit_is_safe();
                log.submit(pool, stats, id, kind, blocking);
            }
            Op::TrySubmit(kind) => log.submit(pool, stats, id, kind, false),
            Op::Cancel(back) => log.stop(back, false, program.max_workers),
            Op::Abort(back) => log.stop(back, true, program.max_workers),
        }
        stats.sample(pool);
    }
    if let Some(shutdown) = program.shutdown.filter(|s| s.by == thread) {
        pool.shutdown(shutdown.wait, shutdown.cancel_pending);
    }
    log
}

/// Runs `program` and checks it (module docs).
fn check(program: Program) -> Result<(), TestCaseError> {
    // Run the threads, then open the gate and shut down with wait.
    let stats = Stats::new(program.threads.len() * MAX_OPS);
    let pool = ThreadPool::builder()
        .max_workers(program.max_workers)
        .queue_capacity(program.capacity)
        .idle_timeout(program.idle_timeout)
        .thread_name_prefix("tp-prop")
        .build();
    let pool = Arc::new(pool);
    stats.pool.set(Arc::downgrade(&pool)).ok();
    let logs: Vec<ThreadLog> = thread::scope(|scope| {
        let threads: Vec<_> = (0..program.threads.len())
            .map(|thread| {
                let (program, pool, stats) = (&program, &pool, &stats);
                scope.spawn(move || run_thread(program, thread, pool, stats))
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    stats.gate.open();
    pool.shutdown(true, false);

    // Check every refusal and every job, then the totals.
    for refusal in logs.iter().flat_map(|log| &log.refused) {
        check_refusal(&program, &stats, refusal)?;
    }
    let shutdown_cancels = program.shutdown.is_some_and(|s| s.cancel_pending);
    let mut ran = 0;
    for log in logs {
        for (job, handle) in log.jobs.into_iter().zip(log.handles) {
            ran += u64::from(check_job(&stats, &job, handle, shutdown_cancels)?);
        }
    }
    check_totals(&program, &stats, &pool, ran)
}

/// A refused closure was dropped once, at once, and never ran; `Full` only on a bounded
/// queue, `ShutDown` only in a program with a shutdown.
fn check_refusal(program: &Program, stats: &Stats, refusal: &Refusal) -> Result<(), TestCaseError> {
    let id = refusal.id;
    prop_assert_eq!(
        refusal.drops_after,
        1,
        "refused job {} dropped once, at once",
        id
    );
    prop_assert_eq!(stats.runs[id].load(SeqCst), 0, "refused job {} ran", id);
    prop_assert_eq!(stats.callbacks[id].load(SeqCst), 0);
    match &refusal.why {
        Ok(()) => prop_assert!(program.capacity.is_some(), "Full on an unbounded queue"),
        Err(JobError::ShutDown) => prop_assert!(program.shutdown.is_some()),
        Err(other) => prop_assert!(false, "job {} refused with {:?}", id, other),
    }
    Ok(())
}

/// An accepted job resolved once, its closure dropped once, its handle agrees with itself,
/// and its end and body runs are ones the model allows. Returns its body runs.
fn check_job(
    stats: &Stats,
    job: &JobLog,
    handle: JobHandle<u64>,
    shutdown_cancels: bool,
) -> Result<u32, TestCaseError> {
    let id = job.id;
    let runs = stats.runs[id].load(SeqCst);
    prop_assert!(
        handle.is_done() && !handle.is_running(),
        "job {} unresolved",
        id
    );
    prop_assert_eq!(
        stats.callbacks[id].load(SeqCst),
        1,
        "job {} resolved once",
        id
    );
    prop_assert_eq!(stats.drops[id].load(SeqCst), 1, "job {} dropped once", id);
    // A stop on a certainly queued job succeeds; after one succeeds, every later one does.
    prop_assert!(
        job.stops.iter().all(|stop| !stop.certain || stop.returned),
        "{:?}",
        job
    );
    if let Some(first) = job.stops.iter().position(|stop| stop.returned) {
        prop_assert!(
            job.stops[first..].iter().all(|stop| stop.returned),
            "{:?}",
            job
        );
    }
    let cancelled = handle.is_cancelled();
    let end = match handle.result() {
        Ok(got) => {
            prop_assert_eq!(got, value(id));
            End::Value
        }
        Err(JobError::Panicked(message)) => {
            prop_assert_eq!(message, panic_message(id));
            End::Panicked
        }
        Err(JobError::Cancelled) => End::Cancelled,
        Err(other) => return Err(TestCaseError::fail(format!("job {id} ended {other:?}"))),
    };
    prop_assert_eq!(cancelled, end == End::Cancelled, "job {} is_cancelled", id);
    let allowed = allowed(job, shutdown_cancels);
    prop_assert!(
        allowed.ends.contains(&end),
        "{:?} ended {:?}; the model allows {:?}",
        job,
        end,
        allowed
    );
    let runs_allowed = match end {
        End::Cancelled => allowed.runs_if_cancelled,
        End::Value | End::Panicked => vec![1],
    };
    prop_assert!(
        runs_allowed.contains(&runs),
        "{:?} ({:?}) ran {} times, not {:?}",
        job,
        end,
        runs,
        runs_allowed
    );
    Ok(runs)
}

/// Nothing lost (the pool is empty and `completed` counts the `ran` bodies), nothing over the
/// limit, every sample consistent, and FIFO starts with one worker.
fn check_totals(
    program: &Program,
    stats: &Stats,
    pool: &ThreadPool,
    ran: u64,
) -> Result<(), TestCaseError> {
    let counters = pool.counters();
    let left = (
        counters.queued,
        counters.running,
        counters.workers,
        counters.idle,
    );
    prop_assert_eq!(left, (0, 0, 0, 0), "queued, running, workers, idle");
    prop_assert_eq!(
        counters.completed,
        ran,
        "completed counts every body that ran"
    );
    prop_assert!(stats.most_workers.load(SeqCst) <= program.max_workers);
    let inconsistent = stats.inconsistent.lock().clone();
    prop_assert!(
        inconsistent.is_empty(),
        "idle + running > workers: {:?}",
        inconsistent
    );
    if program.max_workers == 1 {
        let started = stats.started.lock().clone();
        for thread in 0..program.threads.len() {
            let own: Vec<usize> = started
                .iter()
                .copied()
                .filter(|id| id / MAX_OPS == thread)
                .collect();
            prop_assert!(
                own.windows(2).all(|w| w[0] < w[1]),
                "thread {} started out of order: {:?}",
                thread,
                own
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(32)))]

    /// Random programs on a shared pool end as the model allows; nothing is lost.
    #[test]
    fn prop_thread_pool_matches_model(program in program()) {
        deadline(CASE_BUDGET, move || check(program))?;
    }
}
