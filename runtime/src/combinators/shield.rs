//! `shield`: protect a future from the cancellation of whoever awaits it (asyncio's
//! `shield`).
//!
//! In asyncio, cancelling a task that awaits another task cancels that task too, so
//! `shield` wraps the inner awaitable in a task of its own that the outer cancellation cannot
//! reach. In evloop, cancellation is dropping, and dropping a [`Task`] only detaches it, so a
//! spawned task already is a shield: [`shield`] spawns the future and returns the [`Task`].
//! It exists so that code ported from asyncio, and code that means it, says so.
//!
//! This file adds no state of its own.

use std::future::Future;

use crate::current::spawn;
use crate::task::Task;

/// Runs `future` as a task that survives the cancellation of its awaiter (asyncio's
/// `shield`).
///
/// Awaiting the returned [`Task`] gives the outcome (`Result<T, TaskError>`). Dropping it (for
/// instance because a [`wait_for`](crate::wait_for) around it timed out, or because the
/// awaiting task was cancelled) does not cancel the inner task: it runs to completion,
/// detached. Only [`Task::cancel`] cancels it.
///
/// # Panics
///
/// Outside a running loop, like [`spawn`](crate::spawn).
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use std::time::Duration;
///
/// evloop::run(async {
///     let saved = Rc::new(Cell::new(false));
///     let save = {
///         let saved = saved.clone();
///         async move {
///             evloop::sleep(Duration::from_millis(20)).await;
///             saved.set(true);
///         }
///     };
///     // The caller gives up after 5 ms; the shielded work goes on.
///     let outcome = evloop::wait_for(Duration::from_millis(5), evloop::shield(save)).await;
///     assert!(outcome.is_err());
///     evloop::sleep(Duration::from_millis(30)).await;
///     assert!(saved.get());
/// })
/// .unwrap();
/// ```
#[track_caller]
pub fn shield<F>(future: F) -> Task<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    spawn(future)
}
