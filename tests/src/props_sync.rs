//! Model-based properties of `Semaphore`, `BoundedSemaphore`, `Lock` and `Condition`: random
//! programs of driver operations, run on a real loop and on a model, compared after every
//! operation.
//!
//! # The programs
//!
//! The driver is the loop's main future. It spawns tasks, drops, forgets and takes permits,
//! releases by hand, notifies, holds the lock, and cancels tasks, all within one poll; only a
//! `Settle` operation lets the loop run (a fixed number of `yield_now`s, more than the longest
//! chain of hand-offs a program can build). So between two settles, permits or notifications
//! handed to tasks are *in flight*, and a cancel then hits a task that was chosen but has not
//! run: the case the primitives' cancellation rule is about.
//!
//! - Semaphore programs (also `BoundedSemaphore` and `Lock`): each task acquires, logs its id
//!   and parks its permit with the driver, which later drops or forgets it.
//! - Condition programs: each task takes the lock, waits once, logs its id (checking it holds
//!   the lock again) and releases the lock.
//!
//! # What is checked
//!
//! After every operation: its result (`try_acquire`, manual `release`, `cancel`, whether a
//! guard was at hand to notify), the free permits or `locked()`, the log (grant order, FIFO
//! by the model), the parked permits, and which tasks ended and how. The semaphore model also
//! asserts conservation at every step (free + in flight + held = initial + accepted releases
//! minus forgets), and the real side asserts that the parked permits never exceed that total. At
//! the end parked permits are dropped (or every waiter notified) and the loop settled until
//! every task has ended (unless no permit exists at all), and the free count must be back to
//! the total: no permit was lost, no lock stranded, no notification lost.

use std::any::Any;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use evloop::{
    BoundedSemaphore, Condition, EventLoop, Lock, LockGuard, Semaphore, SemaphorePermit, Task,
};
use proptest::prelude::*;

use crate::props_sync_condition_model::{cond_program, CondModel, CondObs, CondOp};
use crate::props_sync_model::*;
use crate::util::{cases, deadline, settle_for};

/// Lets the loop run until nothing is ready: every task is scheduled a bounded number of
/// times per settle (spawn, hand-off(s), cancel), and each iteration runs all that is ready.
async fn settle(tasks: usize) {
    settle_for(6 * tasks + 4).await;
}

// ---------------------------------------------------------------------------------------
// Semaphores and locks.

/// The primitive under test.
#[derive(Clone)]
enum Prim {
    Semaphore(Semaphore),
    Bounded(BoundedSemaphore),
    Lock(Lock),
}

/// A permit of any of them (a `SemaphorePermit` or a `LockGuard`).
type Guard = Box<dyn Any>;

impl Prim {
    fn new(kind: Kind) -> Prim {
        match kind {
            Kind::Semaphore(n) => Prim::Semaphore(Semaphore::new(n)),
            Kind::Bounded(n) => Prim::Bounded(BoundedSemaphore::new(n)),
            Kind::Lock => Prim::Lock(Lock::new()),
        }
    }

    fn acquire(&self) -> Pin<Box<dyn Future<Output = Guard>>> {
        match self {
            Prim::Semaphore(sem) => {
                let acquire = sem.acquire();
                Box::pin(async move { Box::new(acquire.await) as Guard })
            }
            Prim::Bounded(sem) => {
                let acquire = sem.acquire();
                Box::pin(async move { Box::new(acquire.await) as Guard })
            }
            Prim::Lock(lock) => {
                let acquire = lock.acquire();
                Box::pin(async move { Box::new(acquire.await) as Guard })
            }
        }
    }

    fn try_acquire(&self) -> Option<Guard> {
        match self {
            Prim::Semaphore(sem) => sem.try_acquire().map(|p| Box::new(p) as Guard),
            Prim::Bounded(sem) => sem.try_acquire().map(|p| Box::new(p) as Guard),
            Prim::Lock(lock) => lock.try_acquire().map(|g| Box::new(g) as Guard),
        }
    }

    fn available(&self) -> usize {
        match self {
            Prim::Semaphore(sem) => sem.available_permits(),
            Prim::Bounded(sem) => sem.available_permits(),
            Prim::Lock(lock) => usize::from(!lock.locked()),
        }
    }

    /// A manual release: whether it was accepted (`None` for a lock, which has none).
    fn release(&self) -> Option<bool> {
        match self {
            Prim::Semaphore(sem) => {
                sem.release();
                Some(true)
            }
            Prim::Bounded(sem) => Some(sem.release().is_ok()),
            Prim::Lock(_) => None,
        }
    }
}

/// The real side of one semaphore program.
struct SemReal {
    prim: Prim,
    log: Rc<RefCell<Vec<usize>>>,
    held: Rc<RefCell<Vec<(Owner, Guard)>>>,
    tasks: Vec<Task<()>>,
    directs: usize,
}

impl SemReal {
    fn apply(&mut self, op: SemOp) -> Option<bool> {
        match op {
            SemOp::Spawn => {
                let id = self.tasks.len();
                let (prim, log, held) = (self.prim.clone(), self.log.clone(), self.held.clone());
                self.tasks.push(evloop::spawn(async move {
                    let guard = prim.acquire().await;
                    log.borrow_mut().push(id);
                    held.borrow_mut().push((Owner::Task(id), guard));
                }));
                None
            }
            SemOp::Drop(i) => {
                let len = self.held.borrow().len();
                if len > 0 {
                    let parked = self.held.borrow_mut().remove(i % len);
                    drop(parked);
                }
                None
            }
            SemOp::Forget(i) => {
                let len = self.held.borrow().len();
                if len > 0 && !matches!(self.prim, Prim::Lock(_)) {
                    let (_, guard) = self.held.borrow_mut().remove(i % len);
                    let permit = guard.downcast::<SemaphorePermit>();
                    permit.expect("a semaphore parks permits").forget();
                }
                None
            }
            SemOp::DropAll => {
                let parked: Vec<_> = self.held.borrow_mut().drain(..).collect();
                drop(parked); // oldest first
                None
            }
            SemOp::Release => self.prim.release(),
            SemOp::TryAcquire => {
                let got = self.prim.try_acquire();
                let some = got.is_some();
                if let Some(guard) = got {
                    self.held
                        .borrow_mut()
                        .push((Owner::Direct(self.directs), guard));
                    self.directs += 1;
                }
                Some(some)
            }
            SemOp::Cancel(i) if !self.tasks.is_empty() => {
                Some(self.tasks[i % self.tasks.len()].cancel())
            }
            SemOp::Cancel(_) | SemOp::Settle => None,
        }
    }

    fn observe(&self, result: Option<bool>) -> SemObs {
        SemObs {
            result,
            available: self.prim.available(),
            log: self.log.borrow().clone(),
            held: self.held.borrow().iter().map(|(owner, _)| *owner).collect(),
            ended: ended(&self.tasks),
        }
    }
}

/// Per task: `None` while it runs, else whether it ended cancelled.
fn ended(tasks: &[Task<()>]) -> Vec<Option<bool>> {
    tasks
        .iter()
        .map(|task| task.is_done().then(|| task.is_cancelled()))
        .collect()
}

/// Runs a semaphore program on both sides, comparing after every operation.
fn check_semaphore(kind: Kind, ops: Vec<SemOp>) -> Result<(), TestCaseError> {
    let lp = EventLoop::new().expect("create loop");
    let outcome = lp.run_until_complete(async move {
        let mut model = SemModel::new(kind);
        let mut real = SemReal {
            prim: Prim::new(kind),
            log: Rc::default(),
            held: Rc::default(),
            tasks: Vec::new(),
            directs: 0,
        };
        // The program, then the ending: settle, then drop every parked permit and settle
        // until every task has ended (each round lets at least one more waiter through,
        // unless no permit exists at all).
        let mut ops = ops
            .into_iter()
            .chain([SemOp::Settle])
            .collect::<Vec<_>>()
            .into_iter();
        let mut step = 0;
        loop {
            let op = match ops.next() {
                Some(op) => op,
                None if model.tasks_pending() && model.total > 0 => {
                    ops = vec![SemOp::DropAll, SemOp::Settle].into_iter();
                    continue;
                }
                None => break,
            };
            let result = real.apply(op);
            if let SemOp::Settle = op {
                settle(real.tasks.len()).await;
            }
            let expected = model.apply(op);
            let seen = real.observe(result);
            prop_assert_eq!(&seen, &expected, "step {} ({:?}) of {:?}", step, op, kind);
            prop_assert!(
                seen.held.len() <= model.total,
                "more permits held than exist: {:?}",
                seen
            );
            step += 1;
        }
        real.apply(SemOp::DropAll);
        model.apply(SemOp::DropAll);
        let seen = real.observe(None);
        if model.total > 0 {
            prop_assert!(
                seen.ended.iter().all(Option::is_some),
                "tasks still waiting at the end: {:?}",
                seen
            );
        }
        prop_assert_eq!(seen.available, model.total, "a permit was lost");
        Ok(())
    });
    lp.close().expect("close");
    outcome.expect("run the program")
}

// ---------------------------------------------------------------------------------------
// Conditions.

/// The real side of one condition program.
struct CondReal {
    cond: Condition,
    log: Rc<RefCell<Vec<(usize, bool)>>>,
    tasks: Vec<Task<()>>,
    /// The driver's guard while it holds the lock.
    holding: Option<LockGuard>,
}

impl CondReal {
    fn apply(&mut self, op: CondOp) -> Option<bool> {
        match op {
            CondOp::Spawn => {
                let id = self.tasks.len();
                let (cond, log) = (self.cond.clone(), self.log.clone());
                self.tasks.push(evloop::spawn(async move {
                    let guard = cond.acquire().await;
                    let guard = cond.wait(guard).await;
                    log.borrow_mut().push((id, cond.locked()));
                    drop(guard);
                }));
                None
            }
            CondOp::Notify(_) | CondOp::NotifyAll => {
                let taken = match self.holding {
                    Some(_) => None,
                    None => self.cond.try_acquire(),
                };
                let Some(guard) = self.holding.as_ref().or(taken.as_ref()) else {
                    return Some(false);
                };
                match op {
                    CondOp::Notify(n) => self.cond.notify(guard, n),
                    _ => self.cond.notify_all(guard),
                }
                drop(taken);
                Some(true)
            }
            CondOp::Hold if self.holding.is_none() => {
                self.holding = self.cond.try_acquire();
                Some(self.holding.is_some())
            }
            CondOp::Unhold => {
                drop(self.holding.take());
                None
            }
            CondOp::Cancel(i) if !self.tasks.is_empty() => {
                Some(self.tasks[i % self.tasks.len()].cancel())
            }
            CondOp::Hold | CondOp::Cancel(_) | CondOp::Settle => None,
        }
    }

    fn observe(&self, result: Option<bool>) -> Result<CondObs, TestCaseError> {
        let log = self.log.borrow();
        for &(id, held) in log.iter() {
            prop_assert!(held, "task {} returned from wait without the lock", id);
        }
        Ok(CondObs {
            result,
            locked: self.cond.locked(),
            log: log.iter().map(|&(id, _)| id).collect(),
            ended: ended(&self.tasks),
        })
    }
}

/// Runs a condition program on both sides, comparing after every operation.
fn check_condition(ops: Vec<CondOp>) -> Result<(), TestCaseError> {
    let lp = EventLoop::new().expect("create loop");
    let outcome = lp.run_until_complete(async move {
        let mut model = CondModel::default();
        let mut real = CondReal {
            cond: Condition::new(),
            log: Rc::default(),
            tasks: Vec::new(),
            holding: None,
        };
        // The program, then the ending: let go of the lock, let everyone reach `wait`, and
        // notify everyone (twice, for waiters that a cancel had passed a notification to).
        let ending = [
            CondOp::Unhold,
            CondOp::Settle,
            CondOp::NotifyAll,
            CondOp::Settle,
            CondOp::NotifyAll,
            CondOp::Settle,
        ];
        for (step, op) in ops.iter().chain(&ending).copied().enumerate() {
            let result = real.apply(op);
            if let CondOp::Settle = op {
                settle(real.tasks.len()).await;
            }
            let expected = model.apply(op);
            let seen = real.observe(result)?;
            prop_assert_eq!(&seen, &expected, "step {} ({:?})", step, op);
        }
        let seen = real.observe(None)?;
        prop_assert!(
            seen.ended.iter().all(Option::is_some),
            "tasks still waiting at the end: {:?}",
            seen
        );
        prop_assert!(!seen.locked, "the lock is stranded");
        Ok(())
    });
    lp.close().expect("close");
    outcome.expect("run the program")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(256)))]

    /// Semaphores, bounded semaphores and locks match the FIFO hand-off model step by step.
    #[test]
    fn prop_semaphores_and_locks_match_model((kind, ops) in sem_program()) {
        deadline(CASE_BUDGET, move || check_semaphore(kind, ops))?;
    }

    /// Conditions match the model step by step; no notification or lock is lost.
    #[test]
    fn prop_conditions_match_model(ops in cond_program()) {
        deadline(CASE_BUDGET, move || check_condition(ops))?;
    }
}
