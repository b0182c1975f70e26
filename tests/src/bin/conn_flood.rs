//! The client side of `net_flood.rs`: many concurrent TCP connections from another process
//! (both ends of 10,000 connections in one process would pass a 20,000 descriptor limit).
//!
//! Usage: `conn-flood ADDR N`. It raises its soft `RLIMIT_NOFILE` to the hard limit, then
//! opens `N` connections to `ADDR` with plain blocking std sockets, in batches of 256: it
//! connects a batch, writes one byte on each connection of the batch and reads each echo,
//! then goes on to the next batch, keeping every connection open. It prints `connected N`
//! and `echoed M` (how many echoes came back right), then holds every connection until its
//! stdin closes, and exits (closing them all).
//!
//! Careful: the batches are what keeps the server's accept backlog (1024) from overflowing.
//! A client that connects faster than the server accepts fills the backlog; the kernel then
//! drops the next SYN, and that client's `connect` waits a full second for the retransmit.
//! Waiting for a batch's echoes means the server has accepted the whole batch.
//!
//! What it does not do: no timeouts of its own (the test's deadline kills it), no retries.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use rlimit::Resource;

/// Connections per batch: well under the server's backlog.
const BATCH: usize = 256;

fn main() {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args
        .next()
        .and_then(|arg| arg.parse().ok())
        .expect("usage: conn-flood ADDR N");
    let n: usize = args
        .next()
        .and_then(|arg| arg.parse().ok())
        .expect("usage: conn-flood ADDR N");
    let (_, hard) = rlimit::getrlimit(Resource::NOFILE).expect("getrlimit");
    rlimit::setrlimit(Resource::NOFILE, hard, hard).expect("setrlimit");

    let mut connections: Vec<TcpStream> = Vec::with_capacity(n);
    let mut echoed = 0;
    while connections.len() < n {
        let start = connections.len();
        let end = (start + BATCH).min(n);
        for i in start..end {
            let connection =
                TcpStream::connect(addr).unwrap_or_else(|e| panic!("connection {i}: {e}"));
            connections.push(connection);
        }
        for (i, mut connection) in connections[start..end].iter().enumerate() {
            connection.write_all(&[(start + i) as u8]).expect("write");
        }
        for (i, mut connection) in connections[start..end].iter().enumerate() {
            let mut byte = [0u8; 1];
            connection.read_exact(&mut byte).expect("read the echo");
            echoed += usize::from(byte[0] == (start + i) as u8);
        }
    }
    println!("connected {}", connections.len());
    println!("echoed {echoed}");

    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop(connections);
}
