//! Model-based property of the combinators: random tasks (durations, panics, cancellations)
//! on the virtual clock, driven through random rounds of `wait` and `as_completed` and a
//! final `gather`, against a model that predicts what each call returns and when.
//!
//! # The program
//!
//! `n` tasks (1 to 8) are spawned at time 0. Task `i` sleeps `ms_i` (10 to 100, a multiple
//! of 10), then returns `value(i)` or panics. Then up to four rounds run one after another on
//! the tasks still pending. Each round first cancels some of them (by index, in a random
//! order), then calls `wait(pending, return_when, timeout)` (each `ReturnWhen`) or drains
//! `as_completed_tasks(pending, timeout)` and takes back `into_remaining`. Done tasks are
//! awaited at once. Last, after more cancels, `gather_tasks(pending)` (stopping at the first
//! error) or its `.outcomes()` collects the rest, and the main future sleeps until every task
//! has ended.
//!
//! # Avoiding ties
//!
//! Tasks end at multiples of 10 ms; a cancellation ends its task at the instant of its
//! round's start, in the next iteration. Timeouts are 0 or `10 a + 3` ms, and there are at
//! most four rounds, so a round's start is `10 k + 3 j` with `j <= 4`: a timeout never
//! expires at an instant when a task ends, and cancellations never share an instant with a
//! natural end. What is left is deterministic and part of what is checked: tasks ending at
//! one instant end in one iteration, in timer order, which is their spawn order (each
//! registered its only sleep in its first poll, in spawn order); cancellations end in the
//! order of the `cancel` calls, except before the first iteration, when the cancelled tasks
//! still wait for their first poll in spawn order.
//!
//! # The model
//!
//! Each task has an end: `(time, class, order)` (class 0 natural, 1 cancelled). The ends of
//! one instant form one batch, and a combinator sees a whole batch at once. So `wait` returns
//! at the first batch (`FirstCompleted`), at the first batch holding a panic, else the last
//! (`FirstException`), or at the last batch (`AllCompleted`), unless its timeout comes first;
//! done = every task ended by then. `as_completed` yields the ends in key order until its
//! deadline, then one `TimedOut`. The final gather returns at the last end, or at the first
//! error in key order (the tasks after it are detached). A zero timeout returns at once,
//! having seen nothing.
//!
//! # What is checked
//!
//! Against the model: every round's return time and result (done and pending indices in the
//! order given, as_completed items with their times, the final gather's result); when each
//! task ended (its future dropped, exactly once); each task's outcome, observed exactly once
//! unless a failed final gather detached it; the exception handler's reports (exactly the
//! panics of detached tasks). On the real loop alone: awaiting a done task does not move the
//! clock, and no task is left at the end.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use evloop::{EventLoop, Task};
use proptest::prelude::*;

use crate::props_combinators_model::*;
use crate::util::{cases, deadline, record_exception_texts, virtual_loop};

/// What the real run recorded.
struct Real {
    rounds: Vec<Observed>,
    /// Drop times (ms) of each task's future.
    drops: Vec<Vec<u64>>,
    /// Outcomes seen by the program, per task.
    observed: Vec<Vec<Outcome>>,
    /// Tasks given to a final gather that stopped at an error (not observed).
    exempt: Vec<usize>,
    /// Panic texts the exception handler received.
    reports: Vec<String>,
    /// Things that went wrong on the real side alone.
    violations: Vec<String>,
    tasks_left: usize,
}

/// State shared by the tasks of one case.
struct Shared {
    lp: EventLoop,
    start: Instant,
    drops: RefCell<Vec<Vec<u64>>>,
}

impl Shared {
    fn ms(&self) -> u64 {
        let elapsed = self.lp.time() - self.start;
        u64::try_from(elapsed.as_millis()).expect("small")
    }
}

/// Records the drop of a task's future.
struct Guard {
    index: usize,
    shared: Rc<Shared>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let at = self.shared.ms();
        self.shared.drops.borrow_mut()[self.index].push(at);
    }
}

/// The driver's bookkeeping: which task is which.
struct Driver {
    shared: Rc<Shared>,
    /// Task id -> index.
    index_of: HashMap<u64, usize>,
    observed: Vec<Vec<Outcome>>,
    violations: Vec<String>,
}

impl Driver {
    fn indices(&self, tasks: &[Task<u64>]) -> Vec<usize> {
        tasks.iter().map(|task| self.index_of[&task.id()]).collect()
    }

    fn cancel(&self, pending: &[Task<u64>], cancels: &[usize]) {
        for &index in cancels {
            if let Some(task) = pending.iter().find(|t| self.index_of[&t.id()] == index) {
                task.cancel();
            }
        }
    }

    /// Awaits done tasks, which must not move the clock.
    async fn collect(&mut self, done: Vec<Task<u64>>) {
        let before = self.shared.ms();
        for task in done {
            let index = self.index_of[&task.id()];
            let outcome = task.await;
            self.observed[index].push(outcome);
        }
        if self.shared.ms() != before {
            self.violations
                .push(format!("awaiting done tasks moved the clock from {before}"));
        }
    }

    async fn round(
        &mut self,
        pending: Vec<Task<u64>>,
        round: &Round,
    ) -> (Observed, Vec<Task<u64>>) {
        self.cancel(&pending, &round.cancels);
        match round.op {
            Op::Wait(when, limit) => {
                let (done, pending) =
                    evloop::wait(pending, when, limit.map(Duration::from_millis)).await;
                let observed = Observed::Wait {
                    at: self.shared.ms(),
                    done: self.indices(&done),
                    pending: self.indices(&pending),
                };
                self.collect(done).await;
                (observed, pending)
            }
            Op::AsCompleted(limit) => {
                let given = self.indices(&pending);
                let mut completed =
                    evloop::as_completed_tasks(pending, limit.map(Duration::from_millis));
                let mut items = Vec::new();
                while let Some(item) = completed.next().await {
                    let at = self.shared.ms();
                    match item {
                        Ok((position, outcome)) => {
                            let index = given[position];
                            self.observed[index].push(outcome.clone());
                            items.push((Ok((index, outcome)), at));
                        }
                        Err(timed_out) => items.push((Err(timed_out.after()), at)),
                    }
                }
                let pending = completed.into_remaining();
                let observed = Observed::AsCompleted {
                    items,
                    remaining: self.indices(&pending),
                };
                (observed, pending)
            }
        }
    }

    async fn finish(
        &mut self,
        pending: Vec<Task<u64>>,
        program: &Program,
    ) -> (Observed, Vec<usize>) {
        self.cancel(&pending, &program.final_cancels);
        let given = self.indices(&pending);
        if program.final_fail_fast {
            let result = evloop::gather_tasks(pending).await;
            let at = self.shared.ms();
            match &result {
                Ok(values) => {
                    for (&index, &value) in given.iter().zip(values) {
                        self.observed[index].push(Ok(value));
                    }
                    (Observed::Gather { at, result }, Vec::new())
                }
                Err(_) => (Observed::Gather { at, result }, given),
            }
        } else {
            let outcomes = evloop::gather_tasks(pending).outcomes().await;
            for (&index, outcome) in given.iter().zip(&outcomes) {
                self.observed[index].push(outcome.clone());
            }
            let at = self.shared.ms();
            (Observed::Outcomes { at, outcomes }, Vec::new())
        }
    }
}

fn run_real(program: &Program) -> Real {
    let lp = virtual_loop();
    let reports = record_exception_texts(&lp);
    let n = program.tasks.len();
    let shared = Rc::new(Shared {
        lp: lp.clone(),
        start: lp.time(),
        drops: RefCell::new(vec![Vec::new(); n]),
    });
    let main = {
        let shared = shared.clone();
        let program = program.clone();
        async move {
            let mut pending = Vec::new();
            let mut index_of = HashMap::new();
            for (index, spec) in program.tasks.iter().copied().enumerate() {
                let guard = Guard {
                    index,
                    shared: shared.clone(),
                };
                let task = evloop::spawn(async move {
                    let _guard = guard;
                    evloop::sleep(Duration::from_millis(spec.ms)).await;
                    match spec.kind {
                        Kind::Value => value(index),
                        Kind::Panic => panic!("{}", panic_message(index)),
                    }
                });
                index_of.insert(task.id(), index);
                pending.push(task);
            }
            let mut driver = Driver {
                shared: shared.clone(),
                index_of,
                observed: vec![Vec::new(); n],
                violations: Vec::new(),
            };
            let mut rounds = Vec::new();
            for round in &program.rounds {
                let (observed, left) = driver.round(pending, round).await;
                rounds.push(observed);
                pending = left;
            }
            let (last, exempt) = driver.finish(pending, &program).await;
            rounds.push(last);
            evloop::sleep(Duration::from_millis(HORIZON_MS)).await;
            (rounds, exempt, driver.observed, driver.violations)
        }
    };
    let (rounds, exempt, observed, violations) =
        lp.run_until_complete(main).expect("the program runs");
    let tasks_left = lp.task_count();
    lp.close().expect("close");
    let drops = shared.drops.take();
    let reports = reports.take();
    Real {
        rounds,
        drops,
        observed,
        exempt,
        reports,
        violations,
        tasks_left,
    }
}

/// Runs both sides and compares them (module docs).
fn check(program: Program) -> Result<(), TestCaseError> {
    let model = predict(&program);
    let real = run_real(&program);
    prop_assert_eq!(&real.violations, &Vec::<String>::new());
    prop_assert_eq!(real.tasks_left, 0, "tasks left at the horizon");
    prop_assert_eq!(
        &real.rounds,
        &model.rounds,
        "round results differ from the model"
    );
    for (index, drops) in real.drops.iter().enumerate() {
        prop_assert_eq!(drops, &vec![model.ended_at[index]], "task {} ended", index);
    }
    for (index, observed) in real.observed.iter().enumerate() {
        if real.exempt.contains(&index) {
            prop_assert!(observed.is_empty(), "task {} detached yet observed", index);
        } else {
            prop_assert_eq!(
                observed,
                &vec![model.outcomes[index].clone()],
                "task {} observed",
                index
            );
        }
    }
    let mut expected: Vec<String> = model
        .detached
        .iter()
        .filter(|&&i| model.outcomes[i].as_ref().is_err_and(|e| e.is_panic()))
        .map(|&i| panic_message(i))
        .collect();
    let mut reported = real.reports;
    expected.sort();
    reported.sort();
    prop_assert_eq!(reported, expected, "exception handler reports");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(256)))]

    /// Rounds of wait / as_completed and a final gather return what the model predicts.
    #[test]
    fn prop_combinators_match_model(program in program()) {
        deadline(CASE_BUDGET, move || check(program))?;
    }
}
