//! `QueueLogger`: a `log` logger that never blocks the thread that logs (scenario S12).
//!
//! # Why it exists
//!
//! A `log::info!` runs the installed logger synchronously, on the calling thread. When that
//! thread is the event loop's and the logger writes to a slow sink (a network syslog, a full
//! disk, a terminal nobody reads), every callback and task waits for the sink: one 20 ms write
//! per record and a burst of 50 records freezes the loop for a second. evloop's debug mode
//! reports through `log`, so the loop must be able to log without ever waiting for a sink.
//!
//! # How it works
//!
//! [`QueueLogger::log`] filters the record with the sink's `enabled`, copies it into an owned
//! `QueuedRecord` (the message formatted once, here) and `try_send`s it into a bounded
//! channel. A background thread named `evloop-log` receives the records in order and hands
//! each to the sink, rebuilt with `log::Record::builder()`. When the channel is full the
//! record is dropped and counted: the logging thread never waits. The thread reports the
//! drops to the sink itself (one `Warn` record, target `evloop::log_queue`, "N log records
//! dropped ...") as soon as it catches up, so a reader of the log sees where records went
//! missing.
//!
//! [`QueueLoggerGuard`] owns the thread: [`flush`](QueueLoggerGuard::flush) waits until the
//! sink has everything queued so far (shutdown only, never on the loop); dropping it closes
//! the queue, lets the thread deliver what is queued, flushes the sink and joins the thread.
//!
//! This file does not format lines or write anywhere: the sink does (any `log::Log`, such as
//! `env_logger`'s logger). It does not install a logger unless asked ([`install`]).
//!
//! # Invariants
//!
//! - `QueueLogger::log` and `QueueLogger::flush` never wait for the sink or for room in the
//!   queue; the only lock they take is the read side of `Shared::sender`, whose write side is
//!   held once, by the guard's drop, just long enough to take the sender out.
//! - Every record `log` accepts reaches the sink exactly once, in acceptance order; every
//!   record it refuses (queue full, or queue closed) is counted in `dropped` exactly once.
//! - Only the `evloop-log` thread calls the sink's `log` and `flush`, each under
//!   `catch_unwind`: a panicking sink loses that record, never the thread.
//! - The thread exits only once the guard has closed the queue and the queue is empty.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use log::{Level, LevelFilter, Log, Metadata, Record};
use parking_lot::RwLock;

/// The target of the records the log thread writes itself (drop reports).
const REPORT_TARGET: &str = "evloop::log_queue";

/// A non-blocking logger: it queues each record for the `evloop-log` thread, which hands it
/// to the slow sink; a full queue drops the record and counts it.
///
/// Install it with [`install`], or build it with [`QueueLogger::new`] and install or wrap it
/// yourself. The sink's `enabled` runs on the logging thread (keep it cheap: a filter); its
/// `log` and `flush` run on the `evloop-log` thread, so a sink that prints the current
/// thread or a timestamp shows that thread and the delivery time, not the logging ones.
/// A sink that itself logs through `log` (to this logger, installed) re-enters the queue
/// like anyone else: without waiting, so without deadlock.
///
/// # Examples
///
/// ```
/// use log::Log;
///
/// // A sink that prints to stderr; imagine it slow.
/// struct Stderr;
/// impl Log for Stderr {
///     fn enabled(&self, _: &log::Metadata<'_>) -> bool { true }
///     fn log(&self, record: &log::Record<'_>) {
///         eprintln!("{} {}: {}", record.level(), record.target(), record.args());
///     }
///     fn flush(&self) {}
/// }
///
/// let (logger, guard) = evloop::log_queue::QueueLogger::new(Stderr, 1024).unwrap();
/// logger.log(
///     &log::Record::builder()
///         .level(log::Level::Info)
///         .target("app")
///         .args(format_args!("queued, never waited for"))
///         .build(),
/// );
/// guard.flush(); // shutdown: wait until the sink has it
/// assert_eq!(guard.dropped(), 0);
/// ```
pub struct QueueLogger {
    /// The user's logger: asked `enabled` here, handed records on the log thread.
    sink: Arc<dyn Log>,
    /// The state shared with the guard and the log thread.
    shared: Arc<Shared>,
}

/// Owns the `evloop-log` thread of a [`QueueLogger`]: flushes, counts drops, and on drop
/// delivers what is queued, flushes the sink and joins the thread.
///
/// Keep it alive as long as you log (in `main`, for a global logger); drop it at shutdown.
/// Dropping it waits for the sink to take every queued record (forever, if the sink never
/// returns), so never drop it on the loop while the loop still has work: do it after the
/// loop has stopped.
///
/// # Examples
///
/// ```
/// # struct Sink;
/// # impl log::Log for Sink {
/// #     fn enabled(&self, _: &log::Metadata<'_>) -> bool { true }
/// #     fn log(&self, _: &log::Record<'_>) {}
/// #     fn flush(&self) {}
/// # }
/// let (logger, guard) = evloop::log_queue::QueueLogger::new(Sink, 64).unwrap();
/// drop(guard); // the queue is closed: the thread delivered what was queued and exited
/// log::Log::log(
///     &logger,
///     &log::Record::builder().args(format_args!("too late")).build(),
/// );
/// assert_eq!(logger.dropped(), 1);
/// ```
pub struct QueueLoggerGuard {
    /// The state shared with the logger and the log thread.
    shared: Arc<Shared>,
    /// The `evloop-log` thread; `None` once joined.
    thread: Option<JoinHandle<()>>,
}

/// What the logger, the guard and the log thread share.
struct Shared {
    /// The queue's sending side. `None` once the guard closed the queue: the log thread then
    /// sees the channel disconnect after its last record, and later records count as dropped.
    /// Loggers take the read side (never contended but at shutdown); the guard's drop takes
    /// the write side once.
    sender: RwLock<Option<Sender<Message>>>,
    /// Records refused (queue full, or closed), for `dropped()` and the drop reports.
    dropped: AtomicU64,
    /// Panics caught from the sink's `log` or `flush`, for `sink_panics()`.
    sink_panics: AtomicU64,
    /// A `Log::flush` found the queue full: the log thread flushes the sink the next time the
    /// queue runs empty, which is after every record queued before the request.
    flush_requested: AtomicBool,
    /// The queue's capacity, quoted by the drop reports.
    capacity: usize,
}

/// One message in the queue, in the order the log thread handles them.
enum Message {
    /// A record to hand to the sink.
    Record(QueuedRecord),
    /// Flush the sink once every earlier message is handled; acknowledge on the channel if
    /// one is given (the guard's `flush` waits on it; `Log::flush` gives none).
    Flush(Option<Sender<()>>),
}

/// A `log::Record` copied into owned data, so it can cross to the log thread.
struct QueuedRecord {
    /// The record's level.
    level: Level,
    /// The record's target (copied: `log` only lends it).
    target: String,
    /// The formatted message; borrowed when the message was a plain literal.
    message: Cow<'static, str>,
    /// The module that logged; borrowed when the macros gave a `'static` one.
    module_path: Option<Cow<'static, str>>,
    /// The source file that logged; borrowed when `'static`.
    file: Option<Cow<'static, str>>,
    /// The source line that logged.
    line: Option<u32>,
}

impl QueueLogger {
    /// Starts the `evloop-log` thread in front of `sink`, with room for `capacity` records
    /// waiting in the queue; returns the logger (to install) and the guard (to keep).
    ///
    /// # Examples
    ///
    /// ```
    /// # struct Sink;
    /// # impl log::Log for Sink {
    /// #     fn enabled(&self, _: &log::Metadata<'_>) -> bool { true }
    /// #     fn log(&self, _: &log::Record<'_>) {}
    /// #     fn flush(&self) {}
    /// # }
    /// let (logger, guard) = evloop::log_queue::QueueLogger::new(Sink, 1024).unwrap();
    /// assert_eq!(logger.capacity(), 1024);
    /// drop(guard);
    /// ```
    ///
    /// # Errors
    ///
    /// The OS refusing to start the thread.
    ///
    /// # Panics
    ///
    /// If `capacity` is 0 (a queue with no room drops every record the thread is not already
    /// waiting for): give at least 1; a few thousand absorbs most bursts.
    pub fn new(
        sink: impl Log + 'static,
        capacity: usize,
    ) -> io::Result<(QueueLogger, QueueLoggerGuard)> {
        assert!(
            capacity > 0,
            "QueueLogger::new: capacity must be at least 1 (a few thousand absorbs most bursts)"
        );
        let sink: Arc<dyn Log> = Arc::new(sink);
        let (sender, receiver) = crossbeam_channel::bounded(capacity);
        let shared = Arc::new(Shared {
            sender: RwLock::new(Some(sender)),
            dropped: AtomicU64::new(0),
            sink_panics: AtomicU64::new(0),
            flush_requested: AtomicBool::new(false),
            capacity,
        });
        let mut worker = Worker {
            sink: sink.clone(),
            shared: shared.clone(),
            reported: 0,
        };
        let thread = thread::Builder::new()
            .name("evloop-log".into())
            .spawn(move || worker.run(receiver))?;
        let guard = QueueLoggerGuard {
            shared: shared.clone(),
            thread: Some(thread),
        };
        Ok((QueueLogger { sink, shared }, guard))
    }

    /// How many records may wait in the queue.
    ///
    /// # Examples
    ///
    /// ```
    /// # struct Sink;
    /// # impl log::Log for Sink {
    /// #     fn enabled(&self, _: &log::Metadata<'_>) -> bool { true }
    /// #     fn log(&self, _: &log::Record<'_>) {}
    /// #     fn flush(&self) {}
    /// # }
    /// let (logger, _guard) = evloop::log_queue::QueueLogger::new(Sink, 8).unwrap();
    /// assert_eq!(logger.capacity(), 8);
    /// ```
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// How many records were refused so far: the queue was full, or closed by the guard.
    /// The same count as [`QueueLoggerGuard::dropped`], readable after the guard is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// # struct Sink;
    /// # impl log::Log for Sink {
    /// #     fn enabled(&self, _: &log::Metadata<'_>) -> bool { true }
    /// #     fn log(&self, _: &log::Record<'_>) {}
    /// #     fn flush(&self) {}
    /// # }
    /// let (logger, guard) = evloop::log_queue::QueueLogger::new(Sink, 8).unwrap();
    /// drop(guard);
    /// log::Log::log(&logger, &log::Record::builder().args(format_args!("late")).build());
    /// assert_eq!(logger.dropped(), 1);
    /// ```
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::SeqCst)
    }

    /// Sends `message` without waiting; `Err` hands it back if the queue is full or closed.
    fn try_send(&self, message: Message) -> Result<(), Message> {
        let sender = self.shared.sender.read();
        match sender.as_ref() {
            Some(sender) => sender.try_send(message).map_err(TrySendError::into_inner),
            None => Err(message),
        }
    }
}

impl Log for QueueLogger {
    /// The sink's answer (no level of its own: [`install`] sets `log`'s max level).
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.sink.enabled(metadata)
    }

    /// Queues the record if the sink wants it; drops and counts it if the queue is full or
    /// closed. Never waits.
    fn log(&self, record: &Record<'_>) {
        if !self.sink.enabled(record.metadata()) {
            return;
        }
        let queued = QueuedRecord::from_record(record);
        if let Err(refused) = self.try_send(Message::Record(queued)) {
            self.shared.dropped.fetch_add(1, Ordering::SeqCst);
            // Careful: the refused record is dropped here, after the read lock is released.
            drop(refused);
        }
    }

    /// Asks the log thread to flush the sink once it has delivered the records queued before
    /// this call; returns at once (use [`QueueLoggerGuard::flush`] to wait).
    fn flush(&self) {
        if self.try_send(Message::Flush(None)).is_ok() {
            return;
        }
        // The queue is full (or closed): leave a flag the thread checks when the queue runs
        // empty. Careful: the thread may have emptied the queue and gone to sleep between the
        // refusal and the flag, so try once more to wake it; if the queue is still full, the
        // thread has records left and will see the flag after them.
        self.shared.flush_requested.store(true, Ordering::SeqCst);
        let _ = self.try_send(Message::Flush(None));
    }
}

impl fmt::Debug for QueueLogger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueLogger")
            .field("capacity", &self.shared.capacity)
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl QueueLoggerGuard {
    /// Blocks until every record queued before this call has reached the sink and the sink's
    /// `flush` has returned.
    ///
    /// For shutdown and tests: it waits for the slow sink, so never call it on the loop.
    ///
    /// # Examples
    ///
    /// ```
    /// # struct Sink;
    /// # impl log::Log for Sink {
    /// #     fn enabled(&self, _: &log::Metadata<'_>) -> bool { true }
    /// #     fn log(&self, _: &log::Record<'_>) {}
    /// #     fn flush(&self) {}
    /// # }
    /// let (logger, guard) = evloop::log_queue::QueueLogger::new(Sink, 8).unwrap();
    /// log::Log::log(&logger, &log::Record::builder().args(format_args!("hi")).build());
    /// guard.flush();
    /// ```
    pub fn flush(&self) {
        let (ack, acked) = crossbeam_channel::bounded(1);
        // Careful: clone the sender and release the lock before the blocking send, so the
        // loggers never wait behind it.
        let sender = self.shared.sender.read().clone();
        let Some(sender) = sender else { return };
        if sender.send(Message::Flush(Some(ack))).is_ok() {
            // An error means the thread is gone, which only a bug could cause: do not hang.
            let _ = acked.recv();
        }
    }

    /// How many records were refused so far: the queue was full, or already closed.
    ///
    /// # Examples
    ///
    /// ```
    /// # struct Sink;
    /// # impl log::Log for Sink {
    /// #     fn enabled(&self, _: &log::Metadata<'_>) -> bool { true }
    /// #     fn log(&self, _: &log::Record<'_>) {}
    /// #     fn flush(&self) {}
    /// # }
    /// let (_logger, guard) = evloop::log_queue::QueueLogger::new(Sink, 8).unwrap();
    /// assert_eq!(guard.dropped(), 0);
    /// ```
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::SeqCst)
    }

    /// How many times the sink panicked in `log` or `flush` (each time the thread caught the
    /// panic, lost that record or flush, and went on).
    ///
    /// # Examples
    ///
    /// ```
    /// # struct Sink;
    /// # impl log::Log for Sink {
    /// #     fn enabled(&self, _: &log::Metadata<'_>) -> bool { true }
    /// #     fn log(&self, _: &log::Record<'_>) {}
    /// #     fn flush(&self) {}
    /// # }
    /// let (_logger, guard) = evloop::log_queue::QueueLogger::new(Sink, 8).unwrap();
    /// assert_eq!(guard.sink_panics(), 0);
    /// ```
    pub fn sink_panics(&self) -> u64 {
        self.shared.sink_panics.load(Ordering::SeqCst)
    }
}

impl Drop for QueueLoggerGuard {
    /// Closes the queue (later records count as dropped), waits for the thread to deliver
    /// what was queued and flush the sink, and joins it.
    fn drop(&mut self) {
        let sender = self.shared.sender.write().take();
        drop(sender);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl fmt::Debug for QueueLoggerGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueLoggerGuard")
            .field("dropped", &self.dropped())
            .field("sink_panics", &self.sink_panics())
            .finish_non_exhaustive()
    }
}

/// Installs a [`QueueLogger`] in front of `sink` as the process's `log` logger and sets
/// `log`'s max level; returns the guard to keep until shutdown.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
///
/// // A sink that keeps the messages (a real one would write them somewhere slow).
/// #[derive(Default)]
/// struct Keep(Mutex<Vec<String>>);
/// impl log::Log for Keep {
///     fn enabled(&self, _: &log::Metadata<'_>) -> bool { true }
///     fn log(&self, record: &log::Record<'_>) {
///         self.0.lock().unwrap().push(record.args().to_string());
///     }
///     fn flush(&self) {}
/// }
///
/// let kept = Arc::new(Keep::default());
/// let guard =
///     evloop::log_queue::install(kept.clone(), 1024, log::LevelFilter::Info).unwrap();
/// evloop::run(async {
///     log::info!("from the loop, without waiting for the sink");
///     log::debug!("filtered out by the max level");
/// })
/// .unwrap();
/// drop(guard); // after the loop: deliver, flush, join
/// assert_eq!(*kept.0.lock().unwrap(), ["from the loop, without waiting for the sink"]);
/// ```
///
/// # Errors
///
/// [`io::ErrorKind::AlreadyExists`] if the process already has a logger (`log` allows one,
/// set once), or the OS refusing the thread.
///
/// # Panics
///
/// If `capacity` is 0, like [`QueueLogger::new`].
pub fn install(
    sink: impl Log + 'static,
    capacity: usize,
    max_level: LevelFilter,
) -> io::Result<QueueLoggerGuard> {
    let (logger, guard) = QueueLogger::new(sink, capacity)?;
    log::set_boxed_logger(Box::new(logger)).map_err(|error| {
        io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{error}: install the QueueLogger before any other logger, or wrap yours in \
                 it (QueueLogger::new) instead of installing both"
            ),
        )
    })?;
    log::set_max_level(max_level);
    Ok(guard)
}

impl QueuedRecord {
    /// Copies what the sink will need; formats the message (unless it is a plain literal).
    fn from_record(record: &Record<'_>) -> QueuedRecord {
        let message = match record.args().as_str() {
            Some(literal) => Cow::Borrowed(literal),
            None => Cow::Owned(record.args().to_string()),
        };
        QueuedRecord {
            level: record.level(),
            target: record.target().to_owned(),
            message,
            module_path: owned_or_static(record.module_path_static(), record.module_path()),
            file: owned_or_static(record.file_static(), record.file()),
            line: record.line(),
        }
    }

    /// Rebuilds the `log::Record` and hands it to `sink`.
    fn replay(&self, sink: &dyn Log) {
        let mut builder = Record::builder();
        builder
            .level(self.level)
            .target(&self.target)
            .line(self.line);
        // Careful: the `_static` setters overwrite the plain ones; call one of each pair.
        match &self.module_path {
            Some(Cow::Borrowed(path)) => builder.module_path_static(Some(path)),
            path => builder.module_path(path.as_deref()),
        };
        match &self.file {
            Some(Cow::Borrowed(file)) => builder.file_static(Some(file)),
            file => builder.file(file.as_deref()),
        };
        sink.log(&builder.args(format_args!("{}", self.message)).build());
    }
}

/// The `'static` string if there is one, else a copy of the borrowed one.
fn owned_or_static(
    static_str: Option<&'static str>,
    borrowed: Option<&str>,
) -> Option<Cow<'static, str>> {
    static_str
        .map(Cow::Borrowed)
        .or_else(|| borrowed.map(|text| Cow::Owned(text.to_owned())))
}

/// The log thread's side: the sink and what it reported.
struct Worker {
    /// The user's logger.
    sink: Arc<dyn Log>,
    /// The state shared with the logger and the guard.
    shared: Arc<Shared>,
    /// Drops already reported to the sink (`Shared::dropped` at the last report).
    reported: u64,
}

impl Worker {
    /// The thread's body: deliver in queue order until the queue is closed and empty.
    fn run(&mut self, receiver: Receiver<Message>) {
        // Handle each message; `recv` fails once the guard dropped the sender and the queue
        // is empty.
        while let Ok(message) = receiver.recv() {
            match message {
                Message::Record(record) => self.deliver(&record),
                Message::Flush(ack) => {
                    // Careful: a flush request left as a flag is not cleared here: it may
                    // have been made after records that are still queued behind this one.
                    self.report_drops();
                    self.flush_sink();
                    if let Some(ack) = ack {
                        let _ = ack.send(());
                    }
                }
            }
            // Caught up: report the drops, honour a flush asked while the queue was full.
            if receiver.is_empty() {
                self.report_drops();
                if self.shared.flush_requested.swap(false, Ordering::SeqCst) {
                    self.flush_sink();
                }
            }
        }
        // Closed and drained: a last report and a last flush.
        self.report_drops();
        self.flush_sink();
    }

    /// Rebuilds the record and hands it to the sink.
    fn deliver(&self, record: &QueuedRecord) {
        let sink = &*self.sink;
        self.guarded(|| record.replay(sink));
    }

    /// Tells the sink how many records were dropped since the last report, if any.
    fn report_drops(&mut self) {
        let dropped = self.shared.dropped.load(Ordering::SeqCst);
        let unreported = dropped - self.reported;
        if unreported == 0 {
            return;
        }
        self.reported = dropped;
        let capacity = self.shared.capacity;
        let sink = &*self.sink;
        self.guarded(|| {
            sink.log(
                &Record::builder()
                    .level(Level::Warn)
                    .target(REPORT_TARGET)
                    .module_path_static(Some(module_path!()))
                    .file_static(Some(file!()))
                    .line(Some(line!()))
                    .args(format_args!(
                        "{unreported} log records dropped: the log queue (capacity \
                         {capacity}) was full because the sink is slower than the logging; \
                         raise the capacity, log less, or speed up the sink"
                    ))
                    .build(),
            )
        });
    }

    /// Flushes the sink.
    fn flush_sink(&self) {
        let sink = &*self.sink;
        self.guarded(|| sink.flush());
    }

    /// Runs one call into the sink; a panic is counted and goes no further.
    fn guarded(&self, call: impl FnOnce()) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(call)) {
            self.shared.sink_panics.fetch_add(1, Ordering::SeqCst);
            // Careful: the payload is the sink's value; it is dropped here, under no lock.
            drop(payload);
        }
    }
}
