//! Metrics: counters cheap enough to leave on, and the snapshot that reads them.
//!
//! A loop counts what it does in plain `Cell`s on its own thread (an add per event, no atomic,
//! no lock), and [`EventLoop::metrics`](crate::EventLoop::metrics) copies them into a
//! [`LoopMetrics`] snapshot. The counts answer the questions asked of a loop in production:
//! is it busy or idle (time polling vs running), is work piling up (ready-queue depth, timers
//! pending, tasks alive), are threads flooding it (threadsafe posts vs the wakeups they cost),
//! is the default executor saturated (its queued/running/completed counters).
//!
//! # Time without a clock read per iteration
//!
//! Reading the clock costs about 20 ns, as much as a whole `call_soon` iteration, so the loop
//! reads it only around the poller syscall, which costs a microsecond or more anyway:
//! `time_polling` adds up the time spent inside `epoll_wait`; `time_running` is the rest of
//! the time spent inside `run_until_complete`/`run_forever` (callbacks, task polls, and the
//! loop's own bookkeeping). Iterations that skip the syscall read no clock at all.
//!
//! # Wakeups and posts
//!
//! `threadsafe_posts` counts the messages the loop took from its channel (closures, remote
//! task wakes, cancels, stops). `wakeups` counts the `mio::Waker` syscalls other threads made
//! to interrupt a blocked poll; it is the only counter other threads write (an atomic, bumped
//! only on the path that makes the syscall). Their ratio is how well the notify protocol
//! coalesces (`remote.rs`): many posts per wakeup means threads post while the loop is busy.
//!
//! This file holds the counters, the snapshot and `EventLoop::metrics`. It does not decide
//! what to count where: `run_once.rs`, `event_loop.rs` and `task/cell.rs` bump the counters.

use std::cell::Cell;
use std::fmt;
use std::time::{Duration, Instant};

use crate::event_loop::EventLoop;

/// The loop's counters, bumped on its own thread.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// `run_once` calls.
    pub(crate) iterations: Cell<u64>,
    /// Callbacks run (`call_soon`, due `call_later`/`call_at` timers, threadsafe closures).
    pub(crate) callbacks_run: Cell<u64>,
    /// Task polls (spawned tasks and the main future).
    pub(crate) task_polls: Cell<u64>,
    /// Tasks spawned.
    pub(crate) tasks_spawned: Cell<u64>,
    /// Tasks finished (with a value, cancelled, or panicked).
    pub(crate) tasks_completed: Cell<u64>,
    /// Messages taken from the threadsafe channel.
    pub(crate) threadsafe_posts: Cell<u64>,
    /// Poller syscalls made (iterations that skipped it are not counted).
    pub(crate) polls: Cell<u64>,
    /// Time spent inside the poller syscall.
    pub(crate) time_polling: Cell<Duration>,
    /// Time spent inside `run_until_complete`/`run_forever`, runs that ended.
    pub(crate) time_in_runs: Cell<Duration>,
    /// When the current run began, while one is going on.
    pub(crate) run_started: Cell<Option<Instant>>,
    /// The largest number of entries one run phase had to run.
    pub(crate) ready_depth_max: Cell<usize>,
    /// Callbacks and task polls debug mode reported as slow.
    pub(crate) slow_callbacks: Cell<u64>,
}

/// Adds one to a counter.
pub(crate) fn bump(counter: &Cell<u64>) {
    counter.set(counter.get() + 1);
}

impl Counters {
    /// A run began (`RunningGuard::enter`).
    pub(crate) fn run_began(&self) {
        self.run_started.set(Some(Instant::now()));
    }

    /// A run ended.
    pub(crate) fn run_ended(&self) {
        if let Some(start) = self.run_started.take() {
            self.time_in_runs
                .set(self.time_in_runs.get() + start.elapsed());
        }
    }

    /// Time inside runs, the current one included.
    pub(crate) fn time_in_runs_now(&self) -> Duration {
        let current = self
            .run_started
            .get()
            .map_or(Duration::ZERO, |s| s.elapsed());
        self.time_in_runs.get() + current
    }
}

/// A snapshot of a loop's metrics (from [`EventLoop::metrics`](crate::EventLoop::metrics)).
///
/// Counts are totals since the loop was created; depths and sizes are the values at the
/// snapshot. Subtract two snapshots to get rates.
///
/// # Examples
///
/// ```
/// let lp = evloop::EventLoop::new().unwrap();
/// lp.call_soon(|| {});
/// lp.run_until_complete(async { evloop::spawn(async {}).await.unwrap() }).unwrap();
/// let m = lp.metrics();
/// assert_eq!(m.callbacks_run, 1);
/// assert_eq!(m.tasks_spawned, 1);
/// assert_eq!(m.tasks_completed, 1);
/// assert_eq!(m.tasks_alive, 0);
/// println!("{m}");
/// lp.close().unwrap();
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct LoopMetrics {
    /// Iterations of the loop (asyncio's `_run_once` calls).
    pub iterations: u64,
    /// Callbacks run: `call_soon`, due timers, `call_soon_threadsafe` closures (a cancelled
    /// callback is skipped, not counted).
    pub callbacks_run: u64,
    /// Task polls, the main future of `run_until_complete` included; the poll slot that ends
    /// a cancelled task counts as one (asyncio's step that throws `CancelledError`).
    pub task_polls: u64,
    /// Tasks spawned.
    pub tasks_spawned: u64,
    /// Tasks finished: with a value, cancelled or panicked.
    pub tasks_completed: u64,
    /// Tasks not finished yet.
    pub tasks_alive: usize,
    /// Timers waiting (callbacks and sleeps), cancelled ones excluded.
    pub timers_pending: usize,
    /// Entries in the ready queue now.
    pub ready_depth: usize,
    /// The most entries one iteration had to run.
    pub ready_depth_max: usize,
    /// Poller syscalls (iterations with nothing to wait for skip it).
    pub polls: u64,
    /// Time spent waiting in the poller (idle, or waiting for I/O and timers).
    pub time_polling: Duration,
    /// Time spent running: callbacks, task polls and the loop's own work.
    pub time_running: Duration,
    /// Messages received from other threads: closures, remote wakes (executor completions
    /// among them), cancels, stops.
    pub threadsafe_posts: u64,
    /// Poller wakeups other threads paid a syscall for.
    pub wakeups: u64,
    /// `run_in_executor`/`to_thread` futures not resolved yet.
    pub executor_jobs_in_flight: usize,
    /// Callbacks and task polls that debug mode reported as slow.
    pub slow_callbacks: u64,
    /// The default executor's counters, if it was created.
    pub default_executor: Option<evloop_pools::Counters>,
}

impl LoopMetrics {
    /// Threadsafe posts per wakeup syscall (`None` before the first wakeup): how well the
    /// notify protocol coalesces.
    pub fn coalescing_ratio(&self) -> Option<f64> {
        (self.wakeups > 0).then(|| self.threadsafe_posts as f64 / self.wakeups as f64)
    }

    /// The fraction of the loop's run time spent running rather than waiting (`None` before
    /// the first run): close to 1.0 means the loop is saturated.
    pub fn busy_fraction(&self) -> Option<f64> {
        let total = self.time_running + self.time_polling;
        (!total.is_zero()).then(|| self.time_running.as_secs_f64() / total.as_secs_f64())
    }
}

impl fmt::Display for LoopMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "iterations {:>9}  callbacks {:>9}  task polls {:>9}  polls {:>8}",
            self.iterations, self.callbacks_run, self.task_polls, self.polls
        )?;
        writeln!(
            f,
            "tasks: spawned {} completed {} alive {}  timers {}  ready {} (max {})",
            self.tasks_spawned,
            self.tasks_completed,
            self.tasks_alive,
            self.timers_pending,
            self.ready_depth,
            self.ready_depth_max
        )?;
        write!(
            f,
            "time: running {:.1} ms, polling {:.1} ms",
            self.time_running.as_secs_f64() * 1e3,
            self.time_polling.as_secs_f64() * 1e3
        )?;
        if let Some(busy) = self.busy_fraction() {
            write!(f, " (busy {:.0}%)", busy * 100.0)?;
        }
        write!(
            f,
            "\nthreadsafe: posts {} wakeups {}",
            self.threadsafe_posts, self.wakeups
        )?;
        if let Some(ratio) = self.coalescing_ratio() {
            write!(f, " ({ratio:.1} posts per wakeup)")?;
        }
        write!(
            f,
            "  executor in flight {}  slow callbacks {}",
            self.executor_jobs_in_flight, self.slow_callbacks
        )?;
        if let Some(pool) = &self.default_executor {
            write!(
                f,
                "\ndefault executor: queued {} running {} completed {} workers {} idle {}",
                pool.queued, pool.running, pool.completed, pool.workers, pool.idle
            )?;
        }
        Ok(())
    }
}

impl EventLoop {
    /// A snapshot of the loop's metrics (see [`LoopMetrics`](crate::LoopMetrics)); cheap
    /// enough to take every few milliseconds.
    pub fn metrics(&self) -> LoopMetrics {
        let core = &self.core;
        let counters = &core.metrics;
        let time_polling = counters.time_polling.get();
        LoopMetrics {
            iterations: counters.iterations.get(),
            callbacks_run: counters.callbacks_run.get(),
            task_polls: counters.task_polls.get(),
            tasks_spawned: counters.tasks_spawned.get(),
            tasks_completed: counters.tasks_completed.get(),
            tasks_alive: core.tasks.borrow().len(),
            timers_pending: core.timers.borrow().live_len(),
            ready_depth: core.ready.borrow().len(),
            ready_depth_max: counters.ready_depth_max.get(),
            polls: counters.polls.get(),
            time_polling,
            time_running: counters.time_in_runs_now().saturating_sub(time_polling),
            threadsafe_posts: counters.threadsafe_posts.get(),
            wakeups: core.shared.wakeups(),
            executor_jobs_in_flight: core.executor_inflight.get(),
            slow_callbacks: counters.slow_callbacks.get(),
            default_executor: core
                .default_executor
                .borrow()
                .as_ref()
                .map(|pool| pool.counters()),
        }
    }
}
