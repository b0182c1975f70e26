//! The programs and the reference model of `props_task_group.rs`: what a random task-group
//! program is, how it is generated, and the model that predicts how every child ends, what
//! the group reports and when. The module docs of `props_task_group.rs` explain both.

use std::time::Duration;

use proptest::prelude::*;

/// How long one case may take before it counts as a hang.
pub(crate) const CASE_BUDGET: Duration = Duration::from_secs(10);
/// The main future sleeps this long (virtual), far beyond the end of any program.
pub(crate) const HORIZON_MS: u64 = 10_000;

/// Which face of the group the parent uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Form {
    /// `TaskGroup::new`, `spawn`, `join`: the parent joins right after the late spawns.
    Plain,
    /// `TaskGroup::run`: the body spawns, then ends at `Program::body_end_ms`.
    Scoped,
}

/// How a child (or the body) ends when it runs to the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Ok,
    Err,
    Panic,
}

/// One child: it sleeps `ms` (a multiple of 10, maybe 0), then ends as `outcome` says.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ChildSpec {
    pub(crate) ms: u64,
    pub(crate) outcome: Outcome,
}

/// A whole program. Children are numbered in spawn order: `initial` first, then `late`.
///
/// Times live on separate residues mod 10 so that only events of one kind can tie: initial
/// children end at `≡ 0`, late spawns and late children's ends at `≡ 5`, the body's end at
/// `≡ 7`, the parent's cancel at `≡ 3`.
#[derive(Clone, Debug)]
pub(crate) struct Program {
    pub(crate) form: Form,
    /// Spawned by the parent (or the body) at time 0.
    pub(crate) initial: Vec<ChildSpec>,
    /// When the parent (or the body) spawns `late`.
    pub(crate) late_at_ms: u64,
    /// Spawned at `late_at_ms`.
    pub(crate) late: Vec<ChildSpec>,
    /// Scoped only: when the body returns, and how.
    pub(crate) body_end_ms: u64,
    pub(crate) body_outcome: Outcome,
    /// When a controller cancels the parent task, if it does.
    pub(crate) cancel_at_ms: Option<u64>,
}

impl Program {
    /// Every child in spawn order, with its spawn time.
    pub(crate) fn children(&self) -> impl Iterator<Item = (u64, ChildSpec)> + '_ {
        let initial = self.initial.iter().map(|&spec| (0, spec));
        let late = self.late.iter().map(|&spec| (self.late_at_ms, spec));
        initial.chain(late)
    }
}

/// The value of child `i`.
pub(crate) fn value(i: usize) -> u64 {
    100 + i as u64
}

/// The error of child `i`.
pub(crate) fn error(i: usize) -> String {
    format!("child {i} fails")
}

/// The panic message of child `i`.
pub(crate) fn panic_message(i: usize) -> String {
    format!("child {i} panics")
}

/// The body's error and panic message.
pub(crate) const BODY_ERROR: &str = "the body fails";
pub(crate) const BODY_PANIC: &str = "the body panics";

/// One reported failure, as the test compares them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    Failed(String),
    Panicked(String),
}

/// What happened to one child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Its future was never made (its spawner was gone before its spawn time).
    NeverCreated,
    /// Made, handed to `spawn` while the group was shutting down, dropped unpolled.
    Refused,
    /// Ran to its end at `at`, as its spec says.
    Completed { at: u64 },
    /// Started, then dropped at `at` without reaching its end.
    Cancelled { at: u64 },
}

/// What the parent saw: when `join`/`run` returned and with what; `None` if the parent was
/// cancelled first.
pub(crate) type Joined = Option<(u64, Result<Vec<u64>, Vec<Failure>>)>;

/// What happened to the body (scoped form): `(time it ended or was dropped, whether it
/// reached its end)`; `None` in the plain form.
pub(crate) type BodyFate = Option<(u64, bool)>;

// ---------------------------------------------------------------------------------------
// Generation.

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![4 => Just(Outcome::Ok), 1 => Just(Outcome::Err), 1 => Just(Outcome::Panic)]
}

fn child_spec() -> impl Strategy<Value = ChildSpec> {
    ((0u64..=6), outcome()).prop_map(|(tens, outcome)| ChildSpec {
        ms: tens * 10,
        outcome,
    })
}

pub(crate) fn program() -> impl Strategy<Value = Program> {
    let form = prop_oneof![Just(Form::Plain), Just(Form::Scoped)];
    let initial = prop::collection::vec(child_spec(), 1..6);
    let late = prop::collection::vec(child_spec(), 0..4);
    let cancel = prop::option::weighted(0.4, 0u64..=12);
    (form, initial, 0u64..=6, late, 0u64..=6, outcome(), cancel).prop_map(
        |(form, initial, late_tens, late, body_tens, body_outcome, cancel)| {
            let late_at_ms = late_tens * 10 + 5;
            Program {
                form,
                initial,
                late_at_ms,
                late,
                body_end_ms: late_at_ms + body_tens * 10 + 2,
                body_outcome,
                cancel_at_ms: cancel.map(|tens| tens * 10 + 3),
            }
        },
    )
}

// ---------------------------------------------------------------------------------------
// The model.

/// Predicts every child's fate, the body's, and what the parent's `join`/`run` returned.
///
/// 1. The initial children always start (nothing can fail before time 0's spawns).
/// 2. The late spawns happen iff nothing failed and no cancel came before `late_at`; in
///    the plain form a failure before it makes them `Refused` (the parent lives on), in the
///    scoped form the body was dropped, so they are never made; a cancel before it leaves
///    them never made.
/// 3. The body (scoped) reaches its end iff nothing failed and no cancel came before it.
/// 4. `t*` is the earliest failure time (a child's end with `Err`/`Panic`, or the body's);
///    shutdown happens at `min(t*, cancel)`.
/// 5. A started child whose end is `≤ t*` and `< cancel` completes; every other started
///    child is cancelled at the shutdown time.
/// 6. With a failure, the parent gets every failure at `t*`, in spawn order (the body never
///    ties with a child), at `t*`; with none, every value at the latest of the children's
///    ends and the body's end. The plain parent only joins at `late_at`, so it returns no
///    earlier; and nothing returns if the cancel comes first.
pub(crate) fn predict(program: &Program) -> (Vec<Fate>, BodyFate, Joined) {
    let cancel = program.cancel_at_ms.unwrap_or(u64::MAX);
    let scoped = program.form == Form::Scoped;
    let children: Vec<(u64, ChildSpec)> = program.children().collect();
    let n_initial = program.initial.len();
    let failing = |spec: &ChildSpec| spec.outcome != Outcome::Ok;

    // 1-2. Which children start.
    let t_initial = children[..n_initial]
        .iter()
        .filter(|(_, spec)| failing(spec))
        .map(|(at, spec)| at + spec.ms)
        .min()
        .unwrap_or(u64::MAX);
    let late_spawned = program.late_at_ms < t_initial && program.late_at_ms < cancel;
    let started = |i: usize| i < n_initial || late_spawned;

    // 3-4. The first failure.
    let t_children = children
        .iter()
        .enumerate()
        .filter(|&(i, (_, spec))| started(i) && failing(spec))
        .map(|(_, (at, spec))| at + spec.ms)
        .min()
        .unwrap_or(u64::MAX);
    let body_reaches_end =
        scoped && program.body_end_ms < t_children && program.body_end_ms < cancel;
    let t_body = if body_reaches_end && program.body_outcome != Outcome::Ok {
        program.body_end_ms
    } else {
        u64::MAX
    };
    let t_fail = t_children.min(t_body);
    let shutdown = t_fail.min(cancel);

    // 5. Every child's fate.
    let fates: Vec<Fate> = children
        .iter()
        .enumerate()
        .map(|(i, (at, spec))| {
            let end = at + spec.ms;
            if !started(i) {
                let refused = !scoped && program.late_at_ms < cancel;
                if refused {
                    Fate::Refused
                } else {
                    Fate::NeverCreated
                }
            } else if end <= t_fail && end < cancel {
                Fate::Completed { at: end }
            } else {
                Fate::Cancelled { at: shutdown }
            }
        })
        .collect();

    let body_fate = if body_reaches_end {
        (program.body_end_ms, true)
    } else {
        (shutdown, false)
    };
    let body = scoped.then_some(body_fate);

    // 6. What the parent saw, and when: the plain parent only joins at `late_at`.
    let (at, result) = if t_fail < u64::MAX {
        let mut failures: Vec<Failure> = children
            .iter()
            .enumerate()
            .filter(|&(i, (at, spec))| started(i) && failing(spec) && at + spec.ms == t_fail)
            .map(|(i, (_, spec))| match spec.outcome {
                Outcome::Err => Failure::Failed(error(i)),
                _ => Failure::Panicked(panic_message(i)),
            })
            .collect();
        if t_body == t_fail {
            failures.push(match program.body_outcome {
                Outcome::Err => Failure::Failed(BODY_ERROR.to_owned()),
                _ => Failure::Panicked(BODY_PANIC.to_owned()),
            });
        }
        (t_fail, Err(failures))
    } else {
        let last_child = children
            .iter()
            .map(|(at, spec)| at + spec.ms)
            .max()
            .unwrap_or(0);
        let values = (0..children.len()).map(value).collect();
        let body_end = if scoped { program.body_end_ms } else { 0 };
        (last_child.max(body_end), Ok(values))
    };
    let at = if scoped {
        at
    } else {
        at.max(program.late_at_ms)
    };
    let joined = (at < cancel).then_some((at, result));
    (fates, body, joined)
}
