//! The programs and the reference model of `props_combinators.rs`: what a random program of
//! tasks and combinator rounds is, how it is generated, and the model that predicts what each
//! round returns and when. The module docs of `props_combinators.rs` explain both.

use std::time::Duration;

use evloop::TaskError;
use proptest::prelude::*;

/// How long one case may take before it counts as a hang.
pub(crate) const CASE_BUDGET: Duration = Duration::from_secs(10);
/// After the last round the main future sleeps this long (ms), past every task's end.
pub(crate) const HORIZON_MS: u64 = 10_000;

/// How a task ends when nobody cancels it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Returns `value(index)`.
    Value,
    /// Panics with `panic_message(index)`.
    Panic,
}

/// One task: it sleeps `ms` (a multiple of 10, at least 10) and then ends as `kind`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TaskSpec {
    pub(crate) ms: u64,
    pub(crate) kind: Kind,
}

/// The combinator of one round, applied to every task still pending.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Op {
    /// `wait(pending, return_when, timeout)`.
    Wait(evloop::ReturnWhen, Option<u64>),
    /// `as_completed_tasks(pending, timeout)`, drained until `None`, then `into_remaining`.
    AsCompleted(Option<u64>),
}

/// One round: cancel some pending tasks (by index, in this order), then run `op`.
#[derive(Clone, Debug)]
pub(crate) struct Round {
    pub(crate) cancels: Vec<usize>,
    pub(crate) op: Op,
}

/// A whole program: tasks spawned at time 0, rounds, and a final gather of what is left.
#[derive(Clone, Debug)]
pub(crate) struct Program {
    pub(crate) tasks: Vec<TaskSpec>,
    pub(crate) rounds: Vec<Round>,
    /// Cancels before the final gather.
    pub(crate) final_cancels: Vec<usize>,
    /// `gather_tasks(pending)` (stops at the first error) if true, else `.outcomes()`.
    pub(crate) final_fail_fast: bool,
}

pub(crate) fn value(index: usize) -> u64 {
    100 + index as u64
}

pub(crate) fn panic_message(index: usize) -> String {
    format!("props_combinators: task {index} panics on purpose")
}

/// A task's outcome.
pub(crate) type Outcome = Result<u64, TaskError>;

/// One `as_completed` item: `(index, outcome)`, or the limit of a `TimedOut`.
pub(crate) type Item = Result<(usize, Outcome), Duration>;

/// What a round returned (the real run records the same).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Observed {
    /// `wait`: when it returned (ms), and the indices of done and pending, in the order given.
    Wait {
        at: u64,
        done: Vec<usize>,
        pending: Vec<usize>,
    },
    /// `as_completed`: each item with the time it came (`Err(limit)` for a `TimedOut`), and
    /// the indices handed back by `into_remaining`.
    AsCompleted {
        items: Vec<(Item, u64)>,
        remaining: Vec<usize>,
    },
    /// The final gather: when it returned and what.
    Gather {
        at: u64,
        result: Result<Vec<u64>, TaskError>,
    },
    /// The final gather's `outcomes()`.
    Outcomes { at: u64, outcomes: Vec<Outcome> },
}

/// Everything the model predicts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Prediction {
    /// One entry per round, then the final gather.
    pub(crate) rounds: Vec<Observed>,
    /// When each task ended (its future dropped), in ms.
    pub(crate) ended_at: Vec<u64>,
    /// Each task's outcome.
    pub(crate) outcomes: Vec<Outcome>,
    /// Tasks detached by a failed final gather (nobody observes their outcome).
    pub(crate) detached: Vec<usize>,
}

// ---------------------------------------------------------------------------------------
// Generation.

/// Timeouts: none, zero, or `10 a + 3` ms, which never coincides with a task's end (module
/// docs of `props_combinators.rs`, "Avoiding ties").
fn timeout() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![
        2 => Just(None),
        1 => Just(Some(0)),
        4 => (0u64..12).prop_map(|a| Some(10 * a + 3)),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    use evloop::ReturnWhen::*;
    prop_oneof![
        (
            prop_oneof![
                Just(FirstCompleted),
                Just(FirstException),
                Just(AllCompleted)
            ],
            timeout()
        )
            .prop_map(|(when, limit)| Op::Wait(when, limit)),
        timeout().prop_map(Op::AsCompleted),
    ]
}

pub(crate) fn program() -> impl Strategy<Value = Program> {
    (1usize..=8)
        .prop_flat_map(|n| {
            let task = (
                1u64..=10,
                prop_oneof![3 => Just(Kind::Value), 1 => Just(Kind::Panic)],
            )
                .prop_map(|(units, kind)| TaskSpec {
                    ms: 10 * units,
                    kind,
                });
            let cancels = proptest::collection::vec(0..n, 0..=2);
            let round = (cancels.clone(), op()).prop_map(|(cancels, op)| Round { cancels, op });
            (
                proptest::collection::vec(task, n),
                proptest::collection::vec(round, 0..=4),
                cancels,
                any::<bool>(),
            )
        })
        .prop_map(|(tasks, rounds, final_cancels, final_fail_fast)| Program {
            tasks,
            rounds,
            final_cancels,
            final_fail_fast,
        })
}

// ---------------------------------------------------------------------------------------
// The model.

/// One task's end: when, and its place among the ends of that instant.
#[derive(Clone, Copy, Debug)]
struct End {
    at: u64,
    /// Natural ends first (0), cancellations after (1); they never share an instant anyway.
    class: u8,
    /// Among ends of one instant and class: the index (natural ends, and cancellations before
    /// the first iteration), or the order of the `cancel` calls.
    order: usize,
    outcome: Kind2,
}

/// How a task ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind2 {
    Natural(Kind),
    Cancelled,
}

impl End {
    fn key(&self) -> (u64, u8, usize) {
        (self.at, self.class, self.order)
    }
}

/// The model's state between rounds.
struct Model {
    /// Each task's end, natural or (once cancelled) cancelled.
    ends: Vec<End>,
    /// The time of the current round's start.
    now: u64,
    /// Indices of the tasks not yet handed out as done, in index order.
    pending: Vec<usize>,
    /// How many cancellations took effect (their order at one instant).
    cancel_seq: usize,
    /// Whether the loop ran an iteration since the spawns (some round waited), so every
    /// task had its first poll.
    polled: bool,
}

impl Model {
    fn outcome(&self, index: usize) -> Outcome {
        match self.ends[index].outcome {
            Kind2::Natural(Kind::Value) => Ok(value(index)),
            Kind2::Natural(Kind::Panic) => Err(TaskError::Panicked(panic_message(index))),
            Kind2::Cancelled => Err(TaskError::Cancelled),
        }
    }

    /// Cancels each listed task that is pending and has not ended by now (a task cancelled
    /// but not yet ended, after a zero timeout, keeps its first cancellation).
    fn cancel(&mut self, cancels: &[usize]) {
        for &index in cancels {
            let end = self.ends[index];
            if !self.pending.contains(&index) || end.class == 1 {
                continue;
            }
            assert!(end.at > self.now, "a pending task ends after now");
            self.cancel_seq += 1;
            // Before the first iteration the tasks still wait for their first poll, in spawn
            // order; later a cancel queues them in call order.
            let order = if self.polled { self.cancel_seq } else { index };
            self.ends[index] = End {
                at: self.now,
                class: 1,
                order,
                outcome: Kind2::Cancelled,
            };
        }
    }

    /// The pending tasks' ends in completion order.
    fn ordered(&self) -> Vec<usize> {
        let mut order = self.pending.clone();
        order.sort_by_key(|&index| self.ends[index].key());
        order
    }

    /// `wait`: when it returns and what is done by then.
    fn wait(&mut self, when: evloop::ReturnWhen, limit: Option<u64>) -> Observed {
        use evloop::ReturnWhen::*;
        let order = self.ordered();
        let (at, done_by): (u64, Option<u64>) = if order.is_empty() || limit == Some(0) {
            (self.now, None)
        } else {
            self.polled = true;
            let last = self.ends[*order.last().unwrap()].at;
            let condition = match when {
                FirstCompleted => self.ends[order[0]].at,
                FirstException => order
                    .iter()
                    .map(|&i| self.ends[i])
                    .find(|end| end.outcome == Kind2::Natural(Kind::Panic))
                    .map_or(last, |end| end.at),
                AllCompleted => last,
            };
            match limit {
                Some(limit) if self.now + limit < condition => {
                    (self.now + limit, Some(self.now + limit))
                }
                _ => (condition, Some(condition)),
            }
        };
        let (done, pending): (Vec<usize>, Vec<usize>) = self
            .pending
            .iter()
            .partition(|&&i| done_by.is_some_and(|by| self.ends[i].at <= by));
        self.now = at;
        self.pending = pending.clone();
        Observed::Wait { at, done, pending }
    }

    /// `as_completed`, drained.
    fn as_completed(&mut self, limit: Option<u64>) -> Observed {
        let order = self.ordered();
        let deadline = limit.map(|limit| self.now + limit);
        let mut items = Vec::new();
        let mut yielded = Vec::new();
        if !order.is_empty() {
            self.polled |= limit != Some(0);
            for &index in &order {
                let at = self.ends[index].at;
                if deadline.is_some_and(|deadline| deadline == self.now || at > deadline) {
                    break;
                }
                items.push((Ok((index, self.outcome(index))), at));
                yielded.push(index);
                self.now = at;
            }
            if yielded.len() < order.len() {
                let deadline = deadline.expect("only a timeout stops early");
                items.push((Err(Duration::from_millis(limit.unwrap())), deadline));
                self.now = deadline;
            }
        }
        self.pending.retain(|index| !yielded.contains(index));
        Observed::AsCompleted {
            items,
            remaining: self.pending.clone(),
        }
    }

    /// The final gather; returns the detached tasks too.
    fn gather(&mut self, fail_fast: bool) -> (Observed, Vec<usize>) {
        let order = self.ordered();
        let last = order.last().map_or(self.now, |&i| self.ends[i].at);
        if !fail_fast {
            let outcomes = self.pending.iter().map(|&i| self.outcome(i)).collect();
            return (Observed::Outcomes { at: last, outcomes }, Vec::new());
        }
        let failed = order.iter().position(|&i| self.outcome(i).is_err());
        match failed {
            None => {
                let values = self.pending.iter().map(|&i| value(i)).collect();
                (
                    Observed::Gather {
                        at: last,
                        result: Ok(values),
                    },
                    Vec::new(),
                )
            }
            Some(position) => {
                let index = order[position];
                let observed = Observed::Gather {
                    at: self.ends[index].at,
                    result: Err(self.outcome(index).unwrap_err()),
                };
                (observed, order[position + 1..].to_vec())
            }
        }
    }
}

/// Runs the model.
pub(crate) fn predict(program: &Program) -> Prediction {
    let ends = program
        .tasks
        .iter()
        .enumerate()
        .map(|(index, spec)| End {
            at: spec.ms,
            class: 0,
            order: index,
            outcome: Kind2::Natural(spec.kind),
        })
        .collect();
    let mut model = Model {
        ends,
        now: 0,
        pending: (0..program.tasks.len()).collect(),
        cancel_seq: 0,
        polled: false,
    };
    let mut rounds = Vec::new();
    for round in &program.rounds {
        model.cancel(&round.cancels);
        rounds.push(match round.op {
            Op::Wait(when, limit) => model.wait(when, limit),
            Op::AsCompleted(limit) => model.as_completed(limit),
        });
    }
    model.cancel(&program.final_cancels);
    let (last, detached) = model.gather(program.final_fail_fast);
    rounds.push(last);
    Prediction {
        rounds,
        ended_at: model.ends.iter().map(|end| end.at).collect(),
        outcomes: (0..program.tasks.len()).map(|i| model.outcome(i)).collect(),
        detached,
    }
}
