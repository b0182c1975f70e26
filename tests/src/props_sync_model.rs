//! The semaphore programs and model of `props_sync.rs`, and the parts every model there shares:
//! what a random program of driver operations on a semaphore or a lock is, how it is
//! generated, and the model that predicts, after every operation, what the real primitive and
//! tasks show (the condition's are in `props_sync_condition_model.rs`). The module docs of
//! `props_sync.rs` explain the setting.
//!
//! # The models
//!
//! Each model simulates the loop's ready queue exactly as the loop behaves: a FIFO of tasks,
//! a task queued at most once (`scheduled`), a task scheduled by its spawn, by a wake (a
//! permit, the lock or a notification handed to it) and by `Task::cancel`; running a task
//! whose cancellation was requested drops its future instead of polling it. A permit counter
//! is a count plus a FIFO of waiting tasks, with direct hand-off: a permit given back goes to
//! the front waiter (which is scheduled) or, if nobody waits, to the count.

use std::collections::VecDeque;
use std::time::Duration;

use proptest::prelude::*;

/// How long one case may take before it counts as a hang.
pub(crate) const CASE_BUDGET: Duration = Duration::from_secs(10);

/// Who holds a permit that the driver keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    /// Task `id` acquired it and parked it with the driver.
    Task(usize),
    /// The driver's `n`-th successful `try_acquire`.
    Direct(usize),
}

/// Which primitive a semaphore program runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `Semaphore::new(n)`.
    Semaphore(usize),
    /// `BoundedSemaphore::new(n)`.
    Bounded(usize),
    /// `Lock::new()`: one permit, no manual release, no forget.
    Lock,
}

impl Kind {
    pub(crate) fn initial(self) -> usize {
        match self {
            Kind::Semaphore(n) | Kind::Bounded(n) => n,
            Kind::Lock => 1,
        }
    }
}

/// One driver operation of a semaphore (or lock) program.
#[derive(Clone, Copy, Debug)]
pub(crate) enum SemOp {
    /// Spawn a task that acquires, logs its id, and parks its permit with the driver.
    Spawn,
    /// Drop the i-th parked permit (modulo their number).
    Drop(usize),
    /// `forget` the i-th parked permit (semaphores only).
    Forget(usize),
    /// A manual `release()` (semaphores only).
    Release,
    /// `try_acquire`; a permit got is parked as `Owner::Direct`.
    TryAcquire,
    /// `Task::cancel` on the i-th spawned task (modulo their number).
    Cancel(usize),
    /// Run the loop until nothing is ready.
    Settle,
    /// Drop every parked permit, oldest first (the ending of a program, never generated).
    DropAll,
}

/// What the driver sees after one operation of a semaphore program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SemObs {
    /// `try_acquire` got a permit, a manual release was accepted, `cancel` returned `true`.
    pub(crate) result: Option<bool>,
    /// Free permits.
    pub(crate) available: usize,
    /// Task ids in the order they got a permit.
    pub(crate) log: Vec<usize>,
    /// The parked permits, in parking order.
    pub(crate) held: Vec<Owner>,
    /// Per task: `None` while it runs, else whether it ended cancelled.
    pub(crate) ended: Vec<Option<bool>>,
}

// ---------------------------------------------------------------------------------------
// Generation.

pub(crate) fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        2 => (0usize..4).prop_map(Kind::Semaphore),
        2 => (0usize..4).prop_map(Kind::Bounded),
        2 => Just(Kind::Lock),
    ]
}

pub(crate) fn sem_op(kind: Kind) -> BoxedStrategy<SemOp> {
    let common = prop_oneof![
        4 => Just(SemOp::Spawn),
        3 => any::<usize>().prop_map(SemOp::Drop),
        1 => Just(SemOp::TryAcquire),
        2 => any::<usize>().prop_map(SemOp::Cancel),
        3 => Just(SemOp::Settle),
    ];
    match kind {
        Kind::Lock => common.boxed(),
        Kind::Semaphore(_) | Kind::Bounded(_) => prop_oneof![
            13 => common,
            1 => any::<usize>().prop_map(SemOp::Forget),
            2 => Just(SemOp::Release),
        ]
        .boxed(),
    }
}

pub(crate) fn sem_program() -> impl Strategy<Value = (Kind, Vec<SemOp>)> {
    kind().prop_flat_map(|kind| (Just(kind), prop::collection::vec(sem_op(kind), 1..60)))
}

// ---------------------------------------------------------------------------------------
// Shared pieces of the models.

/// The loop's ready queue (tasks only) and the tasks' cancellation requests.
#[derive(Default)]
pub(crate) struct ReadyModel {
    queue: VecDeque<usize>,
    /// Per task: already in `queue`.
    scheduled: Vec<bool>,
    /// Per task: `Task::cancel` was called; its next run drops the future.
    pub(crate) cancel_requested: Vec<bool>,
}

impl ReadyModel {
    /// A new task, scheduled for its first poll; returns its id.
    pub(crate) fn spawn(&mut self) -> usize {
        let task = self.scheduled.len();
        self.scheduled.push(false);
        self.cancel_requested.push(false);
        self.schedule(task);
        task
    }

    /// `Task::cancel` on task `i % count`, which has ended if `done(task)`: its result.
    pub(crate) fn cancel(&mut self, i: usize, done: impl Fn(usize) -> bool) -> Option<bool> {
        if self.scheduled.is_empty() {
            return None;
        }
        let task = i % self.scheduled.len();
        if done(task) {
            return Some(false);
        }
        self.cancel_requested[task] = true;
        self.schedule(task);
        Some(true)
    }

    pub(crate) fn schedule(&mut self, task: usize) {
        if !self.scheduled[task] {
            self.scheduled[task] = true;
            self.queue.push_back(task);
        }
    }

    pub(crate) fn pop(&mut self) -> Option<usize> {
        let task = self.queue.pop_front()?;
        self.scheduled[task] = false;
        Some(task)
    }
}

/// A permit counter with direct hand-off.
pub(crate) struct PermitModel {
    pub(crate) available: usize,
    /// Waiting tasks, oldest first.
    pub(crate) waiting: VecDeque<usize>,
}

impl PermitModel {
    pub(crate) fn new(available: usize) -> Self {
        PermitModel {
            available,
            waiting: VecDeque::new(),
        }
    }

    /// Takes a free permit; free permits never coexist with waiters.
    pub(crate) fn try_take(&mut self) -> bool {
        assert!(
            self.available == 0 || self.waiting.is_empty(),
            "model invariant"
        );
        if self.available == 0 {
            return false;
        }
        self.available -= 1;
        true
    }

    /// Gives a permit back: the front waiter to grant it to, if any.
    pub(crate) fn give_back(&mut self) -> Option<usize> {
        let front = self.waiting.pop_front();
        if front.is_none() {
            self.available += 1;
        }
        front
    }

    pub(crate) fn leave(&mut self, task: usize) {
        self.waiting.retain(|&t| t != task);
    }
}

// ---------------------------------------------------------------------------------------
// The semaphore (and lock) model.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SemTask {
    /// Spawned, not polled yet.
    New,
    /// Queued for a permit.
    Waiting,
    /// Handed a permit, not run since.
    Granted,
    /// Ended; `true` if cancelled.
    Done(bool),
}

pub(crate) struct SemModel {
    kind: Kind,
    permits: PermitModel,
    forgotten: usize,
    ready: ReadyModel,
    tasks: Vec<SemTask>,
    held: Vec<Owner>,
    log: Vec<usize>,
    directs: usize,
    /// Initial value + accepted manual releases - forgets: what free + granted + held must be.
    pub(crate) total: usize,
}

impl SemModel {
    pub(crate) fn new(kind: Kind) -> Self {
        SemModel {
            kind,
            permits: PermitModel::new(kind.initial()),
            forgotten: 0,
            ready: ReadyModel::default(),
            tasks: Vec::new(),
            held: Vec::new(),
            log: Vec::new(),
            directs: 0,
            total: kind.initial(),
        }
    }

    /// Applies one operation and returns what the driver then sees.
    pub(crate) fn apply(&mut self, op: SemOp) -> SemObs {
        let mut result = None;
        match op {
            SemOp::Spawn => {
                self.ready.spawn();
                self.tasks.push(SemTask::New);
            }
            SemOp::Drop(i) if !self.held.is_empty() => {
                self.held.remove(i % self.held.len());
                self.give_back();
            }
            SemOp::Forget(i) if !self.held.is_empty() && self.kind != Kind::Lock => {
                self.held.remove(i % self.held.len());
                self.forgotten += 1;
                self.total -= 1;
            }
            SemOp::Release => match self.kind {
                Kind::Semaphore(_) => {
                    self.forgotten = self.forgotten.saturating_sub(1);
                    self.total += 1;
                    self.give_back();
                    result = Some(true);
                }
                Kind::Bounded(_) => {
                    let accepted = self.forgotten > 0;
                    if accepted {
                        self.forgotten -= 1;
                        self.total += 1;
                        self.give_back();
                    }
                    result = Some(accepted);
                }
                Kind::Lock => {}
            },
            SemOp::TryAcquire => {
                let got = self.permits.try_take();
                if got {
                    self.held.push(Owner::Direct(self.directs));
                    self.directs += 1;
                }
                result = Some(got);
            }
            SemOp::Cancel(i) => {
                let tasks = &self.tasks;
                result = self
                    .ready
                    .cancel(i, |t| matches!(tasks[t], SemTask::Done(_)));
            }
            SemOp::Settle => {
                while let Some(task) = self.ready.pop() {
                    self.run(task);
                }
            }
            SemOp::DropAll => {
                for _ in 0..self.held.len() {
                    self.held.remove(0);
                    self.give_back();
                }
            }
            SemOp::Drop(_) | SemOp::Forget(_) => {}
        }
        self.check_conservation();
        SemObs {
            result,
            available: self.permits.available,
            log: self.log.clone(),
            held: self.held.clone(),
            ended: self.ended(),
        }
    }

    /// Whether some task has not ended yet.
    pub(crate) fn tasks_pending(&self) -> bool {
        self.tasks.iter().any(|t| !matches!(t, SemTask::Done(_)))
    }

    fn ended(&self) -> Vec<Option<bool>> {
        self.tasks
            .iter()
            .map(|state| match state {
                SemTask::Done(cancelled) => Some(*cancelled),
                _ => None,
            })
            .collect()
    }

    /// Free + granted + held == total: no permit lost or minted, whatever happened.
    fn check_conservation(&self) {
        let granted = self
            .tasks
            .iter()
            .filter(|t| **t == SemTask::Granted)
            .count();
        assert_eq!(
            self.permits.available + granted + self.held.len(),
            self.total,
            "model: permits not conserved"
        );
    }

    fn give_back(&mut self) {
        if let Some(task) = self.permits.give_back() {
            self.tasks[task] = SemTask::Granted;
            self.ready.schedule(task);
        }
    }

    /// One poll slot of `task`: drop its future if cancelled, else poll it.
    fn run(&mut self, task: usize) {
        let state = self.tasks[task];
        if matches!(state, SemTask::Done(_)) {
            return;
        }
        if self.ready.cancel_requested[task] {
            match state {
                SemTask::Waiting => self.permits.leave(task),
                SemTask::Granted => self.give_back(), // hand the permit on
                SemTask::New | SemTask::Done(_) => {}
            }
            self.tasks[task] = SemTask::Done(true);
            return;
        }
        match state {
            SemTask::New if self.permits.try_take() => self.finish(task),
            SemTask::New => {
                self.permits.waiting.push_back(task);
                self.tasks[task] = SemTask::Waiting;
            }
            SemTask::Granted => self.finish(task),
            SemTask::Waiting | SemTask::Done(_) => {}
        }
    }

    fn finish(&mut self, task: usize) {
        self.log.push(task);
        self.held.push(Owner::Task(task));
        self.tasks[task] = SemTask::Done(false);
    }
}
