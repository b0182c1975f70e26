//! The combinators: waiting on several tasks or futures at once (asyncio's `gather`, `wait`,
//! `as_completed`, `wait_for`/`timeout`, `shield`).
//!
//! - `done_queue.rs`: [`DoneQueue`](done_queue::DoneQueue), how a combinator hears which of
//!   its tasks finished (the tasks' done sinks), in O(1) per task instead of polling them all.
//! - `gather.rs`: [`gather`], [`gather_outcomes`], [`gather_tasks`]: values in the order given.
//! - `wait.rs`: [`wait`] and [`ReturnWhen`]: `(done, pending)`, never cancelling.
//! - `as_completed.rs`: [`as_completed`], [`as_completed_tasks`]: outcomes in completion order.
//! - `timeout.rs`: [`wait_for`], [`timeout`], [`timeout_at`] and their error [`TimedOut`].
//! - `shield.rs`: [`shield`]: a task its awaiter's cancellation cannot reach.
//!
//! Like the rest of the toolkit they are single-threaded: `!Send`, on the loop's thread, with
//! `Rc`/`Cell` state. Cancellation is dropping: only a dropped [`Gather`] cancels the tasks it
//! spawned (asyncio cancels gather's children); `wait` and `as_completed` never cancel, and a
//! timeout drops the future it guards. `TaskGroup` (`task_group.rs`) is the structured
//! alternative that cancels siblings when one fails.

mod as_completed;
mod done_queue;
mod gather;
mod shield;
mod timeout;
mod wait;

pub use as_completed::{as_completed, as_completed_tasks, AsCompleted, Completed};
pub use gather::{gather, gather_outcomes, gather_tasks, Gather, GatherOutcomes};
pub use shield::shield;
pub use timeout::{timeout, timeout_at, wait_for, TimedOut, Timeout};
pub use wait::{wait, ReturnWhen, Wait};
