//! What a trace looks like (`evloop::trace::Recorder`): the file it writes is valid Chrome
//! trace-event JSON with the slices, tracks and flows the program made.
//!
//! - Structure: a `traceEvents` array, a `thread_name` for the loop's track
//!   (`evloop loop N (thread)`) and for each worker that ran a job (`evloop-default-*` for
//!   `to_thread`, a custom pool's prefix for `run_in_executor`); `otherData.dropped_events`.
//! - A program with 3 callbacks, 2 named tasks, a sleep and 3 `to_thread` jobs: one `X` slice
//!   per callback run and per task poll (counted by the futures themselves, and equal to the
//!   metrics), `poll` slices whose durations add up to `time_polling`, one job slice per job
//!   on worker tracks, and per job one flow `s` (in a task slice) -> `t` (in the job slice) ->
//!   `f` (bound to a task slice), in time order.
//! - A panicking job still has its slice and its flow.
//!
//! The recorder's own behaviour (ring, on/off, save/clear) is in `trace_recorder.rs`, which
//! shares the JSON helpers here ([`Parsed`]).
//!
//! Not covered: process-pool jobs on a supervisor track (the process pool does not run
//! `JobScope`s yet, so its jobs are not traced).

use std::cell::Cell;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::thread;
use std::time::Duration;

use evloop::pools::{JobError, ThreadPool};
use evloop::trace::Recorder;
use evloop::EventLoop;
use serde_json::Value;

use crate::util::{exclusive, Resources, BUDGET};

/// Timestamps are microseconds with three decimals: compare with a nanosecond's slack.
const EPSILON_US: f64 = 0.001;

/// The recording as parsed JSON, and its events.
pub(crate) struct Parsed {
    /// The whole file.
    pub(crate) json: Value,
}

impl Parsed {
    /// Writes `recorder` to memory and parses it.
    pub(crate) fn of(recorder: &Recorder) -> Parsed {
        let mut bytes = Vec::new();
        recorder.write_json(&mut bytes).unwrap();
        Parsed::from_bytes(&bytes)
    }

    /// Parses a recording.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Parsed {
        let json: Value = serde_json::from_slice(bytes).expect("the trace is valid JSON");
        assert!(json["traceEvents"].is_array(), "no traceEvents: {json}");
        Parsed { json }
    }

    /// Every event, metadata included.
    pub(crate) fn events(&self) -> &[Value] {
        self.json["traceEvents"].as_array().unwrap()
    }

    /// The events of phase `ph` (and of category `cat`, if given).
    pub(crate) fn phase(&self, ph: &str, cat: Option<&str>) -> Vec<&Value> {
        self.events()
            .iter()
            .filter(|e| e["ph"] == ph && cat.is_none_or(|cat| e["cat"] == cat))
            .collect()
    }

    /// Track number -> title, from the `thread_name` metadata.
    pub(crate) fn track_names(&self) -> BTreeMap<u64, String> {
        self.events()
            .iter()
            .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
            .map(|e| (tid(e), e["args"]["name"].as_str().unwrap().to_owned()))
            .collect()
    }

    /// The one loop track of the recording.
    pub(crate) fn loop_track(&self) -> u64 {
        let loops: Vec<u64> = self
            .track_names()
            .into_iter()
            .filter(|(_, name)| name.starts_with("evloop loop "))
            .map(|(track, _)| track)
            .collect();
        assert_eq!(loops.len(), 1, "one loop track: {:?}", self.track_names());
        loops[0]
    }

    /// The number of events recorded (not metadata).
    pub(crate) fn recorded(&self) -> usize {
        self.events().iter().filter(|e| e["ph"] != "M").count()
    }
}

/// An event's track.
pub(crate) fn tid(event: &Value) -> u64 {
    event["tid"].as_u64().unwrap()
}

/// An event's time, in microseconds.
pub(crate) fn ts(event: &Value) -> f64 {
    event["ts"].as_f64().unwrap()
}

/// A slice's name.
pub(crate) fn name(event: &Value) -> &str {
    event["name"].as_str().unwrap()
}

/// Whether `at` (µs) lies within `slice` on `track`.
fn inside(slice: &Value, track: u64, at: f64) -> bool {
    let (start, dur) = (ts(slice), slice["dur"].as_f64().unwrap());
    tid(slice) == track && start - EPSILON_US <= at && at <= start + dur + EPSILON_US
}

/// Counts the polls of the future it wraps.
struct Counted<F> {
    /// The future.
    inner: Pin<Box<F>>,
    /// Polls so far.
    polls: Rc<Cell<usize>>,
}

/// Wraps `inner` so its polls are counted in `polls`.
fn counted<F: Future>(polls: &Rc<Cell<usize>>, inner: F) -> Counted<F> {
    Counted {
        inner: Box::pin(inner),
        polls: polls.clone(),
    }
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.set(self.polls.get() + 1);
        self.inner.as_mut().poll(cx)
    }
}

/// Checks the flows of `trace`: `jobs` ids, each one `s` on the loop track inside a task
/// slice, one `t` inside a job slice on a worker track, one `f` bound (`bp: "e"`) inside a
/// task slice, in time order.
fn check_flows(trace: &Parsed, jobs: usize) {
    let loop_track = trace.loop_track();
    let tasks = trace.phase("X", Some("task"));
    let job_slices = trace.phase("X", Some("job"));
    let mut flows: BTreeMap<u64, Vec<&Value>> = BTreeMap::new();
    for ph in ["s", "t", "f"] {
        for event in trace.phase(ph, None) {
            flows
                .entry(event["id"].as_u64().unwrap())
                .or_default()
                .push(event);
        }
    }
    assert_eq!(flows.len(), jobs, "one flow per job: {flows:?}");
    for (id, events) in flows {
        let phases: Vec<&str> = events.iter().map(|e| e["ph"].as_str().unwrap()).collect();
        assert_eq!(phases, ["s", "t", "f"], "flow {id}: one of each");
        let (s, t, f) = (events[0], events[1], events[2]);
        for e in [s, t, f] {
            assert_eq!(e["cat"], "flow", "Chrome matches flows by category");
            assert_eq!(e["name"], s["name"], "and by name");
        }
        assert_eq!(f["bp"], "e", "the end binds to the enclosing slice");
        assert_eq!((tid(s), tid(f)), (loop_track, loop_track), "flow {id}");
        assert_ne!(tid(t), loop_track, "flow {id}: the step is on a worker");
        assert!(
            tasks.iter().any(|x| inside(x, loop_track, ts(s))),
            "flow {id}: the start is inside a task poll"
        );
        assert!(
            job_slices.iter().any(|x| inside(x, tid(t), ts(t))),
            "flow {id}: the step is inside a job slice"
        );
        assert!(
            tasks.iter().any(|x| inside(x, loop_track, ts(f))),
            "flow {id}: the end is inside a task poll"
        );
        assert!(ts(s) < ts(t) && ts(t) < ts(f), "flow {id}: in time order");
    }
}

#[test]
fn a_program_traces_one_slice_per_callback_and_poll_and_one_flow_per_job() {
    exclusive(BUDGET, || {
        let before = Resources::now();
        let recorder = Recorder::new(100_000);
        let lp = EventLoop::builder().trace(&recorder).build().unwrap();
        let [fetch_polls, store_polls, main_polls] = [(); 3].map(|_| Rc::new(Cell::new(0)));
        // Three distinct callbacks.
        lp.call_soon(|| {});
        lp.call_soon(|| thread::sleep(Duration::from_millis(1)));
        lp.call_later(Duration::from_millis(5), || {});
        // Two named tasks: one runs two jobs at once, the other sleeps, then runs one.
        let fetch = lp.spawn(counted(&fetch_polls, async {
            let a = evloop::to_thread(|| thread::sleep(Duration::from_millis(10)));
            let b = evloop::to_thread(|| thread::sleep(Duration::from_millis(20)));
            a.await.unwrap();
            b.await.unwrap();
        }));
        fetch.set_name("fetch");
        let store = lp.spawn(counted(&store_polls, async {
            evloop::sleep(Duration::from_millis(5)).await;
            evloop::to_thread(|| thread::sleep(Duration::from_millis(30)))
                .await
                .unwrap();
        }));
        store.set_name("store");
        let lp2 = lp.clone();
        lp.run_until_complete(counted(&main_polls, async move {
            fetch.await.unwrap();
            store.await.unwrap();
            lp2.shutdown_default_executor().await;
        }))
        .unwrap();
        let m = lp.metrics();
        lp.close().unwrap();
        drop(lp);
        before.assert_back_to("the default executor");

        let trace = Parsed::of(&recorder);
        assert_eq!(recorder.dropped(), 0);
        assert_eq!(trace.json["otherData"]["dropped_events"], 0);
        let names = trace.track_names();
        let loop_track = trace.loop_track();
        let title = &names[&loop_track];
        assert!(title.ends_with("(test-body)"), "the loop's thread: {title}");

        // The loop's track: one slice per callback run, per task poll, and per poll syscall.
        let callbacks = trace.phase("X", Some("callback"));
        let tasks = trace.phase("X", Some("task"));
        assert_eq!(m.callbacks_run, 3);
        assert_eq!(callbacks.len(), 3);
        let mut callback_names: Vec<&str> = callbacks.iter().map(|e| name(e)).collect();
        callback_names.sort();
        callback_names.dedup();
        assert_eq!(callback_names.len(), 3, "distinct: {callback_names:?}");
        assert!(callback_names.iter().all(|n| n.contains("@trace.rs:")));
        let polls_named = |suffix: &str| tasks.iter().filter(|e| name(e).ends_with(suffix)).count();
        assert_eq!(polls_named(" fetch"), fetch_polls.get());
        assert_eq!(polls_named(" store"), store_polls.get());
        assert_eq!(
            tasks
                .iter()
                .filter(|e| name(e).starts_with("main @trace.rs:"))
                .count(),
            main_polls.get()
        );
        assert_eq!(
            tasks.len(),
            fetch_polls.get() + store_polls.get() + main_polls.get()
        );
        assert_eq!(tasks.len() as u64, m.task_polls, "trace and metrics agree");
        assert!(
            callbacks.iter().chain(&tasks).all(|e| tid(e) == loop_track),
            "callbacks and polls run on the loop's thread"
        );
        let polls = trace.phase("X", Some("loop"));
        assert!(polls
            .iter()
            .all(|e| name(e) == "poll" && tid(e) == loop_track));
        assert_eq!(polls.len() as u64, m.polls, "one slice per poll syscall");
        assert!(!polls.is_empty());
        let polling_us: f64 = polls.iter().map(|e| e["dur"].as_f64().unwrap()).sum();
        let expected_us = m.time_polling.as_secs_f64() * 1e6;
        assert!(
            (polling_us - expected_us).abs() <= 1.0 + expected_us * 1e-3,
            "poll slices add up to time_polling: {polling_us} vs {expected_us} µs"
        );

        // The workers' tracks: one slice per job, on evloop-default-* threads.
        let jobs = trace.phase("X", Some("job"));
        assert_eq!(jobs.len(), 3);
        for job in &jobs {
            let worker = &names[&tid(job)];
            assert!(worker.starts_with("evloop-default-"), "{worker}");
            assert!(
                job["dur"].as_f64().unwrap() >= 10_000.0,
                "the jobs sleep 10 ms or more"
            );
        }
        check_flows(&trace, 3);
    });
}

#[test]
fn a_panicking_job_on_a_custom_pool_still_has_its_slice_and_flow() {
    exclusive(BUDGET, || {
        let before = Resources::now();
        let recorder = Recorder::new(10_000);
        let pool = ThreadPool::builder()
            .thread_name_prefix("tracepool")
            .max_workers(1)
            .build();
        let lp = EventLoop::builder().trace(&recorder).build().unwrap();
        let outcome = lp
            .run_until_complete(async {
                let lp = evloop::get_running_loop().unwrap();
                lp.run_in_executor(&pool, || -> u8 {
                    thread::sleep(Duration::from_millis(5));
                    panic!("trace: this job panics on purpose")
                })
                .await
            })
            .unwrap();
        assert!(matches!(outcome, Err(JobError::Panicked(_))), "{outcome:?}");
        lp.close().unwrap();
        drop((lp, pool));
        before.assert_back_to("the custom pool");

        let trace = Parsed::of(&recorder);
        let jobs = trace.phase("X", Some("job"));
        assert_eq!(jobs.len(), 1);
        let worker = &trace.track_names()[&tid(jobs[0])];
        assert!(worker.starts_with("tracepool-"), "{worker}");
        assert!(jobs[0]["dur"].as_f64().unwrap() >= 5_000.0);
        check_flows(&trace, 1);
    });
}
