//! Model-based properties of `EventLoop::metrics` and of the trace recorder's ring, on the
//! virtual clock.
//!
//! # The metrics model
//!
//! A random sequence of operations is applied, from outside the loop, to a virtual loop and
//! to a reference model: `call_soon`, `call_later(0..=40 ms)`, cancelling one of the handles
//! or timers made so far, spawning a task that yields or sleeps (1..=30 ms) a few times and
//! then returns or panics, cancelling a task, running one iteration (`stop` then
//! `run_forever`) and running until idle (`run_until_complete` of a 1 s sleep, longer than
//! any program). The model simulates `run_once` phase by phase: the virtual clock jumps to
//! the earliest timer only when nothing is ready and no stop is pending; due timers join the
//! ready queue in (deadline, scheduling) order; the run phase runs exactly the entries queued
//! when it began. In it a cancelled callback stays queued and is skipped, uncounted; a task
//! poll is counted whether it polls the future or ends a cancelled task; a cancelled task's
//! pending sleep stays a pending timer until that poll slot drops it.
//!
//! After every operation the snapshot must equal the model's: `iterations`, `callbacks_run`,
//! `task_polls`, `tasks_spawned` / `tasks_completed` / `tasks_alive`, `timers_pending`,
//! `ready_depth`, `ready_depth_max`, and `polls` (0: a virtual loop without I/O never makes
//! the syscall). Every `cancel` returns what the model says.
//!
//! # The ring
//!
//! A recorder of random capacity on a virtual loop that runs a random number of callbacks
//! (some queued up front, some in a chain across iterations) keeps exactly
//! `min(total, capacity)` events and counts `total - kept` as dropped, where `total` is one
//! slice per callback and per poll of the main future.

use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use evloop::trace::Recorder;
use evloop::{EventLoop, Handle, LoopMetrics, Task, TaskError, TimerHandle};
use proptest::prelude::*;

use crate::util::{cases, deadline, outcomes, record_exceptions, settle_for, virtual_loop};

/// How long one case may take before it counts as a hang.
const CASE_BUDGET: Duration = Duration::from_secs(10);
/// The main future of "run until idle" sleeps this long (virtual): past every timer.
const HORIZON_MS: u64 = 1_000;

/// One step of a spawned task.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// `evloop::yield_now()`.
    Yield,
    /// `evloop::sleep(ms)`, `ms >= 1`.
    Sleep(u64),
}

/// One operation, applied from outside the loop.
#[derive(Clone, Debug)]
enum Op {
    CallSoon,
    /// Cancel the `i % n`-th `call_soon` handle made so far.
    CancelHandle(usize),
    CallLater(u64),
    /// Cancel the `i % n`-th timer made so far.
    CancelTimer(usize),
    Spawn(Vec<Step>, bool),
    /// Cancel the `i % n`-th task spawned so far.
    CancelTask(usize),
    RunOnce,
    RunUntilIdle,
}

fn op() -> impl Strategy<Value = Op> {
    let step = prop_oneof![Just(Step::Yield), (1u64..=30).prop_map(Step::Sleep)];
    prop_oneof![
        3 => Just(Op::CallSoon),
        1 => any::<usize>().prop_map(Op::CancelHandle),
        3 => (0u64..=40).prop_map(Op::CallLater),
        1 => any::<usize>().prop_map(Op::CancelTimer),
        3 => (prop::collection::vec(step, 0..4), prop::bool::weighted(0.2))
            .prop_map(|(steps, panics)| Op::Spawn(steps, panics)),
        1 => any::<usize>().prop_map(Op::CancelTask),
        3 => Just(Op::RunOnce),
        1 => Just(Op::RunUntilIdle),
    ]
}

/// The counters compared after each operation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Counts {
    iterations: u64,
    callbacks_run: u64,
    task_polls: u64,
    tasks_spawned: u64,
    tasks_completed: u64,
    tasks_alive: usize,
    timers_pending: usize,
    ready_depth: usize,
    ready_depth_max: usize,
    polls: u64,
}

impl Counts {
    fn of(m: &LoopMetrics) -> Counts {
        Counts {
            iterations: m.iterations,
            callbacks_run: m.callbacks_run,
            task_polls: m.task_polls,
            tasks_spawned: m.tasks_spawned,
            tasks_completed: m.tasks_completed,
            tasks_alive: m.tasks_alive,
            timers_pending: m.timers_pending,
            ready_depth: m.ready_depth,
            ready_depth_max: m.ready_depth_max,
            polls: m.polls,
        }
    }
}

// ---------------------------------------------------------------------------------------
// The model.

/// A ready-queue entry of the model.
#[derive(Clone, Copy, Debug)]
enum Entry {
    /// `call_soon` callback `i`, or due timer `i` (`timer: true`).
    Callback {
        i: usize,
        timer: bool,
    },
    Task(usize),
    Main,
}

/// What a model timer fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fires {
    Timer(usize),
    Sleeper(usize),
    Main,
}

/// Where a callback is: queued (or in the heap), ran, or cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CallbackState {
    Pending,
    Ran,
    Cancelled,
}

#[derive(Debug)]
struct ModelTask {
    steps: Vec<Step>,
    panics: bool,
    /// Steps started so far (the last one is what the task awaits).
    started: usize,
    scheduled: bool,
    cancel_requested: bool,
    done: bool,
}

#[derive(Debug, Default)]
struct Model {
    now: u64,
    ready: VecDeque<Entry>,
    /// `(when, seq, what)`, unordered; cancelled timers are removed.
    timers: Vec<(u64, u64, Fires)>,
    next_seq: u64,
    handles: Vec<CallbackState>,
    timer_cbs: Vec<CallbackState>,
    tasks: Vec<ModelTask>,
    /// The main future's polls in the current run (it ends on its second).
    main_polls: u32,
    counts: Counts,
}

impl Model {
    fn add_timer(&mut self, when: u64, fires: Fires) {
        self.timers.push((when, self.next_seq, fires));
        self.next_seq += 1;
    }

    fn schedule(&mut self, task: usize) {
        let t = &mut self.tasks[task];
        if !t.scheduled && !t.done {
            t.scheduled = true;
            self.ready.push_back(Entry::Task(task));
        }
    }

    fn cancel_task(&mut self, task: usize) -> bool {
        if self.tasks[task].done {
            return false;
        }
        self.tasks[task].cancel_requested = true;
        self.schedule(task);
        true
    }

    fn cancel_timer(&mut self, i: usize) -> bool {
        if self.timer_cbs[i] != CallbackState::Pending {
            return false;
        }
        self.timer_cbs[i] = CallbackState::Cancelled;
        // Still in the heap (from outside the loop a due timer has always run already).
        self.timers.retain(|t| t.2 != Fires::Timer(i));
        true
    }

    /// One `run_once`.
    fn iteration(&mut self, stopping: bool) {
        if self.ready.is_empty() && !stopping {
            let next = self.timers.iter().map(|t| t.0).min();
            let next = next.expect("model: the loop would block forever");
            self.now = self.now.max(next);
        }
        let mut due: Vec<(u64, u64, Fires)> = self.timers.clone();
        due.retain(|t| t.0 <= self.now);
        due.sort_by_key(|t| (t.0, t.1));
        self.timers.retain(|t| t.0 > self.now);
        for (_, _, fires) in due {
            match fires {
                Fires::Timer(i) => self.ready.push_back(Entry::Callback { i, timer: true }),
                Fires::Sleeper(task) => self.schedule(task),
                Fires::Main => self.ready.push_back(Entry::Main),
            }
        }
        let ntodo = self.ready.len();
        self.counts.iterations += 1;
        self.counts.ready_depth_max = self.counts.ready_depth_max.max(ntodo);
        for _ in 0..ntodo {
            let entry = self.ready.pop_front().expect("ntodo entries");
            self.run(entry);
        }
    }

    fn run(&mut self, entry: Entry) {
        match entry {
            Entry::Callback { i, timer } => {
                let state = match timer {
                    true => &mut self.timer_cbs[i],
                    false => &mut self.handles[i],
                };
                if *state == CallbackState::Pending {
                    *state = CallbackState::Ran;
                    self.counts.callbacks_run += 1;
                }
            }
            Entry::Main => {
                self.counts.task_polls += 1;
                self.main_polls += 1;
                if self.main_polls == 1 {
                    self.add_timer(self.now + HORIZON_MS, Fires::Main);
                }
            }
            Entry::Task(k) => {
                self.tasks[k].scheduled = false;
                self.counts.task_polls += 1;
                let now = self.now;
                let t = &mut self.tasks[k];
                if t.cancel_requested {
                    // The slot drops the future, and with it a pending sleep.
                    t.done = true;
                    self.counts.tasks_completed += 1;
                    self.timers.retain(|t| t.2 != Fires::Sleeper(k));
                    return;
                }
                // Whatever it awaited is over (only its own sleep or yield schedules it).
                match t.steps.get(t.started).copied() {
                    None => {
                        t.done = true;
                        self.counts.tasks_completed += 1;
                    }
                    Some(step) => {
                        t.started += 1;
                        match step {
                            Step::Yield => self.schedule(k),
                            Step::Sleep(ms) => self.add_timer(now + ms, Fires::Sleeper(k)),
                        }
                    }
                }
            }
        }
    }

    /// The snapshot the loop should show now.
    fn expected(&self) -> Counts {
        Counts {
            tasks_alive: self.tasks.iter().filter(|t| !t.done).count(),
            timers_pending: self.timers.len(),
            ready_depth: self.ready.len(),
            ..self.counts.clone()
        }
    }
}

// ---------------------------------------------------------------------------------------
// The real loop.

/// A task that takes `steps`, then returns or panics.
async fn scripted(steps: Vec<Step>, panics: bool) {
    for step in steps {
        match step {
            Step::Yield => evloop::yield_now().await,
            Step::Sleep(ms) => evloop::sleep(Duration::from_millis(ms)).await,
        }
    }
    if panics {
        panic!("props_metrics: this task panics on purpose");
    }
}

/// Applies `ops` to a loop and to the model, comparing after each.
fn check(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let lp = virtual_loop();
    let reports = record_exceptions(&lp);
    let mut model = Model::default();
    let mut handles: Vec<Handle> = Vec::new();
    let mut timers: Vec<TimerHandle> = Vec::new();
    let mut tasks: Vec<Task<()>> = Vec::new();
    let ops = ops.into_iter().chain([Op::RunUntilIdle]);
    for (n, op) in ops.enumerate() {
        match &op {
            Op::CallSoon => {
                handles.push(lp.call_soon(|| {}));
                model.handles.push(CallbackState::Pending);
                let i = model.handles.len() - 1;
                model.ready.push_back(Entry::Callback { i, timer: false });
            }
            Op::CancelHandle(i) if !handles.is_empty() => {
                let i = i % handles.len();
                let expected = model.handles[i] == CallbackState::Pending;
                if expected {
                    model.handles[i] = CallbackState::Cancelled;
                }
                prop_assert_eq!(handles[i].cancel(), expected, "op {}: {:?}", n, op);
            }
            Op::CallLater(ms) => {
                timers.push(lp.call_later(Duration::from_millis(*ms), || {}));
                model.timer_cbs.push(CallbackState::Pending);
                let i = model.timer_cbs.len() - 1;
                model.add_timer(model.now + ms, Fires::Timer(i));
            }
            Op::CancelTimer(i) if !timers.is_empty() => {
                let i = i % timers.len();
                let expected = model.cancel_timer(i);
                prop_assert_eq!(timers[i].cancel(), expected, "op {}: {:?}", n, op);
            }
            Op::Spawn(steps, panics) => {
                tasks.push(lp.spawn(scripted(steps.clone(), *panics)));
                model.counts.tasks_spawned += 1;
                model.tasks.push(ModelTask {
                    steps: steps.clone(),
                    panics: *panics,
                    started: 0,
                    scheduled: false,
                    cancel_requested: false,
                    done: false,
                });
                model.schedule(model.tasks.len() - 1);
            }
            Op::CancelTask(i) if !tasks.is_empty() => {
                let i = i % tasks.len();
                let expected = model.cancel_task(i);
                prop_assert_eq!(tasks[i].cancel(), expected, "op {}: {:?}", n, op);
            }
            Op::RunOnce => {
                lp.stop();
                lp.run_forever().unwrap();
                model.iteration(true);
            }
            Op::RunUntilIdle => {
                lp.run_until_complete(evloop::sleep(Duration::from_millis(HORIZON_MS)))
                    .unwrap();
                model.main_polls = 0;
                model.ready.push_back(Entry::Main);
                while model.main_polls < 2 {
                    model.iteration(false);
                }
            }
            Op::CancelHandle(_) | Op::CancelTimer(_) | Op::CancelTask(_) => {}
        }
        let real = Counts::of(&lp.metrics());
        prop_assert_eq!(real, model.expected(), "after op {}: {:?}", n, op);
    }
    // After running until idle every task has ended, as the model says.
    let ended = lp.run_until_complete(outcomes(tasks)).unwrap();
    for (k, (outcome, m)) in ended.iter().zip(&model.tasks).enumerate() {
        let expected = match (m.cancel_requested, m.panics) {
            (true, _) => "cancelled",
            (false, true) => "panicked",
            (false, false) => "value",
        };
        let real = match outcome {
            Ok(()) => "value",
            Err(TaskError::Cancelled) => "cancelled",
            Err(TaskError::Panicked(_)) => "panicked",
        };
        prop_assert_eq!(real, expected, "task {}", k);
        prop_assert!(m.done && (m.cancel_requested || m.started == m.steps.len()));
    }
    lp.close().unwrap();
    prop_assert!(reports.borrow().is_empty(), "every task's handle was kept");
    Ok(())
}

/// Schedules a chain of `left` callbacks, each scheduling the next.
fn chain(lp: &EventLoop, left: usize, ran: &Rc<Cell<usize>>) {
    if left == 0 {
        return;
    }
    let (lp2, ran) = (lp.clone(), ran.clone());
    lp.call_soon(move || {
        ran.set(ran.get() + 1);
        chain(&lp2, left - 1, &ran);
    });
}

/// The ring property: see the module docs.
fn check_ring(capacity: usize, queued: usize, chained: usize) -> Result<(), TestCaseError> {
    let recorder = Recorder::new(capacity);
    let lp = virtual_loop();
    lp.set_trace(Some(&recorder));
    let ran = Rc::new(Cell::new(0));
    for _ in 0..queued {
        let ran = ran.clone();
        lp.call_soon(move || ran.set(ran.get() + 1));
    }
    chain(&lp, chained, &ran);
    // The main future outlives the chain: chained + 2 polls.
    lp.run_until_complete(settle_for(chained + 1)).unwrap();
    prop_assert_eq!(ran.get(), queued + chained);
    let m = lp.metrics();
    let total = (queued + chained) as u64 + chained as u64 + 2;
    prop_assert_eq!(m.callbacks_run + m.task_polls, total);
    prop_assert_eq!(m.polls, 0);
    let kept = total.min(capacity as u64);
    prop_assert_eq!(recorder.len() as u64, kept);
    prop_assert_eq!(recorder.dropped(), total - kept);
    let mut json = Vec::new();
    recorder.write_json(&mut json).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let events = json["traceEvents"].as_array().unwrap();
    let slices = events.iter().filter(|e| e["ph"] == "X").count() as u64;
    prop_assert_eq!(slices, kept);
    prop_assert_eq!(&json["otherData"]["dropped_events"], total - kept);
    lp.close().unwrap();
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(256)))]

    /// Random operations on a virtual loop: every counter matches the model after each.
    #[test]
    fn prop_metrics_match_model(ops in prop::collection::vec(op(), 0..40)) {
        deadline(CASE_BUDGET, move || check(ops))?;
    }

    /// The recorder keeps min(total, capacity) events and counts the rest as dropped.
    #[test]
    fn prop_trace_ring_keeps_the_latest_capacity_events(
        capacity in 1usize..=80,
        queued in 0usize..=120,
        chained in 0usize..=40,
    ) {
        deadline(CASE_BUDGET, move || check_ring(capacity, queued, chained))?;
    }
}
