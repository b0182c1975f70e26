//! Debug mode: a blocked loop is reported once, by name and duration; a clean run reports
//! nothing; pending tasks dropped by `close`, unobserved panics and posts to a closed loop are
//! reported once each; debug off reports nothing.
//!
//! Reports go through the `log` facade (target `evloop::debug`) into the suite's logger
//! (`log_capture.rs`); each test reads only the records of its own loop thread, or records
//! carrying text only it produces.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use evloop::EventLoop;

use crate::log_capture::{self, Record};
use crate::util::{deadline, BUDGET};

/// The debug-mode records this thread logged.
fn debug_records_here() -> Vec<Record> {
    log_capture::from_thread(std::thread::current().id())
        .into_iter()
        .filter(|r| r.target == evloop::debug::TARGET)
        .collect()
}

/// The seconds a slow-callback report names ("took 0.151 seconds").
fn reported_seconds(message: &str) -> f64 {
    let after = message.split(" took ").nth(1).expect("a duration");
    after
        .split(' ')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("seconds")
}

/// A debug loop with a 50 ms threshold.
fn debug_loop() -> EventLoop {
    log_capture::install();
    EventLoop::builder()
        .debug(true)
        .slow_callback_duration(Duration::from_millis(50))
        .build()
        .unwrap()
}

#[test]
fn a_blocking_callback_is_reported_once_with_its_name_and_duration() {
    deadline(BUDGET, || {
        let lp = debug_loop();
        let blocking = || std::thread::sleep(Duration::from_millis(120));
        lp.call_soon(blocking);
        lp.call_soon(|| {}); // a quick one: not reported
        lp.run_until_complete(evloop::sleep(Duration::from_millis(1)))
            .unwrap();
        let records = debug_records_here();
        assert_eq!(records.len(), 1, "{records:#?}");
        let message = &records[0].message;
        assert_eq!(records[0].level, log::Level::Warn);
        assert!(
            message.contains("debug_mode::a_blocking_callback_is_reported_once_with_its_name_and_duration::{{closure}}"),
            "names the closure: {message}"
        );
        assert!(
            message.contains("tests/src/debug_mode.rs:"),
            "names where it was scheduled: {message}"
        );
        let seconds = reported_seconds(message);
        assert!((0.12..2.0).contains(&seconds), "{seconds} in {message}");
        assert_eq!(lp.metrics().slow_callbacks, 1);
        lp.close().unwrap();
    });
}

#[test]
fn a_slow_task_poll_is_reported_with_the_task_name() {
    deadline(BUDGET, || {
        let lp = debug_loop();
        let polls = Rc::new(Cell::new(0));
        let polls2 = polls.clone();
        lp.run_until_complete(async move {
            let task = evloop::spawn(async move {
                for _ in 0..3 {
                    polls2.set(polls2.get() + 1);
                    if polls2.get() == 2 {
                        std::thread::sleep(Duration::from_millis(80)); // blocks the loop
                    }
                    evloop::yield_now().await;
                }
            });
            task.set_name("cruncher");
            task.await.unwrap();
        })
        .unwrap();
        assert_eq!(polls.get(), 3);
        let records = debug_records_here();
        assert_eq!(records.len(), 1, "one slow poll of three: {records:#?}");
        let message = &records[0].message;
        assert!(
            message.contains("task ") && message.contains("'cruncher'"),
            "{message}"
        );
        assert!(
            message.contains("spawned at tests/src/debug_mode.rs:"),
            "{message}"
        );
        assert!(reported_seconds(message) >= 0.08, "{message}");
        lp.close().unwrap();
    });
}

#[test]
fn a_blocking_main_future_is_named_by_its_run_until_complete_call() {
    deadline(BUDGET, || {
        let lp = debug_loop();
        lp.run_until_complete(async { std::thread::sleep(Duration::from_millis(60)) })
            .unwrap();
        let records = debug_records_here();
        assert_eq!(records.len(), 1, "{records:#?}");
        assert!(
            records[0].message.contains(
                "the main future of run_until_complete called at tests/src/debug_mode.rs:"
            ),
            "{}",
            records[0].message
        );
        lp.close().unwrap();
    });
}

#[test]
fn a_clean_run_reports_nothing() {
    deadline(BUDGET, || {
        log_capture::install();
        // (A generous threshold: on a loaded CI machine the OS may pause a thread for tens of
        // milliseconds, which is not what this test is about.)
        let lp = EventLoop::builder()
            .debug(true)
            .slow_callback_duration(Duration::from_millis(500))
            .build()
            .unwrap();
        let handle = lp.handle();
        let poster = std::thread::spawn(move || {
            for _ in 0..20 {
                handle.call_soon_threadsafe(|| {}).unwrap();
            }
        });
        lp.run_until_complete(async {
            let lp = evloop::get_running_loop().unwrap();
            for i in 0..50 {
                lp.call_soon(move || assert!(i < 50));
                lp.call_later(Duration::from_millis(i % 5), || {});
            }
            let tasks: Vec<_> = (0..20)
                .map(|i| {
                    evloop::spawn(async move {
                        evloop::sleep(Duration::from_millis(i % 3)).await;
                        i
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
            let jobs: Vec<_> = (0..4).map(|i| evloop::to_thread(move || i * 2)).collect();
            for job in jobs {
                job.await.unwrap();
            }
            lp.shutdown_default_executor().await;
        })
        .unwrap();
        poster.join().unwrap();
        lp.run_until_complete(evloop::sleep(Duration::from_millis(10)))
            .unwrap();
        lp.close().unwrap();
        assert_eq!(debug_records_here().len(), 0, "{:#?}", debug_records_here());
        assert_eq!(lp.metrics().slow_callbacks, 0);
    });
}

#[test]
fn debug_off_reports_nothing_even_for_a_blocking_callback() {
    deadline(BUDGET, || {
        log_capture::install();
        let lp = EventLoop::builder()
            .debug(false)
            .slow_callback_duration(Duration::from_millis(10))
            .build()
            .unwrap();
        assert!(!lp.get_debug());
        lp.call_soon(|| std::thread::sleep(Duration::from_millis(30)));
        lp.run_until_complete(async {}).unwrap();
        let pending = lp.spawn(std::future::pending::<()>());
        drop(pending);
        lp.close().unwrap();
        assert!(
            debug_records_here().is_empty(),
            "{:#?}",
            debug_records_here()
        );
        assert_eq!(lp.metrics().slow_callbacks, 0);
    });
}

#[test]
fn set_debug_turns_reporting_on_and_off_at_run_time() {
    deadline(BUDGET, || {
        log_capture::install();
        let lp = EventLoop::builder().debug(false).build().unwrap();
        lp.set_slow_callback_duration(Duration::from_millis(20));
        assert_eq!(lp.slow_callback_duration(), Duration::from_millis(20));
        let block = || std::thread::sleep(Duration::from_millis(30));
        lp.call_soon(block);
        lp.run_until_complete(async {}).unwrap();
        assert_eq!(debug_records_here().len(), 0);
        lp.set_debug(true);
        lp.call_soon(block);
        lp.run_until_complete(async {}).unwrap();
        assert_eq!(debug_records_here().len(), 1);
        lp.set_debug(false);
        lp.call_soon(block);
        lp.run_until_complete(async {}).unwrap();
        assert_eq!(debug_records_here().len(), 1);
        lp.close().unwrap();
    });
}

#[test]
fn a_pending_task_dropped_by_close_is_reported_once() {
    deadline(BUDGET, || {
        let lp = debug_loop();
        let waiting = lp.spawn(std::future::pending::<()>());
        waiting.set_name("forgotten");
        let finished = lp.spawn(async {});
        lp.run_until_complete(evloop::yield_now()).unwrap();
        assert!(finished.is_done());
        lp.close().unwrap();
        lp.close().unwrap(); // idempotent: no second report
        let records = debug_records_here();
        assert_eq!(records.len(), 1, "{records:#?}");
        assert!(
            records[0]
                .message
                .starts_with("Task was destroyed but it is pending: task"),
            "{}",
            records[0].message
        );
        assert!(records[0].message.contains("'forgotten'"));
        assert!(waiting.is_cancelled());
    });
}

#[test]
fn evloop_run_cancels_its_leftover_tasks_so_nothing_is_reported() {
    deadline(BUDGET, || {
        log_capture::install();
        let marker = "leftover-task-of-evloop-run";
        evloop::run(async move {
            evloop::get_running_loop().unwrap().set_debug(true);
            evloop::spawn(std::future::pending::<()>()).set_name(marker);
        })
        .unwrap();
        assert!(log_capture::containing(marker).is_empty());
    });
}

#[test]
fn a_threadsafe_call_on_a_closed_loop_is_reported_once_per_call() {
    deadline(BUDGET, || {
        let lp = debug_loop();
        let handle = lp.handle();
        lp.close().unwrap();
        let loop_id_text = format!("closed loop {}", {
            let text = format!("{handle:?}");
            text.split("loop_id: ")
                .nth(1)
                .and_then(|s| s.split(',').next())
                .unwrap()
                .to_owned()
        });
        let poster = std::thread::spawn(move || {
            let refused = handle.call_soon_threadsafe(|| {});
            assert!(refused.is_err());
            let refused = handle.spawn_threadsafe(async {});
            assert!(refused.is_err());
            assert!(handle.stop().is_err());
        });
        poster.join().unwrap();
        let records = log_capture::containing(&loop_id_text);
        assert_eq!(records.len(), 3, "{records:#?}");
        assert!(records[0]
            .message
            .starts_with("call_soon_threadsafe on closed loop"));
        assert!(
            records[0].message.contains("debug_mode::"),
            "names the closure"
        );
        assert!(records[1]
            .message
            .starts_with("spawn_threadsafe on closed loop"));
        assert!(records[2]
            .message
            .starts_with("LoopHandle::stop on closed loop"));
    });
}

#[test]
fn an_unobserved_task_panic_names_the_task_in_the_exception_context() {
    deadline(BUDGET, || {
        let lp = debug_loop();
        let seen = crate::util::record_exceptions(&lp);
        let task = lp.spawn(async { panic!("nobody looks") });
        task.set_name("lonely");
        drop(task);
        lp.run_until_complete(evloop::yield_now()).unwrap();
        let seen = seen.borrow();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(seen[0].message.contains("'lonely'"), "{:?}", seen[0]);
        assert!(
            seen[0]
                .message
                .contains("spawned at tests/src/debug_mode.rs:"),
            "{:?}",
            seen[0]
        );
        drop(seen);
        lp.close().unwrap();
    });
}

#[test]
fn tasks_are_named_like_asyncio_and_remember_where_they_were_spawned() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let line = line!() + 1;
        let task = lp.spawn(async {});
        assert_eq!(task.name(), format!("Task-{}", task.id()));
        assert_eq!(task.spawned_at().line(), line);
        assert!(task.spawned_at().file().ends_with("debug_mode.rs"));
        task.set_name("renamed");
        assert_eq!(task.name(), "renamed");
        lp.close().unwrap();
    });
}
