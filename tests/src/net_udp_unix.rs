//! Datagrams and Unix-domain sockets on the reactor (`evloop::net`, issue 5).
//!
//! - UDP: `send_to`/`recv_from` carry datagrams whole with their sender; `connect` +
//!   `send`/`recv` talk to one peer and filter out others; a connected socket that sent to a
//!   closed port gets `ConnectionRefused` on its next receive; a datagram larger than the
//!   buffer is truncated and its tail is gone; the broadcast flag and the TTL round-trip.
//! - Unix streams over a socket file in a temp directory: accept, both directions, the
//!   addresses name the path; `pair`.
//! - Unix datagrams: `pair`, `bind` + `send_to`/`recv_from` with the sender's path, an
//!   `unbound` sender whose address is unnamed, `connect` + `send`/`recv`.
//! - Socket files: each `bind` creates its file, dropping the socket keeps it (std and tokio
//!   do the same), and removing them leaves the directory empty.

use std::io;
use std::time::Duration;

use evloop::net::{UdpSocket, UnixDatagram, UnixListener, UnixStream};

use crate::net_util::{within, TempDir, OP_LIMIT};
use crate::util::{deadline, BUDGET};

#[test]
fn udp_send_to_and_recv_from_carry_whole_datagrams_with_their_sender() {
    deadline(BUDGET, || {
        evloop::run(async {
            let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
            assert_eq!(a.send_to(b"one", b_addr).await.unwrap(), 3);
            assert_eq!(a.send_to(b"two!", b_addr).await.unwrap(), 4);
            let mut buf = [0u8; 64];
            let mut peeked = [0u8; 64];
            let (n, from) = within(OP_LIMIT, "peek", b.peek_from(&mut peeked))
                .await
                .unwrap();
            assert_eq!((&peeked[..n], from), (&b"one"[..], a_addr));
            for expected in [&b"one"[..], b"two!"] {
                let (n, from) = within(OP_LIMIT, "recv_from", b.recv_from(&mut buf))
                    .await
                    .unwrap();
                assert_eq!((&buf[..n], from), (expected, a_addr));
            }
            // Nothing more: a receive waits.
            let idle = evloop::timeout(Duration::from_millis(20), b.recv_from(&mut buf)).await;
            assert!(idle.is_err(), "a datagram appeared from nowhere");
        })
        .unwrap();
    });
}

#[test]
fn a_connected_udp_socket_talks_to_its_peer_only() {
    deadline(BUDGET, || {
        evloop::run(async {
            let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            assert_eq!(
                a.peer_addr().unwrap_err().kind(),
                io::ErrorKind::NotConnected
            );
            let error = a.send(b"nowhere").await.unwrap_err();
            assert_eq!(error.raw_os_error(), Some(libc::EDESTADDRREQ), "{error:?}");
            a.connect(b.local_addr().unwrap()).await.unwrap();
            assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());

            a.send(b"ping").await.unwrap();
            let mut buf = [0u8; 16];
            let (n, from) = within(OP_LIMIT, "recv_from", b.recv_from(&mut buf))
                .await
                .unwrap();
            assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr().unwrap()));
            // The stranger's datagram is filtered out by the connected socket.
            stranger
                .send_to(b"noise", a.local_addr().unwrap())
                .await
                .unwrap();
            b.send_to(b"pong", a.local_addr().unwrap()).await.unwrap();
            let n = within(OP_LIMIT, "recv", a.recv(&mut buf)).await.unwrap();
            assert_eq!(&buf[..n], b"pong");
        })
        .unwrap();
    });
}

#[test]
fn a_connected_udp_socket_learns_its_peer_port_is_closed() {
    deadline(BUDGET, || {
        evloop::run(async {
            let closed = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let addr = closed.local_addr().unwrap();
            drop(closed);
            let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            a.connect(addr).await.unwrap();
            a.send(b"anyone?").await.unwrap();
            // The ICMP "port unreachable" comes back as an error on the next receive.
            let mut buf = [0u8; 16];
            let error = within(OP_LIMIT, "recv", a.recv(&mut buf))
                .await
                .unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
            // Reported once; the socket then waits as usual.
            let idle = evloop::timeout(Duration::from_millis(20), a.recv(&mut buf)).await;
            assert!(idle.is_err(), "the error was reported twice");
        })
        .unwrap();
    });
}

#[test]
fn a_datagram_larger_than_the_buffer_is_truncated_and_its_tail_is_gone() {
    deadline(BUDGET, || {
        evloop::run(async {
            let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let long: Vec<u8> = (0..100).collect();
            a.send_to(&long, b.local_addr().unwrap()).await.unwrap();
            a.send_to(b"next", b.local_addr().unwrap()).await.unwrap();
            let mut small = [0u8; 10];
            let (n, _) = within(OP_LIMIT, "recv_from", b.recv_from(&mut small))
                .await
                .unwrap();
            assert_eq!(&small[..n], &long[..10]);
            let mut buf = [0u8; 100];
            let (n, _) = within(OP_LIMIT, "recv_from", b.recv_from(&mut buf))
                .await
                .unwrap();
            assert_eq!(
                &buf[..n],
                b"next",
                "the truncated tail leaked into the next read"
            );
        })
        .unwrap();
    });
}

#[test]
fn udp_broadcast_and_ttl_round_trip() {
    deadline(BUDGET, || {
        evloop::run(async {
            let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            assert!(!socket.broadcast().unwrap());
            socket.set_broadcast(true).unwrap();
            assert!(socket.broadcast().unwrap());
            socket.set_broadcast(false).unwrap();
            assert!(!socket.broadcast().unwrap());
            socket.set_ttl(3).unwrap();
            assert_eq!(socket.ttl().unwrap(), 3);
            assert!(socket.take_error().unwrap().is_none());
            let std = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let addr = std.local_addr().unwrap();
            assert_eq!(
                UdpSocket::from_std(std).unwrap().local_addr().unwrap(),
                addr
            );
        })
        .unwrap();
    });
}

#[test]
fn unix_streams_connect_over_a_socket_file_and_by_pair() {
    deadline(BUDGET, || {
        let dir = TempDir::new("unix-stream");
        let path = dir.path().join("server.sock");
        let at = path.clone();
        evloop::run(async move {
            let listener = UnixListener::bind(&at).unwrap();
            assert_eq!(
                listener.local_addr().unwrap().as_pathname(),
                Some(at.as_path())
            );
            let error = UnixListener::bind(&at).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
            let client = within(OP_LIMIT, "connect", UnixStream::connect(&at))
                .await
                .unwrap();
            let (server, _) = within(OP_LIMIT, "accept", listener.accept()).await.unwrap();
            assert_eq!(
                client.peer_addr().unwrap().as_pathname(),
                Some(at.as_path())
            );
            assert!(server.peer_addr().unwrap().is_unnamed());
            client.write_all(b"to server").await.unwrap();
            let mut buf = [0u8; 9];
            server.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"to server");
            server.write_all(b"to client").await.unwrap();
            client.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"to client");

            let (a, b) = UnixStream::pair().unwrap();
            assert!(a.local_addr().unwrap().is_unnamed());
            a.write_all(b"paired").await.unwrap();
            let mut buf = [0u8; 6];
            b.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"paired");
            assert!(b.take_error().unwrap().is_none());
        })
        .unwrap();
        // The listener is gone, its file is not: removing it is the owner's job.
        assert_eq!(dir.entries(), ["server.sock"]);
        std::fs::remove_file(&path).unwrap();
        assert!(dir.entries().is_empty());
    });
}

#[test]
fn unix_datagrams_by_pair_by_path_and_from_an_unbound_socket() {
    deadline(BUDGET, || {
        let dir = TempDir::new("unix-dgram");
        let (a_path, b_path) = (dir.path().join("a.sock"), dir.path().join("b.sock"));
        let (at_a, at_b) = (a_path.clone(), b_path.clone());
        evloop::run(async move {
            let mut buf = [0u8; 32];
            let (p, q) = UnixDatagram::pair().unwrap();
            p.send(b"first").await.unwrap();
            p.send(b"second").await.unwrap();
            for expected in [&b"first"[..], b"second"] {
                let n = within(OP_LIMIT, "recv", q.recv(&mut buf)).await.unwrap();
                assert_eq!(&buf[..n], expected, "datagrams keep their boundaries");
            }

            let a = UnixDatagram::bind(&at_a).unwrap();
            let b = UnixDatagram::bind(&at_b).unwrap();
            assert_eq!(a.local_addr().unwrap().as_pathname(), Some(at_a.as_path()));
            a.send_to(b"from a", &at_b).await.unwrap();
            let (n, from) = within(OP_LIMIT, "recv_from", b.recv_from(&mut buf))
                .await
                .unwrap();
            assert_eq!(&buf[..n], b"from a");
            assert_eq!(from.as_pathname(), Some(at_a.as_path()));

            let anonymous = UnixDatagram::unbound().unwrap();
            anonymous.send_to(b"who?", &at_b).await.unwrap();
            let (n, from) = within(OP_LIMIT, "recv_from", b.recv_from(&mut buf))
                .await
                .unwrap();
            assert_eq!(&buf[..n], b"who?");
            assert!(from.is_unnamed(), "an unbound sender has no address");

            assert_eq!(
                b.peer_addr().unwrap_err().kind(),
                io::ErrorKind::NotConnected
            );
            let error = within(OP_LIMIT, "send", b.send(b"to nobody")).await;
            assert_eq!(error.unwrap_err().kind(), io::ErrorKind::NotConnected);
            b.connect(&at_a).unwrap();
            assert_eq!(b.peer_addr().unwrap().as_pathname(), Some(at_a.as_path()));
            b.send(b"reply").await.unwrap();
            let n = within(OP_LIMIT, "recv", a.recv(&mut buf)).await.unwrap();
            assert_eq!(&buf[..n], b"reply");
            assert!(a.take_error().unwrap().is_none());
        })
        .unwrap();
        assert_eq!(dir.entries(), ["a.sock", "b.sock"]);
        for path in [&a_path, &b_path] {
            std::fs::remove_file(path).unwrap();
        }
        assert!(dir.entries().is_empty());
    });
}
