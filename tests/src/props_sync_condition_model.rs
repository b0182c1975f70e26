//! The condition programs and model of `props_sync.rs` (the semaphore ones, and the parts
//! both models share, are in `props_sync_model.rs`, whose module docs describe the models).
//!
//! A task takes the lock, waits once, and returns from `wait` holding the lock again. The
//! model follows it through both lock acquisitions (`Phase`) and the condition's own FIFO of
//! waiters, with the cancellation rule of `Condition`: a waiter dropped after it was notified
//! (before it ran, or while re-acquiring the lock) notifies the next one, after handing on a
//! lock that was already handed to it.

use std::collections::VecDeque;

use proptest::prelude::*;

use crate::props_sync_model::{PermitModel, ReadyModel};

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
// The model.

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
                self.ready.spawn();
                self.tasks.push(CondTask::New);
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
            CondOp::Cancel(i) => {
                let tasks = &self.tasks;
                result = self
                    .ready
                    .cancel(i, |t| matches!(tasks[t], CondTask::Done(_)));
            }
            CondOp::Settle => {
                while let Some(task) = self.ready.pop() {
                    self.run(task);
                }
            }
            CondOp::Hold | CondOp::Unhold => {}
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
        if self.ready.cancel_requested[task] {
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
