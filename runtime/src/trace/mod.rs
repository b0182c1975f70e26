//! The trace recorder: what the loop and its workers did, on a timeline you can open.
//!
//! Attach a [`Recorder`] to a loop ([`Builder::trace`](crate::Builder::trace) or
//! [`EventLoop::set_trace`](crate::EventLoop::set_trace)), run, then write the recording with
//! [`Recorder::write_json`] or [`Recorder::save`]. The file is in the Chrome trace-event
//! format: open it in Perfetto (<https://ui.perfetto.dev>) or `chrome://tracing`.
//!
//! What you see:
//!
//! - **one track for the loop's thread**: each callback and each task poll is a slice named
//!   after it (the closure's function and where it was scheduled, or the task's name or spawn
//!   location), and each `epoll_wait` the loop made is a `poll` slice, so the gaps between
//!   work are visible as waiting, and a slice that is too long is a blocked loop;
//! - **one track per pool worker thread**: each job run through
//!   [`run_in_executor`](crate::EventLoop::run_in_executor) or [`to_thread`](crate::to_thread)
//!   is a slice (process jobs appear on the parent's supervisor thread of their worker);
//! - **flow arrows** from the task poll that submitted a job, to the job on its worker, and
//!   back to the task poll that received its result through the wakeup channel.
//!
//! # Cost
//!
//! Off (no recorder attached), nothing is recorded and nothing is checked per callback: the
//! loop's run phase takes its plain path. On, each callback or poll costs two clock reads and
//! one short mutex hold to store a fixed-size event (no allocation, no formatting: text is made
//! when the file is written). Memory is bounded: the recorder keeps the most recent
//! `capacity` events and counts the ones it had to drop (`benches/` measures both costs).
//!
//! This module does not decide what to record: `run_once.rs` records the loop's slices, and
//! `executor.rs` the jobs and their flows.

mod json;
mod recorder;

use crate::event_loop::EventLoop;

pub use recorder::Recorder;
pub(crate) use recorder::{current_track, thread_title, Event, LoopTrace, Phase};

impl EventLoop {
    /// Starts recording into `recorder` (`Some`), or stops recording (`None`); see
    /// [`trace`](crate::trace).
    pub fn set_trace(&self, recorder: Option<&crate::trace::Recorder>) {
        let trace = recorder.map(|r| crate::trace::LoopTrace::new(r.clone(), self.core.id));
        *self.core.trace.borrow_mut() = trace;
        self.core.update_observed();
    }
}
