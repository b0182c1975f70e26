//! The programs and reference models of `props_sync.rs`: what a random program of driver
//! operations on a semaphore, a lock or a condition is, how it is generated, and the models
//! that predict, after every operation, what the real primitive and tasks show. The module
//! docs of `props_sync.rs` explain the setting.
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

/// One driver operation of a condition program.
#[derive(Clone, Copy, Debug)]
pub(crate) enum CondOp {
    /// Spawn a task that takes the lock, waits once, logs its id and releases the lock.
    Spawn,
    /// `notify(n)`, with the driver's held guard or a guard taken for the call.
    Notify(usize),
    /// `notify_all()`, likewise.
    NotifyAll,
    /// Take the lock and keep it (if free and not held already).
    Hold,
    /// Release the lock kept by `Hold`.
    Unhold,
    /// `Task::cancel` on the i-th spawned task.
    Cancel(usize),
    /// Run the loop until nothing is ready.
    Settle,
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

/// What the driver sees after one operation of a condition program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CondObs {
    /// `Notify`/`NotifyAll`: whether a guard was at hand; `Hold`: whether it got the lock;
    /// `Cancel`: what `cancel` returned.
    pub(crate) result: Option<bool>,
    /// `Condition::locked()`.
    pub(crate) locked: bool,
    /// Task ids in the order their `wait` returned (each with the lock held).
    pub(crate) log: Vec<usize>,
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

pub(crate) fn cond_program() -> impl Strategy<Value = Vec<CondOp>> {
    let op = prop_oneof![
        4 => Just(CondOp::Spawn),
        2 => (1usize..3).prop_map(CondOp::Notify),
        1 => Just(CondOp::NotifyAll),
        1 => Just(CondOp::Hold),
        1 => Just(CondOp::Unhold),
        2 => any::<usize>().prop_map(CondOp::Cancel),
        3 => Just(CondOp::Settle),
    ];
    prop::collection::vec(op, 1..60)
}

// ---------------------------------------------------------------------------------------
// Shared pieces of the models.

/// The loop's ready queue, tasks only.
#[derive(Default)]
pub(crate) struct ReadyModel {
    queue: VecDeque<usize>,
    /// Per task: already in `queue`.
    scheduled: Vec<bool>,
}

impl ReadyModel {
    fn add_task(&mut self) {
        self.scheduled.push(false);
    }

    fn schedule(&mut self, task: usize) {
        if !self.scheduled[task] {
            self.scheduled[task] = true;
            self.queue.push_back(task);
        }
    }

    fn pop(&mut self) -> Option<usize> {
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
    fn new(available: usize) -> Self {
        PermitModel {
            available,
            waiting: VecDeque::new(),
        }
    }

    /// Takes a free permit; free permits never coexist with waiters.
    fn try_take(&mut self) -> bool {
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
    fn give_back(&mut self) -> Option<usize> {
        let front = self.waiting.pop_front();
        if front.is_none() {
            self.available += 1;
        }
        front
    }

    fn leave(&mut self, task: usize) {
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
    cancel_requested: Vec<bool>,
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
            cancel_requested: Vec::new(),
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
                self.tasks.push(SemTask::New);
                self.cancel_requested.push(false);
                self.ready.add_task();
                self.ready.schedule(self.tasks.len() - 1);
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
            SemOp::Cancel(i) if !self.tasks.is_empty() => {
                let task = i % self.tasks.len();
                let pending = !matches!(self.tasks[task], SemTask::Done(_));
                if pending {
                    self.cancel_requested[task] = true;
                    self.ready.schedule(task);
                }
                result = Some(pending);
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
            SemOp::Drop(_) | SemOp::Forget(_) | SemOp::Cancel(_) => {}
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
        if self.cancel_requested[task] {
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

// ---------------------------------------------------------------------------------------
// The condition model.

/// Which lock acquisition a task is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Before `wait`.
    First,
    /// Inside `wait`, after the notification.
    Again,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CondTask {
    New,
    /// Queued for the lock.
    LockWaiting(Phase),
    /// Handed the lock, not run since.
    LockGranted(Phase),
    /// Queued for a notification (the lock released).
    Waiting,
    /// Chosen by a notify, not run since.
    Notified,
    Done(bool),
}

pub(crate) struct CondModel {
    lock: PermitModel,
    /// Tasks waiting for a notification, oldest first.
    waiting: VecDeque<usize>,
    ready: ReadyModel,
    tasks: Vec<CondTask>,
    cancel_requested: Vec<bool>,
    /// The driver holds the lock (`Hold`).
    holding: bool,
    log: Vec<usize>,
}

impl Default for CondModel {
    fn default() -> Self {
        CondModel {
            lock: PermitModel::new(1),
            waiting: VecDeque::new(),
            ready: ReadyModel::default(),
            tasks: Vec::new(),
            cancel_requested: Vec::new(),
            holding: false,
            log: Vec::new(),
        }
    }
}

impl CondModel {
    /// Applies one operation and returns what the driver then sees.
    pub(crate) fn apply(&mut self, op: CondOp) -> CondObs {
        let mut result = None;
        match op {
            CondOp::Spawn => {
                self.tasks.push(CondTask::New);
                self.cancel_requested.push(false);
                self.ready.add_task();
                self.ready.schedule(self.tasks.len() - 1);
            }
            CondOp::Notify(_) | CondOp::NotifyAll => {
                let n = match op {
                    CondOp::Notify(n) => n,
                    _ => self.waiting.len(),
                };
                let guard = self.holding || self.lock.try_take();
                if guard {
                    for _ in 0..n {
                        self.notify_one();
                    }
                    if !self.holding {
                        self.lock_give_back();
                    }
                }
                result = Some(guard);
            }
            CondOp::Hold if !self.holding => {
                self.holding = self.lock.try_take();
                result = Some(self.holding);
            }
            CondOp::Unhold if self.holding => {
                self.holding = false;
                self.lock_give_back();
            }
            CondOp::Cancel(i) if !self.tasks.is_empty() => {
                let task = i % self.tasks.len();
                let pending = !matches!(self.tasks[task], CondTask::Done(_));
                if pending {
                    self.cancel_requested[task] = true;
                    self.ready.schedule(task);
                }
                result = Some(pending);
            }
            CondOp::Settle => {
                while let Some(task) = self.ready.pop() {
                    self.run(task);
                }
            }
            CondOp::Hold | CondOp::Unhold | CondOp::Cancel(_) => {}
        }
        CondObs {
            result,
            locked: self.lock.available == 0,
            log: self.log.clone(),
            ended: self
                .tasks
                .iter()
                .map(|state| match state {
                    CondTask::Done(cancelled) => Some(*cancelled),
                    _ => None,
                })
                .collect(),
        }
    }

    fn notify_one(&mut self) {
        if let Some(task) = self.waiting.pop_front() {
            self.tasks[task] = CondTask::Notified;
            self.ready.schedule(task);
        }
    }

    fn lock_give_back(&mut self) {
        if let Some(task) = self.lock.give_back() {
            let CondTask::LockWaiting(phase) = self.tasks[task] else {
                panic!(
                    "model: task {task} in the lock queue is {:?}",
                    self.tasks[task]
                );
            };
            self.tasks[task] = CondTask::LockGranted(phase);
            self.ready.schedule(task);
        }
    }

    /// One poll slot of `task`: drop its future if cancelled, else poll it.
    fn run(&mut self, task: usize) {
        let state = self.tasks[task];
        if matches!(state, CondTask::Done(_)) {
            return;
        }
        if self.cancel_requested[task] {
            match state {
                CondTask::LockWaiting(phase) => {
                    self.lock.leave(task);
                    if phase == Phase::Again {
                        self.notify_one(); // pass the notification on
                    }
                }
                CondTask::LockGranted(phase) => {
                    self.lock_give_back(); // hand the lock on first ...
                    if phase == Phase::Again {
                        self.notify_one(); // ... then the notification
                    }
                }
                CondTask::Waiting => self.waiting.retain(|&t| t != task),
                CondTask::Notified => self.notify_one(),
                CondTask::New | CondTask::Done(_) => {}
            }
            self.tasks[task] = CondTask::Done(true);
            return;
        }
        match state {
            CondTask::New => self.lock_acquire(task, Phase::First),
            CondTask::LockGranted(phase) => self.locked(task, phase),
            CondTask::Notified => self.lock_acquire(task, Phase::Again),
            CondTask::LockWaiting(_) | CondTask::Waiting | CondTask::Done(_) => {}
        }
    }

    fn lock_acquire(&mut self, task: usize, phase: Phase) {
        if self.lock.try_take() {
            self.locked(task, phase);
        } else {
            self.lock.waiting.push_back(task);
            self.tasks[task] = CondTask::LockWaiting(phase);
        }
    }

    /// `task` holds the lock: it starts waiting, or returns from `wait` and finishes.
    fn locked(&mut self, task: usize, phase: Phase) {
        match phase {
            Phase::First => {
                self.waiting.push_back(task);
                self.tasks[task] = CondTask::Waiting;
            }
            Phase::Again => {
                self.log.push(task);
                self.tasks[task] = CondTask::Done(false);
            }
        }
        self.lock_give_back();
    }
}
