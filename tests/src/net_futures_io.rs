//! The runtime-neutral `futures-io` traits on evloop's streams (issue 5): `futures-util`'s
//! combinators, written for no runtime in particular, work on `TcpStream`, `UnixStream`,
//! `&TcpStream` and the owned halves.
//!
//! - `AsyncReadExt::read_to_end` reads everything a peer sent, up to its close.
//! - `AsyncWriteExt::write_all` + `close` (a half-close) deliver every byte, then EOF.
//! - `futures_util::io::copy` runs an echo server; 1 MiB goes through and back intact.
//! - `BufReader::lines` splits a Unix stream's bytes into lines, the last one unterminated.
//! - `AsyncReadExt::split` (futures' lock-based halves) on a `TcpStream`, one task each.
//! - `read_exact`, `write_vectored` and `flush` through the trait objects.

use std::io::IoSlice;
use std::time::Duration;

use evloop::net::{TcpStream, UnixStream};
use futures_util::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use futures_util::StreamExt;

use crate::net_util::{pattern, tcp_pair, within, OP_LIMIT};
use crate::util::{deadline, BUDGET};

#[test]
fn read_to_end_reads_everything_the_peer_sent_up_to_its_close() {
    deadline(BUDGET, || {
        evloop::run(async {
            let (mut client, server) = tcp_pair().await;
            let data = pattern(300_000, 1);
            let sent = data.clone();
            let sender = evloop::spawn(async move {
                server.write_all(&sent).await.unwrap();
                // Dropped here: a FIN after the bytes.
            });
            let mut got = Vec::new();
            let n = within(OP_LIMIT, "read_to_end", client.read_to_end(&mut got)).await;
            assert_eq!(n.unwrap(), data.len());
            assert!(got == data);
            sender.await.unwrap();
        })
        .unwrap();
    });
}

#[test]
fn write_all_and_close_deliver_every_byte_then_eof() {
    deadline(BUDGET, || {
        evloop::run(async {
            let (mut client, server) = tcp_pair().await;
            let data = pattern(2 << 20, 2);
            let sent = data.clone();
            let writer = evloop::spawn(async move {
                client.write_all(&sent).await.unwrap();
                client.flush().await.unwrap();
                client.close().await.unwrap(); // shutdown(Write): the peer reads EOF
                client
            });
            let mut got = Vec::new();
            within(OP_LIMIT, "read_to_end", (&server).read_to_end(&mut got))
                .await
                .unwrap();
            assert!(got == data);
            // The client only half-closed: it still reads.
            let client = writer.await.unwrap();
            server.write_all(b"still open").await.unwrap();
            let mut buf = [0u8; 10];
            client.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"still open");
        })
        .unwrap();
    });
}

#[test]
fn copy_runs_an_echo_server_and_a_mebibyte_comes_back_intact() {
    deadline(BUDGET, || {
        evloop::run(async {
            const LEN: usize = 1 << 20;
            let (client, server) = tcp_pair().await;
            let echo = evloop::spawn(async move {
                let (mut from, mut to) = server.into_split();
                let copied = futures_util::io::copy(&mut from, &mut to).await;
                to.close().await.unwrap();
                copied
            });
            let data = pattern(LEN, 3);
            let (mut from, mut to) = client.into_split();
            let write = async {
                to.write_all(&data).await.unwrap();
                to.close().await.unwrap();
            };
            let read = async {
                let mut got = Vec::new();
                from.read_to_end(&mut got).await.unwrap();
                got
            };
            let ((), got) = within(
                OP_LIMIT,
                "the echo",
                futures_util::future::join(write, read),
            )
            .await;
            assert!(got == data, "the echo arrived altered");
            assert_eq!(echo.await.unwrap().unwrap(), LEN as u64);
        })
        .unwrap();
    });
}

#[test]
fn buf_reader_lines_splits_a_unix_stream_into_lines() {
    deadline(BUDGET, || {
        evloop::run(async {
            let (a, b) = UnixStream::pair().unwrap();
            let writer = evloop::spawn(async move {
                // In pieces that do not follow line boundaries.
                for piece in [&b"al"[..], b"pha\nbe", b"ta\n\ngam", b"ma"] {
                    a.write_all(piece).await.unwrap();
                    evloop::sleep(Duration::from_millis(1)).await;
                }
            });
            let lines: Vec<String> = within(
                OP_LIMIT,
                "lines",
                BufReader::new(b).lines().map(Result::unwrap).collect(),
            )
            .await;
            assert_eq!(lines, ["alpha", "beta", "", "gamma"]);
            writer.await.unwrap();
        })
        .unwrap();
    });
}

#[test]
fn futures_split_halves_of_a_tcp_stream_serve_two_tasks() {
    deadline(BUDGET, || {
        evloop::run(async {
            let (client, server) = tcp_pair().await;
            let (mut read, mut write) = AsyncReadExt::split(client);
            let reader = evloop::spawn(async move {
                let mut buf = [0u8; 8];
                read.read_exact(&mut buf).await.unwrap();
                (buf, read)
            });
            let writer = evloop::spawn(async move {
                write.write_all(b"question").await.unwrap();
                write
            });
            let mut buf = [0u8; 8];
            within(OP_LIMIT, "read", server.read_exact(&mut buf))
                .await
                .unwrap();
            assert_eq!(&buf, b"question");
            server.write_all(b"answer!!").await.unwrap();
            let (got, read) = within(OP_LIMIT, "the reader", reader).await.unwrap();
            assert_eq!(&got, b"answer!!");
            let write = writer.await.unwrap();
            let stream: TcpStream = read.reunite(write).unwrap();
            assert_eq!(stream.peer_addr().unwrap(), server.local_addr().unwrap());
        })
        .unwrap();
    });
}

#[test]
fn vectored_writes_gather_every_slice_in_order() {
    deadline(BUDGET, || {
        evloop::run(async {
            let (a, mut b) = UnixStream::pair().unwrap();
            let slices = [
                IoSlice::new(b"one "),
                IoSlice::new(b""),
                IoSlice::new(b"two "),
                IoSlice::new(b"three"),
            ];
            let n = within(OP_LIMIT, "write_vectored", (&a).write_vectored(&slices)).await;
            assert_eq!(n.unwrap(), 13);
            drop(a);
            let mut got = String::new();
            b.read_to_string(&mut got).await.unwrap();
            assert_eq!(got, "one two three");
        })
        .unwrap();
    });
}
