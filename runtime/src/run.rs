//! `evloop::run`: asyncio's `asyncio.run`, the front door of a program.
//!
//! It creates a fresh loop, runs the main future to completion, then shuts down the way
//! asyncio does: cancel every task that is still running and run the loop until they have
//! all unwound (their futures dropped, so their cleanup ran); run one more short turn of the
//! loop, where asyncio shuts down async generators and the default executor, so callbacks
//! already in the ready queue run; then close the loop, which drops timers not yet due. The
//! loop is closed even if the main future panics; the panic then continues to the caller.
//! The default executor (`executor.rs`) is shut down in that turn, and its threads joined.
//!
//! On the main thread, Ctrl-C works as in asyncio.Runner (`signal/interrupt.rs`): the first
//! SIGINT cancels the main future, the same shutdown runs, and `run` returns
//! [`LoopError::Interrupted`]; a second SIGINT exits the process at once with status 130.

use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use crate::current;
use crate::error::LoopError;
use crate::event_loop::EventLoop;
use crate::signal::Interrupt;

/// Rounds of "cancel what is left, let it unwind": a task whose cleanup spawns more tasks gets
/// them cancelled too, but a program that keeps doing so cannot hang the shutdown.
const MAX_CANCEL_ROUNDS: usize = 16;

/// Runs `future` on a new loop and closes the loop afterwards (asyncio's `asyncio.run`).
///
/// # Errors
///
/// [`LoopError::NestedRun`] if called from inside a running loop (asyncio: "asyncio.run()
/// cannot be called from a running event loop"); [`LoopError::Create`] if the OS refuses a
/// poller; [`LoopError::Interrupted`] if a SIGINT (Ctrl-C) cancelled the main future.
///
/// # Ctrl-C
///
/// Only when called on the main thread (the thread named `"main"`), `run` handles SIGINT for
/// its duration, as `asyncio.run` does: the first SIGINT cancels (drops) the main future, the
/// shutdown above runs (so every task's cleanup runs), and `run` returns
/// `Err(LoopError::Interrupted)`; a second SIGINT, say while a cleanup hangs, exits the process
/// at once with status 130. A SIGINT that arrives while the program handles Ctrl-C itself
/// (`EventLoop::add_signal_handler(SIGINT, ..)`, an awaited [`ctrl_c`](crate::ctrl_c) or
/// [`signal`](crate::signal::signal)`(SIGINT)`) is left to the program. After `run`, SIGINT
/// does again what it did before (see [`signal`](crate::signal)). On other threads `run`
/// installs nothing.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let total = evloop::run(async {
///     let a = evloop::spawn(async { evloop::sleep(Duration::from_millis(2)).await; 1 });
///     let b = evloop::spawn(async { 2 });
///     a.await.unwrap() + b.await.unwrap()
/// }).unwrap();
/// assert_eq!(total, 3);
/// ```
// ANCHOR: run
pub fn run<F: Future>(future: F) -> Result<F::Output, LoopError> {
    if current::running_loop().is_some() {
        return Err(LoopError::NestedRun);
    }
    let event_loop = EventLoop::new().map_err(|error| LoopError::Create(error.to_string()))?;
    // On the main thread, the first Ctrl-C cancels the main future (signal/interrupt.rs).
    let mut interrupt = Interrupt::install(&event_loop);
    let outcome = catch_unwind(AssertUnwindSafe(|| match interrupt.as_mut() {
        Some(interrupt) => event_loop.run_until_complete(interrupt.race(future)),
        None => event_loop.run_until_complete(async { Some(future.await) }),
    }));
    // Cancel leftovers and let them unwind, even after a panic.
    for _ in 0..MAX_CANCEL_ROUNDS {
        if event_loop.cancel_all_tasks() == 0 && event_loop.task_count() == 0 {
            break;
        }
        let _ = catch_unwind(AssertUnwindSafe(|| {
            event_loop.run_until_complete(crate::sleep::yield_now())
        }));
    }
    // ANCHOR: run_shutdown_turn
    // The shutdown turn (asyncio: `shutdown_asyncgens`, `shutdown_default_executor`): what
    // was ready when the main future ended runs, and the default executor's threads are
    // joined while the loop still serves their posts.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        event_loop.run_until_complete(async {
            crate::sleep::yield_now().await;
            event_loop.shutdown_default_executor().await;
        })
    }));
    // ANCHOR_END: run_shutdown_turn
    let _ = event_loop.close();
    // Unhook SIGINT only now: a second Ctrl-C during the shutdown still exits.
    drop(interrupt);
    match outcome {
        Ok(Ok(Some(output))) => Ok(output),
        Ok(Ok(None)) => Err(LoopError::Interrupted),
        Ok(Err(error)) => Err(error),
        Err(payload) => resume_unwind(payload),
    }
}
// ANCHOR_END: run
