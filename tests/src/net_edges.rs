//! The edges of a stream connection (`evloop::net`, issue 5): how it ends and how it fails.
//!
//! - A peer that resets the connection (linger 0, then close) while a writer is parked on a
//!   full socket: the writer wakes with `ConnectionReset` or `BrokenPipe`, promptly.
//! - Half-close, both ways, TCP and Unix: after `shutdown(Write)` the peer reads exactly the
//!   bytes sent, then `Ok(0)` on every later read, and can still send back.
//! - End of stream: a read after the peer closed is `Ok(0)`, also for a reader parked before
//!   the close; a read into an empty buffer is `Ok(0)` at once, without waiting.
//! - Connecting where nobody listens is `ConnectionRefused` (TCP, and Unix for a stale
//!   socket file).
//! - A write to a closed peer is `EPIPE` (`BrokenPipe`) and never raises `SIGPIPE` (writes go
//!   through `send(2)` with `MSG_NOSIGNAL`); a control write through std's `write(2)` shows
//!   the signal handler does see a `SIGPIPE` when one is raised. These tests run `exclusive`:
//!   the handler is process-wide, and another test's broken pipe must not flip the flag.

use std::io::{self, Write};
use std::net::Shutdown;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use evloop::net::{TcpSocket, TcpStream, UnixListener, UnixStream};
use signal_hook::consts::SIGPIPE;

use crate::net_util::{
    pattern, poll_now, read_to_end, tcp_pair, within, Duplex, TempDir, OP_LIMIT,
};
use crate::util::{deadline, exclusive, Resources, BUDGET};

/// Whether `error` is what a write to a vanished peer may report.
fn peer_gone(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
    )
}

#[test]
fn a_writer_parked_on_a_full_socket_wakes_with_an_error_when_the_peer_resets() {
    deadline(BUDGET, || {
        evloop::run(async {
            let (writer, peer) = tcp_pair().await;
            let writer = Rc::new(writer);
            let data = pattern(64 << 20, 3);
            let task = evloop::spawn({
                let writer = writer.clone();
                async move { writer.write_all(&data).await }
            });
            // 64 MiB cannot fit in the socket buffers of a peer that does not read.
            evloop::sleep(Duration::from_millis(50)).await;
            assert!(
                !task.is_done(),
                "64 MiB went out to a peer that never reads"
            );

            peer.set_linger(Some(Duration::ZERO)).unwrap();
            let reset_at = Instant::now();
            drop(peer); // linger 0: the close sends a reset (RST), not a FIN
            let outcome = within(OP_LIMIT, "the parked writer", task).await.unwrap();
            let error = outcome.expect_err("write_all succeeded after the peer reset");
            assert!(peer_gone(&error), "unexpected error {error:?}");
            assert!(
                reset_at.elapsed() < Duration::from_secs(1),
                "the writer woke {:?} after the reset",
                reset_at.elapsed()
            );
            // Later writes fail at once too (the reset was consumed: a broken pipe now).
            let again = within(OP_LIMIT, "a write after the reset", writer.write(b"x")).await;
            assert_eq!(again.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
        })
        .unwrap();
    });
}

/// `first` half-closes, `second` reads to EOF (repeatedly) and answers, then half-closes too.
async fn half_close_then_answer<S: Duplex>(first: &S, second: &S) {
    let what = S::NAME;
    first.write_all(b"request").await.unwrap();
    first.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(second).await.unwrap(), b"request", "{what}");
    let mut buf = [0u8; 16];
    for _ in 0..3 {
        let n = within(OP_LIMIT, "a read at EOF", second.read(&mut buf)).await;
        assert_eq!(n.unwrap(), 0, "{what}: EOF is not sticky");
    }
    // The other direction is still open.
    second.write_all(b"response").await.unwrap();
    second.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(first).await.unwrap(), b"response", "{what}");
    let n = within(OP_LIMIT, "a read at EOF", first.read(&mut buf)).await;
    assert_eq!(n.unwrap(), 0, "{what}");
    // The side that shut its write half down cannot write any more.
    let late = within(OP_LIMIT, "a write after shutdown", first.write(b"late")).await;
    assert_eq!(
        late.unwrap_err().kind(),
        io::ErrorKind::BrokenPipe,
        "{what}"
    );
}

/// Runs the half-close both ways on two fresh pairs of `S`.
async fn half_close_both_ways<S: Duplex>() {
    let (a, b) = S::pair().await;
    half_close_then_answer(&a, &b).await;
    let (a, b) = S::pair().await;
    half_close_then_answer(&b, &a).await;
}

#[test]
fn a_half_closed_tcp_stream_delivers_its_bytes_then_eof_and_still_carries_the_answer() {
    deadline(BUDGET, || {
        evloop::run(half_close_both_ways::<TcpStream>()).unwrap();
    });
}

#[test]
fn a_half_closed_unix_stream_delivers_its_bytes_then_eof_and_still_carries_the_answer() {
    deadline(BUDGET, || {
        evloop::run(half_close_both_ways::<UnixStream>()).unwrap();
    });
}

/// EOF after a close, for a reader that comes late and one parked before the close; and an
/// empty buffer reads zero bytes at once.
async fn eof_cases<S: Duplex>() {
    let what = S::NAME;
    // An empty buffer: Ok(0) on the first poll, with no data and the peer still open.
    let (a, b) = S::pair().await;
    let mut read = Box::pin(a.read(&mut []));
    assert!(
        matches!(poll_now(&mut read), Poll::Ready(Ok(0))),
        "{what}: a read into an empty buffer waited"
    );
    drop(read);

    // The peer closes before the read.
    b.write_all(b"tail").await.unwrap();
    drop(b);
    assert_eq!(read_to_end(&a).await.unwrap(), b"tail", "{what}");
    let n = within(OP_LIMIT, "a read at EOF", a.read(&mut [0u8; 4])).await;
    assert_eq!(n.unwrap(), 0, "{what}");

    // The peer closes while the reader is parked.
    let (a, b) = S::pair().await;
    let reader = evloop::spawn(async move {
        let mut buf = [0u8; 8];
        within(OP_LIMIT, "a parked read", a.read(&mut buf)).await
    });
    evloop::sleep(Duration::from_millis(10)).await;
    assert!(!reader.is_done(), "{what}: the read did not wait");
    drop(b);
    let n = within(OP_LIMIT, "the parked reader", reader).await.unwrap();
    assert_eq!(n.unwrap(), 0, "{what}: the parked reader did not see EOF");
}

#[test]
fn a_read_after_the_peer_closed_is_eof_and_an_empty_buffer_reads_zero_at_once() {
    deadline(BUDGET, || {
        evloop::run(async {
            eof_cases::<TcpStream>().await;
            eof_cases::<UnixStream>().await;
        })
        .unwrap();
    });
}

#[test]
fn connecting_where_nobody_listens_is_refused() {
    deadline(BUDGET, || {
        // A port that was just free (the listener is gone), and a socket file whose listener
        // is gone.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let dir = TempDir::new("refused");
        let path = dir.path().join("gone.sock");
        evloop::run(async move {
            let error = within(OP_LIMIT, "connect", TcpStream::connect(port)).await;
            assert_eq!(error.unwrap_err().kind(), io::ErrorKind::ConnectionRefused);
            let socket = TcpSocket::new_v4().unwrap();
            let error = within(OP_LIMIT, "connect", socket.connect(port)).await;
            assert_eq!(error.unwrap_err().kind(), io::ErrorKind::ConnectionRefused);

            drop(UnixListener::bind(&path).unwrap());
            assert!(path.exists(), "dropping a listener keeps its socket file");
            let error = within(OP_LIMIT, "connect", UnixStream::connect(&path)).await;
            assert_eq!(error.unwrap_err().kind(), io::ErrorKind::ConnectionRefused);
            std::fs::remove_file(&path).unwrap();
            let error = within(OP_LIMIT, "connect", UnixStream::connect(&path)).await;
            assert_eq!(error.unwrap_err().kind(), io::ErrorKind::NotFound);
        })
        .unwrap();
        assert!(dir.entries().is_empty());
    });
}

/// Writes to `a`, whose peer is gone, until the kernel reports a broken pipe; returns the
/// error kinds seen on the way. The first writes may still be taken (a TCP peer answers them
/// with a reset, which the next write reports as `ConnectionReset`).
async fn write_until_broken_pipe<S: Duplex>(a: &S) -> Vec<io::ErrorKind> {
    let mut kinds = Vec::new();
    for _ in 0..100 {
        match within(OP_LIMIT, "a write to a closed peer", a.write(b"x")).await {
            Ok(_) => evloop::sleep(Duration::from_millis(1)).await,
            Err(error) => {
                assert!(peer_gone(&error), "{}: unexpected {error:?}", S::NAME);
                kinds.push(error.kind());
                if error.kind() == io::ErrorKind::BrokenPipe {
                    return kinds;
                }
            }
        }
    }
    panic!("{}: no broken pipe after 100 writes: {kinds:?}", S::NAME);
}

/// Registers a `SIGPIPE` flag, runs `body` (which writes to closed peers through evloop),
/// asserts the flag stayed down, then shows a plain `write(2)` raises it.
fn without_sigpipe(body: impl FnOnce() + Send + 'static) {
    exclusive(BUDGET, move || {
        let before = Resources::now();
        let raised = Arc::new(AtomicBool::new(false));
        let id = signal_hook::flag::register(SIGPIPE, raised.clone()).unwrap();
        body();
        let evloop_raised = raised.load(Ordering::SeqCst);

        // Control: a `File`'s write is plain write(2), which raises SIGPIPE on a socket whose
        // peer is gone (the handler records it; the write still fails with EPIPE). Careful:
        // not std's `UnixStream::write`, which newer std sends with MSG_NOSIGNAL too.
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        drop(b);
        let a = std::fs::File::from(std::os::fd::OwnedFd::from(a));
        let error = (&a).write(b"x").unwrap_err();
        let control_raised = raised.load(Ordering::SeqCst);
        signal_hook::low_level::unregister(id);

        assert!(!evloop_raised, "an evloop write raised SIGPIPE");
        assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
        assert!(control_raised, "the control write(2) raised no SIGPIPE");
        drop((a, error));
        before.assert_back_to("sockets written to after their peer closed");
    });
}

#[test]
fn tcp_writes_to_a_closed_peer_fail_with_broken_pipe_and_raise_no_sigpipe() {
    without_sigpipe(|| {
        let kinds = evloop::run(async {
            let (a, b) = tcp_pair().await;
            drop(b);
            write_until_broken_pipe(&a).await
        })
        .unwrap();
        assert_eq!(kinds.last(), Some(&io::ErrorKind::BrokenPipe));
    });
}

#[test]
fn unix_writes_to_a_closed_peer_fail_with_broken_pipe_and_raise_no_sigpipe() {
    without_sigpipe(|| {
        let kinds = evloop::run(async {
            let (a, b) = UnixStream::pair().unwrap();
            drop(b);
            let mut kinds = write_until_broken_pipe(&a).await;
            // Owned halves write through the same path.
            let (a, b) = UnixStream::pair().unwrap();
            drop(b);
            let (_read, mut write) = a.into_split();
            let error = futures_util::AsyncWriteExt::write(&mut write, b"x").await;
            kinds.push(error.unwrap_err().kind());
            kinds
        })
        .unwrap();
        assert_eq!(
            kinds,
            [io::ErrorKind::BrokenPipe, io::ErrorKind::BrokenPipe],
            "a Unix peer that is gone is a broken pipe at the first write"
        );
    });
}
