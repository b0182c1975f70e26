//! Model-based property of a stream connection (`evloop::net`, issue 5): random programs of
//! writes, reads, half-closes and single polls on the two ends of a `UnixStream` pair and of
//! a TCP pair, against a model of two byte queues.
//!
//! # The program
//!
//! Operations, each on side A or side B: `Write(k)` writes the next `k` bytes of that
//! direction's pattern with `write_all`; `Read(k)` reads into a `k`-byte buffer (0 included);
//! `Shutdown` shuts the side's write half down; `PollOnce` polls a 64-byte read once. A write
//! that would put more than 32 KiB in flight in its direction is skipped (it could block on
//! a full socket, and the model has no back-pressure), and so is a `Read` that would wait
//! forever (nothing queued, no EOF): it becomes a single poll that must be `Pending`.
//!
//! # The model
//!
//! Per direction: the bytes written and not yet read (a queue) and whether the writer shut
//! its write half down (EOF after the queue).
//!
//! # What is checked
//!
//! Every read returns a non-empty prefix of the model's queue (at most the buffer's size),
//! exactly those bytes, and they leave the queue; `Ok(0)` comes exactly when the queue is
//! empty and the writer shut down, or the buffer is empty (then at once); a poll with nothing
//! to read is `Pending`; a write after the side's own shutdown is `BrokenPipe`, any other
//! write succeeds; every operation finishes within its time limit. At the end both sides
//! shut down and each reads exactly its queue, then EOF.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::task::Poll;
use std::time::Duration;

use evloop::net::{TcpStream, UnixStream};
use proptest::prelude::*;

use crate::net_util::{within, Duplex};
use crate::util::{cases, deadline};

/// The time limit of one operation.
const OP_LIMIT: Duration = Duration::from_secs(2);
/// The time limit of one case.
const CASE_BUDGET: Duration = Duration::from_secs(20);
/// The most bytes the program keeps in flight in one direction.
const IN_FLIGHT: usize = 32 * 1024;

/// One end of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    A,
    B,
}

impl Side {
    /// The index of this end, and of the direction it writes.
    fn out(self) -> usize {
        self as usize
    }

    /// The index of the direction this end reads.
    fn inbound(self) -> usize {
        1 - self as usize
    }
}

/// One step of a program.
#[derive(Debug, Clone)]
enum Op {
    /// `write_all` of the direction's next `len` bytes from `side`.
    Write { side: Side, len: usize },
    /// A read into a `len`-byte buffer on `side`.
    Read { side: Side, len: usize },
    /// `shutdown_write` on `side`.
    Shutdown { side: Side },
    /// One poll of a 64-byte read on `side`.
    PollOnce { side: Side },
}

/// One direction of the connection, as the model sees it.
#[derive(Debug, Default)]
struct Flow {
    /// Bytes written and not yet read, in order.
    queue: VecDeque<u8>,
    /// Whether the writer shut its write half down (EOF after the queue).
    shut: bool,
    /// Bytes written so far: the index of the next byte of the pattern.
    written: usize,
}

impl Flow {
    /// The direction's byte at `index`: direction and position both show, so a byte that
    /// went the wrong way or out of order is caught.
    fn byte(direction: usize, index: usize) -> u8 {
        (index.wrapping_mul(131) ^ (index >> 8).wrapping_mul(7) ^ (direction * 0x55)) as u8
    }

    /// Takes `n` bytes off the front of the queue.
    fn take(&mut self, n: usize) -> Vec<u8> {
        self.queue.drain(..n).collect()
    }
}

/// Checks one read's answer against `flow`, and takes the bytes it returned off the queue.
fn check_read(flow: &mut Flow, got: &[u8], what: &str) -> Result<(), TestCaseError> {
    if got.is_empty() {
        prop_assert!(
            flow.queue.is_empty() && flow.shut,
            "{}: EOF with {} bytes queued (shut: {})",
            what,
            flow.queue.len(),
            flow.shut
        );
    } else {
        prop_assert!(
            got.len() <= flow.queue.len(),
            "{}: bytes from nowhere",
            what
        );
        let expected = flow.take(got.len());
        prop_assert_eq!(got, &expected[..], "{}: wrong bytes", what);
    }
    Ok(())
}

/// Polls a read on `end` once (with the task's waker).
async fn poll_read_once<S: Duplex>(end: &S, buf: &mut [u8]) -> Poll<io::Result<usize>> {
    poll_fn(|cx| Poll::Ready(end.poll_read(cx, buf))).await
}

/// Runs one operation on the real ends and the model, comparing.
async fn step<S: Duplex>(
    ends: &[S; 2],
    flows: &mut [Flow; 2],
    op: &Op,
) -> Result<(), TestCaseError> {
    match *op {
        Op::Write { side, len } => {
            let flow = &mut flows[side.out()];
            if !flow.shut && flow.queue.len() + len > IN_FLIGHT {
                return Ok(());
            }
            let bytes: Vec<u8> = (flow.written..flow.written + len)
                .map(|index| Flow::byte(side.out(), index))
                .collect();
            let result = within(OP_LIMIT, "a write", ends[side.out()].write_all(&bytes)).await;
            if flow.shut {
                let kind = result.map_err(|error| error.kind());
                prop_assert_eq!(kind, Err(io::ErrorKind::BrokenPipe), "write after shutdown");
            } else {
                prop_assert!(result.is_ok(), "write failed: {:?}", result);
                flow.queue.extend(bytes);
                flow.written += len;
            }
        }
        Op::Read { side, len } => {
            let flow = &mut flows[side.inbound()];
            let end = &ends[side.out()];
            let mut buf = vec![0u8; len];
            if len == 0 {
                let result = poll_read_once(end, &mut buf).await;
                prop_assert!(
                    matches!(result, Poll::Ready(Ok(0))),
                    "empty read: {:?}",
                    result
                );
            } else if flow.queue.is_empty() && !flow.shut {
                let result = poll_read_once(end, &mut buf).await;
                prop_assert!(
                    result.is_pending(),
                    "a read with nothing sent: {:?}",
                    result
                );
            } else {
                let n = within(OP_LIMIT, "a read", end.read(&mut buf)).await;
                prop_assert!(n.is_ok(), "read failed: {:?}", n);
                check_read(flow, &buf[..n.unwrap()], "read")?;
            }
        }
        Op::Shutdown { side } => {
            let result = ends[side.out()].shutdown_write();
            prop_assert!(result.is_ok(), "shutdown failed: {:?}", result);
            flows[side.out()].shut = true;
        }
        Op::PollOnce { side } => {
            let flow = &mut flows[side.inbound()];
            let mut buf = [0u8; 64];
            match poll_read_once(&ends[side.out()], &mut buf).await {
                // Always allowed: bytes or EOF may be on their way, not yet seen.
                Poll::Pending => {}
                Poll::Ready(Ok(n)) => check_read(flow, &buf[..n], "poll")?,
                Poll::Ready(Err(error)) => prop_assert!(false, "poll failed: {:?}", error),
            }
        }
    }
    Ok(())
}

/// Runs `ops` on a fresh `S` pair and checks each step against the model, then drains.
fn check_program<S: Duplex>(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let lp = evloop::EventLoop::new().expect("a loop");
    let outcome = lp.run_until_complete(async {
        let (a, b) = S::pair().await;
        let ends = [a, b];
        let mut flows = [Flow::default(), Flow::default()];
        for (index, op) in ops.iter().enumerate() {
            step(&ends, &mut flows, op)
                .await
                .map_err(|error| TestCaseError::fail(format!("step {index} ({op:?}): {error}")))?;
        }
        // Both sides shut down; each reads exactly what is still queued for it, then EOF.
        for side in [Side::A, Side::B] {
            prop_assert!(ends[side.out()].shutdown_write().is_ok());
            flows[side.out()].shut = true;
        }
        for side in [Side::A, Side::B] {
            let flow = &mut flows[side.inbound()];
            let mut buf = vec![0u8; 4096];
            loop {
                let n = within(OP_LIMIT, "a final read", ends[side.out()].read(&mut buf)).await;
                prop_assert!(n.is_ok(), "final read failed: {:?}", n);
                let n = n.unwrap();
                check_read(flow, &buf[..n], "final read")?;
                if n == 0 {
                    break;
                }
            }
        }
        Ok(())
    });
    lp.close().expect("close");
    outcome.expect("run the program")
}

/// One side.
fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::A), Just(Side::B)]
}

/// A program: mostly writes and reads of assorted sizes, some polls, few shutdowns.
fn program() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        3 => (side(), 1..=2048usize).prop_map(|(side, len)| Op::Write { side, len }),
        1 => (side(), 1..=8usize).prop_map(|(side, len)| Op::Write { side, len }),
        3 => (side(), 0..=2048usize).prop_map(|(side, len)| Op::Read { side, len }),
        1 => (side(), 0..=8usize).prop_map(|(side, len)| Op::Read { side, len }),
        1 => side().prop_map(|side| Op::PollOnce { side }),
        1 => side().prop_map(|side| Op::Shutdown { side }),
    ];
    proptest::collection::vec(op, 1..40)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(128)))]

    /// A Unix stream pair matches the two-queue model step by step.
    #[test]
    fn prop_unix_stream_pair_matches_the_byte_queue_model(ops in program()) {
        deadline(CASE_BUDGET, move || check_program::<UnixStream>(ops))?;
    }

    /// A TCP pair on 127.0.0.1 matches the two-queue model step by step.
    #[test]
    fn prop_tcp_pair_matches_the_byte_queue_model(ops in program()) {
        deadline(CASE_BUDGET, move || check_program::<TcpStream>(ops))?;
    }
}
