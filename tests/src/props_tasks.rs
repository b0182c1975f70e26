//! Model-based property of tasks: scripted futures that sleep, yield, spawn, join, panic and
//! get cancelled, on the virtual clock, against a model that predicts how and when each
//! task ends.
//!
//! # The program
//!
//! Every task runs a script of steps: `Sleep(ms)`, `Yield`, `Spawn { child, mode }` and
//! `Panic`; a script that runs out of steps returns the task's value (`1000 + id`). A child is
//! spawned in one of three modes: `Join` (the parent awaits it at once), `Background` (its
//! handle waits in a registry, collected at the end) or `Detach` (its handle is dropped at
//! once). Root tasks are spawned by the main future at time 0. Each cancel operation is a
//! controller task that sleeps until its time, then calls `Task::cancel` on its target's
//! handle, if the registry still holds it, and records the result.
//!
//! # Avoiding ties
//!
//! Cancels are the only operations whose outcome depends on the order of events at one
//! instant, so the generator keeps them apart from everything else: sleeps are multiples of
//! 10 ms, and cancel `j` happens at `10 * a + (j + 1)` ms, a distinct remainder mod 10 for
//! each cancel. Every task event happens at `10 k` or at `c_j + 10 k` (after a parent resumed
//! because the child it joined was cancelled at `c_j`), so no task event ever shares an
//! instant with a cancel except the cancel's own consequences. The model asserts it.
//!
//! # The model
//!
//! A discrete-event simulation over virtual time that ignores iterations altogether: a task
//! runs its steps at one instant until it sleeps (an event at `now + ms`), joins an unfinished
//! child (it resumes when the child ends, at the same instant), panics or returns. A cancel at
//! `c` on a task whose handle is in the registry ends it `Cancelled` at `c` if it has not
//! ended, and returns `Some(false)` if it has; on a handle not in the registry (not spawned
//! yet, detached, or already taken by a joining parent) it does nothing (`None`). A parent
//! joining a cancelled or panicked child gets the error and goes on; a cancelled parent leaves
//! its children running.
//!
//! # What is checked
//!
//! Against the model: when each task was spawned, how and when it ended (or that it never
//! existed), and what each `cancel` returned. On the real loop alone: each task ended exactly
//! once, its future (a drop guard inside it) was dropped exactly once, every non-detached task
//! was observed exactly once through its awaited `Result`, which agrees with how it ended
//! (value, `Cancelled`, or `Panicked` with its message), and each detached task that panicked
//! was reported exactly once to the exception handler, which saw nothing else.

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::time::{Duration, Instant};

use evloop::{EventLoop, ExceptionContext, Task, TaskError};
use proptest::prelude::*;

use crate::util::{cases, deadline, record_exceptions, virtual_loop};

use crate::props_tasks_model::*;

// ---------------------------------------------------------------------------------------
// The real loop.

/// What the real run recorded about one task.
#[derive(Default)]
struct Record {
    spawned: Option<Duration>,
    /// Every end the task reported (must be exactly one).
    ended: Vec<(End, Duration)>,
    /// Drops of its future's guard.
    drops: u32,
    /// Results seen by whoever awaited it.
    observed: Vec<Result<u64, TaskError>>,
}

/// The real side's state, shared by every task of one case.
struct Shared {
    lp: EventLoop,
    start: Instant,
    scripts: Vec<Vec<Step>>,
    /// Task handles that a cancel can reach, by task id.
    registry: RefCell<Vec<Option<Task<u64>>>>,
    records: RefCell<Vec<Record>>,
    cancel_results: RefCell<Vec<Option<Option<bool>>>>,
}

impl Shared {
    fn at(&self) -> Duration {
        self.lp.time().duration_since(self.start)
    }

    fn end(&self, task: usize, end: End) {
        let at = self.at();
        self.records.borrow_mut()[task].ended.push((end, at));
    }

    fn spawn_task(self: &Rc<Self>, task: usize) -> Task<u64> {
        self.records.borrow_mut()[task].spawned = Some(self.at());
        self.lp.spawn(task_future(task, self.clone()))
    }
}

/// Lives inside each task's future: counts its drop, and reports `Cancelled` if the future
/// is dropped before it returned or panicked.
struct Guard {
    task: usize,
    shared: Rc<Shared>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let at = self.shared.at();
        let mut records = self.shared.records.borrow_mut();
        let record = &mut records[self.task];
        record.drops += 1;
        if record.ended.is_empty() {
            record.ended.push((End::Cancelled, at));
        }
    }
}

/// The future of task `task`: its script, step by step.
fn task_future(task: usize, shared: Rc<Shared>) -> Pin<Box<dyn Future<Output = u64>>> {
    Box::pin(async move {
        let guard = Guard {
            task,
            shared: shared.clone(),
        };
        for step in shared.scripts[task].clone() {
            match step {
                Step::Sleep(ms) => evloop::sleep(Duration::from_millis(ms)).await,
                Step::Yield => evloop::yield_now().await,
                Step::Panic => {
                    shared.end(task, End::Panicked);
                    panic!("{}", panic_message(task));
                }
                Step::Spawn { child, mode } => {
                    let handle = shared.spawn_task(child);
                    if mode == Mode::Detach {
                        drop(handle);
                        continue;
                    }
                    shared.registry.borrow_mut()[child] = Some(handle);
                    if mode == Mode::Join {
                        // Poll the handle in place, so a controller can still cancel it.
                        let result = poll_fn(|cx| {
                            let mut registry = shared.registry.borrow_mut();
                            let handle = registry[child].as_mut().expect("joined handle");
                            Pin::new(handle).poll(cx)
                        })
                        .await;
                        shared.registry.borrow_mut()[child] = None;
                        shared.records.borrow_mut()[child].observed.push(result);
                    }
                }
            }
        }
        shared.end(task, End::Value);
        drop(guard);
        value(task)
    })
}

/// What the real run left behind.
struct RealOutcome {
    records: Vec<Record>,
    cancel_results: Vec<Option<Option<bool>>>,
    reports: Vec<ExceptionContext>,
    tasks_left: usize,
}

fn run_real(program: &Program) -> RealOutcome {
    let lp = virtual_loop();
    let reports = record_exceptions(&lp);
    let n = program.scripts.len();
    let shared = Rc::new(Shared {
        lp: lp.clone(),
        start: lp.time(),
        scripts: program.scripts.clone(),
        registry: RefCell::new((0..n).map(|_| None).collect()),
        records: RefCell::new((0..n).map(|_| Record::default()).collect()),
        cancel_results: RefCell::new(vec![None; program.cancels.len()]),
    });

    // Run the program: controllers, roots, then wait past the end of everything.
    let main = {
        let shared = shared.clone();
        let program = program.clone();
        async move {
            for (j, cancel) in program.cancels.iter().cloned().enumerate() {
                let shared = shared.clone();
                let when = shared.start + Duration::from_millis(cancel.at_ms);
                drop(shared.lp.clone().spawn(async move {
                    evloop::sleep_until(when).await;
                    let result = shared.registry.borrow()[cancel.target]
                        .as_ref()
                        .map(Task::cancel);
                    shared.cancel_results.borrow_mut()[j] = Some(result);
                }));
            }
            for &(root, mode) in &program.roots {
                let handle = shared.spawn_task(root);
                if mode != Mode::Detach {
                    shared.registry.borrow_mut()[root] = Some(handle);
                }
            }
            evloop::sleep(Duration::from_millis(HORIZON_MS)).await;
        }
    };
    lp.run_until_complete(main).expect("run the program");
    let tasks_left = lp.task_count();

    // Await every handle still in the registry (all those tasks have ended).
    let collect = {
        let shared = shared.clone();
        async move {
            for task in 0..n {
                let handle = shared.registry.borrow_mut()[task].take();
                if let Some(handle) = handle {
                    let result = handle.await;
                    shared.records.borrow_mut()[task].observed.push(result);
                }
            }
        }
    };
    lp.run_until_complete(collect).expect("collect the results");
    lp.close().expect("close");

    let records = shared.records.take();
    let cancel_results = shared.cancel_results.take();
    drop(shared);
    let reports = reports.take();
    RealOutcome {
        records,
        cancel_results,
        reports,
        tasks_left,
    }
}

/// Runs both sides and compares them (module docs).
fn check(program: Program) -> Result<(), TestCaseError> {
    let (fates, results) = Model::run(&program);
    let real = run_real(&program);

    prop_assert_eq!(real.tasks_left, 0, "tasks still unfinished at the horizon");
    let real_fates: Vec<Fate> = real
        .records
        .iter()
        .map(|r| Fate {
            spawned: r.spawned,
            ended: r.ended.first().copied(),
        })
        .collect();
    prop_assert_eq!(&real_fates, &fates, "task fates differ from the model");
    let real_results: Vec<Option<bool>> = real
        .cancel_results
        .iter()
        .map(|r| r.expect("every controller ran"))
        .collect();
    prop_assert_eq!(
        &real_results,
        &results,
        "cancel results differ from the model"
    );

    let detached = |task: usize| {
        program.roots.contains(&(task, Mode::Detach))
            || program.scripts.iter().flatten().any(
                |step| matches!(step, Step::Spawn { child, mode: Mode::Detach } if *child == task),
            )
    };
    let mut expected_reports = Vec::new();
    for (task, record) in real.records.iter().enumerate() {
        let spawned = record.spawned.is_some();
        prop_assert_eq!(
            record.ended.len(),
            usize::from(spawned),
            "task {} ends",
            task
        );
        prop_assert_eq!(record.drops, u32::from(spawned), "task {} drops", task);
        if !spawned {
            prop_assert!(record.observed.is_empty());
            continue;
        }
        let end = record.ended[0].0;
        if detached(task) {
            prop_assert!(
                record.observed.is_empty(),
                "detached task {} observed",
                task
            );
            if end == End::Panicked {
                expected_reports.push(panic_message(task));
            }
            continue;
        }
        let expected = match end {
            End::Value => Ok(value(task)),
            End::Cancelled => Err(TaskError::Cancelled),
            End::Panicked => Err(TaskError::Panicked(panic_message(task))),
        };
        prop_assert_eq!(&record.observed, &vec![expected], "task {} observed", task);
    }
    let mut reported: Vec<String> = real
        .reports
        .iter()
        .map(|c| c.panic.clone().unwrap_or_else(|| c.message.clone()))
        .collect();
    reported.sort();
    expected_reports.sort();
    prop_assert_eq!(reported, expected_reports, "exception handler reports");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(512)))]

    /// Scripted tasks with cancels end as the model predicts, each exactly once.
    #[test]
    fn prop_tasks_match_model(program in program()) {
        deadline(CASE_BUDGET, move || check(program))?;
    }
}
