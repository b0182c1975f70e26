//! The programs and the reference model of `props_scheduler.rs`: the operation tree and its
//! generators, and the model of asyncio's `_run_once` (plain vectors, scanned) that the real
//! loop is compared against. The module docs of `props_scheduler.rs` explain both.

use proptest::prelude::*;
use std::time::Duration;

/// How long one case may take before it counts as a hang.
pub(crate) const CASE_BUDGET: Duration = Duration::from_secs(10);
/// How far ahead the sentinel timer is armed: beyond every program timer.
pub(crate) const SENTINEL_MS: i64 = 3_600_000;
/// Bound on `run_forever` calls per case (each `Stop` and each sentinel costs one).
pub(crate) const MAX_RUNS: usize = 500;

/// One operation of a program, callbacks already numbered.
#[derive(Clone, Debug)]
pub(crate) enum Op {
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
pub(crate) struct Program {
    /// Run before the loop starts.
    pub(crate) top: Vec<Op>,
    /// Callback ids are `0..callbacks`.
    pub(crate) callbacks: usize,
}

impl Program {
    /// The nested operations of each callback, by id.
    pub(crate) fn nested_table(&self) -> Vec<Vec<Op>> {
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
pub(crate) enum Event {
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
pub(crate) enum RawOp {
    Soon(Vec<RawOp>),
    Later(u64, Vec<RawOp>),
    At(i64, Vec<RawOp>),
    Cancel(usize),
    Stop,
}

/// Small delays and offsets, so that equal deadlines (ties) are common.
pub(crate) fn delay() -> impl Strategy<Value = u64> {
    0u64..=6
}
pub(crate) fn offset() -> impl Strategy<Value = i64> {
    -4i64..=6
}

/// Operations nested up to three levels deep.
pub(crate) fn raw_op() -> impl Strategy<Value = RawOp> {
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
pub(crate) fn bulk_op() -> impl Strategy<Value = RawOp> {
    let cancels = || prop::collection::vec(any::<usize>().prop_map(RawOp::Cancel), 0..3);
    prop_oneof![
        3 => (0u64..=40, cancels()).prop_map(|(ms, n)| RawOp::Later(ms, n)),
        1 => (-4i64..=40, cancels()).prop_map(|(o, n)| RawOp::At(o, n)),
        1 => cancels().prop_map(RawOp::Soon),
        5 => any::<usize>().prop_map(RawOp::Cancel),
    ]
}

/// Numbers the callbacks of `raw` in pre-order.
pub(crate) fn number(raw: &[RawOp]) -> Program {
    pub(crate) fn count(raw: &[RawOp]) -> usize {
        raw.iter()
            .map(|op| match op {
                RawOp::Soon(n) | RawOp::Later(_, n) | RawOp::At(_, n) => 1 + count(n),
                RawOp::Cancel(_) | RawOp::Stop => 0,
            })
            .sum()
    }
    pub(crate) fn walk(raw: &[RawOp], total: usize, next: &mut usize) -> Vec<Op> {
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

pub(crate) fn program() -> impl Strategy<Value = Program> {
    prop::collection::vec(raw_op(), 0..8).prop_map(|raw| number(&raw))
}

pub(crate) fn bulk_program() -> impl Strategy<Value = Program> {
    prop::collection::vec(bulk_op(), 100..260).prop_map(|raw| number(&raw))
}

// ---------------------------------------------------------------------------------------
// The model.

/// Where the model thinks a callback is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
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
pub(crate) enum Work {
    Callback(usize),
    Sentinel,
}

/// The reference model: plain vectors, scanned.
pub(crate) struct Model {
    /// Nested operations by callback id.
    pub(crate) nested: Vec<Vec<Op>>,
    /// Virtual time since the start, in ms.
    pub(crate) now: i64,
    /// FIFO of ready work.
    pub(crate) ready: Vec<Work>,
    /// `(when, seq, work)`; the minimum `(when, seq)` is due first.
    pub(crate) timers: Vec<(i64, u64, Work)>,
    /// Scheduling order of timers (ties).
    pub(crate) next_seq: u64,
    /// `stop()` was asked.
    pub(crate) stopping: bool,
    /// State of each callback.
    pub(crate) slots: Vec<Slot>,
    /// Program callbacks scheduled and neither run nor cancelled.
    pub(crate) pending: usize,
    /// A sentinel timer is scheduled and has not run.
    pub(crate) sentinel_pending: bool,
    /// What happened.
    pub(crate) trace: Vec<Event>,
}

impl Model {
    pub(crate) fn new(program: &Program) -> Model {
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

    pub(crate) fn add_timer(&mut self, when: i64, work: Work) {
        self.timers.push((when, self.next_seq, work));
        self.next_seq += 1;
    }

    pub(crate) fn exec(&mut self, op: &Op) {
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

    pub(crate) fn at(&self) -> Duration {
        Duration::from_millis(self.now as u64)
    }

    pub(crate) fn run_once(&mut self) {
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

    pub(crate) fn run_forever(&mut self) {
        loop {
            self.run_once();
            if self.stopping {
                self.stopping = false;
                return;
            }
        }
    }

    /// The driver (module docs).
    pub(crate) fn run(program: &Program) -> Vec<Event> {
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
