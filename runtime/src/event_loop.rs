//! `EventLoop`: the loop's public API.
//!
//! The loop is split like tokio's current_thread scheduler: a `!Send` core that only the
//! loop's thread touches (`loop_core.rs`), and a `Send` shared part that other threads reach
//! (`remote.rs`). An [`EventLoop`] is an `Rc` of the core, so clones are cheap handles to the
//! same loop and never leave their thread.
//!
//! This file owns scheduling (`call_soon`, `call_later`, `call_at`, `spawn`), the lifecycle
//! (`run_until_complete`, `run_forever`, `stop`, `close`) and the exception handler. One loop
//! iteration, the only place where callbacks and tasks actually run, is in `run_once.rs`.
//!
//! Invariant: no method here calls user code while a `RefCell` of the core is borrowed: work
//! is popped, the borrow released, then the work runs.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::io;
use std::panic::Location;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use slab::Slab;

use crate::clock::Clock;
use crate::current::RunningGuard;
use crate::error::LoopError;
use crate::exception::{ExceptionContext, ExceptionHandler};
use crate::handle::{Entry, EntryState, Handle, TimerHandle};
use crate::loop_core::Core;
use crate::reactor::{Reactor, WAKER_TOKEN};
use crate::ready::{Ready, ReadyQueue};
use crate::remote::{LoopHandle, Shared};
use crate::run_once::MainFuture;
use crate::task::waker::MAIN_KEY;
use crate::task::{Task, TaskCell};
use crate::timers::TimerHeap;

/// Source of loop ids, unique per process.
static NEXT_LOOP_ID: AtomicU64 = AtomicU64::new(1);

/// asyncio's event loop: a ready queue, timers, tasks and an I/O reactor, run by one thread.
///
/// Create one with [`EventLoop::new`] (or let [`run`](crate::run) do it), schedule work with
/// [`call_soon`](EventLoop::call_soon), [`call_later`](EventLoop::call_later),
/// [`call_at`](EventLoop::call_at) and [`spawn`](EventLoop::spawn), then drive it with
/// [`run_until_complete`](EventLoop::run_until_complete) or
/// [`run_forever`](EventLoop::run_forever). Other threads reach it through a
/// [`LoopHandle`].
///
/// An `EventLoop` is a cheap, clonable handle (`Rc`) and is `!Send`: it stays on the thread
/// that made it. A thread may own several loops but run only one at a time.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let lp = evloop::EventLoop::new().unwrap();
/// lp.call_soon(|| println!("first"));
/// lp.call_later(Duration::from_millis(1), || println!("third"));
/// let answer = lp.run_until_complete(async {
///     println!("second");
///     evloop::sleep(Duration::from_millis(2)).await;
///     42
/// }).unwrap();
/// assert_eq!(answer, 42);
/// lp.close().unwrap();
/// ```
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<evloop::EventLoop>(); // the loop never leaves its thread
/// ```
#[derive(Clone)]
pub struct EventLoop {
    /// The loop's state.
    pub(crate) core: Rc<Core>,
}

/// Configures an [`EventLoop`] before it is created.
#[derive(Debug, Default, Clone)]
pub struct Builder {
    /// Use the virtual clock (`clock.rs`).
    virtual_clock: bool,
    /// Size of the default executor, when it is created (`None`: the pool's default).
    default_executor_max_workers: Option<usize>,
    /// Debug mode; `None`: whether `EVLOOP_DEBUG` is set (`debug.rs`).
    debug: Option<bool>,
    /// Debug mode's slow-callback threshold; `None`: 100 ms.
    slow_callback_duration: Option<Duration>,
    /// The recorder to record a trace into, if any.
    trace: Option<crate::trace::Recorder>,
}

impl Builder {
    /// A builder with the defaults (real clock).
    pub fn new() -> Self {
        Builder::default()
    }

    /// Uses a virtual clock that jumps to the next timer whenever the loop would otherwise
    /// wait: programs made of timers run instantly and deterministically (for tests).
    pub fn virtual_clock(mut self, enabled: bool) -> Self {
        self.virtual_clock = enabled;
        self
    }

    /// The most threads of the loop's default executor (the pool behind
    /// [`to_thread`](crate::to_thread)); by default min(32, cores + 4), Python's rule.
    pub fn default_executor_max_workers(mut self, n: usize) -> Self {
        self.default_executor_max_workers = Some(n);
        self
    }

    /// Turns debug mode on or off (asyncio's `loop.set_debug`); by default it is on only if
    /// the environment variable `EVLOOP_DEBUG` is `1`, `true` or `yes`. See
    /// [`EventLoop::set_debug`] for what it reports.
    pub fn debug(mut self, enabled: bool) -> Self {
        self.debug = Some(enabled);
        self
    }

    /// The run time above which debug mode reports a callback or a task poll as slow
    /// (asyncio's `slow_callback_duration`; default 100 ms).
    pub fn slow_callback_duration(mut self, threshold: Duration) -> Self {
        self.slow_callback_duration = Some(threshold);
        self
    }

    /// Records a trace of the loop (and of the jobs it hands to pools) into `recorder`
    /// (see [`trace`](crate::trace)).
    pub fn trace(mut self, recorder: &crate::trace::Recorder) -> Self {
        self.trace = Some(recorder.clone());
        self
    }

    /// Creates the loop.
    ///
    /// # Errors
    ///
    /// The OS refusing a poller or its waker (file descriptor exhaustion).
    pub fn build(self) -> io::Result<EventLoop> {
        let poll = mio::Poll::new()?;
        let reactor = Reactor::new(poll);
        let waker = mio::Waker::new(reactor.registry(), WAKER_TOKEN)?;
        let id = NEXT_LOOP_ID.fetch_add(1, Ordering::Relaxed);
        let (shared, receiver) = Shared::new(id, waker);
        let clock = if self.virtual_clock {
            Clock::Virtual(Cell::new(Instant::now()))
        } else {
            Clock::Real
        };
        let timers = TimerHeap::new(clock.now());
        let debug = self.debug.unwrap_or_else(crate::debug::from_env);
        shared.set_debug(debug);
        let trace = self
            .trace
            .map(|recorder| crate::trace::LoopTrace::new(recorder, id));
        let core = Core {
            id,
            clock,
            ready: RefCell::new(ReadyQueue::new()),
            timers: RefCell::new(timers),
            reactor: RefCell::new(Some(reactor)),
            tasks: RefCell::new(Slab::new()),
            next_task_id: Cell::new(1),
            waker_pool: RefCell::new(Vec::new()),
            remote: RefCell::new(Some(receiver)),
            shared,
            running: Cell::new(false),
            stopping: Cell::new(false),
            closed: Cell::new(false),
            main_id: Cell::new(0),
            main_scheduled: Cell::new(false),
            polling: Cell::new(None),
            last_now: Cell::new(None),
            due: Cell::new(Vec::new()),
            exception_handler: RefCell::new(None),
            default_executor: RefCell::new(None),
            default_executor_max_workers: self.default_executor_max_workers,
            executor_inflight: Cell::new(0),
            io_budget: Cell::new(crate::reactor::IO_BUDGET),
            signals: crate::signal::LoopSignals::default(),
            debug: Cell::new(debug),
            slow_callback_duration: Cell::new(
                self.slow_callback_duration
                    .unwrap_or(crate::debug::DEFAULT_SLOW_CALLBACK_DURATION),
            ),
            observed: Cell::new(debug || trace.is_some()),
            trace: RefCell::new(trace),
            main_at: Cell::new(None),
            metrics: crate::metrics::Counters::default(),
        };
        Ok(EventLoop {
            core: Rc::new(core),
        })
    }
}

impl EventLoop {
    /// A new loop with a real clock (asyncio's `new_event_loop()`).
    ///
    /// # Errors
    ///
    /// The OS refusing a poller or its waker (file descriptor exhaustion).
    pub fn new() -> io::Result<EventLoop> {
        Builder::new().build()
    }

    /// A [`Builder`] for a loop with non-default settings.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// A `Send + Sync` handle for reaching this loop from other threads.
    pub fn handle(&self) -> LoopHandle {
        LoopHandle {
            shared: self.core.shared.clone(),
        }
    }

    /// The loop's clock (asyncio's `loop.time()`): monotonic, virtual if so built.
    pub fn time(&self) -> Instant {
        self.core.clock.now()
    }

    /// Schedules `f` to run once, in FIFO order, at the next iteration (asyncio's `call_soon`).
    ///
    /// # Panics
    ///
    /// If the loop is closed (asyncio raises "Event loop is closed").
    #[track_caller]
    pub fn call_soon<F: FnOnce() + 'static>(&self, f: F) -> Handle {
        self.refuse_if_closed("call_soon");
        let entry = Entry::new_rc(f, EntryState::Ready, Location::caller());
        self.core
            .ready
            .borrow_mut()
            .push_back(Ready::Callback(entry.clone()));
        Handle { entry }
    }

    /// Schedules `f` to run once `delay` has passed on the loop clock (asyncio's
    /// `call_later`). A huge delay saturates instead of panicking.
    ///
    /// # Panics
    ///
    /// If the loop is closed.
    #[track_caller]
    pub fn call_later<F: FnOnce() + 'static>(&self, delay: Duration, f: F) -> TimerHandle {
        self.refuse_if_closed("call_later");
        let when = self.core.clock.deadline_after(delay);
        self.call_at(when, f)
    }

    /// Schedules `f` to run when the loop clock reads `when` or later (asyncio's `call_at`).
    ///
    /// Timers run in deadline order, equal deadlines in scheduling order; a timer due at
    /// exactly "now" runs this iteration or the next, never before its deadline.
    ///
    /// # Panics
    ///
    /// If the loop is closed.
    #[track_caller]
    pub fn call_at<F: FnOnce() + 'static>(&self, when: Instant, f: F) -> TimerHandle {
        self.refuse_if_closed("call_at");
        let entry = Entry::new_rc(f, EntryState::Timer, Location::caller());
        let mut timers = self.core.timers.borrow_mut();
        timers.push(when, entry.clone());
        TimerHandle {
            handle: Handle { entry },
            when,
            cancelled_in_heap: timers.cancelled_counter(),
        }
    }

    /// Wraps `future` in a task and schedules its first poll (asyncio's `create_task`).
    ///
    /// The loop owns the task: dropping the returned [`Task`] does not cancel it.
    ///
    /// # Panics
    ///
    /// If the loop is closed.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.spawn_at(future, Location::caller())
    }

    /// `spawn`, naming `at` as the place the task was spawned from (for debug reports).
    pub(crate) fn spawn_at<F>(&self, future: F, at: &'static Location<'static>) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.refuse_if_closed("spawn");
        let core = &self.core;
        let id = core.next_task_id.get();
        core.next_task_id.set(id + 1);
        let mut tasks = core.tasks.borrow_mut();
        let key = tasks.vacant_key();
        // The task runs in a copy of its creator's context (contextvars semantics).
        let context = crate::context::Context::current();
        let cell = TaskCell::new(Box::pin(future), id, key, Rc::downgrade(core), context, at);
        tasks.insert(cell.clone());
        drop(tasks);
        crate::metrics::bump(&core.metrics.tasks_spawned);
        core.schedule(cell.clone());
        Task { cell }
    }

    /// Runs the loop until `future` completes and returns its output (asyncio's
    /// `run_until_complete`). The future may borrow from the caller's stack.
    ///
    /// A panic in `future` itself unwinds out of this call (the loop stays usable);
    /// panics in callbacks and tasks are caught (see the crate docs' panic policy).
    ///
    /// # Errors
    ///
    /// [`LoopError::NestedRun`] if a loop is already running on this thread,
    /// [`LoopError::Closed`] if this loop is closed, [`LoopError::StoppedBeforeComplete`] if
    /// `stop()` was called before `future` completed.
    #[track_caller]
    pub fn run_until_complete<F: Future>(&self, future: F) -> Result<F::Output, LoopError> {
        let _running = RunningGuard::enter(self)?;
        self.core.main_at.set(Some(Location::caller()));
        let output = Cell::new(None);
        let wrapped = pin!(async {
            output.set(Some(crate::context::InContext::new(future).await));
        });
        let main_id = self.core.next_task_id.get();
        self.core.next_task_id.set(main_id + 1);
        self.core.main_id.set(main_id);
        let waker = self.core.task_waker(MAIN_KEY, main_id).waker;
        let mut main = MainFuture {
            future: wrapped,
            waker,
            done: false,
        };
        self.core.main_scheduled.set(false);
        self.core.wake_task(MAIN_KEY, main_id);
        loop {
            self.run_once(Some(&mut main));
            if main.done {
                break;
            }
            if self.core.stopping.get() {
                return Err(LoopError::StoppedBeforeComplete);
            }
        }
        self.core.main_id.set(0);
        drop(main);
        Ok(output.take().expect("the main future finished"))
    }

    /// Runs iterations until [`stop`](EventLoop::stop) is called (asyncio's `run_forever`).
    ///
    /// # Errors
    ///
    /// [`LoopError::NestedRun`] if a loop is already running on this thread,
    /// [`LoopError::Closed`] if this loop is closed.
    pub fn run_forever(&self) -> Result<(), LoopError> {
        let _running = RunningGuard::enter(self)?;
        loop {
            self.run_once(None);
            if self.core.stopping.get() {
                return Ok(());
            }
        }
    }

    /// Stops the loop after the current iteration (asyncio's `stop`): `run_forever` returns
    /// once every callback that was ready when the iteration began has run. If the loop is
    /// not running, the next `run_forever` runs one iteration and returns.
    pub fn stop(&self) {
        self.core.stopping.set(true);
    }

    /// Whether the loop is running (inside `run_until_complete` or `run_forever`).
    pub fn is_running(&self) -> bool {
        self.core.running.get()
    }

    /// Whether [`close`](EventLoop::close) was called.
    pub fn is_closed(&self) -> bool {
        self.core.closed.get()
    }

    /// Closes the loop (asyncio's `close`): drops every callback, timer and threadsafe post
    /// still scheduled, cancels every unfinished task (its future is dropped), and releases
    /// the poller. Each of them is dropped exactly once; none runs. Idempotent.
    ///
    /// # Errors
    ///
    /// [`LoopError::CloseWhileRunning`] if called while the loop runs.
    pub fn close(&self) -> Result<(), LoopError> {
        if self.core.running.get() {
            return Err(LoopError::CloseWhileRunning);
        }
        self.core.close();
        Ok(())
    }

    /// Sets the handler for panics nobody can observe (asyncio's `set_exception_handler`);
    /// `None` restores the default, which prints one line to stderr.
    pub fn set_exception_handler(&self, handler: Option<Box<ExceptionHandler>>) {
        *self.core.exception_handler.borrow_mut() = handler.map(Rc::from);
    }

    /// Calls the current exception handler with `context` (asyncio's
    /// `call_exception_handler`).
    pub fn call_exception_handler(&self, context: &ExceptionContext) {
        self.core.report(context.clone());
    }

    /// How many tasks are unfinished (asyncio's `len(all_tasks())`).
    pub fn task_count(&self) -> usize {
        self.core.tasks.borrow().len()
    }

    /// Cancels every unfinished task (used by `evloop::run` and available to shutdown code).
    /// Returns how many were asked to cancel.
    pub fn cancel_all_tasks(&self) -> usize {
        let tasks: Vec<_> = self
            .core
            .tasks
            .borrow()
            .iter()
            .map(|(_, t)| t.clone())
            .collect();
        let mut count = 0;
        for task in tasks {
            let header = task.header();
            if !header.cancel_requested.get() {
                header.cancel_requested.set(true);
                count += 1;
            }
            self.core.schedule(task);
        }
        count
    }

    /// Panics with the closed-loop message naming `what`.
    fn refuse_if_closed(&self, what: &str) {
        if self.core.closed.get() {
            panic!("EventLoop::{what}: {}", LoopError::Closed);
        }
    }
}

impl fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLoop")
            .field("id", &self.core.id)
            .field("running", &self.core.running.get())
            .field("closed", &self.core.closed.get())
            .field("ready", &self.core.ready.borrow().len())
            .field("timers", &self.core.timers.borrow().len())
            .field("tasks", &self.core.tasks.borrow().len())
            .finish()
    }
}
