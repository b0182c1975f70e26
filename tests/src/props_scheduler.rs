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

use crate::props_scheduler_model::*;

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
