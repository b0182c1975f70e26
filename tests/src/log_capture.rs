//! The suite's one `log` logger: it keeps every record, so tests can assert what evloop and
//! its pools reported (a process has one global logger, so every test shares this one).
//!
//! Tests run in parallel, so a test never looks at "all records": it filters by the thread
//! that logged (a loop reports on its own thread) or by text only it produces (a task name, a
//! closure's path).

use std::sync::{Mutex, Once};
use std::thread::ThreadId;

/// One record, as the logger received it.
#[derive(Debug, Clone)]
pub struct Record {
    /// The thread that called the logger.
    pub thread: ThreadId,
    /// Its name, if it has one (shown when an assertion prints the records).
    #[allow(dead_code)]
    pub thread_name: Option<String>,
    /// The record's level.
    pub level: log::Level,
    /// The record's target (evloop uses `evloop::debug` and `evloop_pools::debug`).
    pub target: String,
    /// The formatted message.
    pub message: String,
}

/// Every record logged since the suite started.
static RECORDS: Mutex<Vec<Record>> = Mutex::new(Vec::new());

/// The logger: appends to `RECORDS`.
struct Keeper;

impl log::Log for Keeper {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let thread = std::thread::current();
        let kept = Record {
            thread: thread.id(),
            thread_name: thread.name().map(str::to_owned),
            level: record.level(),
            target: record.target().to_owned(),
            message: record.args().to_string(),
        };
        RECORDS.lock().unwrap_or_else(|e| e.into_inner()).push(kept);
    }

    fn flush(&self) {}
}

/// Installs the keeper as the global logger (once; later calls do nothing).
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        log::set_logger(&Keeper).expect("no other logger in the test binary");
        log::set_max_level(log::LevelFilter::Trace);
    });
}

/// The records that satisfy `keep`, in logging order.
pub fn records(keep: impl Fn(&Record) -> bool) -> Vec<Record> {
    RECORDS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|r| keep(r))
        .cloned()
        .collect()
}

/// The records logged by `thread`.
pub fn from_thread(thread: ThreadId) -> Vec<Record> {
    records(|r| r.thread == thread)
}

/// The records whose message contains `text`.
pub fn containing(text: &str) -> Vec<Record> {
    records(|r| r.message.contains(text))
}
