//! Readiness on stream sockets (`evloop::net`, issue 5): drained until `WouldBlock`,
//! spurious wakeups harmless, and back-pressure instead of buffering.
//!
//! - A slow reader with a large writer, TCP and Unix: the writer's `write_all` of 64 MiB
//!   parks once the kernel's buffers are full, the bytes the kernel took stay bounded (a few
//!   MiB; counted exactly by a wrapper around the writer, and checked against what the reader
//!   can then drain without the writer running), and when the reader resumes every byte
//!   arrives intact.
//! - Data left after a read that filled its buffer is read without a new edge (the readiness
//!   is kept until a read comes back short or says `WouldBlock`).
//! - A reader woken by hand 100 times is polled 100 more times, each a `Pending` without
//!   error, and idles without busy-looping; an edge whose bytes someone else took costs one
//!   `WouldBlock` syscall and a new wait, and hand wakes of that wait cost no syscall.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use evloop::net::{TcpStream, UnixStream};
use evloop::IoSource;
use futures_util::io::AsyncWrite;
use futures_util::AsyncWriteExt;

use crate::net_util::{noop_waker, pattern, read_to_end, within, Duplex, OP_LIMIT};
use crate::util::{deadline, settle, BUDGET};

/// A writer that counts the bytes the kernel took (the sum of `poll_write`'s answers).
struct Counting<S> {
    /// The stream, shared with the test.
    stream: Rc<S>,
    /// Bytes accepted so far.
    accepted: Rc<Cell<usize>>,
}

impl<S> AsyncWrite for Counting<S>
where
    for<'a> &'a S: AsyncWrite,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut &*self.stream).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = result {
            self.accepted.set(self.accepted.get() + n);
        }
        result
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.stream).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.stream).poll_close(cx)
    }
}

/// Waits until `counter` has not moved for 5 samples 5 ms apart.
async fn until_still(counter: &Cell<usize>) {
    let mut last = counter.get();
    let mut still = 0;
    for _ in 0..400 {
        evloop::sleep(Duration::from_millis(5)).await;
        if counter.get() == last {
            still += 1;
            if still == 5 {
                return;
            }
        } else {
            (last, still) = (counter.get(), 0);
        }
    }
    panic!("the writer never stopped (at {last} bytes)");
}

/// Reads what is already there, without letting any other task run: polls with a waker
/// that does nothing until the read would wait.
fn drain_now<S: Duplex>(stream: &S, out: &mut Vec<u8>) {
    let waker = noop_waker();
    let mut buf = vec![0u8; 64 * 1024];
    while let Poll::Ready(result) = stream.poll_read(&mut Context::from_waker(&waker), &mut buf) {
        match result.unwrap() {
            0 => panic!("EOF while the writer is parked"),
            n => out.extend_from_slice(&buf[..n]),
        }
    }
}

const TOTAL: usize = 64 << 20;
const FIRST: usize = 1 << 20;

/// The slow-reader scenario on a fresh `S` pair; returns the bytes the kernel held (taken
/// from the writer, not yet read) while the writer was parked.
async fn slow_reader<S: Duplex>() -> usize
where
    for<'a> &'a S: AsyncWrite,
{
    let (a, b) = S::pair().await;
    let a = Rc::new(a);
    let data = Rc::new(pattern(TOTAL, 11));
    let accepted = Rc::new(Cell::new(0));
    let mut sink = Counting {
        stream: a.clone(),
        accepted: accepted.clone(),
    };
    let source = data.clone();
    let writer = evloop::spawn(async move {
        sink.write_all(&source).await?;
        sink.close().await
    });

    // Read 1 MiB, then stop reading.
    let mut got = vec![0u8; FIRST];
    let mut filled = 0;
    while filled < FIRST {
        let n = within(OP_LIMIT, "a read", b.read(&mut got[filled..])).await;
        filled += n.unwrap();
    }
    // Careful: TCP may open its window a little later (receive-buffer autotuning, window
    // probes), so the writer can move again after a pause: wait for it to settle twice.
    until_still(&accepted).await;
    evloop::sleep(Duration::from_millis(50)).await;
    until_still(&accepted).await;
    assert!(!writer.is_done(), "{}: the writer finished", S::NAME);
    let held = accepted.get() - FIRST;

    // What the reader can take now, before the writer runs again, is at most what the
    // kernel took (exactly that for a Unix socket, whose bytes all sit at the receiver).
    drain_now(&b, &mut got);
    let drained = got.len() - FIRST;
    assert!(
        drained <= held,
        "{}: drained {drained} > held {held}",
        S::NAME
    );
    if S::NAME == "unix" {
        assert_eq!(drained, held, "unix: the drain missed bytes");
    }

    // The reader resumes: everything arrives, intact, and the writer finishes.
    got.extend(read_to_end(&b).await.unwrap());
    assert_eq!(got.len(), TOTAL, "{}", S::NAME);
    assert!(got == *data, "{}: the bytes arrived altered", S::NAME);
    within(OP_LIMIT, "the writer", writer)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(accepted.get(), TOTAL);
    held
}

#[test]
fn a_slow_tcp_reader_parks_a_large_writer_with_bounded_buffering() {
    deadline(BUDGET, || {
        let held = evloop::run(slow_reader::<TcpStream>()).unwrap();
        // The kernel's own ceiling: the largest send buffer plus the largest receive buffer.
        let max = |file: &str| -> usize {
            let text = std::fs::read_to_string(file).unwrap();
            text.split_whitespace().last().unwrap().parse().unwrap()
        };
        let ceiling = max("/proc/sys/net/ipv4/tcp_wmem") + max("/proc/sys/net/ipv4/tcp_rmem");
        eprintln!("tcp: the kernel held {held} bytes while the writer was parked");
        assert!(
            held > 0 && held <= ceiling.min(TOTAL / 2),
            "tcp held {held} bytes"
        );
    });
}

#[test]
fn a_slow_unix_reader_parks_a_large_writer_with_bounded_buffering() {
    deadline(BUDGET, || {
        let held = evloop::run(slow_reader::<UnixStream>()).unwrap();
        eprintln!("unix: the kernel held {held} bytes while the writer was parked");
        assert!(held > 0 && held <= 4 << 20, "unix held {held} bytes");
    });
}

/// Reads `n` one-byte chunks from `stream`, which holds `n` bytes from a single write.
async fn one_byte_at_a_time<S: Duplex>() {
    let (a, b) = S::pair().await;
    b.write_all(b"0123456789").await.unwrap();
    evloop::sleep(Duration::from_millis(5)).await;
    let mut got = Vec::new();
    for _ in 0..10 {
        let mut byte = [0u8; 1];
        let n = within(
            Duration::from_secs(1),
            "a read of data already there",
            a.read(&mut byte),
        )
        .await;
        assert_eq!(n.unwrap(), 1);
        got.push(byte[0]);
    }
    assert_eq!(got, b"0123456789", "{}", S::NAME);
    // The eleventh read finds nothing (WouldBlock) and waits for the next edge.
    let reader = evloop::spawn(async move {
        let mut buf = [0u8; 4];
        let n = within(OP_LIMIT, "the eleventh read", a.read(&mut buf)).await;
        buf[..n.unwrap()].to_vec()
    });
    settle().await;
    assert!(!reader.is_done());
    b.write_all(b"!").await.unwrap();
    assert_eq!(reader.await.unwrap(), b"!");
}

#[test]
fn data_left_after_a_read_that_filled_its_buffer_is_read_without_a_new_edge() {
    deadline(BUDGET, || {
        evloop::run(async {
            one_byte_at_a_time::<UnixStream>().await;
            one_byte_at_a_time::<TcpStream>().await;
        })
        .unwrap();
    });
}

/// Wraps a future: counts its polls and keeps the last waker it was polled with.
struct Spy<F> {
    /// The future.
    inner: Pin<Box<F>>,
    /// Polls so far.
    polls: Rc<Cell<usize>>,
    /// The waker of the last poll, for waking the task by hand.
    waker: WakerSlot,
}

impl<F: Future> Future for Spy<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.set(self.polls.get() + 1);
        *self.waker.borrow_mut() = Some(cx.waker().clone());
        self.inner.as_mut().poll(cx)
    }
}

/// Where a [`Spy`] keeps the waker of its last poll.
type WakerSlot = Rc<RefCell<Option<Waker>>>;

/// Spawns `future` under a [`Spy`]; returns the task, its poll count and its waker slot.
fn spawn_spied<F: Future + 'static>(
    future: F,
) -> (evloop::Task<F::Output>, Rc<Cell<usize>>, WakerSlot) {
    let polls = Rc::new(Cell::new(0));
    let waker: WakerSlot = Rc::new(RefCell::new(None));
    let task = evloop::spawn(Spy {
        inner: Box::pin(future),
        polls: polls.clone(),
        waker: waker.clone(),
    });
    (task, polls, waker)
}

/// Wakes the task behind `slot` `times` times, letting it run after each wake.
async fn wake_by_hand(slot: &RefCell<Option<Waker>>, times: usize) {
    for _ in 0..times {
        let waker = slot.borrow().clone().expect("the task was polled");
        waker.wake();
        evloop::yield_now().await; // the woken task runs before this one resumes
    }
}

#[test]
fn a_reader_woken_by_hand_waits_again_without_error_or_spinning() {
    deadline(BUDGET, || {
        evloop::run(async {
            let (a, b) = UnixStream::pair().unwrap();
            let (reader, polls, waker) = spawn_spied(async move {
                let mut buf = [0u8; 16];
                let n = a.read(&mut buf).await.unwrap();
                buf[..n].to_vec()
            });
            settle().await;
            assert_eq!(polls.get(), 1);
            wake_by_hand(&waker, 100).await;
            assert_eq!(polls.get(), 101, "each spurious wake is one poll");
            assert!(!reader.is_done(), "a spurious wake ended the read");
            // Idle: nothing polls the reader.
            evloop::sleep(Duration::from_millis(20)).await;
            assert_eq!(polls.get(), 101, "the reader spins");
            b.write_all(b"real").await.unwrap();
            let got = within(OP_LIMIT, "the reader", reader).await.unwrap();
            assert_eq!(got, b"real");
            assert_eq!(polls.get(), 102);
        })
        .unwrap();
    });
}

#[test]
fn stale_readiness_costs_one_would_block_and_hand_wakes_cost_no_syscall() {
    deadline(BUDGET, || {
        let lp = evloop::EventLoop::new().unwrap();
        let (a, b) = mio::net::UnixStream::pair().unwrap();
        let a = Rc::new(IoSource::new(&lp, a).unwrap());
        let calls = Rc::new(Cell::new(0));
        lp.run_until_complete(async {
            // An edge is seen, then the bytes are taken behind the reactor's back.
            (&b).write_all(b"x").unwrap();
            a.readable().await.unwrap();
            assert_eq!(a.get_ref().read(&mut [0u8; 4]).unwrap(), 1);

            let (reader, polls, waker) = spawn_spied({
                let (a, calls) = (a.clone(), calls.clone());
                async move {
                    let mut buf = [0u8; 4];
                    let n = a
                        .read_with(|mut socket| {
                            calls.set(calls.get() + 1);
                            socket.read(&mut buf)
                        })
                        .await
                        .unwrap();
                    buf[..n].to_vec()
                }
            });
            settle().await;
            assert_eq!(calls.get(), 1, "the stale edge should cost one WouldBlock");
            assert!(!reader.is_done());
            wake_by_hand(&waker, 50).await;
            assert_eq!(polls.get(), 51);
            assert_eq!(calls.get(), 1, "a spurious wake made a syscall");
            (&b).write_all(b"y").unwrap();
            let got = within(OP_LIMIT, "the reader", reader).await.unwrap();
            assert_eq!(got, b"y");
            assert_eq!(calls.get(), 2);
        })
        .unwrap();
        drop(a);
        lp.close().unwrap();
    });
}
