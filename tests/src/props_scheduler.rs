//! Model-based properties of the scheduler: `call_soon`, `call_later`, `call_at`, `cancel`
//! and `stop`, on the virtual clock, against a reference model of asyncio's `_run_once`.
//!
//! # The program
//!
//! A program is a tree of operations. Every scheduling operation (`Soon`, `Later(ms)`,
//! `At(offset)`) creates one callback with a fixed id (its pre-order number in the tree) and
//! carries a list of *nested* operations that the callback executes when it runs. The
//! top-level operations run before the loop starts. `Cancel { target }` cancels the handle of
//! callback `target` if it was scheduled already (and records what `cancel()` returned);
//! `Stop` calls `EventLoop::stop`. `At(offset)` is `call_at(now + offset)` with offsets that
//! are in the past, exactly now, or in the future.
//!
//! # The driver
//!
//! Both sides are driven the same way: run the top-level operations, then call `run_forever`
//! until no program callback is pending, recording `Returned` each time it returns. A
//! *sentinel* timer (one hour ahead, calls `stop`) is armed before each `run_forever` unless
//! one is still pending, so the loop never blocks forever once the program's work is done; it
//! is part of both sides, so it cannot make them differ.
//!
//! # The model
//!
//! A `Vec` ready list and a `Vec` of `(when, seq, work)` timers scanned for the minimum; one
//! iteration follows `run_once.rs` phase by phase:
//!
//! 1. (purge) the model removes cancelled timers at once, so there is nothing to purge;
//! 2. (virtual clock) if nothing is ready and `stop` was not asked, jump to the earliest
//!    timer;
//! 3. move every timer with `when <= now` to the back of the ready list, in `(when, seq)`
//!    order;
//! 4. take the whole ready list out as this iteration's batch and run it in order, skipping
//!    entries cancelled meanwhile; what the batch schedules lands in the (new) ready list and
//!    runs next iteration.
//!
//! `run_forever` repeats iterations until one ends with `stop` asked, then clears the request
//! (asyncio resets `_stopping`), so a `stop` before `run_forever` gives exactly one iteration.
//!
//! # What is compared
//!
//! The whole trace: which callback ran, at which virtual time, in which order; what each
//! `cancel()` returned; when the sentinel ran; where `run_forever` returned. Then, on the
//! real loop only: no callback ran twice, a callback whose cancel returned `true` never ran,
//! and after `close()` every closure that was scheduled was dropped exactly once (a drop
//! guard in each), and no closure that was never scheduled exists.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use evloop::{EventLoop, Handle, TimerHandle};
use proptest::prelude::*;

use crate::util::{cases, deadline};

/// How long one case may take before it counts as a hang.
const CASE_BUDGET: Duration = Duration::from_secs(10);
/// How far ahead the sentinel timer is armed: beyond every program timer.
const SENTINEL_MS: i64 = 3_600_000;
/// Bound on `run_forever` calls per case (each `Stop` and each sentinel costs one).
const MAX_RUNS: usize = 500;

/// One operation of a program, callbacks already numbered.
#[derive(Clone, Debug)]
enum Op {
    /// `call_soon` callback `id`, which runs `nested` when called.
    Soon { id: usize, nested: Vec<Op> },
    /// `call_later(ms)` callback `id`.
    Later { id: usize, ms: u64, nested: Vec<Op> },
    /// `call_at(now + offset_ms)` callback `id` (the offset may be negative or zero).
    At {
        id: usize,
        offset_ms: i64,
        nested: Vec<Op>,
    },
    /// Cancel the handle of callback `target`, if it exists yet.
    Cancel { target: usize },
    /// `EventLoop::stop`.
    Stop,
}

/// A whole program: the top-level operations and how many callbacks it can create.
#[derive(Clone, Debug)]
struct Program {
    /// Run before the loop starts.
    top: Vec<Op>,
    /// Callback ids are `0..callbacks`.
    callbacks: usize,
}

impl Program {
    /// The nested operations of each callback, by id.
    fn nested_table(&self) -> Vec<Vec<Op>> {
        fn walk(ops: &[Op], table: &mut [Vec<Op>]) {
            for op in ops {
                match op {
                    Op::Soon { id, nested }
                    | Op::Later { id, nested, .. }
                    | Op::At { id, nested, .. } => {
                        table[*id] = nested.clone();
                        walk(nested, table);
                    }
                    Op::Cancel { .. } | Op::Stop => {}
                }
            }
        }
        let mut table = vec![Vec::new(); self.callbacks];
        walk(&self.top, &mut table);
        table
    }
}

/// One observable event, recorded identically by the model and the real loop.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Event {
    /// Callback `id` ran when the loop clock read `start + at`.
    Ran { id: usize, at: Duration },
    /// `cancel()` on callback `target`: `None` if it was not scheduled yet, else the result.
    Cancel { target: usize, result: Option<bool> },
    /// The sentinel timer ran (and called `stop`).
    Sentinel { at: Duration },
    /// `run_forever` returned.
    Returned,
}

// ---------------------------------------------------------------------------------------
// Generation: a tree of raw operations, then numbered.

/// An operation before its callbacks are numbered; `Cancel` holds any index, reduced modulo
/// the number of callbacks afterwards.
#[derive(Clone, Debug)]
enum RawOp {
    Soon(Vec<RawOp>),
    Later(u64, Vec<RawOp>),
    At(i64, Vec<RawOp>),
    Cancel(usize),
    Stop,
}

/// Small delays and offsets, so that equal deadlines (ties) are common.
fn delay() -> impl Strategy<Value = u64> {
    0u64..=6
}
fn offset() -> impl Strategy<Value = i64> {
    -4i64..=6
}

/// Operations nested up to three levels deep.
fn raw_op() -> impl Strategy<Value = RawOp> {
    let leaf = prop_oneof![
        3 => Just(RawOp::Soon(vec![])),
        3 => delay().prop_map(|ms| RawOp::Later(ms, vec![])),
        2 => offset().prop_map(|o| RawOp::At(o, vec![])),
        3 => any::<usize>().prop_map(RawOp::Cancel),
        1 => Just(RawOp::Stop),
    ];
    leaf.prop_recursive(3, 48, 4, |inner| {
        let nested = move || prop::collection::vec(inner.clone(), 0..4);
        prop_oneof![
            nested().prop_map(RawOp::Soon),
            (delay(), nested()).prop_map(|(ms, n)| RawOp::Later(ms, n)),
            (offset(), nested()).prop_map(|(o, n)| RawOp::At(o, n)),
        ]
    })
}

/// A flat operation for the bulk property: timers and many cancels, callbacks that cancel.
fn bulk_op() -> impl Strategy<Value = RawOp> {
    let cancels = || prop::collection::vec(any::<usize>().prop_map(RawOp::Cancel), 0..3);
    prop_oneof![
        3 => (0u64..=40, cancels()).prop_map(|(ms, n)| RawOp::Later(ms, n)),
        1 => (-4i64..=40, cancels()).prop_map(|(o, n)| RawOp::At(o, n)),
        1 => cancels().prop_map(RawOp::Soon),
        5 => any::<usize>().prop_map(RawOp::Cancel),
    ]
}

/// Numbers the callbacks of `raw` in pre-order.
fn number(raw: &[RawOp]) -> Program {
    fn count(raw: &[RawOp]) -> usize {
        raw.iter()
            .map(|op| match op {
                RawOp::Soon(n) | RawOp::Later(_, n) | RawOp::At(_, n) => 1 + count(n),
                RawOp::Cancel(_) | RawOp::Stop => 0,
            })
            .sum()
    }
    fn walk(raw: &[RawOp], total: usize, next: &mut usize) -> Vec<Op> {
        raw.iter()
            .map(|op| {
                let mut take_id = || {
                    *next += 1;
                    *next - 1
                };
                match op {
                    RawOp::Soon(n) => {
                        let id = take_id();
                        Op::Soon {
                            id,
                            nested: walk(n, total, next),
                        }
                    }
                    RawOp::Later(ms, n) => {
                        let id = take_id();
                        Op::Later {
                            id,
                            ms: *ms,
                            nested: walk(n, total, next),
                        }
                    }
                    RawOp::At(offset_ms, n) => {
                        let id = take_id();
                        Op::At {
                            id,
                            offset_ms: *offset_ms,
                            nested: walk(n, total, next),
                        }
                    }
                    RawOp::Cancel(k) => Op::Cancel {
                        target: k % total.max(1),
                    },
                    RawOp::Stop => Op::Stop,
                }
            })
            .collect()
    }
    let callbacks = count(raw);
    let mut next = 0;
    let top = walk(raw, callbacks, &mut next);
    Program { top, callbacks }
}

fn program() -> impl Strategy<Value = Program> {
    prop::collection::vec(raw_op(), 0..8).prop_map(|raw| number(&raw))
}

fn bulk_program() -> impl Strategy<Value = Program> {
    prop::collection::vec(bulk_op(), 100..260).prop_map(|raw| number(&raw))
}

// ---------------------------------------------------------------------------------------
// The model.

/// Where the model thinks a callback is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// Its scheduling operation has not run.
    Unscheduled,
    /// In the ready list (or in the current batch).
    Ready,
    /// In the timer list.
    Timer,
    /// Ran.
    Done,
    /// Cancelled before it ran.
    Cancelled,
}

/// An entry of the model's ready list or timer list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Work {
    Callback(usize),
    Sentinel,
}

/// The reference model: plain vectors, scanned.
struct Model {
    /// Nested operations by callback id.
    nested: Vec<Vec<Op>>,
    /// Virtual time since the start, in ms.
    now: i64,
    /// FIFO of ready work.
    ready: Vec<Work>,
    /// `(when, seq, work)`; the minimum `(when, seq)` is due first.
    timers: Vec<(i64, u64, Work)>,
    /// Scheduling order of timers (ties).
    next_seq: u64,
    /// `stop()` was asked.
    stopping: bool,
    /// State of each callback.
    slots: Vec<Slot>,
    /// Program callbacks scheduled and neither run nor cancelled.
    pending: usize,
    /// A sentinel timer is scheduled and has not run.
    sentinel_pending: bool,
    /// What happened.
    trace: Vec<Event>,
}

impl Model {
    fn new(program: &Program) -> Model {
        Model {
            nested: program.nested_table(),
            now: 0,
            ready: Vec::new(),
            timers: Vec::new(),
            next_seq: 0,
            stopping: false,
            slots: vec![Slot::Unscheduled; program.callbacks],
            pending: 0,
            sentinel_pending: false,
            trace: Vec::new(),
        }
    }

    fn add_timer(&mut self, when: i64, work: Work) {
        self.timers.push((when, self.next_seq, work));
        self.next_seq += 1;
    }

    fn exec(&mut self, op: &Op) {
        match *op {
            Op::Soon { id, .. } => {
                self.ready.push(Work::Callback(id));
                self.slots[id] = Slot::Ready;
                self.pending += 1;
            }
            Op::Later { id, ms, .. } => {
                self.add_timer(self.now + ms as i64, Work::Callback(id));
                self.slots[id] = Slot::Timer;
                self.pending += 1;
            }
            Op::At { id, offset_ms, .. } => {
                self.add_timer(self.now + offset_ms, Work::Callback(id));
                self.slots[id] = Slot::Timer;
                self.pending += 1;
            }
            Op::Cancel { target } => {
                let result = match self.slots.get(target).copied() {
                    None | Some(Slot::Unscheduled) => None,
                    Some(Slot::Ready | Slot::Timer) => {
                        self.slots[target] = Slot::Cancelled;
                        self.ready.retain(|w| *w != Work::Callback(target));
                        self.timers.retain(|t| t.2 != Work::Callback(target));
                        self.pending -= 1;
                        Some(true)
                    }
                    Some(Slot::Done | Slot::Cancelled) => Some(false),
                };
                self.trace.push(Event::Cancel { target, result });
            }
            Op::Stop => self.stopping = true,
        }
    }

    fn at(&self) -> Duration {
        Duration::from_millis(self.now as u64)
    }

    fn run_once(&mut self) {
        // Virtual clock: nothing ready and no stop asked -> jump to the earliest timer.
        if self.ready.is_empty() && !self.stopping {
            let earliest = self.timers.iter().map(|t| t.0).min();
            let earliest = earliest.expect("model: the loop would block forever");
            self.now = self.now.max(earliest);
        }
        // Move due timers to the back of the ready list, earliest (when, seq) first.
        while let Some(index) = (0..self.timers.len())
            .filter(|&i| self.timers[i].0 <= self.now)
            .min_by_key(|&i| (self.timers[i].0, self.timers[i].1))
        {
            let (_, _, work) = self.timers.remove(index);
            if let Work::Callback(id) = work {
                self.slots[id] = Slot::Ready;
            }
            self.ready.push(work);
        }
        // Run the batch that is ready now; new work waits for the next iteration.
        let batch = std::mem::take(&mut self.ready);
        for work in batch {
            match work {
                Work::Callback(id) => {
                    if self.slots[id] != Slot::Ready {
                        continue; // cancelled by an earlier callback of this batch
                    }
                    self.slots[id] = Slot::Done;
                    self.pending -= 1;
                    self.trace.push(Event::Ran { id, at: self.at() });
                    for op in self.nested[id].clone() {
                        self.exec(&op);
                    }
                }
                Work::Sentinel => {
                    self.sentinel_pending = false;
                    self.trace.push(Event::Sentinel { at: self.at() });
                    self.stopping = true;
                }
            }
        }
    }

    fn run_forever(&mut self) {
        loop {
            self.run_once();
            if self.stopping {
                self.stopping = false;
                return;
            }
        }
    }

    /// The driver (module docs).
    fn run(program: &Program) -> Vec<Event> {
        let mut model = Model::new(program);
        for op in &program.top {
            model.exec(op);
        }
        let mut runs = 0;
        loop {
            if !model.sentinel_pending {
                model.sentinel_pending = true;
                model.add_timer(model.now + SENTINEL_MS, Work::Sentinel);
            }
            model.run_forever();
            model.trace.push(Event::Returned);
            runs += 1;
            if model.pending == 0 || runs >= MAX_RUNS {
                break;
            }
        }
        model.trace
    }
}

// ---------------------------------------------------------------------------------------
// The real loop, driven the same way.

/// A handle of either kind.
#[derive(Clone)]
enum AnyHandle {
    Soon(Handle),
    Timer(TimerHandle),
}

impl AnyHandle {
    fn cancel(&self) -> bool {
        match self {
            AnyHandle::Soon(handle) => handle.cancel(),
            AnyHandle::Timer(handle) => handle.cancel(),
        }
    }
}

/// Counts drops of one closure; lives inside it.
struct DropGuard {
    id: usize,
    drops: Rc<RefCell<Vec<u32>>>,
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.drops.borrow_mut()[self.id] += 1;
    }
}

/// The real side's bookkeeping, shared by every closure (an `Rc` cycle through the loop,
/// broken by `close()`).
struct Real {
    lp: EventLoop,
    start: Instant,
    nested: Vec<Vec<Op>>,
    handles: RefCell<Vec<Option<AnyHandle>>>,
    trace: RefCell<Vec<Event>>,
    pending: Cell<usize>,
    sentinel_pending: Cell<bool>,
    runs: RefCell<Vec<u32>>,
    drops: Rc<RefCell<Vec<u32>>>,
}

impl Real {
    fn at(&self) -> Duration {
        self.lp.time().duration_since(self.start)
    }

    /// The closure of callback `id`.
    fn callback(self: &Rc<Self>, id: usize) -> impl FnOnce() + 'static {
        let real = self.clone();
        let guard = DropGuard {
            id,
            drops: self.drops.clone(),
        };
        move || {
            let _guard = guard;
            real.runs.borrow_mut()[id] += 1;
            real.pending.set(real.pending.get() - 1);
            real.trace
                .borrow_mut()
                .push(Event::Ran { id, at: real.at() });
            for op in &real.nested[id] {
                real.exec(op);
            }
        }
    }

    fn exec(self: &Rc<Self>, op: &Op) {
        let scheduled = match *op {
            Op::Soon { id, .. } => (id, AnyHandle::Soon(self.lp.call_soon(self.callback(id)))),
            Op::Later { id, ms, .. } => {
                let delay = Duration::from_millis(ms);
                (
                    id,
                    AnyHandle::Timer(self.lp.call_later(delay, self.callback(id))),
                )
            }
            Op::At { id, offset_ms, .. } => {
                let shift = Duration::from_millis(offset_ms.unsigned_abs());
                let when = if offset_ms < 0 {
                    self.lp.time() - shift
                } else {
                    self.lp.time() + shift
                };
                (
                    id,
                    AnyHandle::Timer(self.lp.call_at(when, self.callback(id))),
                )
            }
            Op::Cancel { target } => {
                // Careful: cancel drops the closure (user code), so no borrow is held.
                let handle = self.handles.borrow().get(target).cloned().flatten();
                let result = handle.map(|h| h.cancel());
                if result == Some(true) {
                    self.pending.set(self.pending.get() - 1);
                }
                self.trace
                    .borrow_mut()
                    .push(Event::Cancel { target, result });
                return;
            }
            Op::Stop => {
                self.lp.stop();
                return;
            }
        };
        let (id, handle) = scheduled;
        self.pending.set(self.pending.get() + 1);
        self.handles.borrow_mut()[id] = Some(handle);
    }

    fn arm_sentinel(self: &Rc<Self>) {
        let real = self.clone();
        self.sentinel_pending.set(true);
        let delay = Duration::from_millis(SENTINEL_MS as u64);
        self.lp.call_later(delay, move || {
            real.sentinel_pending.set(false);
            real.trace
                .borrow_mut()
                .push(Event::Sentinel { at: real.at() });
            real.lp.stop();
        });
    }
}

/// What the real run left behind.
struct RealOutcome {
    trace: Vec<Event>,
    runs: Vec<u32>,
    drops: Vec<u32>,
    scheduled: Vec<bool>,
}

fn run_real(program: &Program) -> RealOutcome {
    let lp = EventLoop::builder()
        .virtual_clock(true)
        .build()
        .expect("create loop");
    let n = program.callbacks;
    let drops = Rc::new(RefCell::new(vec![0; n]));
    let real = Rc::new(Real {
        start: lp.time(),
        lp: lp.clone(),
        nested: program.nested_table(),
        handles: RefCell::new(vec![None; n]),
        trace: RefCell::new(Vec::new()),
        pending: Cell::new(0),
        sentinel_pending: Cell::new(false),
        runs: RefCell::new(vec![0; n]),
        drops: drops.clone(),
    });
    for op in &program.top {
        real.exec(op);
    }
    let mut runs = 0;
    loop {
        if !real.sentinel_pending.get() {
            real.arm_sentinel();
        }
        lp.run_forever().expect("run_forever");
        real.trace.borrow_mut().push(Event::Returned);
        runs += 1;
        if real.pending.get() == 0 || runs >= MAX_RUNS {
            break;
        }
    }
    lp.close().expect("close");
    let scheduled = real.handles.borrow().iter().map(Option::is_some).collect();
    let trace = real.trace.take();
    let runs = real.runs.take();
    drop(real);
    let drops = drops.take();
    RealOutcome {
        trace,
        runs,
        drops,
        scheduled,
    }
}

/// Runs both sides and compares them (module docs).
fn check(program: Program) -> Result<(), TestCaseError> {
    let expected = Model::run(&program);
    let real = run_real(&program);
    prop_assert_eq!(&real.trace, &expected, "trace differs from the model");
    let returns = expected.iter().filter(|e| **e == Event::Returned).count();
    prop_assert!(returns < MAX_RUNS, "the program did not settle");
    for id in 0..program.callbacks {
        prop_assert!(
            real.runs[id] <= 1,
            "callback {} ran {} times",
            id,
            real.runs[id]
        );
        let cancelled = real.trace.iter().any(|e| {
            *e == Event::Cancel {
                target: id,
                result: Some(true),
            }
        });
        if cancelled {
            prop_assert_eq!(real.runs[id], 0, "cancelled callback {} ran", id);
        }
        let expected_drops = u32::from(real.scheduled[id]);
        prop_assert_eq!(
            real.drops[id],
            expected_drops,
            "closure {} dropped a wrong number of times",
            id
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(512)))]

    /// Nested programs of call_soon / call_later / call_at / cancel / stop match the model.
    #[test]
    fn prop_scheduler_matches_model(program in program()) {
        deadline(CASE_BUDGET, move || check(program))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(128)))]

    /// Over a hundred timers, most of them cancelled (the heap's purge and rebuild paths).
    #[test]
    fn prop_scheduler_bulk_cancel_matches_model(program in bulk_program()) {
        deadline(CASE_BUDGET, move || check(program))?;
    }
}
