//! `HyperExecutor`: hyper's `rt::Executor`, spawning on the running loop.
//!
//! hyper spawns background futures through its executor: each HTTP/2 stream, HTTP/2's
//! connection driver on the client side, upgraded connections. Here each becomes an evloop
//! task on the loop of the thread that asks, detached (the loop owns it; nobody awaits it),
//! so a panic inside it reaches the loop's exception handler and never the loop itself.
//! HTTP/1 needs no executor at all: its connection is one future, which you spawn yourself.
//!
//! hyper's executor bounds carry no `Send` (its `Http2ServerConnExec` and
//! `Http2ClientConnExec` ask for `Executor<F> + Clone` only), so the futures may hold `Rc`s
//! and `!Send` sockets, like every evloop task.
//!
//! This file does not own tasks (the loop does) and keeps no state.

use std::future::Future;

use crate::current::running_loop;
use crate::error::LoopError;

/// hyper's executor on the running evloop loop: every future it is given becomes a detached
/// task (asyncio's `create_task` without keeping the task).
///
/// # Panics
///
/// `execute` panics outside a running loop, with the `NoRunningLoop` message (hyper calls it
/// from the connection's own poll, which is inside the loop when the connection is an evloop
/// task).
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use hyper::rt::Executor;
/// use evloop::hyper::HyperExecutor;
///
/// let ran = Rc::new(Cell::new(false));
/// let seen = ran.clone();
/// evloop::run(async move {
///     HyperExecutor.execute(async move { seen.set(true) }); // an Rc: a !Send future is fine
///     evloop::yield_now().await;
/// })
/// .unwrap();
/// assert!(ran.get());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HyperExecutor;

impl<F> ::hyper::rt::Executor<F> for HyperExecutor
where
    F: Future + 'static,
    F::Output: 'static,
{
    fn execute(&self, future: F) {
        match running_loop() {
            // Dropping the `Task` detaches it: the loop keeps it running.
            Some(lp) => drop(lp.spawn(future)),
            None => panic!(
                "evloop::hyper::HyperExecutor::execute: {} (drive hyper's connection inside an \
                 evloop task)",
                LoopError::NoRunningLoop
            ),
        }
    }
}
