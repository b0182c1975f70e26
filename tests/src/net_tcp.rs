//! TCP on the reactor (`evloop::net`, issue 5): listeners, connections, options, address
//! resolution, and sharing one stream between tasks.
//!
//! - Bind, connect and accept; both ends agree on the addresses; bytes flow both ways.
//! - Options round-trip: `TCP_NODELAY`, the TTL, `SO_LINGER`.
//! - `SO_REUSEADDR` (what `TcpListener::bind` sets) rebinds a port whose old connection sits
//!   in `TIME_WAIT`, where a socket without it gets `AddrInUse`; `SO_REUSEPORT` lets two
//!   listeners share a port, and the kernel spreads connections over both.
//! - `from_std` / `into_std` hand sockets over both ways, still working.
//! - `lookup_host("localhost:N")` does not resolve on the loop (its first poll is `Pending`:
//!   the lookup runs on the default executor), and `connect("localhost:N")` gets through.
//! - Every constructor outside a running loop fails with `NoRunningLoop` and leaves nothing
//!   behind (no socket file).
//! - Two tasks reading one stream both wait, each byte goes to one of them, nobody hangs;
//!   one task reads while another writes (borrowed `split`); owned halves: dropping the
//!   write half is EOF for the peer, and `reunite` takes back only its own pair.

use std::cell::RefCell;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use evloop::net::{
    lookup_host, TcpListener, TcpSocket, TcpStream, UdpSocket, UnixDatagram, UnixListener,
    UnixStream,
};
use evloop::LoopError;
use futures_util::{AsyncReadExt, AsyncWriteExt};

use crate::net_util::{pattern, poll_now, tcp_pair, within, TempDir, OP_LIMIT};
use crate::util::{deadline, settle, BUDGET};

#[test]
fn a_listener_accepts_a_connection_and_both_ends_agree_on_the_addresses() {
    deadline(BUDGET, || {
        evloop::run(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            assert_eq!(addr.ip(), Ipv4Addr::LOCALHOST);
            assert_ne!(addr.port(), 0, "port 0 picks a port");
            let client = within(OP_LIMIT, "connect", TcpStream::connect(addr)).await;
            let client = client.unwrap();
            let (server, peer) = within(OP_LIMIT, "accept", listener.accept()).await.unwrap();
            assert_eq!(peer, client.local_addr().unwrap());
            assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
            assert_eq!(server.local_addr().unwrap(), addr);
            assert_eq!(client.peer_addr().unwrap(), addr);

            client.write_all(b"hello").await.unwrap();
            let mut buf = [0u8; 5];
            server.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"hello");
            server.write_all(b"world").await.unwrap();
            client.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"world");
            // peek leaves the bytes for the next read.
            server.write_all(b"again").await.unwrap();
            let n = within(OP_LIMIT, "peek", client.peek(&mut buf))
                .await
                .unwrap();
            assert_eq!(&buf[..n], &b"again"[..n]);
            client.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"again");
            assert!(client.take_error().unwrap().is_none());
        })
        .unwrap();
    });
}

#[test]
fn socket_options_round_trip() {
    deadline(BUDGET, || {
        evloop::run(async {
            let (client, server) = tcp_pair().await;
            for on in [true, false, true] {
                client.set_nodelay(on).unwrap();
                assert_eq!(client.nodelay().unwrap(), on);
            }
            client.set_ttl(42).unwrap();
            assert_eq!(client.ttl().unwrap(), 42);
            assert_eq!(server.linger().unwrap(), None);
            server.set_linger(Some(Duration::from_secs(5))).unwrap();
            assert_eq!(server.linger().unwrap(), Some(Duration::from_secs(5)));
            server.set_linger(None).unwrap();
            assert_eq!(server.linger().unwrap(), None);

            // A listener's TTL is inherited by what it accepts; TcpSocket's NODELAY too.
            let socket = TcpSocket::new_v4().unwrap();
            socket.set_nodelay(true).unwrap();
            socket.set_send_buffer_size(64 * 1024).unwrap();
            socket.set_recv_buffer_size(64 * 1024).unwrap();
            socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let listener = socket.listen(16).unwrap();
            listener.set_ttl(7).unwrap();
            let client = TcpStream::connect(listener.local_addr().unwrap()).await;
            let (accepted, _) = listener.accept().await.unwrap();
            assert_eq!(accepted.ttl().unwrap(), 7);
            assert!(accepted.nodelay().unwrap());
            drop(client.unwrap());
        })
        .unwrap();
    });
}

#[test]
fn reuseaddr_rebinds_a_port_whose_connection_is_in_time_wait() {
    deadline(BUDGET, || {
        evloop::run(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let client = TcpStream::connect(addr).await.unwrap();
            let (server, _) = listener.accept().await.unwrap();
            // The server closes first, so its side of the connection ends in TIME_WAIT.
            drop(server);
            let mut buf = [0u8; 1];
            let n = within(OP_LIMIT, "read EOF", client.read(&mut buf)).await;
            assert_eq!(n.unwrap(), 0);
            drop(client);
            drop(listener);
            evloop::sleep(Duration::from_millis(10)).await;

            let plain = TcpSocket::new_v4().unwrap();
            plain.set_reuseaddr(false).unwrap();
            let error = plain.bind(addr).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::AddrInUse, "no TIME_WAIT?");
            let again = TcpListener::bind(addr).await.unwrap();
            assert_eq!(again.local_addr().unwrap(), addr);
            let client = TcpStream::connect(addr).await.unwrap();
            let (_, peer) = within(OP_LIMIT, "accept", again.accept()).await.unwrap();
            assert_eq!(peer, client.local_addr().unwrap());
        })
        .unwrap();
    });
}

/// Accepts connections forever, counting them.
async fn count_accepts(listener: TcpListener, count: Rc<RefCell<usize>>) {
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        *count.borrow_mut() += 1;
        drop(stream);
    }
}

#[test]
fn reuseport_lets_two_listeners_share_a_port_and_both_get_connections() {
    deadline(BUDGET, || {
        evloop::run(async {
            let listen = |addr: SocketAddr, reuse: bool| -> io::Result<TcpListener> {
                let socket = TcpSocket::new_v4()?;
                socket.set_reuseport(reuse)?;
                socket.bind(addr)?;
                socket.listen(64)
            };
            let first = listen("127.0.0.1:0".parse().unwrap(), true).unwrap();
            let addr = first.local_addr().unwrap();
            let error = listen(addr, false).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
            let second = listen(addr, true).unwrap();
            assert_eq!(second.local_addr().unwrap(), addr);

            let counts = [Rc::new(RefCell::new(0)), Rc::new(RefCell::new(0))];
            let acceptors = [
                evloop::spawn(count_accepts(first, counts[0].clone())),
                evloop::spawn(count_accepts(second, counts[1].clone())),
            ];
            // The kernel hashes each connection's addresses to a listener: with 32 of them,
            // one listener getting all has odds 2^-31.
            let mut clients = Vec::new();
            for _ in 0..32 {
                clients.push(TcpStream::connect(addr).await.unwrap());
            }
            within(OP_LIMIT, "32 accepts", async {
                while *counts[0].borrow() + *counts[1].borrow() < 32 {
                    evloop::sleep(Duration::from_millis(1)).await;
                }
            })
            .await;
            let (a, b) = (*counts[0].borrow(), *counts[1].borrow());
            assert_eq!(a + b, 32);
            assert!(a > 0 && b > 0, "one listener got everything: {a} / {b}");
            for acceptor in acceptors {
                acceptor.cancel();
            }
        })
        .unwrap();
    });
}

#[test]
fn from_std_and_into_std_hand_sockets_over_both_ways() {
    deadline(BUDGET, || {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let std_client = std::net::TcpStream::connect(addr).unwrap();
        let (std_listener, std_client) = evloop::run(async move {
            let listener = TcpListener::from_std(std_listener).unwrap();
            let client = TcpStream::from_std(std_client).unwrap();
            let (server, _) = within(OP_LIMIT, "accept", listener.accept()).await.unwrap();
            client.write_all(b"evloop").await.unwrap();
            let mut buf = [0u8; 6];
            server.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"evloop");
            server.write_all(b"back to std").await.unwrap();
            drop(server);
            (listener.into_std().unwrap(), client.into_std().unwrap())
        })
        .unwrap();
        // Still non-blocking after into_std: nothing to accept is WouldBlock, not a hang.
        let error = std_listener.accept().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
        std_client.set_nonblocking(false).unwrap();
        let mut got = String::new();
        io::Read::read_to_string(&mut &std_client, &mut got).unwrap();
        assert_eq!(got, "back to std");
    });
}

#[test]
fn lookup_host_resolves_a_name_off_the_loop_and_connect_gets_through() {
    deadline(BUDGET, || {
        evloop::run(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();

            // A literal needs no lookup: ready at the first poll.
            let mut literal = Box::pin(lookup_host(format!("127.0.0.1:{port}")));
            let Poll::Ready(addrs) = poll_now(&mut literal) else {
                panic!("a literal address waited");
            };
            assert_eq!(addrs.unwrap(), [SocketAddr::from(([127, 0, 0, 1], port))]);

            // A name is handed to a thread: the first poll cannot have the answer.
            let mut name = Box::pin(lookup_host(format!("localhost:{port}")));
            assert!(
                poll_now(&mut name).is_pending(),
                "getaddrinfo ran on the loop"
            );
            let addrs = within(OP_LIMIT, "lookup_host", name).await.unwrap();
            assert!(!addrs.is_empty());
            assert!(
                addrs
                    .iter()
                    .all(|a| a.ip().is_loopback() && a.port() == port),
                "{addrs:?}"
            );

            // connect tries each address in turn (localhost may be ::1 first: refused).
            let connect = TcpStream::connect(("localhost", port));
            let client = within(OP_LIMIT, "connect", connect).await.unwrap();
            let (_, peer) = within(OP_LIMIT, "accept", listener.accept()).await.unwrap();
            assert_eq!(peer, client.local_addr().unwrap());

            let error = lookup_host(Vec::<SocketAddr>::new().as_slice()).await;
            assert_eq!(error.unwrap_err().kind(), io::ErrorKind::InvalidInput);
        })
        .unwrap();
    });
}

/// Asserts `result` is the `NoRunningLoop` error, with the fix in its message.
fn no_running_loop<T>(what: &str, result: io::Result<T>) {
    let Err(error) = result else {
        panic!("{what} worked outside a running loop");
    };
    assert_eq!(error.kind(), io::ErrorKind::Other, "{what}");
    let inner = error.get_ref().and_then(|e| e.downcast_ref::<LoopError>());
    assert_eq!(inner, Some(&LoopError::NoRunningLoop), "{what}: {error}");
    assert!(error.to_string().contains("fix:"), "{what}: {error}");
}

/// Polls an async constructor once outside any loop; it must answer at once.
fn poll_outside<T>(what: &str, future: impl std::future::Future<Output = io::Result<T>>) {
    match poll_now(&mut Box::pin(future)) {
        Poll::Ready(result) => no_running_loop(what, result),
        Poll::Pending => panic!("{what} waited outside a running loop"),
    }
}

#[test]
fn constructors_outside_a_running_loop_fail_with_no_running_loop() {
    deadline(BUDGET, || {
        let dir = TempDir::new("outside");
        let path = dir.path().join("never.sock");
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        poll_outside("TcpListener::bind", TcpListener::bind("127.0.0.1:0"));
        poll_outside("TcpStream::connect", TcpStream::connect(addr));
        poll_outside(
            "TcpSocket::connect",
            TcpSocket::new_v4().unwrap().connect(addr),
        );
        poll_outside("UdpSocket::bind", UdpSocket::bind("127.0.0.1:0"));
        poll_outside("UnixStream::connect", UnixStream::connect(&path));
        no_running_loop("TcpSocket::listen", {
            let socket = TcpSocket::new_v4().unwrap();
            socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            socket.listen(8)
        });
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let std_addr = std_listener.local_addr().unwrap();
        let std_stream = std::net::TcpStream::connect(std_addr).unwrap();
        no_running_loop("TcpStream::from_std", TcpStream::from_std(std_stream));
        no_running_loop("TcpListener::from_std", TcpListener::from_std(std_listener));
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        no_running_loop("UdpSocket::from_std", UdpSocket::from_std(udp));
        no_running_loop("UnixStream::pair", UnixStream::pair());
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        no_running_loop("UnixStream::from_std", UnixStream::from_std(a));
        no_running_loop("UnixListener::bind", UnixListener::bind(&path));
        let std_unix = std::os::unix::net::UnixListener::bind(dir.path().join("std.sock"));
        no_running_loop(
            "UnixListener::from_std",
            UnixListener::from_std(std_unix.unwrap()),
        );
        no_running_loop("UnixDatagram::pair", UnixDatagram::pair());
        no_running_loop("UnixDatagram::bind", UnixDatagram::bind(&path));
        no_running_loop("UnixDatagram::unbound", UnixDatagram::unbound());
        assert!(!path.exists(), "a refused constructor left a socket file");
    });
}

#[test]
fn two_tasks_reading_one_stream_both_wait_and_each_byte_goes_to_one_of_them() {
    deadline(BUDGET, || {
        evloop::run(async {
            let (client, server) = tcp_pair().await;
            let server = Rc::new(server);
            let reader = |server: Rc<TcpStream>| async move {
                let mut buf = [0u8; 16];
                let n = within(OP_LIMIT, "a shared read", server.read(&mut buf)).await;
                buf[..n.unwrap()].to_vec()
            };
            let first = evloop::spawn(reader(server.clone()));
            let second = evloop::spawn(reader(server.clone()));
            settle().await;
            assert!(!first.is_done() && !second.is_done());

            client.write_all(b"a").await.unwrap();
            within(OP_LIMIT, "one reader done", async {
                while !first.is_done() && !second.is_done() {
                    evloop::sleep(Duration::from_millis(1)).await;
                }
            })
            .await;
            settle().await;
            assert!(
                first.is_done() != second.is_done(),
                "one byte, one reader done"
            );
            client.write_all(b"b").await.unwrap();
            let mut got = vec![first.await.unwrap(), second.await.unwrap()];
            got.sort();
            assert_eq!(got, [b"a".to_vec(), b"b".to_vec()]);
        })
        .unwrap();
    });
}

#[test]
fn one_task_reads_while_another_writes_on_a_split_stream() {
    deadline(BUDGET, || {
        evloop::run(async {
            const LEN: usize = 4 << 20;
            let (client, server) = tcp_pair().await;
            // An echo server: without a concurrent reader, the client's 4 MiB write would
            // stall on the echo it never reads.
            let echo = evloop::spawn(async move {
                // Careful: `server.split()` would be `AsyncReadExt::split` (by value, it wins
                // method lookup while the trait is in scope); the borrowed halves are wanted.
                let (mut from, mut to) = TcpStream::split(&server);
                futures_util::io::copy(&mut from, &mut to).await
            });
            let data = pattern(LEN, 5);
            let (mut reader, mut writer) = TcpStream::split(&client);
            let write = async {
                AsyncWriteExt::write_all(&mut writer, &data).await.unwrap();
                client.shutdown(std::net::Shutdown::Write).unwrap();
            };
            let read = async {
                let mut got = Vec::new();
                reader.read_to_end(&mut got).await.unwrap();
                got
            };
            let ((), got) = within(OP_LIMIT, "echo", futures_util::future::join(write, read)).await;
            assert!(got == data, "the echo arrived altered");
            assert_eq!(echo.await.unwrap().unwrap(), LEN as u64);
        })
        .unwrap();
    });
}

#[test]
fn dropping_the_owned_write_half_is_eof_for_the_peer() {
    deadline(BUDGET, || {
        evloop::run(async {
            let (client, server) = tcp_pair().await;
            let (mut read, write) = client.into_split();
            write.write_all(b"last").await.unwrap();
            drop(write);
            let mut got = Vec::new();
            let n = within(OP_LIMIT, "read to EOF", (&server).read_to_end(&mut got)).await;
            assert_eq!((n.unwrap(), &got[..]), (4, &b"last"[..]));
            // The read half still reads what the peer sends.
            server.write_all(b"reply").await.unwrap();
            drop(server);
            let mut got = Vec::new();
            within(OP_LIMIT, "read to EOF", read.read_to_end(&mut got))
                .await
                .unwrap();
            assert_eq!(got, b"reply");
        })
        .unwrap();
    });
}

#[test]
fn reunite_takes_back_its_own_pair_and_hands_back_a_mismatched_one() {
    deadline(BUDGET, || {
        evloop::run(async {
            let (one, one_peer) = tcp_pair().await;
            let (two, two_peer) = tcp_pair().await;
            let (one_read, one_write) = one.into_split();
            let (two_read, two_write) = two.into_split();
            let local = [
                one_read.as_ref().local_addr().unwrap(),
                two_read.as_ref().local_addr().unwrap(),
            ];

            let error = one_read.reunite(two_write).unwrap_err();
            assert!(error.to_string().contains("fix:"), "{error}");
            let evloop::net::ReuniteError(one_read, two_write) = error;
            assert_eq!(one_read.as_ref().local_addr().unwrap(), local[0]);
            assert_eq!(two_write.as_ref().local_addr().unwrap(), local[1]);

            let one = one_read.reunite(one_write).unwrap();
            let two = two_read.reunite(two_write).unwrap();
            // Reuniting shut nothing down: both streams still carry bytes both ways.
            for (stream, peer) in [(&one, &one_peer), (&two, &two_peer)] {
                stream.write_all(b"ok").await.unwrap();
                let mut buf = [0u8; 2];
                peer.read_exact(&mut buf).await.unwrap();
                peer.write_all(&buf).await.unwrap();
                stream.read_exact(&mut buf).await.unwrap();
                assert_eq!(&buf, b"ok");
            }
        })
        .unwrap();
    });
}

#[test]
fn a_socket_exposes_its_descriptor_and_into_std_keeps_it() {
    use std::os::fd::{AsFd, AsRawFd};
    deadline(BUDGET, || {
        evloop::run(async {
            let (client, server) = tcp_pair().await;
            let fd = client.as_raw_fd();
            assert_eq!(client.as_fd().as_raw_fd(), fd);
            assert_ne!(server.as_raw_fd(), fd);
            // The same descriptor comes out of into_std: nothing was duplicated.
            let std_stream = client.into_std().unwrap();
            assert_eq!(std_stream.as_raw_fd(), fd);
        })
        .unwrap();
    });
}
