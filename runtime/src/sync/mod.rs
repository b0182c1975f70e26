//! Synchronization primitives for tasks on one loop (asyncio's `Semaphore`, `Lock`, `Event`,
//! `Condition`, `Queue`, ...).
//!
//! They are single-threaded, like asyncio's: shared between the tasks of one loop by cloning
//! (an `Rc` inside), `!Send`, with no atomics and no locks. Every one of them is built on
//! [`WaitList`](wait_list::WaitList), a FIFO of parked futures, and follows its cancellation rule:
//! a waiter dropped after it was chosen passes its turn on, so nothing is lost or stranded.
//!
//! - `event.rs`: [`Event`](event::Event), a flag tasks wait for.
//! - `queue/`: [`Queue`](queue::Queue), [`LifoQueue`](queue::LifoQueue) and
//!   [`PriorityQueue`](queue::PriorityQueue), one implementation generic over the order.
//! - `semaphore.rs`: [`Semaphore`], [`BoundedSemaphore`], their permit and acquire future,
//!   and the permit counter they share with `Lock`.
//! - `lock.rs`: [`Lock`], a semaphore of one permit under a lock's names.
//! - `condition.rs`: [`Condition`], a lock plus a wait list of tasks to notify.
//! - `wait_list.rs`: the FIFO of waiters and its states.

pub(crate) mod condition;
pub(crate) mod event;
pub(crate) mod lock;
pub(crate) mod queue;
pub(crate) mod semaphore;
pub(crate) mod wait_list;

pub use condition::{Condition, ConditionWait};
pub use lock::{Lock, LockAcquire, LockGuard};
pub use semaphore::{
    BoundedSemaphore, Semaphore, SemaphoreAcquire, SemaphorePermit, TooManyReleases,
};
