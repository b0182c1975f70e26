//! # evloop-pools: thread and process pools in the manner of `concurrent.futures`
//!
//! The first rule of an event loop is *never block it*. Blocking I/O goes to a thread pool,
//! CPU-heavy work to a process pool, and the result comes back as a [`JobHandle`], which
//! any thread can wait on and any async runtime can `.await`. `evloop` builds
//! `run_in_executor` and `to_thread` on this crate; the crate itself does not depend on
//! `evloop`, so it works on its own, like Python's `concurrent.futures`.
//!
//! ## Where asyncio is weak, and what this crate does instead
//!
//! - A running thread job cannot be cancelled in Python. Here a long job can take a
//!   [`CancelToken`] (`ThreadPool::submit_with_token`) and stop when `abort` trips it.
//! - One crashed worker breaks a whole `ProcessPoolExecutor`. Here each process worker runs
//!   one job at a time, so a crash fails exactly that job (`JobError::WorkerDied`), and a
//!   fresh worker takes its place. A process job can be stopped for real: its worker is killed.
//! - A pool that is never shut down leaks threads. Dropping a pool here shuts it down.
//! - `concurrent.futures` says nothing when a job's exception is never looked at. A pool
//!   built with `debug(true)` (the default when `EVLOOP_DEBUG=1`, see [`debug_from_env`])
//!   logs one warning per job error nobody retrieved, as asyncio's debug mode does.
//!
//! ## Map
//!
//! | concept | file | types |
//! |---|---|---|
//! | the job handle and the pool's side of it | `job.rs` | [`JobHandle`], `Promise`, [`CancelToken`] |
//! | errors | `error.rs` | [`JobError`], [`TrySubmitError`], [`WorkerExit`] |
//! | debug mode: the `EVLOOP_DEBUG` rule, reports of errors nobody retrieved | `debug.rs` | [`debug_from_env`], `Watch` |
//! | what both pools share | `executor.rs`, `queue.rs` | [`Executor`], [`SubmitJob`], [`Counters`]; `Aftermath`, `refusal`, `spin_for_job` |
//! | the thread pool | `thread_pool/` | [`ThreadPool`], [`ThreadPoolBuilder`] |
//! | the process pool | `process_pool/` | [`ProcessPool`], [`ProcessPoolBuilder`], [`Registry`], [`Function`], [`Call`], [`worker_main`] |

#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

mod debug;
mod error;
mod executor;
mod job;
mod process_pool;
mod queue;
mod thread_pool;

pub use debug::debug_from_env;
pub use error::{JobError, TrySubmitError, WorkerExit};
pub use executor::{Counters, Executor, JobScope, SubmitJob};
pub use job::{CancelToken, JobHandle};
pub use process_pool::{worker_main, Call, Function, ProcessPool, ProcessPoolBuilder, Registry};
pub use thread_pool::{Cancellable, MapResults, ThreadPool, ThreadPoolBuilder};
