//! The trace recorder's own behaviour: its ring, turning it on and off, what it does not
//! record, `close()`'s instants, `save` and `clear`.
//!
//! - The ring: capacity 50 and 200 callbacks keep 50 events and count the rest as dropped;
//!   the kept ones are the latest.
//! - `set_trace(None)` stops recording and `set_trace(Some)` resumes; a loop without a
//!   recorder records nothing (even next to one that has one); debug mode off does not matter.
//! - A cancelled callback, and the stale entry a task leaves when it wakes itself in its last
//!   poll, run nothing and have no slice.
//! - A task still pending at `close()` is an `i` instant.
//! - `save` writes a file that parses; `clear` empties the ring.
//!
//! What a traced program looks like (slices, tracks, flows) is in `trace.rs`.

use std::thread;
use std::time::Duration;

use evloop::trace::Recorder;
use evloop::EventLoop;

use crate::metrics::WakeSelfThenDone;
use crate::trace::{name, tid, ts, Parsed};
use crate::util::{deadline, exclusive, virtual_loop, Resources, BUDGET};

/// A virtual-clock loop recording into `recorder` (no I/O sources, so no poll syscalls: every
/// event is a callback or task slice).
fn traced_virtual_loop(recorder: &Recorder) -> EventLoop {
    EventLoop::builder()
        .virtual_clock(true)
        .trace(recorder)
        .build()
        .unwrap()
}

#[test]
fn the_ring_keeps_the_latest_capacity_events_and_counts_the_dropped_ones() {
    deadline(BUDGET, || {
        let recorder = Recorder::new(50);
        let lp = virtual_loop();
        lp.set_trace(Some(&recorder));
        for _ in 0..200 {
            lp.call_soon(|| {});
        }
        lp.run_until_complete(async {}).unwrap();
        let m = lp.metrics();
        assert_eq!(m.polls, 0, "no I/O source: the poll syscall is skipped");
        let total = m.callbacks_run + m.task_polls;
        assert_eq!(total, 201, "200 callbacks and the main future");
        assert_eq!(recorder.len(), 50);
        assert_eq!(recorder.dropped(), total - 50);
        let trace = Parsed::of(&recorder);
        assert_eq!(trace.recorded(), 50);
        assert_eq!(trace.json["otherData"]["dropped_events"], total - 50);
        lp.close().unwrap();
    });
}

#[test]
fn the_ring_drops_the_oldest_events_first() {
    deadline(BUDGET, || {
        let recorder = Recorder::new(50);
        let lp = traced_virtual_loop(&recorder);
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let task = lp.spawn(async {});
                task.set_name(format!("t{i:03}"));
                task
            })
            .collect();
        lp.run_until_complete(async {}).unwrap();
        assert!(tasks.iter().all(|t| t.is_done()));
        assert_eq!(recorder.dropped(), 201 - 50);
        let trace = Parsed::of(&recorder);
        let kept: Vec<&str> = trace.phase("X", None).into_iter().map(name).collect();
        assert_eq!(kept.len(), 50);
        // The 49 last tasks, in order, then the main future (queued behind them).
        for (slice, i) in kept.iter().zip(151..200) {
            assert!(
                slice.ends_with(&format!(" t{i:03}")),
                "{slice} is not t{i:03}"
            );
        }
        assert!(kept[49].starts_with("main @"), "{}", kept[49]);
        lp.close().unwrap();
    });
}

#[test]
fn set_trace_none_stops_recording_and_set_trace_some_resumes() {
    deadline(BUDGET, || {
        let recorder = Recorder::new(1_000);
        let lp = virtual_loop();
        lp.set_trace(Some(&recorder));
        lp.call_soon(|| {});
        lp.run_until_complete(async {}).unwrap();
        assert_eq!(recorder.len(), 2, "a callback and the main future");
        lp.set_trace(None);
        lp.call_soon(|| {});
        lp.run_until_complete(evloop::yield_now()).unwrap();
        assert_eq!(recorder.len(), 2, "nothing recorded while off");
        lp.set_trace(Some(&recorder));
        lp.run_until_complete(evloop::yield_now()).unwrap();
        assert_eq!(recorder.len(), 4, "the main future's two polls");
        assert_eq!(recorder.dropped(), 0);
        lp.close().unwrap();
    });
}

#[test]
fn a_loop_without_a_recorder_records_nothing_even_next_to_one_that_has_one() {
    exclusive(BUDGET, || {
        let before = Resources::now();
        let recorder = Recorder::new(1_000);
        let traced = EventLoop::builder().trace(&recorder).build().unwrap();
        traced.run_until_complete(async {}).unwrap();
        let recorded = recorder.len();
        assert_eq!(recorded, 1);
        // Another loop on the same thread, with callbacks, tasks, timers and a thread job.
        let plain = EventLoop::new().unwrap();
        plain.call_soon(|| {});
        plain.call_later(Duration::from_millis(1), || {});
        let plain2 = plain.clone();
        plain
            .run_until_complete(async move {
                evloop::spawn(evloop::yield_now()).await.unwrap();
                evloop::to_thread(|| 1).await.unwrap();
                plain2.shutdown_default_executor().await;
            })
            .unwrap();
        assert!(plain.metrics().task_polls >= 3);
        assert_eq!(recorder.len(), recorded, "the plain loop recorded nothing");
        assert_eq!(recorder.dropped(), 0);
        let trace = Parsed::of(&recorder);
        assert_eq!(trace.track_names().len(), 1, "only the traced loop's track");
        plain.close().unwrap();
        traced.close().unwrap();
        drop((plain, traced));
        before.assert_back_to("the plain loop's executor");
    });
}

#[test]
fn a_trace_with_debug_mode_off_records_every_slice() {
    deadline(BUDGET, || {
        let recorder = Recorder::new(1_000);
        let lp = EventLoop::builder()
            .virtual_clock(true)
            .debug(false)
            .trace(&recorder)
            .build()
            .unwrap();
        assert!(!lp.get_debug());
        for _ in 0..3 {
            lp.call_soon(|| {});
        }
        lp.run_until_complete(async {
            evloop::spawn(async {}).await.unwrap();
        })
        .unwrap();
        let m = lp.metrics();
        assert_eq!(m.slow_callbacks, 0, "debug mode is off");
        let trace = Parsed::of(&recorder);
        assert_eq!(trace.phase("X", Some("callback")).len(), 3);
        assert_eq!(trace.phase("X", Some("task")).len() as u64, m.task_polls);
        assert_eq!(m.task_polls, 3, "main twice, the task once");
        lp.close().unwrap();
    });
}

#[test]
fn skipped_entries_have_no_slice() {
    deadline(BUDGET, || {
        let recorder = Recorder::new(1_000);
        let lp = traced_virtual_loop(&recorder);
        lp.call_soon(|| {}).cancel();
        lp.call_later(Duration::from_millis(1), || {}).cancel();
        lp.call_soon(|| {});
        // Its wake during its last poll leaves a stale entry in the queue.
        let task = lp.spawn(WakeSelfThenDone);
        lp.run_until_complete(evloop::sleep(Duration::from_millis(5)))
            .unwrap();
        assert!(task.is_done());
        let trace = Parsed::of(&recorder);
        assert_eq!(
            trace.phase("X", Some("callback")).len(),
            1,
            "the one not cancelled"
        );
        let tasks = trace.phase("X", Some("task"));
        assert_eq!(
            tasks.len(),
            1 + 2,
            "one poll of the task, two of the main future"
        );
        assert_eq!(trace.recorded(), 3 + 1);
        lp.close().unwrap();
    });
}

#[test]
fn a_task_pending_at_close_is_an_instant() {
    deadline(BUDGET, || {
        let recorder = Recorder::new(1_000);
        let lp = EventLoop::builder()
            .virtual_clock(true)
            .debug(false)
            .trace(&recorder)
            .build()
            .unwrap();
        let stuck = lp.spawn(std::future::pending::<()>());
        stuck.set_name("stuck");
        let finished = lp.spawn(async {});
        lp.run_until_complete(evloop::yield_now()).unwrap();
        assert!(finished.is_done() && !stuck.is_done());
        assert!(Parsed::of(&recorder).phase("i", None).is_empty());
        lp.close().unwrap();
        assert!(stuck.is_cancelled());
        let trace = Parsed::of(&recorder);
        let instants = trace.phase("i", None);
        assert_eq!(instants.len(), 1, "only the pending task: {instants:?}");
        let instant = instants[0];
        assert_eq!(name(instant), format!("task {} stuck", stuck.id()));
        assert_eq!(instant["cat"], "task");
        assert_eq!(tid(instant), trace.loop_track());
        let last_slice = trace
            .phase("X", None)
            .iter()
            .map(|e| ts(e))
            .fold(0.0, f64::max);
        assert!(
            ts(instant) >= last_slice,
            "it happens at close, after the run"
        );
    });
}

#[test]
fn save_writes_a_file_that_parses_and_clear_empties_the_ring() {
    deadline(BUDGET, || {
        let recorder = Recorder::new(1_000);
        let lp = traced_virtual_loop(&recorder);
        lp.call_soon(|| {});
        lp.run_until_complete(async {}).unwrap();
        let path = std::env::temp_dir().join(format!(
            "evloop-trace-test-{}-{:?}.json",
            std::process::id(),
            thread::current().id()
        ));
        recorder.save(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let saved = Parsed::from_bytes(&bytes);
        assert_eq!(saved.recorded(), 2);
        assert_eq!(saved.json, Parsed::of(&recorder).json, "save == write_json");
        assert_eq!(saved.json["displayTimeUnit"], "ms");

        recorder.clear();
        assert!(recorder.is_empty());
        assert_eq!((recorder.len(), recorder.dropped()), (0, 0));
        let cleared = Parsed::of(&recorder);
        assert_eq!(cleared.recorded(), 0);
        cleared.loop_track(); // track names are kept
                              // The recorder goes on recording after a clear.
        lp.run_until_complete(async {}).unwrap();
        assert_eq!(recorder.len(), 1);
        lp.close().unwrap();

        let missing = std::env::temp_dir().join("evloop-no-such-dir/trace.json");
        assert!(
            recorder.save(missing).is_err(),
            "an unwritable path is an error"
        );
    });
}
