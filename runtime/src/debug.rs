//! Debug mode: what the loop reports when it is on, and how it reports it.
//!
//! asyncio's debug mode exists because the most common asyncio bug is invisible: a callback
//! that blocks (a `time.sleep`, a synchronous HTTP call, a long computation) freezes every
//! other task, and nothing says so. evloop's debug mode, like asyncio's, is off by default
//! and turned on by [`Builder::debug`](crate::Builder::debug),
//! [`EventLoop::set_debug`](crate::EventLoop::set_debug) or the environment variable
//! `EVLOOP_DEBUG=1`. When it is on, the loop reports, through the [`log`] facade (target
//! `evloop::debug`, level `warn`):
//!
//! - every callback or task poll that ran longer than the slow-callback threshold (default
//!   100 ms, asyncio's `slow_callback_duration`), naming it and its duration, once per slow run:
//!   `Executing task 7 'fetch' spawned at src/main.rs:12:5 took 0.251 seconds`;
//! - every task that `close()` drops while it is still pending (asyncio's "Task was destroyed
//!   but it is pending!"), once per task;
//! - every `call_soon_threadsafe`, `spawn_threadsafe` or `stop` refused because the loop is
//!   closed, once per refused call (the call also returns the error, which is easy to drop
//!   with `let _ =`).
//!
//! Two reports do not depend on debug mode, because losing them is never right: a task panic
//! nobody can observe goes to the exception handler (`exception.rs`), and the pools report a
//! job error nobody retrieved when *their* debug flag is on (the default executor inherits the
//! loop's).
//!
//! # Free when off
//!
//! With debug mode off and no trace recorder, the run phase does not read the clock and does
//! not name anything: it takes a separate path, chosen once per iteration (`run_once.rs`).
//!
//! # Never block the loop to report
//!
//! A `log` call runs the installed logger on the calling thread. The reports are rare (a slow
//! callback has already blocked the loop), but a logger that writes to a slow sink would add
//! its own delay to every report: install [`QueueLogger`](crate::log_queue::QueueLogger)
//! (scenario S12), which hands records to a background thread and never blocks.
//!
//! This file holds the settings' API (`EventLoop::set_debug`, ...) and the reports' text. It
//! does not time anything: `run_once.rs` measures, and calls `report_slow`.

use std::time::Duration;

use crate::event_loop::EventLoop;
use crate::label::Label;

/// The `log` target of every debug-mode report.
pub const TARGET: &str = "evloop::debug";

/// asyncio's default `slow_callback_duration`.
pub const DEFAULT_SLOW_CALLBACK_DURATION: Duration = Duration::from_millis(100);

/// Whether `EVLOOP_DEBUG` asks for debug mode (`1`, `true` or `yes`), read once per process;
/// the same rule as the pools' (`evloop_pools::debug_from_env`).
pub(crate) fn from_env() -> bool {
    evloop_pools::debug_from_env()
}

/// Reports one slow callback or task poll.
pub(crate) fn report_slow(what: &Label, took: Duration) {
    log::warn!(
        target: TARGET,
        "Executing {what} took {:.3} seconds (debug mode: the loop could run nothing else \
         meanwhile; fix: move blocking work to to_thread/run_in_executor, or split it up)",
        took.as_secs_f64()
    );
}

/// Reports a task that `close()` dropped while it was pending.
pub(crate) fn report_pending_task_dropped(loop_id: u64, what: &Label) {
    log::warn!(
        target: TARGET,
        "Task was destroyed but it is pending: {what} (loop {loop_id} was closed while it \
         waited; fix: await or cancel it before closing, or use evloop::run, which cancels \
         and awaits the remaining tasks)"
    );
}

/// Reports a threadsafe call refused because the loop is closed.
pub(crate) fn report_closed_post(loop_id: u64, call: &str, what: &str) {
    log::warn!(
        target: TARGET,
        "{call} on closed loop {loop_id}: {what} was refused and will never run (fix: stop \
         posting before the loop closes, or handle the error the call returned)"
    );
}

impl EventLoop {
    /// Turns debug mode on or off (asyncio's `loop.set_debug`; see [`crate::debug`]): while
    /// it is on, every callback or task poll that runs longer than
    /// [`slow_callback_duration`](EventLoop::slow_callback_duration) is reported with its
    /// name and duration, every task `close()` drops while pending is reported, and every
    /// threadsafe call refused because the loop is closed is reported, through the `log`
    /// facade (target `evloop::debug`). The default executor, created after this call,
    /// inherits the setting for its own report (a job error nobody retrieved).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let lp = evloop::EventLoop::builder().debug(true).build().unwrap();
    /// assert!(lp.get_debug());
    /// lp.set_slow_callback_duration(Duration::from_millis(10));
    /// lp.call_soon(|| std::thread::sleep(Duration::from_millis(20))); // reported as slow
    /// lp.run_until_complete(evloop::sleep(Duration::ZERO)).unwrap();
    /// assert_eq!(lp.metrics().slow_callbacks, 1);
    /// lp.close().unwrap();
    /// ```
    pub fn set_debug(&self, enabled: bool) {
        self.core.debug.set(enabled);
        self.core.shared.set_debug(enabled);
        self.core.update_observed();
    }

    /// Whether debug mode is on (asyncio's `loop.get_debug`).
    pub fn get_debug(&self) -> bool {
        self.core.debug.get()
    }

    /// The run time above which debug mode reports a callback or task poll as slow.
    pub fn slow_callback_duration(&self) -> Duration {
        self.core.slow_callback_duration.get()
    }

    /// Sets the slow-callback threshold (asyncio's `loop.slow_callback_duration = ...`).
    pub fn set_slow_callback_duration(&self, threshold: Duration) {
        self.core.slow_callback_duration.set(threshold);
    }
}
