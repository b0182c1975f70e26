//! # evloop: asyncio's event loop, rebuilt in Rust to be read
//!
//! An event loop is a queue of work and a way to wait. evloop is Python's asyncio loop
//! rebuilt from scratch in a few small files, so that you can embed it as a minimal runtime
//! and read it to learn how a loop really works.
//!
//! ## The loop in one paragraph
//!
//! One thread owns an [`EventLoop`]. Work waits in one of three places: the *ready queue*
//! (callbacks from [`EventLoop::call_soon`] and tasks that were woken), the *timer heap*
//! (callbacks from [`EventLoop::call_later`] / [`EventLoop::call_at`], and every
//! [`sleep`]), and the *reactor* (I/O sources registered with `mio`). Each iteration
//! computes how long it may sleep, polls the reactor for that long, moves due timers to the
//! ready queue, and runs exactly what was ready when it began. Tasks ([`spawn`]) are futures
//! that the loop polls whenever their `Waker` puts them back on the ready queue. Other
//! threads reach the loop through a [`LoopHandle`]: their work goes into a channel, and one
//! shared `mio::Waker` interrupts the poll.
//!
//! ```
//! use std::time::Duration;
//!
//! let greeting = evloop::run(async {
//!     let lp = evloop::get_running_loop().unwrap();
//!     lp.call_soon(|| println!("a callback runs at the next iteration"));
//!     let task = evloop::spawn(async {
//!         evloop::sleep(Duration::from_millis(10)).await;
//!         "hello from a task"
//!     });
//!     task.await.unwrap()
//! }).unwrap();
//! assert_eq!(greeting, "hello from a task");
//! ```
//!
//! ## Map
//!
//! | concept | file | types |
//! |---|---|---|
//! | the loop and its lifecycle | `event_loop.rs`, `loop_core.rs` | [`EventLoop`], [`Builder`], `Core` |
//! | one iteration, in phases | `run_once.rs` | `EventLoop::run_once` |
//! | callbacks and their handles | `handle.rs` | [`Handle`], [`TimerHandle`] |
//! | the ready queue | `ready.rs` | `Ready` |
//! | timers | `timers.rs`, `timer_queue.rs`, `clock.rs` | `TimerHeap`, `TimerQueue`, `Clock` |
//! | tasks | `task/` | [`Task`], `TaskCell`, `TaskWaker` |
//! | task groups (structured concurrency) | `task_group/` | [`TaskGroup`], [`GroupSpawner`], [`TaskGroupError`] |
//! | the reactor | `reactor.rs` | [`IoSource`] |
//! | sockets: TCP, UDP, Unix; futures-io | `net/` | [`net::TcpListener`], [`net::TcpStream`], [`net::UdpSocket`], [`net::UnixStream`], ... |
//! | other threads | `remote.rs`, `threadsafe_task.rs`, `loop_thread.rs` | [`LoopHandle`], [`ThreadsafeTask`], [`LoopThread`] |
//! | blocking work: thread and process pools | `executor.rs` (and the `evloop-pools` crate) | [`EventLoop::run_in_executor`], [`to_thread`], [`pools`] |
//! | the running loop, free functions | `current.rs`, `sleep.rs`, `run.rs` | [`get_running_loop`], [`spawn`], [`sleep`], [`run`] |
//! | waiting on several tasks: gather, wait, as_completed, timeouts, shield | `combinators/` | [`gather`], [`wait`], [`as_completed`], [`wait_for`], [`timeout`], [`shield`], [`TimedOut`] |
//! | task-local context (contextvars) | `context.rs` | [`ContextVar`], [`Context`], [`Token`] |
//! | synchronization between tasks: semaphores, locks, conditions, events, queues | `sync/` | [`Semaphore`], [`BoundedSemaphore`], [`Lock`], [`Condition`], [`Event`], [`Queue`], [`LifoQueue`], [`PriorityQueue`] |
//! | Unix signals and Ctrl-C | `signal/` | [`EventLoop::add_signal_handler`], [`signal::signal`], [`ctrl_c`], [`signal::SignalError`] |
//! | HTTP with hyper 1.x (feature `hyper`) | `hyper/` | `hyper::HyperIo`, `hyper::HyperTimer`, `hyper::HyperExecutor` |
//! | debug mode: slow callbacks named, lost tasks reported | `debug.rs`, `label.rs` | [`EventLoop::set_debug`], [`Builder::debug`], [`debug`] |
//! | metrics you can leave on | `metrics.rs` | [`LoopMetrics`], [`EventLoop::metrics`] |
//! | the trace recorder (Chrome trace-event JSON, for Perfetto) | `trace/` | [`trace::Recorder`], [`Builder::trace`] |
//! | logging without blocking the loop: a queue in front of a slow `log` sink | `log_queue.rs` | [`log_queue::QueueLogger`], [`log_queue::QueueLoggerGuard`], [`log_queue::install`] |
//! | errors and panics | `error.rs`, `exception.rs` | [`LoopError`], [`TaskError`], [`LoopClosed`], [`ExceptionContext`] |
//!
//! ## Guarantees
//!
//! - Callbacks run in FIFO order, each at most once; timers in deadline order, ties in
//!   scheduling order, never early.
//! - An iteration runs only what was ready when it began, so I/O is polled between
//!   iterations and never starved.
//! - A panic in a callback or task never kills the loop: it reaches the task's awaiter as
//!   [`TaskError::Panicked`], or the exception handler (see `exception.rs`).
//! - Every waiter in `sync/` is served in FIFO order, and cancelling one (dropping its future)
//!   loses nothing: a waiter cancelled after it was chosen passes its turn on.
//! - Each task, callback and thread job runs in a copy of the context of whoever created it.
//! - The loop and what is bound to it ([`EventLoop`], [`Handle`], [`TimerHandle`], [`Task`])
//!   are `!Send` and stay on the loop's thread, which the compiler checks; other threads reach
//!   the loop through [`LoopHandle`], [`LoopThread`] and [`ThreadsafeTask`].
//!
//! The book in `docs/` (architecture, semantics, and a tour that follows one callback, one
//! timer, one task, one threadsafe post, one blocking call and one semaphore waiter through
//! the code) explains the rest.

#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

mod clock;
mod combinators;
mod context;
mod current;
pub mod debug;
mod error;
mod event_loop;
mod exception;
mod executor;
mod handle;
#[cfg(feature = "hyper")]
pub mod hyper;
mod label;
pub mod log_queue;
mod loop_core;
mod loop_thread;
mod metrics;
pub mod net;
mod reactor;
mod ready;
mod remote;
mod run;
mod run_once;
pub mod signal;
mod sleep;
mod sync;
mod task;
mod task_group;
mod threadsafe_task;
mod timer_queue;
mod timers;
pub mod trace;

pub use combinators::{
    as_completed, as_completed_tasks, gather, gather_outcomes, gather_tasks, shield, timeout,
    timeout_at, wait, wait_for, AsCompleted, Completed, Gather, GatherOutcomes, ReturnWhen,
    TimedOut, Timeout, Wait,
};
pub use context::{Context, ContextVar, Token};
pub use current::{get_running_loop, spawn};
pub use error::{LoopClosed, LoopError, TaskError};
pub use event_loop::{Builder, EventLoop};
pub use exception::{default_exception_handler, ExceptionContext, ExceptionHandler};
pub use executor::{to_thread, RunInDefaultExecutor, RunInExecutor, ToThread};
pub use handle::{Handle, TimerHandle};
pub use loop_thread::LoopThread;
pub use metrics::LoopMetrics;
pub use reactor::IoSource;
pub use remote::LoopHandle;
pub use run::run;
pub use signal::ctrl_c;
pub use sleep::{sleep, sleep_until, yield_now, Sleep, YieldNow};
pub use sync::event::{Event, EventWait};
pub use sync::queue::{
    FifoOrder, GenericQueue, GetNowaitError, LifoOrder, LifoQueue, PriorityOrder, PriorityQueue,
    PutNowaitError, Queue, QueueGet, QueueJoin, QueueOrder, QueuePut, QueueShutDown,
    TaskDoneTooManyTimes,
};
pub use sync::{
    BoundedSemaphore, Condition, ConditionWait, Lock, LockAcquire, LockGuard, Semaphore,
    SemaphoreAcquire, SemaphorePermit, TooManyReleases,
};
pub use task::Task;
pub use task_group::{
    GroupFailure, GroupSpawner, TaskGroup, TaskGroupError, TaskGroupJoin, TaskGroupRun,
};
pub use threadsafe_task::ThreadsafeTask;

/// The thread and process pools (`evloop-pools`), re-exported: [`pools::ThreadPool`],
/// [`pools::JobHandle`], [`pools::JobError`], ...
pub use evloop_pools as pools;
