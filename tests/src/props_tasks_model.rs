//! The programs and the reference model of `props_tasks.rs`: what a random program of
//! spawn / cancel / sleep / panic is, how it is generated, and the model that predicts every
//! task's fate. The module docs of `props_tasks.rs` explain both.

use proptest::prelude::*;
use std::time::Duration;

/// How long one case may take before it counts as a hang.
pub(crate) const CASE_BUDGET: Duration = Duration::from_secs(10);
/// The main future sleeps this long (virtual), far beyond the end of any program.
pub(crate) const HORIZON_MS: u64 = 60_000;

/// How a child's handle is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The parent awaits it right after spawning it.
    Join,
    /// Kept in the registry; the driver awaits it after the run.
    Background,
    /// Dropped at once: nobody can observe the task but the exception handler.
    Detach,
}

/// One step of a task's script.
#[derive(Clone, Debug)]
pub(crate) enum Step {
    /// `evloop::sleep(ms)`; always a multiple of 10.
    Sleep(u64),
    /// `evloop::yield_now()`.
    Yield,
    /// Spawn task `child` and use its handle as `mode` says.
    Spawn { child: usize, mode: Mode },
    /// Panic with `panic_message(id)`.
    Panic,
}

/// A cancel operation: at `at_ms`, `Task::cancel` on task `target`.
#[derive(Clone, Debug)]
pub(crate) struct Cancel {
    pub(crate) at_ms: u64,
    pub(crate) target: usize,
}

/// A whole program.
#[derive(Clone, Debug)]
pub(crate) struct Program {
    /// The script of each task, by id.
    pub(crate) scripts: Vec<Vec<Step>>,
    /// Spawned by the main future at time 0, in order (`Background` or `Detach`).
    pub(crate) roots: Vec<(usize, Mode)>,
    /// The controllers.
    pub(crate) cancels: Vec<Cancel>,
}

pub(crate) fn value(id: usize) -> u64 {
    1000 + id as u64
}

pub(crate) fn panic_message(id: usize) -> String {
    format!("props_tasks: task {id} panics on purpose")
}

/// How a task ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    Value,
    Panicked,
    Cancelled,
}

/// What the model predicts, and the real loop shows, for one task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Fate {
    /// Virtual time of the spawn, or `None` if the task never existed.
    pub(crate) spawned: Option<Duration>,
    /// How and when it ended.
    pub(crate) ended: Option<(End, Duration)>,
}

// ---------------------------------------------------------------------------------------
// Generation.

/// A step before the tasks are numbered.
#[derive(Clone, Debug)]
pub(crate) enum RawStep {
    Sleep(u64),
    Yield,
    Spawn(Mode, Vec<RawStep>),
    Panic,
}

/// Sleeps dominate, so that tasks live long enough for cancels to hit them.
pub(crate) fn raw_step() -> impl Strategy<Value = RawStep> {
    let sleep = || (1u64..=5).prop_map(|tens| RawStep::Sleep(tens * 10));
    let leaf = prop_oneof![
        6 => sleep(),
        2 => Just(RawStep::Yield),
        1 => Just(RawStep::Panic),
    ];
    leaf.prop_recursive(3, 32, 4, move |inner| {
        let mode = prop_oneof![Just(Mode::Join), Just(Mode::Background), Just(Mode::Detach)];
        let spawn =
            (mode, prop::collection::vec(inner, 0..5)).prop_map(|(m, s)| RawStep::Spawn(m, s));
        prop_oneof![2 => sleep(), 1 => spawn]
    })
}

pub(crate) fn script() -> impl Strategy<Value = Vec<RawStep>> {
    prop::collection::vec(raw_step(), 0..7)
}

/// Numbers the tasks in pre-order and places the cancels off the 10 ms grid. A cancel's
/// target is a root (long-lived, often joining) or any task, as `on_root` says.
pub(crate) fn number(roots: &[(Mode, Vec<RawStep>)], cancels: &[(u64, bool, usize)]) -> Program {
    pub(crate) fn alloc(raw: &[RawStep], scripts: &mut Vec<Vec<Step>>) -> usize {
        let id = scripts.len();
        scripts.push(Vec::new());
        let steps = raw
            .iter()
            .map(|step| match step {
                RawStep::Sleep(ms) => Step::Sleep(*ms),
                RawStep::Yield => Step::Yield,
                RawStep::Panic => Step::Panic,
                RawStep::Spawn(mode, child) => Step::Spawn {
                    child: alloc(child, scripts),
                    mode: *mode,
                },
            })
            .collect();
        scripts[id] = steps;
        id
    }
    let mut scripts = Vec::new();
    let roots: Vec<(usize, Mode)> = roots
        .iter()
        .map(|(mode, raw)| (alloc(raw, &mut scripts), *mode))
        .collect();
    let cancels = cancels
        .iter()
        .enumerate()
        .map(|(j, &(tens, on_root, target))| Cancel {
            at_ms: tens * 10 + (j as u64 + 1),
            target: if on_root {
                roots[target % roots.len()].0
            } else {
                target % scripts.len()
            },
        })
        .collect();
    Program {
        scripts,
        roots,
        cancels,
    }
}

pub(crate) fn program() -> impl Strategy<Value = Program> {
    let root_mode = prop_oneof![3 => Just(Mode::Background), 1 => Just(Mode::Detach)];
    let roots = prop::collection::vec((root_mode, script()), 1..4);
    // At most 9 cancels, so that each gets its own remainder mod 10.
    let cancels = prop::collection::vec((0u64..=12, any::<bool>(), any::<usize>()), 0..6);
    (roots, cancels).prop_map(|(roots, cancels)| number(&roots, &cancels))
}

// ---------------------------------------------------------------------------------------
// The model.

/// Where the model thinks a task is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Unspawned,
    /// Running its steps, or sleeping (then a wake-up is pending).
    Running,
    /// Awaiting this child.
    Joining(usize),
    Done(End, u64),
}

pub(crate) struct Model<'p> {
    pub(crate) program: &'p Program,
    pub(crate) status: Vec<Status>,
    /// Next step of each task.
    pub(crate) pc: Vec<usize>,
    /// The parent that joins each task, if any.
    pub(crate) joiner: Vec<Option<usize>>,
    /// The registry holds this task's handle (so a cancel can reach it).
    pub(crate) in_registry: Vec<bool>,
    pub(crate) spawned: Vec<Option<u64>>,
    /// Pending wake-ups of sleeping tasks: `(time, task)`.
    pub(crate) wakeups: Vec<(u64, usize)>,
}

impl Model<'_> {
    /// Predicts every task's fate and every cancel's result.
    pub(crate) fn run(program: &Program) -> (Vec<Fate>, Vec<Option<bool>>) {
        let n = program.scripts.len();
        let mut model = Model {
            program,
            status: vec![Status::Unspawned; n],
            pc: vec![0; n],
            joiner: vec![None; n],
            in_registry: vec![false; n],
            spawned: vec![None; n],
            wakeups: Vec::new(),
        };
        for &(root, mode) in &program.roots {
            model.spawn(root, mode, 0);
        }
        // Process wake-ups and cancels in time order.
        let mut cancels: Vec<(usize, &Cancel)> = program.cancels.iter().enumerate().collect();
        cancels.sort_by_key(|(_, c)| c.at_ms);
        let mut results = vec![None; program.cancels.len()];
        let mut next_cancel = 0;
        loop {
            let wake = (0..model.wakeups.len()).min_by_key(|&i| model.wakeups[i].0);
            let wake_at = wake.map(|i| model.wakeups[i].0);
            let cancel = cancels.get(next_cancel).copied();
            match (wake_at, cancel) {
                (None, None) => break,
                (Some(at), Some((_, c))) if at == c.at_ms => panic!("model: a tie with a cancel"),
                (Some(at), c) if c.is_none_or(|(_, c)| at < c.at_ms) => {
                    let (time, task) = model.wakeups.remove(wake.expect("a wake-up"));
                    if model.status[task] == Status::Running {
                        model.step(task, time);
                    }
                }
                (_, Some((j, c))) => {
                    next_cancel += 1;
                    results[j] = model.cancel(c.target, c.at_ms);
                }
                (Some(_), None) => unreachable!("a lone wake-up takes the branch above"),
            }
        }
        let fates = (0..n)
            .map(|k| Fate {
                spawned: model.spawned[k].map(Duration::from_millis),
                ended: match model.status[k] {
                    Status::Unspawned => None,
                    Status::Done(end, at) => Some((end, Duration::from_millis(at))),
                    other => panic!("model: task {k} never ended ({other:?})"),
                },
            })
            .collect();
        (fates, results)
    }

    pub(crate) fn spawn(&mut self, task: usize, mode: Mode, now: u64) {
        self.status[task] = Status::Running;
        self.spawned[task] = Some(now);
        self.in_registry[task] = mode != Mode::Detach;
        self.step(task, now);
    }

    /// Runs `task`'s steps at `now` until it sleeps, joins an unfinished child, or ends.
    pub(crate) fn step(&mut self, task: usize, now: u64) {
        loop {
            let Some(step) = self.program.scripts[task].get(self.pc[task]) else {
                self.finish(task, End::Value, now);
                return;
            };
            self.pc[task] += 1;
            match *step {
                Step::Sleep(ms) => {
                    self.wakeups.push((now + ms, task));
                    return;
                }
                Step::Yield => {}
                Step::Panic => {
                    self.finish(task, End::Panicked, now);
                    return;
                }
                Step::Spawn { child, mode } => {
                    if mode == Mode::Join {
                        self.joiner[child] = Some(task);
                    }
                    self.spawn(child, mode, now);
                    if mode == Mode::Join {
                        if matches!(self.status[child], Status::Done(..)) {
                            self.in_registry[child] = false; // the parent took the result
                        } else {
                            self.status[task] = Status::Joining(child);
                            return;
                        }
                    }
                }
            }
        }
    }

    pub(crate) fn finish(&mut self, task: usize, end: End, now: u64) {
        self.status[task] = Status::Done(end, now);
        if let Some(parent) = self.joiner[task] {
            if self.status[parent] == Status::Joining(task) {
                self.in_registry[task] = false;
                self.status[parent] = Status::Running;
                self.step(parent, now);
            }
        }
    }

    pub(crate) fn cancel(&mut self, target: usize, now: u64) -> Option<bool> {
        if !self.in_registry[target] {
            return None;
        }
        if matches!(self.status[target], Status::Done(..)) {
            return Some(false);
        }
        self.finish(target, End::Cancelled, now);
        Some(true)
    }
}
