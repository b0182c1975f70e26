//! Model-based property of a loop's signal table: random programs of raises, handler
//! additions and removals, listeners started and stopped, and settles, run on a real loop and
//! on a model, compared after every operation.
//!
//! # The model
//!
//! Per signal (SIGUSR1, SIGUSR2): the current handler (an id), the live listeners, and the
//! deliveries raised since the last settle (`pending`). A signal has a *slot* (a self-pipe)
//! while it has a handler or a listener; a raise counts only if the slot exists, and a slot
//! that disappears takes its pending deliveries with it (its pipe is closed). A settle hands
//! the pending deliveries of each signal to its handler (one run each) and to each live
//! listener (one `recv` for all of them, coalesced). Removing a handler reports whether there
//! was one.
//!
//! # What is checked
//!
//! After every operation: the runs of every handler ever added, the `recv`s of every listener
//! ever started, what `remove_signal_handler` returned, and the process's file descriptors:
//! exactly two per slot, so a slot is created and closed exactly when the model says.
//!
//! A second loop (never run) keeps both signals hooked for the whole case, so a raise never
//! meets an unhooked signal (whose default action would end the test binary); each case runs
//! under `exclusive`, since signals and descriptors are process-wide.

use std::cell::Cell;
use std::rc::Rc;

use evloop::signal::{signal, SIGUSR1, SIGUSR2};
use evloop::{EventLoop, Task};
use proptest::prelude::*;

use crate::props_sync_model::CASE_BUDGET;
use crate::util::{cases, exclusive, settle, Resources};

/// The two signals a program uses.
const SIGNALS: [i32; 2] = [SIGUSR1, SIGUSR2];

/// One operation of a program; `usize` fields pick a signal (index into `SIGNALS`) or a
/// listener (modulo their number).
#[derive(Clone, Copy, Debug)]
enum Op {
    /// Raise the signal this many times.
    Raise(usize, usize),
    /// Add (or replace) the signal's handler with a new one.
    Add(usize),
    /// Remove the signal's handler.
    Remove(usize),
    /// Start a listener: a task that counts its `recv`s.
    Listen(usize),
    /// Settle, stop the i-th live listener (cancel its task), settle again.
    Unlisten(usize),
    /// Let the loop run until every delivery is handled.
    Settle,
}

/// Random programs, up to 24 operations.
fn program() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        3 => (0..2usize, 1..4usize).prop_map(|(s, n)| Op::Raise(s, n)),
        2 => (0..2usize).prop_map(Op::Add),
        1 => (0..2usize).prop_map(Op::Remove),
        2 => (0..2usize).prop_map(Op::Listen),
        1 => any::<usize>().prop_map(Op::Unlisten),
        3 => Just(Op::Settle),
    ];
    prop::collection::vec(op, 1..24)
}

/// The model of one loop's signal table (module docs).
#[derive(Default)]
struct Model {
    /// Current handler per signal.
    handler: [Option<usize>; 2],
    /// Live listeners: (signal, listener id).
    listeners: Vec<(usize, usize)>,
    /// Deliveries raised since the last settle, per signal.
    pending: [usize; 2],
    /// Runs of every handler ever added.
    runs: Vec<usize>,
    /// `recv`s of every listener ever started.
    recvs: Vec<usize>,
}

impl Model {
    /// Whether signal `s` has a slot (a self-pipe).
    fn has_slot(&self, s: usize) -> bool {
        self.handler[s].is_some() || self.listeners.iter().any(|(sig, _)| *sig == s)
    }

    /// How many slots exist.
    fn slots(&self) -> usize {
        (0..2).filter(|s| self.has_slot(*s)).count()
    }

    /// A settle: pending deliveries go to the handler (one run each) and the listeners (one
    /// `recv` each).
    fn settle(&mut self) {
        for s in 0..2 {
            let pending = std::mem::take(&mut self.pending[s]);
            if pending == 0 {
                continue;
            }
            if let Some(h) = self.handler[s] {
                self.runs[h] += pending;
            }
            for (_, l) in self.listeners.iter().filter(|(sig, _)| *sig == s) {
                self.recvs[*l] += 1;
            }
        }
    }

    /// Forgets the pending deliveries of a signal whose slot just went (its pipe closed).
    fn drop_pending_if_unhooked(&mut self, s: usize) {
        if !self.has_slot(s) {
            self.pending[s] = 0;
        }
    }
}

/// The real side: the loop's handlers' and listeners' counters, and the listener tasks.
#[derive(Default)]
struct Real {
    /// Runs of every handler ever added.
    runs: Vec<Rc<Cell<usize>>>,
    /// `recv`s of every listener ever started.
    recvs: Vec<Rc<Cell<usize>>>,
    /// Live listener tasks, in the model's order.
    tasks: Vec<Task<()>>,
}

/// Runs `ops` on a real loop and on the model, comparing after every operation.
fn check(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let keeper = EventLoop::new().expect("keeper loop");
    for signum in SIGNALS {
        keeper.add_signal_handler(signum, || {}).expect("keeper");
    }
    let lp = EventLoop::new().expect("loop");
    let base_fds = Resources::now().fds;
    let outcome = lp.run_until_complete(async {
        let (mut model, mut real) = (Model::default(), Real::default());
        for (step, op) in ops.iter().enumerate() {
            let mut removed = None;
            match *op {
                Op::Raise(s, n) => {
                    for _ in 0..n {
                        signal_hook::low_level::raise(SIGNALS[s]).expect("raise");
                    }
                    if model.has_slot(s) {
                        model.pending[s] += n;
                    }
                }
                Op::Add(s) => {
                    let runs = Rc::new(Cell::new(0));
                    let bump = runs.clone();
                    let lp = evloop::get_running_loop().unwrap();
                    lp.add_signal_handler(SIGNALS[s], move || bump.set(bump.get() + 1))
                        .expect("add");
                    real.runs.push(runs);
                    model.handler[s] = Some(model.runs.len());
                    model.runs.push(0);
                }
                Op::Remove(s) => {
                    let lp = evloop::get_running_loop().unwrap();
                    let had = model.handler[s].take().is_some();
                    removed = Some((lp.remove_signal_handler(SIGNALS[s]), had));
                    model.drop_pending_if_unhooked(s);
                }
                Op::Listen(s) => {
                    let mut listener = signal(SIGNALS[s]).expect("listen");
                    let recvs = Rc::new(Cell::new(0));
                    let count = recvs.clone();
                    real.tasks.push(evloop::spawn(async move {
                        while listener.recv().await.is_some() {
                            count.set(count.get() + 1);
                        }
                    }));
                    real.recvs.push(recvs);
                    model.listeners.push((s, model.recvs.len()));
                    model.recvs.push(0);
                }
                Op::Unlisten(i) if !model.listeners.is_empty() => {
                    let i = i % model.listeners.len();
                    settle().await;
                    model.settle();
                    real.tasks.remove(i).cancel();
                    settle().await;
                    let (s, _) = model.listeners.remove(i);
                    model.drop_pending_if_unhooked(s);
                }
                Op::Unlisten(_) => {}
                Op::Settle => {
                    settle().await;
                    model.settle();
                }
            }
            let runs: Vec<usize> = real.runs.iter().map(|c| c.get()).collect();
            let recvs: Vec<usize> = real.recvs.iter().map(|c| c.get()).collect();
            let context = format!("after step {step} ({op:?}) of {ops:?}");
            prop_assert_eq!(&runs, &model.runs, "handler runs {}", context);
            prop_assert_eq!(&recvs, &model.recvs, "listener recvs {}", context);
            if let Some((removed, had)) = removed {
                prop_assert_eq!(removed, had, "remove result {}", context);
            }
            let fds = Resources::now().fds;
            prop_assert_eq!(fds, base_fds + 2 * model.slots(), "descriptors {}", context);
        }
        for task in &real.tasks {
            task.cancel();
        }
        settle().await;
        Ok(())
    });
    lp.close().expect("close");
    keeper.close().expect("close keeper");
    outcome.expect("run the program")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(64)))]

    /// Handlers, listeners and slots match the model step by step; no descriptor leaks.
    #[test]
    fn prop_signal_table_matches_model(ops in program()) {
        exclusive(CASE_BUDGET, move || check(ops))?;
    }
}
