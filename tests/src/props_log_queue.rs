//! Model-based property of `evloop::log_queue::QueueLogger`: random programs of log /
//! `Log::flush` / guard flush / block the sink / unblock it, then shutdown and a few late
//! records, against a model; the sink sees exactly the calls the model predicts, in order,
//! and the drop count matches.
//!
//! # The program
//!
//! A case picks a capacity (1..=4) and up to 40 operations: `Log` (a numbered record),
//! `LogFlush` (`Log::flush`, which never waits), `GuardFlush` (`QueueLoggerGuard::flush`,
//! only while the sink is open: it would wait for a blocked sink), `Block` and `Unblock` (the
//! probe sink's gate). Then the guard is dropped (after unblocking) and 0..3 records are
//! logged into the closed queue.
//!
//! # The driver
//!
//! The log thread runs on its own, so the driver makes each step deterministic: while the
//! sink is open, it waits after every operation until the sink has completed every call the
//! model predicts (the thread is then idle, the queue empty); while it is blocked, it waits
//! until the thread has taken the first message into the sink (the queue is then exactly the
//! messages behind it). `Log::flush` queues a wake-up message that takes a slot like a record.
//!
//! # The model
//!
//! The thread's state in plain values: the message held in the blocked sink, the queue (at
//! most `capacity` messages), the flag a refused `Log::flush` leaves, the drop count and the
//! drops already reported. Handling a record logs it; handling a flush message reports
//! unreported drops and flushes; after each message, if the queue is empty, the thread
//! reports unreported drops and honours the flag. Shutdown: drain, report, flush.
//!
//! # What is checked
//!
//! After every operation while the sink is open, and at the end: the sink's calls equal the
//! model's (records by number, drop reports by count, flushes), the drop count equals the
//! model's, no call began that the model did not predict, and the sink never panicked.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use evloop::log_queue::QueueLogger;
use log::Log;
use proptest::prelude::*;

use crate::log_queue_probe::{info, report_count, Probe, Seen};
use crate::util::{cases, deadline};

/// How long one case may take before it counts as a hang.
const CASE_BUDGET: Duration = Duration::from_secs(10);

/// One operation of a program.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// Log the next numbered record.
    Log,
    /// `Log::flush` on the logger.
    LogFlush,
    /// `QueueLoggerGuard::flush` (skipped while the sink is blocked).
    GuardFlush,
    /// Close the sink's gate.
    Block,
    /// Open the sink's gate.
    Unblock,
}

/// A message in the model's queue.
#[derive(Clone, Copy, Debug)]
enum Item {
    /// Record number `n`.
    Record(u32),
    /// The wake-up message of `Log::flush`.
    Flush,
}

/// A call the sink completes.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Event {
    /// `log` of record number `n`.
    Record(u32),
    /// `log` of a drop report with this count.
    Report(u64),
    /// `flush`.
    Flush,
}

/// The reference model of the queue and its thread.
#[derive(Debug)]
struct Model {
    /// The queue's capacity.
    capacity: usize,
    /// Whether the sink's gate is closed.
    blocked: bool,
    /// The message the thread took into the blocked sink.
    held: Option<Item>,
    /// The messages waiting, oldest first.
    queue: VecDeque<Item>,
    /// A refused `Log::flush` is pending.
    flag: bool,
    /// Records refused so far.
    dropped: u64,
    /// Drops reported to the sink so far.
    reported: u64,
    /// The sink's calls so far.
    events: Vec<Event>,
}

impl Model {
    /// An idle thread in front of an open sink.
    fn new(capacity: usize) -> Model {
        Model {
            capacity,
            blocked: false,
            held: None,
            queue: VecDeque::new(),
            flag: false,
            dropped: 0,
            reported: 0,
            events: Vec::new(),
        }
    }

    /// A message arrives (it was accepted if there was room); returns whether the thread
    /// takes it into the blocked sink (the driver then waits for the sink call to begin).
    /// `None` when the queue refused it.
    fn arrive(&mut self, item: Item) -> Option<bool> {
        if !self.blocked {
            self.handle(item);
            return Some(false);
        }
        if self.held.is_none() {
            assert!(
                self.queue.is_empty(),
                "an idle thread leaves no message queued"
            );
            self.held = Some(item);
            Some(true)
        } else if self.queue.len() < self.capacity {
            self.queue.push_back(item);
            Some(false)
        } else {
            None
        }
    }

    /// `Log`: returns whether the driver must wait for the sink call to begin.
    fn log(&mut self, n: u32) -> bool {
        match self.arrive(Item::Record(n)) {
            Some(taken) => taken,
            None => {
                self.dropped += 1;
                false
            }
        }
    }

    /// `Log::flush`: likewise.
    fn log_flush(&mut self) -> bool {
        match self.arrive(Item::Flush) {
            Some(taken) => taken,
            None => {
                self.flag = true;
                false
            }
        }
    }

    /// Opens the gate: the thread handles what it holds, then the queue.
    fn unblock(&mut self) {
        self.blocked = false;
        match self.held.take() {
            // Careful: a held flush message is past its drop report (there was none to
            // make: the thread was idle), stuck in the sink's `flush`.
            Some(Item::Flush) => {
                self.events.push(Event::Flush);
                self.after();
            }
            Some(record) => self.handle(record),
            None => {}
        }
        while let Some(item) = self.queue.pop_front() {
            self.handle(item);
        }
    }

    /// The thread handles one message, then looks whether the queue is empty.
    fn handle(&mut self, item: Item) {
        match item {
            Item::Record(n) => self.events.push(Event::Record(n)),
            Item::Flush => {
                self.report();
                self.events.push(Event::Flush);
            }
        }
        self.after();
    }

    /// After each message: if the queue is empty, report drops and honour the flag.
    fn after(&mut self) {
        if self.queue.is_empty() {
            self.report();
            if std::mem::take(&mut self.flag) {
                self.events.push(Event::Flush);
            }
        }
    }

    /// Reports unreported drops.
    fn report(&mut self) {
        if self.dropped > self.reported {
            self.events
                .push(Event::Report(self.dropped - self.reported));
            self.reported = self.dropped;
        }
    }
}

/// The sink's calls, as model events.
fn events(probe: &Probe) -> Vec<Event> {
    probe
        .seen()
        .iter()
        .map(|seen| match (report_count(seen), seen) {
            (Some(count), _) => Event::Report(count),
            (None, Seen::Record(record)) => Event::Record(record.message.parse().unwrap()),
            (None, Seen::Flush) => Event::Flush,
        })
        .collect()
}

/// Runs one program against the queue and the model.
fn run_case(capacity: usize, ops: Vec<Op>, late: u32) {
    let probe = Arc::new(Probe::new());
    let (logger, guard) = QueueLogger::new(probe.clone(), capacity).unwrap();
    let mut model = Model::new(capacity);
    let mut next = 0u32;
    for op in ops {
        let entered = probe.entered();
        let taken = match op {
            Op::Log => {
                info(&logger, &next.to_string());
                next += 1;
                model.log(next - 1)
            }
            Op::LogFlush => {
                Log::flush(&logger);
                model.log_flush()
            }
            Op::GuardFlush if !model.blocked => {
                guard.flush();
                model.handle(Item::Flush);
                false
            }
            Op::GuardFlush => false,
            Op::Block => {
                probe.block();
                model.blocked = true;
                false
            }
            Op::Unblock => {
                probe.unblock();
                model.unblock();
                false
            }
        };
        if taken {
            probe.wait_entered(entered + 1);
        }
        if !model.blocked {
            probe.wait_seen(model.events.len());
            assert_eq!(events(&probe), model.events, "after {op:?}");
        }
        assert_eq!(logger.dropped(), model.dropped, "after {op:?}");
    }
    // Shutdown: open the sink, drop the guard (drain, report, flush, join).
    probe.unblock();
    model.unblock();
    assert_eq!(guard.sink_panics(), 0);
    drop(guard);
    model.report();
    model.events.push(Event::Flush);
    for _ in 0..late {
        info(&logger, "late");
        model.dropped += 1;
    }
    assert_eq!(events(&probe), model.events);
    assert_eq!(
        probe.entered(),
        model.events.len(),
        "a call the model did not expect"
    );
    assert_eq!(logger.dropped(), model.dropped);
}

/// An operation, mostly logs.
fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => Just(Op::Log),
        1 => Just(Op::LogFlush),
        1 => Just(Op::GuardFlush),
        1 => Just(Op::Block),
        1 => Just(Op::Unblock),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(64)))]

    #[test]
    fn the_queue_logger_matches_its_model(
        capacity in 1usize..=4,
        ops in prop::collection::vec(op(), 0..40),
        late in 0u32..3,
    ) {
        deadline(CASE_BUDGET, move || run_case(capacity, ops, late));
    }
}
