//! The loop's state (`Core`) and the internal operations on it.
//!
//! `Core` is the `!Send` half of a loop (the `Send` half is `remote.rs`'s `Shared`): the
//! ready queue, the timers, the task table, the reactor, and the flags of the lifecycle. Only
//! the loop's thread touches it; an [`EventLoop`](crate::EventLoop) is an `Rc` of it.
//!
//! This file holds what the rest of the runtime does to a loop from inside: queue a task
//! (`schedule`, `wake_task`, `wake`), retire one (`remove_task`), lend and recycle task wakers,
//! report a panic to the exception handler, and `close` (drop everything still scheduled,
//! exactly once). The public API is in `event_loop.rs`; one iteration is in `run_once.rs`.
//!
//! Invariant: no method here calls user code while a `RefCell` of the core is borrowed: work
//! is popped, the borrow released, then the work runs.

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use slab::Slab;

use crate::clock::Clock;
use crate::error::panic_message;
use crate::exception::{default_exception_handler, ExceptionContext, ExceptionHandler};
use crate::reactor::Reactor;
use crate::ready::{Ready, ReadyQueue};
use crate::remote::{Remote, Shared};
use crate::task::waker::{WakerPair, MAIN_KEY};
use crate::task::{Outcome, Runnable};
use crate::timers::{Due, TimerHeap, WakeTarget};
use crate::trace::LoopTrace;

/// The `!Send` state of one loop. Only its own thread ever touches it.
pub(crate) struct Core {
    /// Unique id, shared with `Shared::loop_id`; the local wake path compares it.
    pub(crate) id: u64,
    /// Real or virtual time (`clock.rs`).
    pub(crate) clock: Clock,
    /// Work for this or the next iteration (`ready.rs`).
    pub(crate) ready: RefCell<ReadyQueue>,
    /// Callbacks waiting for a deadline (`timers.rs`).
    pub(crate) timers: RefCell<TimerHeap>,
    /// The poller and the I/O sources; `None` once closed.
    pub(crate) reactor: RefCell<Option<Reactor>>,
    /// Every unfinished task, owned strongly: the loop keeps a task alive, not its handle.
    pub(crate) tasks: RefCell<Slab<Rc<dyn Runnable>>>,
    /// Next task id (ids are never reused, unlike slab keys).
    pub(crate) next_task_id: Cell<u64>,
    /// Waker allocations of finished tasks, reused by `spawn` (see `task/waker.rs`).
    pub(crate) waker_pool: RefCell<Vec<WakerPair>>,
    /// The receiving end of the threadsafe path; `None` once closed.
    pub(crate) remote: RefCell<Option<Receiver<Remote>>>,
    /// The `Send` part, shared with every `LoopHandle` and task waker.
    pub(crate) shared: Arc<Shared>,
    /// Inside `run_until_complete`/`run_forever`.
    pub(crate) running: Cell<bool>,
    /// `stop()` was asked: finish this iteration, then return from `run_forever`.
    pub(crate) stopping: Cell<bool>,
    /// `close()` has begun; nothing can be scheduled any more.
    pub(crate) closed: Cell<bool>,
    /// Id of the current `run_until_complete` future, so stale main wakers are ignored.
    pub(crate) main_id: Cell<u64>,
    /// The main future sits in the ready queue (dedups its wakes).
    pub(crate) main_scheduled: Cell<bool>,
    /// The task being polled right now, if any: lets a `Sleep` recognise its own task's
    /// waker and name the task directly (see `timers::WakeTarget`).
    pub(crate) polling: Cell<Option<PollingTask>>,
    /// The clock reading of the last timer phase: a `Sleep` whose deadline is at or before
    /// it is due without reading the clock again (the clock is monotonic).
    pub(crate) last_now: Cell<Option<Instant>>,
    /// Scratch space for the timer phase's due entries, kept to reuse its allocation.
    pub(crate) due: Cell<Vec<Due>>,
    /// The user's exception handler, or `None` for the default.
    pub(crate) exception_handler: RefCell<Option<Rc<ExceptionHandler>>>,
    /// The thread pool of `to_thread` and `run_in_default_executor`, created on first use
    /// (`executor.rs`); taken by `shutdown_default_executor` and `close`.
    pub(crate) default_executor: RefCell<Option<Arc<evloop_pools::ThreadPool>>>,
    /// `Builder::default_executor_max_workers`, for the lazily created default executor.
    pub(crate) default_executor_max_workers: Option<usize>,
    /// `run_in_executor` futures not yet resolved: while there are any, the loop spins
    /// briefly before blocking (`run_once.rs`).
    pub(crate) executor_inflight: Cell<usize>,
    /// I/O operations the entry being run may still complete before it must yield
    /// (`reactor.rs`, "Budget"): reset to `IO_BUDGET` before each ready entry runs, so a
    /// task reading a socket that always has data cannot starve the others.
    pub(crate) io_budget: Cell<u32>,
    /// The signals this loop listens to: their self-pipes, handlers and listeners
    /// (`signal/loop_signals.rs`); emptied by `close`.
    pub(crate) signals: crate::signal::LoopSignals,
    /// Debug mode (`debug.rs`): report slow callbacks, pending tasks dropped by `close`.
    pub(crate) debug: Cell<bool>,
    /// The run time above which debug mode reports a callback or task poll as slow.
    pub(crate) slow_callback_duration: Cell<Duration>,
    /// The trace recorder this loop records into, if any (`trace/`).
    pub(crate) trace: RefCell<Option<LoopTrace>>,
    /// `debug || trace.is_some()`, read once per iteration to pick the run phase's path:
    /// the plain one reads no clock and names nothing (`run_once.rs`).
    pub(crate) observed: Cell<bool>,
    /// Where the current `run_until_complete` was called, to name its future in reports.
    pub(crate) main_at: Cell<Option<&'static Location<'static>>>,
    /// The always-on counters behind `EventLoop::metrics` (`metrics.rs`).
    pub(crate) metrics: crate::metrics::Counters,
}

/// Which task is being polled, and its waker's identity (data and vtable pointers, only
/// compared, never dereferenced).
pub(crate) struct PollingTask {
    /// The task itself, as a sleeper would wake it.
    pub(crate) target: PollingTarget,
    /// `Waker::data()` of the task's waker.
    pub(crate) waker_data: *const (),
    /// `Waker::vtable()` of the task's waker.
    pub(crate) waker_vtable: *const std::task::RawWakerVTable,
}

/// The task being polled: a spawned task or the main future.
#[derive(Clone)]
pub(crate) enum PollingTarget {
    /// A spawned task (a clone of the cell being run).
    Task(Rc<dyn Runnable>),
    /// The future of `run_until_complete`, by main id.
    Main(u64),
}

impl PollingTask {
    /// Identity of the task polled with `waker`.
    pub(crate) fn new(target: PollingTarget, waker: &std::task::Waker) -> Self {
        PollingTask {
            target,
            waker_data: waker.data(),
            waker_vtable: waker.vtable(),
        }
    }
}

impl Core {
    /// Recomputes `observed` after debug mode or the trace changed.
    pub(crate) fn update_observed(&self) {
        self.observed
            .set(self.debug.get() || self.trace.borrow().is_some());
    }

    /// Queues a task for a poll unless it is already queued.
    pub(crate) fn schedule(&self, task: Rc<dyn Runnable>) {
        let header = task.header();
        if header.scheduled.get() || header.outcome.get() != Outcome::Pending || self.closed.get() {
            return;
        }
        header.scheduled.set(true);
        self.ready.borrow_mut().push_back(Ready::Task(task));
    }

    /// Schedules the task `(key, task_id)` (or the main future) if it still exists.
    pub(crate) fn wake_task(&self, key: usize, task_id: u64) {
        if key == MAIN_KEY {
            if task_id == self.main_id.get() && !self.main_scheduled.get() {
                self.main_scheduled.set(true);
                self.ready.borrow_mut().push_back(Ready::Main);
            }
            return;
        }
        let task = self.tasks.borrow().get(key).cloned();
        if let Some(task) = task {
            if task.header().id == task_id {
                self.schedule(task);
            }
        }
    }

    /// Requests cancellation of task `(key, task_id)` if it still exists.
    pub(crate) fn cancel_task(&self, key: usize, task_id: u64) {
        let task = self.tasks.borrow().get(key).cloned();
        if let Some(task) = task {
            if task.header().id == task_id {
                task.header().cancel_requested.set(true);
                self.schedule(task);
            }
        }
    }

    /// Removes a finished task from the slab (if it is still the one with that id).
    pub(crate) fn remove_task(&self, key: usize, task_id: u64) {
        let mut tasks = self.tasks.borrow_mut();
        if tasks
            .get(key)
            .is_some_and(|task| task.header().id == task_id)
        {
            let task = tasks.remove(key);
            drop(tasks);
            drop(task);
        }
    }

    /// A waker for task `(key, task_id)`, recycled if one is free.
    pub(crate) fn task_waker(&self, key: usize, task_id: u64) -> WakerPair {
        match self.waker_pool.borrow_mut().pop() {
            Some(pair) => {
                pair.rename(key, task_id);
                pair
            }
            None => WakerPair::new(self.id, self.shared.clone(), key, task_id),
        }
    }

    /// Returns a finished task's waker to the pool if no clone of it is left anywhere (else
    /// drops this reference).
    pub(crate) fn recycle_waker(&self, pair: WakerPair) {
        if pair.is_unique() {
            self.pool_unique_waker(pair);
        }
    }

    /// Pools a waker that nobody else holds (the caller checked `is_unique`), up to a limit.
    /// Called after every poll that left no clone of the waker it was lent.
    pub(crate) fn pool_unique_waker(&self, pair: WakerPair) {
        /// Enough to absorb a burst of tasks that keep their wakers without hoarding memory.
        const POOL_LIMIT: usize = 1024;
        let mut pool = self.waker_pool.borrow_mut();
        if pool.len() < POOL_LIMIT {
            pool.push(pair);
        }
    }

    /// Whom a sleeper registered with `waker` should wake: the polling task itself when
    /// `waker` is its own (no clone needed), else a clone of `waker`.
    pub(crate) fn wake_target(&self, waker: &std::task::Waker) -> WakeTarget {
        let polling = self.polling.take();
        let target = match &polling {
            Some(task)
                if std::ptr::eq(waker.data(), task.waker_data)
                    && std::ptr::eq(waker.vtable(), task.waker_vtable) =>
            {
                match &task.target {
                    PollingTarget::Task(task) => WakeTarget::Task(task.clone()),
                    PollingTarget::Main(id) => WakeTarget::Main(*id),
                }
            }
            _ => WakeTarget::Waker(waker.clone()),
        };
        self.polling.set(polling);
        target
    }

    /// Wakes a sleeper's target (under no borrow).
    pub(crate) fn wake(&self, target: WakeTarget) {
        match target {
            WakeTarget::Task(task) => self.schedule(task),
            WakeTarget::Main(id) => self.wake_task(MAIN_KEY, id),
            WakeTarget::Waker(waker) => waker.wake(),
        }
    }

    /// Hands `context` to the exception handler (called under no borrow).
    pub(crate) fn report(&self, context: ExceptionContext) {
        let handler = self.exception_handler.borrow().clone();
        match handler {
            None => default_exception_handler(&context),
            Some(handler) => {
                if let Err(payload) = catch_unwind(AssertUnwindSafe(|| handler(&context))) {
                    default_exception_handler(&context);
                    default_exception_handler(&ExceptionContext::callback_panic(
                        "the exception handler itself panicked",
                        panic_message(&*payload),
                    ));
                }
            }
        }
    }

    /// Runs `f` (user code that may panic, such as a Drop), reporting a panic as `message`.
    pub(crate) fn guarded(&self, message: &str, f: impl FnOnce()) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
            self.report(ExceptionContext::callback_panic(
                message,
                panic_message(&*payload),
            ));
        }
    }

    /// The body of `close()`: each step takes its container out whole, then drops the
    /// contents one by one under `guarded`, so a Drop that touches the loop sees it closed.
    pub(crate) fn close(&self) {
        if self.closed.replace(true) {
            return;
        }
        // Refuse threadsafe posts from now on.
        self.shared.mark_closed();
        // Discard ready callbacks and posted closures, in queue order.
        let ready = std::mem::take(&mut *self.ready.borrow_mut());
        for item in ready {
            match item {
                Ready::Callback(entry) => self
                    .guarded("a callback's drop panicked during close", || {
                        entry.discard()
                    }),
                Ready::Remote(call) => self
                    .guarded("a posted closure's drop panicked during close", || {
                        drop(call)
                    }),
                Ready::Task(_) | Ready::Main => {}
            }
        }
        // Discard timers.
        let (timers, sleepers) = self.timers.borrow_mut().drain();
        for entry in timers {
            self.guarded("a timer callback's drop panicked during close", || {
                entry.discard()
            });
        }
        drop(sleepers);
        // Cancel every unfinished task: its future is dropped, its awaiter sees Cancelled.
        let tasks: Vec<_> = std::mem::take(&mut *self.tasks.borrow_mut())
            .into_iter()
            .map(|(_, task)| task)
            .collect();
        let trace = self.trace.borrow().clone();
        for task in tasks {
            if task.header().outcome.get() == crate::task::Outcome::Pending {
                if self.debug.get() {
                    crate::debug::report_pending_task_dropped(self.id, &task.header().label());
                }
                if let Some(trace) = &trace {
                    trace.instant(task.header().label());
                }
            }
            task.finish_cancelled(self);
        }
        // Drop threadsafe posts still in the channel, then the receiver: later sends fail.
        let receiver = self.remote.borrow_mut().take();
        if let Some(receiver) = receiver {
            while let Ok(message) = receiver.try_recv() {
                self.guarded("a posted closure's drop panicked during close", || {
                    drop(message)
                });
            }
        }
        // Unhook every signal (its handler is dropped, its listeners see the loop closed).
        self.signals.close(self);
        // ANCHOR: close_default_executor
        // Shut the default executor down without waiting (asyncio: `shutdown(wait=False)`).
        let pool = self.default_executor.borrow_mut().take();
        if let Some(pool) = pool {
            crate::executor::retire(pool, true);
        }
        // ANCHOR_END: close_default_executor
        // Release the poller (its file descriptor).
        let reactor = self.reactor.borrow_mut().take();
        drop(reactor);
        self.waker_pool.borrow_mut().clear();
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        self.close();
    }
}
