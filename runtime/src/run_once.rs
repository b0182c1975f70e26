//! One iteration of the loop: asyncio's `_run_once`, in its phases.
//!
//! 1. Drop cancelled timers (lazily, boundedly: `timers.rs`).
//! 2. Compute the poll timeout: zero if work is ready or `stop()` was asked, else the time to
//!    the earliest timer (rounded *up* to the poller's millisecond, so a timer never fires
//!    early), else block until an event.
//! 3. Poll the reactor; turn I/O readiness into task wakes; read the signal self-pipes and
//!    queue the signal handlers (`signal/`); drain threadsafe posts.
//! 4. Move every timer due by now to the ready queue.
//! 5. Run exactly the entries that were ready when this phase began.
//!
//! Phase 5 is the only place where callbacks and tasks actually run. Each runs under
//! `catch_unwind`, so a panic never leaves the loop in the middle of an iteration.
//!
//! Two refinements over a literal `_run_once`, neither visible to a program:
//! - when nothing but the shared waker and signal pipes is registered and the timeout is
//!   zero, the poll syscall is skipped (it could only report threadsafe posts and signals, and
//!   the `notified` and `arrived` flags already say whether there are any), which makes
//!   `yield_now` and tight `call_soon` chains cost no syscall per iteration;
//! - before blocking while `run_in_executor` jobs are in flight, the loop spins for up to
//!   50 µs watching the `notified` flag: a completion that arrives meanwhile is taken without
//!   a syscall on either side (see "Parking" in `remote.rs`);
//! - under the virtual clock, phase 2 polls without blocking and, if nothing arrived and
//!   nothing is ready, moves the clock to the earliest timer instead of sleeping.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::error::panic_message;
use crate::event_loop::EventLoop;
use crate::exception::ExceptionContext;
use crate::handle::EntryState;
use crate::label::Label;
use crate::loop_core::{PollingTarget, PollingTask};
use crate::metrics::bump;
use crate::ready::Ready;
use crate::remote::Remote;
use crate::task::Outcome;
use crate::timers::Due;
use crate::trace::{Event, LoopTrace, Phase};

/// The future of `run_until_complete`, which lives on that call's stack.
pub(crate) struct MainFuture<'a> {
    /// The caller's future, wrapped to store its output.
    pub(crate) future: Pin<&'a mut dyn Future<Output = ()>>,
    /// Its waker (the `MAIN_KEY` task waker).
    pub(crate) waker: Waker,
    /// Set when it completed.
    pub(crate) done: bool,
}

/// Rounds a timeout up to whole milliseconds, the resolution of `epoll_wait`, so the poller
/// never returns before the timer it waits for is due.
fn round_up_to_millis(timeout: Duration) -> Duration {
    /// Cap: the largest timeout epoll accepts (`i32::MAX` ms, about 24.8 days).
    const MAX_MILLIS: u128 = i32::MAX as u128;
    let millis = timeout.as_nanos().div_ceil(1_000_000).min(MAX_MILLIS);
    Duration::from_millis(millis as u64)
}

impl EventLoop {
    /// Runs one iteration (see the module docs for the phases).
    pub(crate) fn run_once(&self, mut main: Option<&mut MainFuture<'_>>) {
        let core = &*self.core;

        // 1. Drop cancelled timers.
        core.timers.borrow_mut().purge();

        // ANCHOR: compute_timeout
        // 2. Compute the timeout.
        let work_ready = !core.ready.borrow().is_empty() || core.stopping.get();
        let next_deadline = core.timers.borrow_mut().next_deadline();
        let timeout = if work_ready {
            Some(Duration::ZERO)
        } else {
            match next_deadline {
                None => None,
                Some(_) if core.clock.is_virtual() => Some(Duration::ZERO),
                Some(when) => Some(round_up_to_millis(
                    when.saturating_duration_since(core.clock.now()),
                )),
            }
        };
        // ANCHOR_END: compute_timeout

        // 3. Poll the reactor, wake tasks whose I/O is ready, drain threadsafe posts.
        self.poll_reactor(timeout);

        // (Virtual clock) Nothing arrived and nothing is ready: jump to the next timer.
        if core.clock.is_virtual() && core.ready.borrow().is_empty() && !core.stopping.get() {
            if let Some(when) = next_deadline {
                core.clock.advance_to(when);
            }
        }

        // 4. Move due timers to the ready queue, in deadline order; a due sleeper's task
        //    is woken (which queues it), after the heap borrow is released.
        //    (The clock is read only when there are timers: a syscall-free iteration matters
        //    for tight call_soon and yield_now chains.)
        let now = match core.timers.borrow().len() {
            0 => None,
            _ => Some(core.clock.now()),
        };
        core.last_now.set(now);
        if let Some(now) = now {
            let mut due = core.due.take();
            core.timers.borrow_mut().pop_all_due(now, &mut due);
            for entry in due.drain(..) {
                match entry {
                    Due::Callback(entry) => {
                        core.ready.borrow_mut().push_back(Ready::Callback(entry))
                    }
                    Due::Wake(target) => core.wake(target),
                }
            }
            core.due.set(due);
        }

        // 5. Run exactly the entries that were ready when this phase began; what they
        //    schedule runs next iteration, after the next poll. (Debug mode and the trace
        //    recorder take the observed path, which times and names each entry; the plain
        //    path reads no clock.)
        let ntodo = core.ready.borrow().len();
        bump(&core.metrics.iterations);
        if ntodo > core.metrics.ready_depth_max.get() {
            core.metrics.ready_depth_max.set(ntodo);
        }
        if core.observed.get() {
            self.run_ready_observed(ntodo, &mut main);
            return;
        }
        for _ in 0..ntodo {
            let Some(item) = core.ready.borrow_mut().pop_front() else {
                break;
            };
            self.run_entry(item, &mut main);
        }
    }

    // ANCHOR: run_entry
    /// Runs one ready entry: a callback, a posted closure, a task poll, or the main future.
    /// Returns whether anything ran: a cancelled callback, a task that finished after it was
    /// queued (it woke itself in its last poll) and a stale main-future entry are skipped,
    /// uncounted, as asyncio's `_run_once` skips cancelled handles.
    fn run_entry(&self, item: Ready, main: &mut Option<&mut MainFuture<'_>>) -> bool {
        let core = &*self.core;
        core.io_budget.set(crate::reactor::IO_BUDGET);
        match item {
            Ready::Callback(entry) => {
                if entry.state() != EntryState::Ready {
                    return false;
                }
                bump(&core.metrics.callbacks_run);
                run_guarded(self, "Exception in callback", || entry.run());
                true
            }
            Ready::Remote(call) => {
                bump(&core.metrics.callbacks_run);
                run_guarded(self, "Exception in callback (call_soon_threadsafe)", || {
                    call.call()
                });
                true
            }
            Ready::Task(task) => {
                // A cancellation slot counts: it ends the task (asyncio's `__step` with
                // `CancelledError`).
                let live = task.header().outcome.get() == Outcome::Pending;
                if live {
                    bump(&core.metrics.task_polls);
                }
                task.run(core);
                live
            }
            Ready::Main => {
                core.main_scheduled.set(false);
                let Some(main) = main.as_deref_mut().filter(|main| !main.done) else {
                    return false;
                };
                bump(&core.metrics.task_polls);
                let id = core.main_id.get();
                core.polling
                    .set(Some(PollingTask::new(PollingTarget::Main(id), &main.waker)));
                // Careful: a panic here unwinds out of run_until_complete; `polling`
                // then names a future that no longer runs, which is harmless: the
                // main id is retired and the next poll overwrites it.
                poll_main(main);
                core.polling.set(None);
                true
            }
        }
    }
    // ANCHOR_END: run_entry

    // ANCHOR: run_ready_observed
    /// Phase 5 with debug mode or a trace on: each entry is named before it runs and timed;
    /// a slow one is reported (once), and each becomes a trace slice.
    fn run_ready_observed(&self, ntodo: usize, main: &mut Option<&mut MainFuture<'_>>) {
        let core = &*self.core;
        let trace = core.trace.borrow().clone();
        let debug = core.debug.get();
        let slow = core.slow_callback_duration.get();
        for _ in 0..ntodo {
            let Some(item) = core.ready.borrow_mut().pop_front() else {
                break;
            };
            let label = match &item {
                Ready::Callback(entry) => entry.label(),
                Ready::Remote(call) => Label::Threadsafe { name: call.name() },
                Ready::Task(task) => task.header().label(),
                Ready::Main => Label::Main {
                    at: core.main_at.get(),
                },
            };
            let start = Instant::now();
            let ran = self.run_entry(item, main);
            let end = Instant::now();
            if !ran {
                continue;
            }
            let took = end.saturating_duration_since(start);
            if debug && took >= slow {
                bump(&core.metrics.slow_callbacks);
                crate::debug::report_slow(&label, took);
            }
            if let Some(trace) = &trace {
                trace.recorder.slice(label, trace.track, start, end);
            }
        }
    }
    // ANCHOR_END: run_ready_observed

    // ANCHOR: poll_reactor
    /// Phase 3: poll (or skip the syscall when it could only report posts and signals that
    /// did not come), then act on it.
    fn poll_reactor(&self, mut timeout: Option<Duration>) {
        let core = &*self.core;
        // About to block while executor jobs are in flight: spin briefly first, since their
        // completions often arrive within microseconds (executor.rs).
        if timeout != Some(Duration::ZERO)
            && core.executor_inflight.get() > 0
            && spin_until_notified(&core.shared)
        {
            timeout = Some(Duration::ZERO);
        }
        // Announce that the loop parks; a post already pending means it must not block.
        let parking = timeout != Some(Duration::ZERO);
        if parking && core.shared.park() {
            timeout = Some(Duration::ZERO);
        }
        // ANCHOR: poll_then_wake
        let outcome = {
            let mut reactor = core.reactor.borrow_mut();
            let Some(reactor) = reactor.as_mut() else {
                return;
            };
            // (A signal pipe is not a source: it costs a syscall only once a signal came.)
            let skip = timeout == Some(Duration::ZERO)
                && reactor.source_count() == 0
                && !core.signals.take_arrived();
            if skip {
                None
            } else {
                // The clock is read around the syscall only (`metrics.rs`, "Time").
                let start = Instant::now();
                let polled = reactor.poll(timeout);
                let end = Instant::now();
                let counters = &core.metrics;
                bump(&counters.polls);
                counters
                    .time_polling
                    .set(counters.time_polling.get() + end.saturating_duration_since(start));
                if core.observed.get() {
                    if let (Some(trace), Ok(outcome)) = (&*core.trace.borrow(), &polled) {
                        trace
                            .recorder
                            .push(poll_slice(trace, start, end, outcome.wakers.len()));
                    }
                }
                match polled {
                    Ok(outcome) => Some(outcome),
                    Err(error) => panic!(
                        "evloop: the OS poller (epoll) failed: {error}; the loop cannot wait \
                         for I/O any more. fix: check the process's limits (ulimit -n) and \
                         create a new loop"
                    ),
                }
            }
        };
        if parking {
            core.shared.unpark();
        }
        // Wake the tasks whose I/O became ready (the reactor borrow is released).
        if let Some(mut outcome) = outcome {
            for waker in outcome.wakers.drain(..) {
                waker.wake();
            }
            if let Some(reactor) = core.reactor.borrow_mut().as_mut() {
                reactor.recycle(outcome.wakers);
            }
            // A signal arrived: queue its handlers and wake its listeners (signal/).
            if outcome.signals {
                core.signals.dispatch(self);
            }
        }
        // ANCHOR_END: poll_then_wake
        // Drain threadsafe posts if any poster notified us (protocol in remote.rs).
        if core.shared.take_notified() {
            self.drain_remote();
        }
    }
    // ANCHOR_END: poll_reactor

    /// Moves every posted message into the loop: closures join the ready queue in arrival
    /// order, wakes and cancels schedule their task, a stop sets `stopping`.
    fn drain_remote(&self) {
        let core = &*self.core;
        loop {
            let message = match core.remote.borrow().as_ref() {
                Some(receiver) => receiver.try_recv().ok(),
                None => None,
            };
            let Some(message) = message else {
                break;
            };
            bump(&core.metrics.threadsafe_posts);
            match message {
                Remote::Call(call) => core.ready.borrow_mut().push_back(Ready::Remote(call)),
                Remote::Wake { key, task_id } => core.wake_task(key, task_id),
                Remote::Cancel { key, task_id } => core.cancel_task(key, task_id),
                Remote::Stop => core.stopping.set(true),
            }
        }
    }
}

// ANCHOR: spin_until_notified
/// How long the loop spins for a threadsafe post before it blocks, when executor jobs are in
/// flight: about one worker's round trip (a job hand-off plus a short job).
const SPIN: Duration = Duration::from_micros(50);

/// Spins for up to [`SPIN`] until a poster notifies the loop; returns whether one did.
/// Never spins on a single-core machine, where it would only delay the poster.
fn spin_until_notified(shared: &crate::remote::Shared) -> bool {
    if !crate::executor::spinning_helps() {
        return false;
    }
    let start = std::time::Instant::now();
    loop {
        for _ in 0..64 {
            if shared.is_notified() {
                return true;
            }
            std::hint::spin_loop();
        }
        if start.elapsed() >= SPIN {
            return shared.is_notified();
        }
    }
}
// ANCHOR_END: spin_until_notified

/// The trace slice of one poller syscall, with the number of I/O wakes it brought.
fn poll_slice(trace: &LoopTrace, start: Instant, end: Instant, wakes: usize) -> Event {
    Event {
        phase: Phase::Slice {
            dur_ns: u64::try_from(end.saturating_duration_since(start).as_nanos())
                .unwrap_or(u64::MAX),
        },
        label: Label::Static("poll"),
        track: trace.track,
        ts_ns: trace.recorder.ns_since_epoch(start),
        flow: 0,
        arg: Some(("io_wakes", wakes as u64)),
    }
}

/// Runs a callback, sending its panic (if any) to the exception handler.
fn run_guarded(event_loop: &EventLoop, message: &str, callback: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(callback)) {
        event_loop.core.report(ExceptionContext::callback_panic(
            message,
            panic_message(&*payload),
        ));
    }
}

/// Polls the main future once. Its panic is not caught: it unwinds out of
/// `run_until_complete`, as in tokio's `block_on`.
fn poll_main(main: &mut MainFuture<'_>) {
    if main.done {
        return;
    }
    let mut cx = Context::from_waker(&main.waker);
    if let Poll::Ready(()) = main.future.as_mut().poll(&mut cx) {
        main.done = true;
    }
}
