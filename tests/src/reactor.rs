//! The reactor, through `IoSource`, with real sockets (mio Unix socket pairs and TCP on
//! 127.0.0.1).
//!
//! - `read_with` / `write_with` move bytes both ways; a TCP listener accepts and the
//!   connection carries a request and a response.
//! - A reader parks until its peer writes, also when the write comes from another thread
//!   while the loop sleeps in the poller; a peer that goes away gives `Ok(0)` (EOF).
//! - 8 MiB pass through a socket pair between a writer task and a reader task, intact.
//! - Dropping an `IoSource` deregisters it and releases its descriptors; `into_inner`
//!   deregisters (the source can be registered again); a reused token starts clean.
//! - `IoSource::new` on a closed loop is an error.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::rc::Rc;
use std::task::Poll;
use std::thread;

use evloop::{EventLoop, IoSource, LoopError};
use mio::event::Source;
use mio::net::{TcpListener, TcpStream, UnixStream};

use crate::lifecycle::{fds_only, poll_once};
use crate::util::{deadline, exclusive, Resources, BUDGET, UNIT};

/// Writes all of `bytes`, waiting for writability whenever the socket is full.
async fn write_all<S: Source>(io: &IoSource<S>, mut bytes: &[u8])
where
    for<'a> &'a S: Write,
{
    while !bytes.is_empty() {
        let n = io.write_with(|mut s| s.write(bytes)).await.unwrap();
        assert!(n > 0, "write returned 0");
        bytes = &bytes[n..];
    }
}

/// Reads until `len` bytes arrived (panics on EOF before that).
async fn read_exactly<S: Source>(io: &IoSource<S>, len: usize) -> Vec<u8>
where
    for<'a> &'a S: Read,
{
    let mut out = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        let n = io
            .read_with(|mut s| s.read(&mut out[filled..]))
            .await
            .unwrap();
        assert!(n > 0, "EOF after {filled} of {len} bytes");
        filled += n;
    }
    out
}

/// Reads until EOF.
async fn read_to_end<S: Source>(io: &IoSource<S>) -> Vec<u8>
where
    for<'a> &'a S: Read,
{
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = io.read_with(|mut s| s.read(&mut buf)).await.unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// A registered Unix socket pair.
fn pair(lp: &EventLoop) -> (IoSource<UnixStream>, IoSource<UnixStream>) {
    let (a, b) = UnixStream::pair().unwrap();
    (IoSource::new(lp, a).unwrap(), IoSource::new(lp, b).unwrap())
}

/// `len` bytes of a pattern that does not repeat with any small period (xorshift).
fn pattern(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[test]
fn a_unix_socket_pair_carries_bytes_both_ways() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let (a, b) = pair(&lp);
        let (at_b, at_a) = lp
            .run_until_complete(async {
                write_all(&a, b"ping").await;
                let at_b = read_exactly(&b, 4).await;
                write_all(&b, b"pong!").await;
                let at_a = read_exactly(&a, 5).await;
                (at_b, at_a)
            })
            .unwrap();
        assert_eq!(at_b, b"ping");
        assert_eq!(at_a, b"pong!");
        drop((a, b));
        lp.close().unwrap();
    });
}

#[test]
fn a_tcp_connection_carries_a_request_and_a_response() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let listener = IoSource::new(&lp, listener).unwrap();
        let client = IoSource::new(&lp, TcpStream::connect(addr).unwrap()).unwrap();
        let (request, response) = lp
            .run_until_complete(async {
                let (server, peer) = listener.read_with(|l| l.accept()).await.unwrap();
                let server = IoSource::new(&evloop::get_running_loop().unwrap(), server).unwrap();
                client.writable().await.unwrap();
                assert!(client.get_ref().take_error().unwrap().is_none());
                assert_eq!(client.get_ref().peer_addr().unwrap(), addr);
                assert_eq!(client.get_ref().local_addr().unwrap(), peer);

                write_all(&client, b"GET /").await;
                let request = read_exactly(&server, 5).await;
                write_all(&server, b"200 OK").await;
                server.get_ref().shutdown(Shutdown::Write).unwrap();
                let response = read_to_end(&client).await;
                (request, response)
            })
            .unwrap();
        assert_eq!(request, b"GET /");
        assert_eq!(response, b"200 OK");
        drop((listener, client));
        lp.close().unwrap();
    });
}

#[test]
fn a_reader_parks_until_its_peer_writes() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let (a, b) = pair(&lp);
        let log = Rc::new(RefCell::new(Vec::new()));
        let log2 = log.clone();
        let reader = lp.spawn(async move {
            log2.borrow_mut().push("reader waits".to_owned());
            let got = read_exactly(&a, 5).await;
            log2.borrow_mut()
                .push(format!("reader got {}", String::from_utf8_lossy(&got)));
        });
        let log3 = log.clone();
        lp.run_until_complete(async move {
            for _ in 0..5 {
                evloop::yield_now().await;
            }
            assert!(!reader.is_done(), "the reader finished before any write");
            log3.borrow_mut().push("writer writes".to_owned());
            write_all(&b, b"hello").await;
            reader.await.unwrap();
        })
        .unwrap();
        assert_eq!(
            *log.borrow(),
            ["reader waits", "writer writes", "reader got hello"]
        );
        lp.close().unwrap();
    });
}

#[test]
fn the_loop_sleeps_in_the_poller_until_a_write_from_another_thread() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let (a, b) = UnixStream::pair().unwrap();
        let a = IoSource::new(&lp, a).unwrap();
        // Nothing else to do: the loop blocks in the poller with no timeout.
        let writer = thread::spawn(move || {
            thread::sleep(UNIT);
            (&b).write_all(b"from afar").unwrap();
            b
        });
        let got = lp.run_until_complete(read_exactly(&a, 9)).unwrap();
        assert_eq!(got, b"from afar");
        drop(writer.join().unwrap());
        drop(a);
        lp.close().unwrap();
    });
}

#[test]
fn a_peer_that_goes_away_gives_eof() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        // Dropped before the read.
        let (a, b) = pair(&lp);
        drop(b);
        let n = lp
            .run_until_complete(a.read_with(|mut s| s.read(&mut [0u8; 8])))
            .unwrap();
        assert_eq!(n.unwrap(), 0);

        // Dropped while the reader is parked: the reader wakes with EOF, after the data.
        let (a, b) = pair(&lp);
        let reader = lp.spawn(async move { read_to_end(&a).await });
        let got = lp
            .run_until_complete(async move {
                evloop::yield_now().await;
                write_all(&b, b"last words").await;
                evloop::yield_now().await;
                drop(b);
                reader.await.unwrap()
            })
            .unwrap();
        assert_eq!(got, b"last words");
        lp.close().unwrap();
    });
}

#[test]
fn eight_mebibytes_pass_intact_between_a_writer_and_a_reader_task() {
    deadline(BUDGET, || {
        const LEN: usize = 8 << 20;
        let lp = EventLoop::new().unwrap();
        let (a, b) = pair(&lp);
        let data = Rc::new(pattern(LEN));
        let data2 = data.clone();
        let writer = lp.spawn(async move {
            write_all(&a, &data2).await;
            a.get_ref().shutdown(Shutdown::Write).unwrap();
            a
        });
        let reader = lp.spawn(async move { read_to_end(&b).await });
        let got = lp
            .run_until_complete(async move {
                let got = reader.await.unwrap();
                drop(writer.await.unwrap());
                got
            })
            .unwrap();
        assert_eq!(got.len(), LEN);
        assert!(got == *data, "the bytes arrived altered");
        lp.close().unwrap();
    });
}

#[test]
fn into_inner_deregisters_the_source() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let (a, b) = pair(&lp);
        let a = a.into_inner().unwrap();
        // Registering an fd its poller still holds would fail (EEXIST).
        let a = IoSource::new(&lp, a).unwrap();
        let got = lp
            .run_until_complete(async {
                write_all(&b, b"again").await;
                read_exactly(&a, 5).await
            })
            .unwrap();
        assert_eq!(got, b"again");
        drop((a, b));
        lp.close().unwrap();
    });
}

#[test]
fn a_reused_token_starts_clean() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        // Leave readiness behind on a pair, then drop it: its tokens are reused next.
        let (a, b) = pair(&lp);
        lp.run_until_complete(write_all(&b, b"stale")).unwrap();
        lp.run_until_complete(a.readable()).unwrap().unwrap();
        drop((a, b));

        let (a, b) = pair(&lp);
        let reader = lp.spawn(async move {
            let mut buf = [0u8; 8];
            let n = a.read_with(|mut s| s.read(&mut buf)).await.unwrap();
            buf[..n].to_vec()
        });
        let got = lp
            .run_until_complete(async move {
                for _ in 0..3 {
                    evloop::yield_now().await;
                }
                assert!(
                    !reader.is_done(),
                    "the new source saw the old one's readiness"
                );
                write_all(&b, b"fresh").await;
                reader.await.unwrap()
            })
            .unwrap();
        assert_eq!(got, b"fresh");
        lp.close().unwrap();
    });
}

#[test]
fn dropping_io_sources_releases_their_descriptors() {
    exclusive(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let before = Resources::now();
        {
            let mut pairs: Vec<_> = (0..20).map(|_| pair(&lp)).collect();
            let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let addr = listener.local_addr().unwrap();
            let listener = IoSource::new(&lp, listener).unwrap();
            let client = IoSource::new(&lp, TcpStream::connect(addr).unwrap()).unwrap();
            let (a, b) = pairs.pop().unwrap();
            let server = lp
                .run_until_complete(async {
                    write_all(&a, b"x").await;
                    assert_eq!(read_exactly(&b, 1).await, b"x");
                    let (server, _) = listener.read_with(|l| l.accept()).await.unwrap();
                    client.writable().await.unwrap();
                    IoSource::new(&evloop::get_running_loop().unwrap(), server).unwrap()
                })
                .unwrap();
            let during = Resources::now();
            assert!(
                during.fds >= before.fds + 43,
                "before {before:?}, during {during:?}"
            );
            drop((pairs, a, b, listener, client, server));
        }
        fds_only(before).assert_back_to("dropped IoSources");
        // The loop still serves new sources afterwards.
        let (a, b) = pair(&lp);
        let got = lp
            .run_until_complete(async {
                write_all(&a, b"ok").await;
                read_exactly(&b, 2).await
            })
            .unwrap();
        assert_eq!(got, b"ok");
        drop((a, b));
        lp.close().unwrap();
        drop(lp);
    });
}

#[test]
fn io_source_new_on_a_closed_loop_is_an_error() {
    deadline(BUDGET, || {
        let lp = EventLoop::new().unwrap();
        let (early, _) = pair(&lp);
        lp.close().unwrap();
        let (a, _b) = UnixStream::pair().unwrap();
        let error = IoSource::new(&lp, a).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::Other);
        assert!(
            error.to_string().contains("Event loop is closed"),
            "{error}"
        );
        let inner = error.get_ref().and_then(|e| e.downcast_ref::<LoopError>());
        assert_eq!(inner, Some(&LoopError::Closed));

        // A source registered before the close reports the closed loop instead of waiting.
        match poll_once(early.readable()) {
            Poll::Ready(Err(error)) => {
                assert!(
                    error.to_string().contains("Event loop is closed"),
                    "{error}"
                )
            }
            other => panic!("readable() on a closed loop gave {other:?}"),
        }
    });
}
