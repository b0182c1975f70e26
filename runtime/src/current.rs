//! The running loop of this thread, and the free functions that use it.
//!
//! A thread runs at most one loop at a time. While `run_until_complete` or `run_forever`
//! runs, the thread-local `RUNNING` holds that loop; it is set and cleared only by
//! [`RunningGuard`], so it is cleared even when the main future panics. Code running inside the
//! loop finds it with [`get_running_loop`]; task wakers use it to pick the local wake path.
//!
//! This file does not run anything; it only answers "which loop is running here?".

use std::cell::RefCell;
use std::future::Future;

use crate::error::LoopError;
use crate::event_loop::EventLoop;
use crate::task::Task;

thread_local! {
    /// The loop running on this thread, if any. Never borrowed mutably while user code runs.
    static RUNNING: RefCell<Option<EventLoop>> = const { RefCell::new(None) };
}

/// Marks a loop as this thread's running loop until dropped.
pub(crate) struct RunningGuard {
    /// The loop that was marked, to clear its `running` flag on drop.
    event_loop: EventLoop,
}

impl RunningGuard {
    /// Marks `event_loop` running on this thread.
    ///
    /// # Errors
    ///
    /// [`LoopError::NestedRun`] if a loop already runs here, [`LoopError::Closed`] if this
    /// one is closed.
    // ANCHOR: running_guard_enter
    pub(crate) fn enter(event_loop: &EventLoop) -> Result<RunningGuard, LoopError> {
        RUNNING.with(|running| {
            let mut running = running.borrow_mut();
            if running.is_some() {
                return Err(LoopError::NestedRun);
            }
            if event_loop.is_closed() {
                return Err(LoopError::Closed);
            }
            event_loop.core.running.set(true);
            event_loop.core.metrics.run_began();
            *running = Some(event_loop.clone());
            Ok(RunningGuard {
                event_loop: event_loop.clone(),
            })
        })
    }
    // ANCHOR_END: running_guard_enter
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        let core = &self.event_loop.core;
        core.running.set(false);
        core.metrics.run_ended();
        // asyncio resets `_stopping` when run_forever returns.
        core.stopping.set(false);
        let previous = RUNNING.with(|running| running.borrow_mut().take());
        drop(previous);
    }
}

/// The loop running on this thread, or `None`.
pub(crate) fn running_loop() -> Option<EventLoop> {
    RUNNING.with(|running| running.borrow().clone())
}

// ANCHOR: wake_local
/// The local wake path: schedules the task if its loop is the one running on this thread.
/// Returns `false` if the caller must take the remote path instead.
pub(crate) fn wake_local(loop_id: u64, key: usize, task_id: u64) -> bool {
    RUNNING.with(|running| match running.borrow().as_ref() {
        Some(lp) if lp.core.id == loop_id => {
            lp.core.wake_task(key, task_id);
            true
        }
        _ => false,
    })
}
// ANCHOR_END: wake_local

/// Returns the loop running on this thread (asyncio's `get_running_loop()`).
///
/// # Errors
///
/// [`LoopError::NoRunningLoop`] outside a running loop.
///
/// # Examples
///
/// ```
/// assert!(evloop::get_running_loop().is_err());
/// evloop::run(async {
///     let lp = evloop::get_running_loop().unwrap();
///     assert!(lp.is_running());
/// }).unwrap();
/// ```
pub fn get_running_loop() -> Result<EventLoop, LoopError> {
    running_loop().ok_or(LoopError::NoRunningLoop)
}

/// Spawns a task on the running loop (asyncio's `create_task`).
///
/// # Panics
///
/// Outside a running loop, with the [`LoopError::NoRunningLoop`] message (like
/// `tokio::spawn` outside a runtime). Use [`EventLoop::spawn`] when you hold a loop.
///
/// # Examples
///
/// ```
/// let value = evloop::run(async { evloop::spawn(async { 7 }).await.unwrap() }).unwrap();
/// assert_eq!(value, 7);
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> Task<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    match running_loop() {
        Some(lp) => lp.spawn(future),
        None => panic!("evloop::spawn: {}", LoopError::NoRunningLoop),
    }
}
