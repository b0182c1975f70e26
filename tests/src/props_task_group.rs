//! Model-based property of `TaskGroup`: random children with random durations and outcomes
//! (value, error, panic) on the virtual clock, in the plain or the scoped form, with a
//! random cancel of the parent, against a model that predicts every child's fate, the body's,
//! and what `join`/`run` returned and when.
//!
//! # The program
//!
//! A parent task makes a group and spawns the *initial* children at time 0, then, at
//! `late_at`, the *late* ones. In the plain form it then calls `join`; in the scoped form
//! (`TaskGroup::run`) the spawning is the body's, which then sleeps until `body_end` and
//! returns `Ok`, `Err` or panics. Each child sleeps its duration (a multiple of 10 ms, maybe
//! 0) and returns its value, its error, or panics. A controller may cancel the parent task at
//! `cancel_at`. The generator keeps event kinds on distinct residues mod 10 (see `Program`),
//! so only children that end at the same instant can tie, and that tie is the point:
//! they must all be reported.
//!
//! # The model (`props_task_group_model.rs`)
//!
//! `t*` is the earliest failure. Every child that ends by `t*` (and before the cancel)
//! completes; every other started child is cancelled at `min(t*, cancel)`; the late spawns
//! happen only if nothing failed before them (plain: refused, dropped unpolled; scoped: the
//! body is gone); the group reports exactly the failures at `t*`, in spawn order, at `t*`
//! (the plain parent at `late_at` at the earliest); with no failure it returns every value
//! in spawn order once everything ended; a cancel first means no return at all.
//!
//! # What is checked
//!
//! Against the model: each child's fate (never made, refused, completed at `t`, cancelled at
//! `t`), the body's, and the parent's result and its time. On the real loop alone: every
//! future made was dropped exactly once, a started child started at its spawn time, nothing
//! reached the exception handler (the group retrieves every panic), and no task is left.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, Instant};

use evloop::{EventLoop, ExceptionContext, GroupFailure, TaskGroup, TaskGroupError};
use proptest::prelude::*;

use crate::props_task_group_model::*;
use crate::util::{cases, deadline, record_exceptions, virtual_loop};

/// When `join`/`run` returned, and what.
type RealJoined = Option<(u64, Result<Vec<u64>, TaskGroupError<String>>)>;

/// What the real run recorded about one child.
#[derive(Default, Debug)]
struct Record {
    created: bool,
    started: Option<u64>,
    ended: Option<u64>,
    drops: Vec<u64>,
}

/// The real side's state for one case.
struct Shared {
    lp: EventLoop,
    start: Instant,
    program: Program,
    children: RefCell<Vec<Record>>,
    /// The body's record (scoped form).
    body: RefCell<Record>,
    joined: RefCell<RealJoined>,
}

impl Shared {
    fn now(&self) -> u64 {
        self.lp.time().duration_since(self.start).as_millis() as u64
    }

    fn at(&self, ms: u64) -> Instant {
        self.start + Duration::from_millis(ms)
    }
}

/// Records the drop of the future that holds it: child `Some(i)`, or the body.
struct Guard {
    shared: Rc<Shared>,
    child: Option<usize>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let now = self.shared.now();
        match self.child {
            Some(i) => self.shared.children.borrow_mut()[i].drops.push(now),
            None => self.shared.body.borrow_mut().drops.push(now),
        }
    }
}

/// The future of child `i`; the guard exists from its making, so an unpolled drop counts.
fn child_future(
    shared: &Rc<Shared>,
    i: usize,
    spec: ChildSpec,
) -> impl Future<Output = Result<u64, String>> {
    shared.children.borrow_mut()[i].created = true;
    let guard = Guard {
        shared: shared.clone(),
        child: Some(i),
    };
    let shared = shared.clone();
    async move {
        let _guard = guard;
        shared.children.borrow_mut()[i].started = Some(shared.now());
        evloop::sleep(Duration::from_millis(spec.ms)).await;
        shared.children.borrow_mut()[i].ended = Some(shared.now());
        match spec.outcome {
            Outcome::Ok => Ok(value(i)),
            Outcome::Err => Err(error(i)),
            Outcome::Panic => panic!("{}", panic_message(i)),
        }
    }
}

/// The parent task: the program's form, then records what `join`/`run` returned.
async fn parent(shared: Rc<Shared>) {
    let program = shared.program.clone();
    let n_initial = program.initial.len();
    let specs: Vec<ChildSpec> = program.children().map(|(_, spec)| spec).collect();
    let outcome = match program.form {
        Form::Plain => {
            let group = TaskGroup::new();
            for (i, &spec) in specs.iter().enumerate().take(n_initial) {
                group.spawn(child_future(&shared, i, spec));
            }
            evloop::sleep_until(shared.at(program.late_at_ms)).await;
            for (i, &spec) in specs.iter().enumerate().skip(n_initial) {
                group.spawn(child_future(&shared, i, spec));
            }
            group.join().await
        }
        Form::Scoped => {
            let body_shared = shared.clone();
            TaskGroup::run(move |group| async move {
                let shared = body_shared;
                let _guard = Guard {
                    shared: shared.clone(),
                    child: None,
                };
                for (i, &spec) in specs.iter().enumerate().take(n_initial) {
                    group.spawn(child_future(&shared, i, spec));
                }
                evloop::sleep_until(shared.at(program.late_at_ms)).await;
                for (i, &spec) in specs.iter().enumerate().skip(n_initial) {
                    group.spawn(child_future(&shared, i, spec));
                }
                evloop::sleep_until(shared.at(program.body_end_ms)).await;
                shared.body.borrow_mut().ended = Some(shared.now());
                match program.body_outcome {
                    Outcome::Ok => Ok(()),
                    Outcome::Err => Err(BODY_ERROR.to_owned()),
                    Outcome::Panic => panic!("{BODY_PANIC}"),
                }
            })
            .await
        }
    };
    *shared.joined.borrow_mut() = Some((shared.now(), outcome));
}

/// What the real run left behind.
struct RealOutcome {
    children: Vec<Record>,
    body: Record,
    joined: RealJoined,
    reports: Vec<ExceptionContext>,
    tasks_left: usize,
}

fn run_real(program: &Program) -> RealOutcome {
    let lp = virtual_loop();
    let reports = record_exceptions(&lp);
    let n = program.initial.len() + program.late.len();
    let shared = Rc::new(Shared {
        lp: lp.clone(),
        start: lp.time(),
        program: program.clone(),
        children: RefCell::new((0..n).map(|_| Record::default()).collect()),
        body: RefCell::default(),
        joined: RefCell::new(None),
    });
    let main = {
        let shared = shared.clone();
        async move {
            let parent = shared.lp.spawn(parent(shared.clone()));
            if let Some(at) = shared.program.cancel_at_ms {
                let when = shared.at(at);
                drop(shared.lp.spawn(async move {
                    evloop::sleep_until(when).await;
                    parent.cancel();
                }));
            }
            evloop::sleep(Duration::from_millis(HORIZON_MS)).await;
        }
    };
    lp.run_until_complete(main).expect("run the program");
    let tasks_left = lp.task_count();
    lp.close().expect("close");
    let children = shared.children.take();
    let body = shared.body.take();
    let joined = shared.joined.take();
    drop(shared);
    let reports = reports.take();
    RealOutcome {
        children,
        body,
        joined,
        reports,
        tasks_left,
    }
}

/// Runs both sides and compares them (module docs).
fn check(program: Program) -> Result<(), TestCaseError> {
    let (fates, body, joined) = predict(&program);
    let real = run_real(&program);

    prop_assert_eq!(real.tasks_left, 0, "tasks left at the horizon");
    prop_assert!(
        real.reports.is_empty(),
        "exception handler: {:?}",
        real.reports
    );

    let spawn_times: Vec<u64> = program.children().map(|(at, _)| at).collect();
    let mut real_fates = Vec::new();
    for (i, record) in real.children.iter().enumerate() {
        let fate = if !record.created {
            prop_assert!(record.drops.is_empty() && record.started.is_none());
            Fate::NeverCreated
        } else {
            prop_assert_eq!(record.drops.len(), 1, "child {} drops: {:?}", i, record);
            let dropped = record.drops[0];
            match (record.started, record.ended) {
                (None, _) => {
                    prop_assert_eq!(dropped, spawn_times[i], "refused child {} drop", i);
                    Fate::Refused
                }
                (Some(started), ended) => {
                    prop_assert_eq!(started, spawn_times[i], "child {} start", i);
                    match ended {
                        Some(at) => {
                            prop_assert_eq!(dropped, at, "child {} drop after its end", i);
                            Fate::Completed { at }
                        }
                        None => Fate::Cancelled { at: dropped },
                    }
                }
            }
        };
        real_fates.push(fate);
    }
    prop_assert_eq!(&real_fates, &fates, "child fates differ from the model");

    let real_body = match program.form {
        Form::Plain => None,
        Form::Scoped => {
            prop_assert_eq!(real.body.drops.len(), 1, "body drops");
            let dropped = real.body.drops[0];
            if let Some(ended) = real.body.ended {
                prop_assert_eq!(ended, dropped, "body dropped when it returned");
            }
            Some((dropped, real.body.ended.is_some()))
        }
    };
    prop_assert_eq!(real_body, body, "body fate differs from the model");

    let real_joined = real.joined.map(|(at, outcome)| {
        let outcome = outcome.map_err(|error| {
            error
                .into_failures()
                .into_iter()
                .map(|failure| match failure {
                    GroupFailure::Failed(error) => Failure::Failed(error),
                    GroupFailure::Panicked(message) => Failure::Panicked(message),
                    GroupFailure::CancelledOutside => {
                        panic!("the model never cancels a child from outside the group")
                    }
                })
                .collect::<Vec<_>>()
        });
        (at, outcome)
    });
    prop_assert_eq!(real_joined, joined, "join's result differs from the model");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(256)))]

    /// Random task groups end as the model predicts: who completes, who is cancelled and
    /// when, which failures are reported, and when the parent gets them.
    #[test]
    fn prop_task_group_matches_model(program in program()) {
        deadline(CASE_BUDGET, move || check(program))?;
    }
}
