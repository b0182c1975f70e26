//! The programs and the reference model of `props_thread_pool.rs`: what a random program of
//! submit / try_submit / cancel / abort / shutdown is, how it is generated, what each thread
//! logs while it runs, and the model that says which outcomes each job may have. The module
//! docs of `props_thread_pool.rs` explain both.

use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;

/// How long one case may take before it counts as a hang.
pub(crate) const CASE_BUDGET: Duration = Duration::from_secs(10);

/// The most operations of one thread.
pub(crate) const MAX_OPS: usize = 12;

/// What a job's body does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Returns [`value`] at once.
    Value,
    /// Panics with [`panic_message`].
    Panic,
    /// Sleeps this many microseconds, then returns [`value`].
    Sleep(u64),
    /// Waits for the case's gate (opened after every operation thread is done), then returns
    /// [`value`]: it holds its worker until the end of the case.
    Gated,
}

/// One operation of a thread.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Op {
    /// `submit` (blocking); `try_submit` instead when a blocking submit could wait forever
    /// (a bounded queue in a case with gated jobs).
    Submit(Kind),
    /// `try_submit`.
    TrySubmit(Kind),
    /// `cancel` on the `i`-th latest (modulo) job this thread had accepted (nothing if none
    /// yet): recent jobs are the likeliest to be still queued.
    Cancel(usize),
    /// `abort`, likewise.
    Abort(usize),
}

/// A whole program.
#[derive(Clone, Debug)]
pub(crate) struct Program {
    /// The pool's `max_workers`.
    pub(crate) max_workers: usize,
    /// The pool's `queue_capacity`.
    pub(crate) capacity: Option<usize>,
    /// The pool's `idle_timeout` (short, so workers come and go during a case).
    pub(crate) idle_timeout: Option<Duration>,
    /// The operations of each thread.
    pub(crate) threads: Vec<Vec<Op>>,
    /// `shutdown(wait = false, cancel_pending)` as the last operation of thread
    /// `by % threads`, if any.
    pub(crate) shutdown: Option<Shutdown>,
}

/// The shutdown operation of a program.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shutdown {
    /// Which thread calls it, after its other operations.
    pub(crate) by: usize,
    /// Its `cancel_pending`.
    pub(crate) cancel_pending: bool,
    /// Its `wait`; only `true` when no job is gated (the gate opens after the operations).
    pub(crate) wait: bool,
}

impl Program {
    /// Whether any job waits for the gate.
    pub(crate) fn has_gated(&self) -> bool {
        self.threads
            .iter()
            .flatten()
            .any(|op| matches!(op, Op::Submit(Kind::Gated) | Op::TrySubmit(Kind::Gated)))
    }

    /// Whether a blocking `submit` is safe: it can only wait for jobs that end by themselves.
    pub(crate) fn blocking_submit_is_safe(&self) -> bool {
        self.capacity.is_none() || !self.has_gated()
    }
}

/// The id of job number `seq` of thread `thread`.
pub(crate) fn job_id(thread: usize, seq: usize) -> usize {
    thread * MAX_OPS + seq
}

/// The value a job returns.
pub(crate) fn value(id: usize) -> u64 {
    1000 + id as u64
}

/// The message a panicking job panics with.
pub(crate) fn panic_message(id: usize) -> String {
    format!("props_thread_pool: job {id} panics on purpose")
}

// ---------------------------------------------------------------------------------------
// Generation.

/// A job kind: mostly quick, some gated.
fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        3 => Just(Kind::Value),
        1 => Just(Kind::Panic),
        2 => (100u64..600).prop_map(Kind::Sleep),
        3 => Just(Kind::Gated),
    ]
}

/// One operation.
fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => kind().prop_map(Op::Submit),
        2 => kind().prop_map(Op::TrySubmit),
        2 => (0..3usize).prop_map(Op::Cancel),
        2 => (0..3usize).prop_map(Op::Abort),
    ]
}

/// A program: a pool of 1-3 workers, bounded or not, and 1-3 threads of operations. A third
/// of the threads begin with `max_workers` gated submits, so that the jobs they submit next
/// are certainly queued (until they stop one of those).
pub(crate) fn program() -> impl Strategy<Value = Program> {
    (
        1..=3usize,
        prop_oneof![Just(None), (1..=3usize).prop_map(Some)],
        prop_oneof![Just(None), Just(Some(Duration::from_micros(500)))],
        prop::collection::vec(
            (
                prop::bool::weighted(0.3),
                prop::collection::vec(op(), 1..=MAX_OPS - 3),
            ),
            1..=3,
        ),
        prop::option::weighted(0.8, (any::<Index>(), any::<bool>())),
    )
        .prop_map(|(max_workers, capacity, idle_timeout, threads, shutdown)| {
            let threads = threads
                .into_iter()
                .map(|(blocked, mut ops)| {
                    if blocked {
                        let gated = vec![Op::Submit(Kind::Gated); max_workers];
                        ops.splice(0..0, gated);
                    }
                    ops.truncate(MAX_OPS);
                    ops
                })
                .collect();
            let mut program = Program {
                max_workers,
                capacity,
                idle_timeout,
                threads,
                shutdown: None,
            };
            let wait = !program.has_gated();
            program.shutdown = shutdown.map(|(by, cancel_pending)| Shutdown {
                by: by.index(program.threads.len()),
                cancel_pending,
                wait,
            });
            program
        })
}

// ---------------------------------------------------------------------------------------
// What a thread logs, and the model.

/// A `cancel` or an `abort`, as one thread did it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stop {
    /// `true` for `abort`, `false` for `cancel`.
    pub(crate) abort: bool,
    /// What it returned.
    pub(crate) returned: bool,
    /// Whether the job was certainly still queued ([`certainly_queued`]).
    pub(crate) certain: bool,
}

/// What happened to one accepted job, in its thread's order.
#[derive(Clone, Debug)]
pub(crate) struct JobLog {
    /// The job's id.
    pub(crate) id: usize,
    /// What its body does.
    pub(crate) kind: Kind,
    /// Every `cancel` and `abort` on it, in order.
    pub(crate) stops: Vec<Stop>,
}

/// Whether job number `seq` of a thread is certainly still queued: at least `max_workers`
/// gated jobs that the same thread accepted before it were never the target of a `cancel`
/// or an `abort`. Each of them is ahead in the FIFO queue and, once started, holds its
/// worker until the gate opens (after every operation), so no worker can reach `seq`. (An
/// untargeted gated job is never skipped; a concurrent `shutdown(cancel_pending)` drains
/// `seq` along with any of them still queued, which only makes it cancelled sooner.)
pub(crate) fn certainly_queued(jobs: &[JobLog], seq: usize, max_workers: usize) -> bool {
    let blockers = jobs[..seq]
        .iter()
        .filter(|job| job.kind == Kind::Gated && job.stops.is_empty())
        .count();
    blockers >= max_workers
}

/// How a job ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// Its body returned its value.
    Value,
    /// Its body panicked.
    Panicked,
    /// It was cancelled (by `cancel`, `abort`, or the shutdown).
    Cancelled,
}

/// What the model allows for one job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Allowed {
    /// The ends it may have.
    pub(crate) ends: Vec<End>,
    /// How many times its body may have run if it ends `Cancelled` (a body that gave its
    /// value or its panic ran exactly once).
    pub(crate) runs_if_cancelled: Vec<u32>,
}

/// The model: the ends a job may have and how often its body may run, from its kind, what
/// its `cancel`s and `abort`s returned, and whether the program's shutdown cancels queued jobs.
///
/// - A stop on a certainly queued job returns `true`; the job is `Cancelled` and never runs.
/// - A stop that returned `true` leaves it `Cancelled` (the first resolution wins). A
///   `cancel` returning `true` finds it queued (it never runs) or already cancelled; only an
///   `abort` can catch it running.
/// - A stop that returned `false` found it started (`cancel`) or finished (`abort`): its body
///   ran, once.
/// - Untouched, it ends as its body does, or `Cancelled` (never run) by a
///   `shutdown(cancel_pending = true)` that found it queued.
/// - A job that ends with its body's value or panic ran exactly once.
pub(crate) fn allowed(job: &JobLog, shutdown_cancels: bool) -> Allowed {
    let ran_end = match job.kind {
        Kind::Panic => End::Panicked,
        Kind::Value | Kind::Sleep(_) | Kind::Gated => End::Value,
    };
    let started = job.stops.iter().any(|stop| !stop.returned);
    let first_true = job.stops.iter().position(|stop| stop.returned);
    match first_true {
        Some(first) => {
            // A cancel that returned true before any abort: it was queued, or already
            // cancelled by the shutdown while queued.
            let never_ran =
                job.stops.iter().any(|stop| stop.certain) || !job.stops[first].abort && !started;
            let runs = if started {
                vec![1]
            } else if never_ran {
                vec![0]
            } else {
                vec![0, 1]
            };
            Allowed {
                ends: vec![End::Cancelled],
                runs_if_cancelled: runs,
            }
        }
        None if started => Allowed {
            ends: vec![ran_end],
            runs_if_cancelled: vec![],
        },
        None => Allowed {
            ends: if shutdown_cancels {
                vec![ran_end, End::Cancelled]
            } else {
                vec![ran_end]
            },
            runs_if_cancelled: vec![0],
        },
    }
}
