//! The ready queue: everything that will run in the current or the next loop iteration.
//!
//! A plain FIFO (`VecDeque`). Its one rule lives in `run_once.rs`: an iteration runs exactly
//! the entries that were in the queue when its run phase began; whatever they schedule lands
//! behind them and runs next iteration, so the reactor is polled in between and I/O is never
//! starved by callbacks that keep rescheduling themselves (asyncio's `_run_once`, `ntodo`).
//!
//! This file does not run anything; it only says what can be queued.

use std::collections::VecDeque;
use std::rc::Rc;

use crate::handle::Callback;
use crate::remote::RemoteCall;
use crate::task::Runnable;

// ANCHOR: ready
/// One unit of work in the ready queue.
pub(crate) enum Ready {
    /// A callback from `call_soon`, or a timer whose deadline passed.
    Callback(Rc<dyn Callback>),
    /// A task to poll (it was spawned or woken); its `scheduled` flag is set while queued.
    Task(Rc<dyn Runnable>),
    /// The future given to `run_until_complete`, which lives on that call's stack.
    Main,
    /// A closure posted by another thread through `call_soon_threadsafe`.
    Remote(Box<dyn RemoteCall>),
}

/// The FIFO of [`Ready`] work, owned by the loop's core.
pub(crate) type ReadyQueue = VecDeque<Ready>;
// ANCHOR_END: ready
