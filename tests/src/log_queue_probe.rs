//! The sink the `log_queue` tests put behind a `QueueLogger`: [`Probe`] keeps every call it
//! completes and can be slow, blocked at a gate, picky or faulty; [`emit`] and [`info`] log
//! through any `log::Log` as the macros would; [`report_count`] reads the queue's drop
//! reports.
//!
//! The probe's gate is what makes the queue tests exact: while it is closed, the log thread
//! sits in the sink holding one message, so the queue holds exactly what was logged after.

use std::thread;
use std::time::{Duration, Instant};

use log::{Level, Log, Metadata, Record};
use parking_lot::{Condvar, Mutex};

/// The target of the thread's drop reports.
pub(crate) const REPORT_TARGET: &str = "evloop::log_queue";

/// The module path [`emit`] gives its records.
pub(crate) const EMIT_MODULE: &str = module_path!();

/// The file [`emit`] gives its records.
pub(crate) const EMIT_FILE: &str = file!();

/// The line [`emit`] gives its records.
pub(crate) const EMIT_LINE: u32 = 42;

/// How long a probe wait may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(10);

/// A record as the sink received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Delivered {
    /// The record's level.
    pub(crate) level: Level,
    /// The record's target.
    pub(crate) target: String,
    /// The formatted message.
    pub(crate) message: String,
    /// The record's module path.
    pub(crate) module_path: Option<String>,
    /// The record's file.
    pub(crate) file: Option<String>,
    /// The record's line.
    pub(crate) line: Option<u32>,
    /// The thread the sink ran on.
    pub(crate) thread: String,
}

/// One call the sink completed, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// `log` with this record.
    Record(Delivered),
    /// `flush`.
    Flush,
}

/// A sink to test the queue with: it keeps what it sees, can be slow (a delay per record),
/// blocked (a gate its calls wait at), picky (a max level) or faulty (panics on a message).
pub(crate) struct Probe {
    /// What the gate and the observers share.
    state: Mutex<ProbeState>,
    /// Signalled on every change of `state`.
    changed: Condvar,
    /// Slept in each `log`, after the gate.
    delay: Duration,
    /// `enabled` answers `level <= max_level`.
    max_level: Level,
    /// `log` panics on a record with exactly this message.
    panic_on: Option<&'static str>,
}

/// The mutable part of a [`Probe`].
struct ProbeState {
    /// Whether calls pass the gate.
    open: bool,
    /// How many `log` and `flush` calls began (passed the gate or not).
    entered: usize,
    /// The calls that completed.
    seen: Vec<Seen>,
}

impl Probe {
    /// An open, fast probe that wants every level.
    pub(crate) fn new() -> Probe {
        Probe {
            state: Mutex::new(ProbeState {
                open: true,
                entered: 0,
                seen: Vec::new(),
            }),
            changed: Condvar::new(),
            delay: Duration::ZERO,
            max_level: Level::Trace,
            panic_on: None,
        }
    }

    /// Sleeps `delay` per record.
    pub(crate) fn slow(mut self, delay: Duration) -> Probe {
        self.delay = delay;
        self
    }

    /// Wants only levels up to `max_level`.
    pub(crate) fn picky(mut self, max_level: Level) -> Probe {
        self.max_level = max_level;
        self
    }

    /// Panics on a record whose message is `message`.
    pub(crate) fn faulty(mut self, message: &'static str) -> Probe {
        self.panic_on = Some(message);
        self
    }

    /// Makes later calls wait at the gate.
    pub(crate) fn block(&self) {
        self.state.lock().open = false;
    }

    /// Lets every waiting and later call through.
    pub(crate) fn unblock(&self) {
        self.state.lock().open = true;
        self.changed.notify_all();
    }

    /// How many calls began.
    pub(crate) fn entered(&self) -> usize {
        self.state.lock().entered
    }

    /// Waits until `pred` holds of the state; panics after [`PATIENCE`].
    fn wait_for(&self, what: &str, pred: impl Fn(&ProbeState) -> bool) {
        let give_up = Instant::now() + PATIENCE;
        let mut state = self.state.lock();
        while !pred(&state) {
            if self.changed.wait_until(&mut state, give_up).timed_out() {
                panic!("the sink never got to {what}; it saw {:?}", state.seen);
            }
        }
    }

    /// Waits until `count` calls have begun.
    pub(crate) fn wait_entered(&self, count: usize) {
        self.wait_for(&format!("{count} calls begun"), |s| s.entered >= count);
    }

    /// Waits until `count` calls have completed.
    pub(crate) fn wait_seen(&self, count: usize) {
        self.wait_for(&format!("{count} calls done"), |s| s.seen.len() >= count);
    }

    /// Every completed call, in order.
    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.state.lock().seen.clone()
    }

    /// The records, without the queue's drop reports.
    pub(crate) fn records(&self) -> Vec<Delivered> {
        self.seen()
            .into_iter()
            .filter_map(|seen| match seen {
                Seen::Record(record) if record.target != REPORT_TARGET => Some(record),
                _ => None,
            })
            .collect()
    }

    /// The counts of the drop reports, in order.
    pub(crate) fn reports(&self) -> Vec<u64> {
        self.seen().iter().filter_map(report_count).collect()
    }

    /// Counts a call and waits at the gate.
    fn enter(&self) {
        let mut state = self.state.lock();
        state.entered += 1;
        self.changed.notify_all();
        while !state.open {
            self.changed.wait(&mut state);
        }
    }

    /// Keeps a completed call.
    fn keep(&self, seen: Seen) {
        self.state.lock().seen.push(seen);
        self.changed.notify_all();
    }
}

/// The count of a drop report, or `None` for anything else.
pub(crate) fn report_count(seen: &Seen) -> Option<u64> {
    match seen {
        Seen::Record(record) if record.target == REPORT_TARGET => {
            let count = record.message.split(' ').next()?;
            Some(count.parse().expect("a report starts with its count"))
        }
        _ => None,
    }
}

impl Log for Probe {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.max_level
    }

    fn log(&self, record: &Record<'_>) {
        self.enter();
        let message = record.args().to_string();
        if self.panic_on == Some(message.as_str()) {
            panic!("the probe sink fails on {message:?}");
        }
        thread::sleep(self.delay);
        self.keep(Seen::Record(Delivered {
            level: record.level(),
            target: record.target().to_owned(),
            message,
            module_path: record.module_path().map(str::to_owned),
            file: record.file().map(str::to_owned),
            line: record.line(),
            thread: thread::current().name().unwrap_or("").to_owned(),
        }));
    }

    fn flush(&self) {
        self.enter();
        self.keep(Seen::Flush);
    }
}

/// Logs `message` at `level` with `target` through `logger`, as `log::log!` would.
pub(crate) fn emit(logger: &dyn Log, level: Level, target: &str, message: &str) {
    logger.log(
        &Record::builder()
            .level(level)
            .target(target)
            .module_path_static(Some(EMIT_MODULE))
            .file_static(Some(EMIT_FILE))
            .line(Some(EMIT_LINE))
            .args(format_args!("{message}"))
            .build(),
    );
}

/// Logs `message` at `Info` with target `test`.
pub(crate) fn info(logger: &dyn Log, message: &str) {
    emit(logger, Level::Info, "test", message);
}
