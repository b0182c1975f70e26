//! The recorder: a bounded ring of trace events shared by a loop and its pool workers.
//!
//! Events are small fixed-size records ([`Event`]): a phase, a [`Label`], a track, a time and a
//! duration. The ring keeps the latest `capacity` of them: pushing into a full ring drops the
//! oldest and counts it, so a long recording costs bounded memory and always holds the most
//! recent window. A track is a thread; each thread gets a small number the first time it
//! records, and its name is registered once, for the viewer's track titles.
//!
//! Invariant: nothing here runs user code, and the lock is only held to push or copy events.

use std::cell::Cell;
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::label::Label;

/// What kind of trace event (Chrome's `ph`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// A complete slice (`X`) lasting `dur_ns`.
    Slice {
        /// How long it lasted, in nanoseconds.
        dur_ns: u64,
    },
    /// An instant (`i`), such as a dropped task.
    Instant,
    /// The start of a flow arrow (`s`), bound to the slice around it.
    FlowStart,
    /// A step of a flow arrow (`t`).
    FlowStep,
    /// The end of a flow arrow (`f`), bound to the slice around it.
    FlowEnd,
}

/// One recorded event.
#[derive(Clone, Debug)]
pub(crate) struct Event {
    /// Slice, instant or flow.
    pub(crate) phase: Phase,
    /// What ran (its text is made at export).
    pub(crate) label: Label,
    /// The thread it happened on (see [`current_track`]).
    pub(crate) track: u64,
    /// When it began, in nanoseconds since the recorder was created.
    pub(crate) ts_ns: u64,
    /// The flow id (flow events), 0 otherwise.
    pub(crate) flow: u64,
    /// One numeric argument shown in the viewer's details (events seen by a poll, ...).
    pub(crate) arg: Option<(&'static str, u64)>,
}

/// The ring and the track names, behind the recorder's lock.
#[derive(Debug, Default)]
struct Ring {
    /// The latest events, oldest first.
    events: VecDeque<Event>,
    /// Events pushed out of the full ring.
    dropped: u64,
    /// Track number to track title.
    tracks: BTreeMap<u64, String>,
}

/// The shared state of a recorder.
#[derive(Debug)]
struct Inner {
    /// Time zero of the recording.
    epoch: Instant,
    /// The most events kept.
    capacity: usize,
    /// Events and track names.
    ring: Mutex<Ring>,
    /// The next flow arrow id.
    next_flow: AtomicU64,
}

/// A trace recording: a bounded ring of events, shared by every loop and worker that records
/// into it (clones share it).
///
/// # Examples
///
/// ```
/// use evloop::trace::Recorder;
///
/// let recorder = Recorder::new(10_000);
/// let lp = evloop::EventLoop::builder().trace(&recorder).build().unwrap();
/// lp.run_until_complete(async {
///     evloop::to_thread(|| 6 * 7).await.unwrap();
/// })
/// .unwrap();
/// lp.close().unwrap();
///
/// let mut json = Vec::new();
/// recorder.write_json(&mut json).unwrap();
/// let text = String::from_utf8(json).unwrap();
/// assert!(text.contains("\"traceEvents\""));
/// assert!(!recorder.is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct Recorder {
    /// The ring, shared with the workers' job scopes.
    inner: Arc<Inner>,
}

impl Recorder {
    /// A recorder that keeps the latest `capacity` events (at least 1). An event takes
    /// about 80 bytes, so 100 000 events take about 8 MB.
    pub fn new(capacity: usize) -> Recorder {
        let capacity = capacity.max(1);
        Recorder {
            inner: Arc::new(Inner {
                epoch: Instant::now(),
                capacity,
                ring: Mutex::new(Ring {
                    events: VecDeque::with_capacity(capacity.min(1 << 16)),
                    ..Ring::default()
                }),
                next_flow: AtomicU64::new(1),
            }),
        }
    }

    /// How many events the recorder holds now.
    pub fn len(&self) -> usize {
        self.inner.ring.lock().events.len()
    }

    /// Whether it holds no event.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many events were dropped because the ring was full (the oldest go first).
    pub fn dropped(&self) -> u64 {
        self.inner.ring.lock().dropped
    }

    /// Forgets every event (track names are kept).
    pub fn clear(&self) {
        let mut ring = self.inner.ring.lock();
        ring.events.clear();
        ring.dropped = 0;
    }

    /// Writes the recording as Chrome trace-event JSON (open it in Perfetto or
    /// `chrome://tracing`).
    ///
    /// # Errors
    ///
    /// Whatever `out` returns.
    pub fn write_json(&self, out: impl io::Write) -> io::Result<()> {
        let (events, tracks, dropped) = {
            let ring = self.inner.ring.lock();
            (ring.events.clone(), ring.tracks.clone(), ring.dropped)
        };
        super::json::write(out, events, &tracks, dropped)
    }

    /// Writes the recording to the file at `path` (see [`write_json`](Recorder::write_json)).
    ///
    /// # Errors
    ///
    /// The file could not be created or written.
    pub fn save(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let file = std::fs::File::create(path)?;
        let mut out = io::BufWriter::new(file);
        self.write_json(&mut out)?;
        io::Write::flush(&mut out)
    }

    /// Nanoseconds from the recorder's creation to `at` (0 if before).
    pub(crate) fn ns_since_epoch(&self, at: Instant) -> u64 {
        duration_ns(at.saturating_duration_since(self.inner.epoch))
    }

    /// A new flow arrow id.
    pub(crate) fn next_flow(&self) -> u64 {
        self.inner.next_flow.fetch_add(1, Ordering::Relaxed)
    }

    /// Stores `event`, dropping the oldest if the ring is full.
    pub(crate) fn push(&self, event: Event) {
        let mut ring = self.inner.ring.lock();
        if ring.events.len() >= self.inner.capacity {
            ring.events.pop_front();
            ring.dropped += 1;
        }
        ring.events.push_back(event);
    }

    /// Stores a slice that ran from `start` to `end` on `track`.
    pub(crate) fn slice(&self, label: Label, track: u64, start: Instant, end: Instant) {
        self.push(Event {
            phase: Phase::Slice {
                dur_ns: duration_ns(end.saturating_duration_since(start)),
            },
            label,
            track,
            ts_ns: self.ns_since_epoch(start),
            flow: 0,
            arg: None,
        });
    }

    /// Stores a flow event (`phase` is one of the flow phases) at `at` on `track`.
    pub(crate) fn flow(&self, phase: Phase, flow: u64, track: u64, at: Instant) {
        self.push(Event {
            phase,
            label: Label::Static("run_in_executor"),
            track,
            ts_ns: self.ns_since_epoch(at),
            flow,
            arg: None,
        });
    }

    /// Names `track` unless it has a name already.
    pub(crate) fn name_track(&self, track: u64, name: impl FnOnce() -> String) {
        let mut ring = self.inner.ring.lock();
        ring.tracks.entry(track).or_insert_with(name);
    }
}

/// A duration in whole nanoseconds (saturating).
fn duration_ns(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// The number of the calling thread's track, given on its first call.
pub(crate) fn current_track() -> u64 {
    /// Source of track numbers (1, 2, ... in order of first use).
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        /// This thread's track number, 0 until it is given one.
        static TRACK: Cell<u64> = const { Cell::new(0) };
    }
    TRACK.with(|track| {
        if track.get() == 0 {
            track.set(NEXT.fetch_add(1, Ordering::Relaxed));
        }
        track.get()
    })
}

/// The calling thread's name, or its track number.
pub(crate) fn thread_title(track: u64) -> String {
    match std::thread::current().name() {
        Some(name) => name.to_owned(),
        None => format!("thread {track}"),
    }
}

/// A loop's connection to its recorder: the recorder and the loop thread's track.
#[derive(Clone, Debug)]
pub(crate) struct LoopTrace {
    /// Where events go.
    pub(crate) recorder: Recorder,
    /// The loop thread's track.
    pub(crate) track: u64,
}

impl LoopTrace {
    /// Attaches loop `loop_id`, on the calling thread, to `recorder`, naming its track.
    pub(crate) fn new(recorder: Recorder, loop_id: u64) -> LoopTrace {
        let track = current_track();
        recorder.name_track(track, || {
            format!("evloop loop {loop_id} ({})", thread_title(track))
        });
        LoopTrace { recorder, track }
    }

    /// Records an instant on the loop's track, now (a task `close` dropped while pending).
    pub(crate) fn instant(&self, label: Label) {
        let ts_ns = self.recorder.ns_since_epoch(Instant::now());
        self.recorder.push(Event {
            phase: Phase::Instant,
            label,
            track: self.track,
            ts_ns,
            flow: 0,
            arg: None,
        });
    }
}
