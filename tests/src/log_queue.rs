//! `evloop::log_queue`: a `log` logger in front of a slow sink never blocks the thread that
//! logs (scenario S12).
//!
//! - S12: a loop with a 5 ms heartbeat logs 50 records into a sink that takes 20 ms each;
//!   the heartbeat never stalls, and the sink gets all 50, in order, intact.
//! - A full queue drops and counts exactly what did not fit, and the thread reports the count
//!   to the sink; `Log::flush` never waits, even behind a blocked sink.
//! - Dropping the guard delivers what is queued, flushes and joins the `evloop-log` thread;
//!   records logged afterwards count as dropped.
//! - A panicking sink loses one record, not the thread; the sink's filter runs before the
//!   queue; records keep their metadata; several logging threads keep their own order.
//!
//! The suite has its own global logger (`log_capture.rs`), so these tests call
//! `log::Log::log` on a `QueueLogger` directly; `install` and the macros are covered by its
//! doctest (its own process) and by example 22.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use evloop::log_queue::QueueLogger;
use evloop::EventLoop;
use log::{Level, Log, Metadata, Record};

use crate::log_queue_probe::{
    emit, info, report_count, Delivered, Probe, Seen, EMIT_FILE, EMIT_LINE, EMIT_MODULE,
};
use crate::util::{deadline, exclusive, threads_named, Resources, BUDGET};

/// The name of the queue's thread.
const LOG_THREAD: &str = "evloop-log";

/// How long the tests wait for a thread to show up.
const PATIENCE: Duration = Duration::from_secs(10);

/// The messages of `records`.
fn messages(records: &[Delivered]) -> Vec<String> {
    records.iter().map(|r| r.message.clone()).collect()
}

/// `prefix i` for each `i` of `range`.
fn numbered(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix} {i}")).collect()
}

#[test]
fn s12_a_slow_sink_never_stalls_the_loop() {
    const RECORDS: usize = 50;
    const BEAT: Duration = Duration::from_millis(5);
    deadline(BUDGET, || {
        let probe = Arc::new(Probe::new().slow(Duration::from_millis(20)));
        let (logger, guard) = QueueLogger::new(probe.clone(), 64).unwrap();
        let logger = Rc::new(logger);
        let lp = EventLoop::new().unwrap();
        let beats = Rc::new(RefCell::new(Vec::<Instant>::new()));
        let level = |i: usize| [Level::Info, Level::Warn, Level::Error][i % 3];

        let delivered_while_running = lp
            .run_until_complete({
                let (logger, beats, probe) = (logger.clone(), beats.clone(), probe.clone());
                async move {
                    let lp = evloop::get_running_loop().unwrap();
                    // A heartbeat every 5 ms until the test ends.
                    let heart = evloop::spawn(async move {
                        loop {
                            beats.borrow_mut().push(Instant::now());
                            evloop::sleep(BEAT).await;
                        }
                    });
                    evloop::sleep(BEAT * 4).await;
                    // Half of the records from callbacks, all in one iteration...
                    for i in 0..RECORDS / 2 {
                        let logger = logger.clone();
                        lp.call_soon(move || {
                            emit(&*logger, level(i), "s12::callback", &format!("record {i}"))
                        });
                    }
                    // ... and half from a task, five per iteration.
                    evloop::spawn(async move {
                        for i in RECORDS / 2..RECORDS {
                            emit(&*logger, level(i), "s12::task", &format!("record {i}"));
                            if i % 5 == 4 {
                                evloop::yield_now().await;
                            }
                        }
                    })
                    .await
                    .unwrap();
                    evloop::sleep(Duration::from_millis(200)).await;
                    heart.cancel();
                    probe.records().len()
                }
            })
            .unwrap();
        lp.close().unwrap();

        let beats = beats.borrow();
        let largest_gap = beats.windows(2).map(|w| w[1] - w[0]).max().unwrap();
        assert!(beats.len() >= 20, "only {} heartbeats", beats.len());
        assert!(
            largest_gap < Duration::from_millis(60),
            "the loop stalled for {largest_gap:?} (a synchronous sink would take 500 ms)"
        );
        // The sink lagged behind: the loop did not wait for it.
        assert!(
            delivered_while_running < RECORDS,
            "the sink already had all {RECORDS} records when the loop ended"
        );

        guard.flush();
        let records = probe.records();
        assert_eq!(messages(&records), numbered("record", 0..RECORDS));
        for (i, record) in records.iter().enumerate() {
            let target = if i < RECORDS / 2 {
                "s12::callback"
            } else {
                "s12::task"
            };
            assert_eq!((record.level, record.target.as_str()), (level(i), target));
            assert_eq!(record.thread, LOG_THREAD);
        }
        assert_eq!(probe.seen().last(), Some(&Seen::Flush));
        assert_eq!((guard.dropped(), guard.sink_panics()), (0, 0));
        assert!(probe.reports().is_empty());
    });
}

#[test]
fn a_full_queue_drops_and_counts_what_did_not_fit_without_blocking() {
    deadline(BUDGET, || {
        let probe = Arc::new(Probe::new());
        probe.block();
        let (logger, guard) = QueueLogger::new(probe.clone(), 8).unwrap();
        info(&logger, "held");
        probe.wait_entered(1); // the thread holds "held" in the blocked sink
        let start = Instant::now();
        for i in 0..20 {
            info(&logger, &format!("record {i}"));
        }
        let took = start.elapsed();
        assert!(
            took < Duration::from_secs(1),
            "20 refused records took {took:?}"
        );
        assert_eq!((guard.dropped(), logger.dropped()), (12, 12));

        probe.unblock();
        guard.flush();
        let mut expected = vec!["held".to_owned()];
        expected.extend(numbered("record", 0..8));
        assert_eq!(messages(&probe.records()), expected);
        assert_eq!(probe.records().len() as u64 + guard.dropped(), 21);
        // The thread told the sink, once it caught up, then flushed.
        assert_eq!(probe.reports(), [12]);
        let seen = probe.seen();
        assert_eq!(report_count(&seen[9]), Some(12));
        assert_eq!(seen[9..].len(), 2);
        assert_eq!(seen[10], Seen::Flush);
    });
}

#[test]
fn log_flush_asks_without_waiting_and_is_honoured_after_the_records_before_it() {
    deadline(BUDGET, || {
        let probe = Arc::new(Probe::new());
        probe.block();
        let (logger, guard) = QueueLogger::new(probe.clone(), 2).unwrap();
        info(&logger, "a");
        probe.wait_entered(1);
        Log::flush(&logger); // queued behind "a"
        info(&logger, "b"); // the queue is full now
        Log::flush(&logger); // refused: left as a flag for when the queue runs empty
        assert_eq!((probe.seen(), guard.dropped()), (vec![], 0));

        probe.unblock();
        probe.wait_seen(4);
        let seen: Vec<_> = probe
            .seen()
            .into_iter()
            .map(|s| match s {
                Seen::Record(r) => r.message,
                Seen::Flush => "flush".to_owned(),
            })
            .collect();
        assert_eq!(seen, ["a", "flush", "b", "flush"]);
        guard.flush();
        assert_eq!(probe.seen().len(), 5);
        assert_eq!(probe.entered(), 5);
    });
}

#[test]
fn dropping_the_guard_delivers_what_is_queued_and_joins_the_log_thread() {
    exclusive(BUDGET, || {
        let before = Resources::now();
        let log_threads = threads_named(LOG_THREAD);
        let probe = Arc::new(Probe::new());
        let (logger, guard) = QueueLogger::new(probe.clone(), 16).unwrap();
        // Careful: the thread names itself once it runs.
        let started = Instant::now() + PATIENCE;
        while threads_named(LOG_THREAD) == log_threads && Instant::now() < started {
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(threads_named(LOG_THREAD), log_threads + 1);
        probe.block();
        for i in 0..10 {
            info(&logger, &format!("record {i}"));
        }
        probe.wait_entered(1);
        let opener = {
            let probe = probe.clone();
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(20));
                probe.unblock();
            })
        };
        drop(guard); // waits for the sink to take all ten
        opener.join().unwrap();
        assert_eq!(messages(&probe.records()), numbered("record", 0..10));
        assert_eq!(probe.seen().last(), Some(&Seen::Flush));
        assert_eq!(logger.dropped(), 0);
        drop(logger);
        assert_eq!(threads_named(LOG_THREAD), log_threads);
        before.assert_back_to("a QueueLogger and its dropped guard");
    });
}

#[test]
fn records_after_the_guard_is_dropped_count_as_dropped_and_never_block() {
    deadline(BUDGET, || {
        let probe = Arc::new(Probe::new());
        let (logger, guard) = QueueLogger::new(probe.clone(), 4).unwrap();
        drop(guard);
        assert_eq!(probe.seen(), [Seen::Flush]); // the last flush, on the way out
        let start = Instant::now();
        for i in 0..100 {
            info(&logger, &format!("late {i}"));
            Log::flush(&logger);
        }
        assert!(start.elapsed() < Duration::from_secs(1));
        assert_eq!(logger.dropped(), 100);
        assert_eq!(probe.seen(), [Seen::Flush]);
    });
}

#[test]
fn a_panicking_sink_loses_one_record_not_the_log_thread() {
    deadline(BUDGET, || {
        let probe = Arc::new(Probe::new().faulty("boom"));
        let (logger, guard) = QueueLogger::new(probe.clone(), 8).unwrap();
        for message in ["before", "boom", "after"] {
            info(&logger, message);
        }
        guard.flush();
        assert_eq!(messages(&probe.records()), ["before", "after"]);
        assert_eq!((guard.sink_panics(), guard.dropped()), (1, 0));
        info(&logger, "later");
        guard.flush();
        assert_eq!(messages(&probe.records()), ["before", "after", "later"]);
        assert_eq!(probe.entered(), 6); // 4 records (one panicked) and 2 flushes
    });
}

#[test]
fn the_sinks_filter_runs_before_the_queue() {
    deadline(BUDGET, || {
        let probe = Arc::new(Probe::new().picky(Level::Info));
        let (logger, guard) = QueueLogger::new(probe.clone(), 1).unwrap();
        let debug = Metadata::builder().level(Level::Debug).target("t").build();
        let warn = Metadata::builder().level(Level::Warn).target("t").build();
        assert!(!logger.enabled(&debug) && logger.enabled(&warn));
        probe.block();
        info(&logger, "held");
        probe.wait_entered(1);
        // The queue has room for one: filtered records must not take it.
        for _ in 0..5 {
            emit(&logger, Level::Debug, "t", "filtered");
            emit(&logger, Level::Trace, "t", "filtered");
        }
        emit(&logger, Level::Warn, "t", "queued");
        assert_eq!(guard.dropped(), 0);
        probe.unblock();
        guard.flush();
        assert_eq!(messages(&probe.records()), ["held", "queued"]);
    });
}

#[test]
fn records_keep_their_metadata_and_reach_the_sink_on_the_log_thread() {
    deadline(BUDGET, || {
        let probe = Arc::new(Probe::new());
        let (logger, guard) = QueueLogger::new(probe.clone(), 8).unwrap();
        let target = String::from("app::borrowed_target");
        let module = String::from("app::borrowed_module");
        let file = String::from("src/borrowed.rs");
        let n = 7;
        logger.log(
            &Record::builder()
                .level(Level::Error)
                .target(&target)
                .module_path(Some(&module))
                .file(Some(&file))
                .line(Some(99))
                .args(format_args!("formatted {n} {:?}", "quoted"))
                .build(),
        );
        emit(&logger, Level::Trace, "app", "a literal");
        guard.flush();
        let expected = [
            Delivered {
                level: Level::Error,
                target: target.clone(),
                message: "formatted 7 \"quoted\"".into(),
                module_path: Some(module),
                file: Some(file),
                line: Some(99),
                thread: LOG_THREAD.into(),
            },
            Delivered {
                level: Level::Trace,
                target: "app".into(),
                message: "a literal".into(),
                module_path: Some(EMIT_MODULE.into()),
                file: Some(EMIT_FILE.into()),
                line: Some(EMIT_LINE),
                thread: LOG_THREAD.into(),
            },
        ];
        assert_eq!(probe.records(), expected);
    });
}

#[test]
fn records_from_several_threads_all_arrive_each_thread_in_order() {
    const THREADS: usize = 4;
    const EACH: usize = 200;
    deadline(BUDGET, || {
        let probe = Arc::new(Probe::new());
        let (logger, guard) = QueueLogger::new(probe.clone(), THREADS * EACH).unwrap();
        thread::scope(|scope| {
            for t in 0..THREADS {
                let logger = &logger;
                scope.spawn(move || {
                    for i in 0..EACH {
                        emit(logger, Level::Info, &format!("thread{t}"), &i.to_string());
                    }
                });
            }
        });
        guard.flush();
        let records = probe.records();
        assert_eq!(records.len(), THREADS * EACH);
        for t in 0..THREADS {
            let mine: Vec<String> = records
                .iter()
                .filter(|r| r.target == format!("thread{t}"))
                .map(|r| r.message.clone())
                .collect();
            assert_eq!(mine, (0..EACH).map(|i| i.to_string()).collect::<Vec<_>>());
        }
        assert_eq!(guard.dropped(), 0);
    });
}
