//! Tour stop 8: a socket read. An echo server: an `accept` loop that spawns one task per
//! connection, and a task that reads what arrives and writes it back until the client shuts
//! its side down (`read` returns `Ok(0)`: end of stream). asyncio's
//! `asyncio.start_server(handle_echo, host, port)` with `reader.read(n)` and
//! `writer.write(data); await writer.drain()`.
//!
//! By default it binds 127.0.0.1 on a free port, runs three clients in the same loop (each
//! writes its lines, shuts its write side down, reads until EOF), prints what each got back,
//! and exits. Watch the order: the server sees the three connections open before any closes
//! (the tasks overlap), and each connection ends when its client's EOF arrives.
//!
//! With `--serve ADDR` it serves until you stop it, for `nc` or example 18:
//!
//! ```text
//! cargo run -p evloop --example 17_echo_server -- --serve 127.0.0.1:7000
//! nc 127.0.0.1 7000                                                  # type lines, Ctrl-D
//! cargo run -p evloop --example 18_echo_client -- 127.0.0.1:7000
//! ```
//!
//! Run: `cargo run -p evloop --example 17_echo_server`

use std::io;
use std::net::Shutdown;

use evloop::net::{TcpListener, TcpStream};

// ANCHOR: echo
/// Echoes one connection until the client shuts its write side down; returns the byte count.
async fn echo(conn: TcpStream) -> io::Result<u64> {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    loop {
        // Waits (the task is parked, the loop runs others) until bytes or EOF arrive.
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            return Ok(total); // EOF: the client will send nothing more
        }
        // No buffering in between: if the client reads slowly, this waits for room.
        conn.write_all(&buf[..n]).await?;
        total += n as u64;
    }
}
// ANCHOR_END: echo

// ANCHOR: serve
/// Accepts connections forever, one task each.
async fn serve(listener: TcpListener) {
    loop {
        let (conn, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of descriptors (EMFILE): the listener makes the next accept wait first.
            Err(error) => {
                eprintln!("[server] accept failed: {error}");
                continue;
            }
        };
        println!("[server] {peer} connected");
        evloop::spawn(async move {
            match echo(conn).await {
                Ok(bytes) => println!("[server] {peer} closed after {bytes} bytes"),
                Err(error) => println!("[server] {peer} failed: {error}"),
            }
        });
    }
}
// ANCHOR_END: serve

// ANCHOR: client
/// A client: sends `lines`, shuts its write side down (a half-close), reads until EOF.
async fn client(addr: std::net::SocketAddr, lines: &[&str]) -> io::Result<String> {
    let conn = TcpStream::connect(addr).await?;
    for line in lines {
        conn.write_all(line.as_bytes()).await?;
        conn.write_all(b"\n").await?;
    }
    conn.shutdown(Shutdown::Write)?; // the server's read returns 0 once it has read it all
    let mut echoed = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match conn.read(&mut buf).await? {
            0 => break, // the server closed the connection after its EOF
            n => echoed.extend_from_slice(&buf[..n]),
        }
    }
    Ok(String::from_utf8_lossy(&echoed).into_owned())
}
// ANCHOR_END: client

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let serve_forever = match args.as_slice() {
        [] => None,
        [flag, addr] if flag == "--serve" => Some(addr.clone()),
        _ => {
            eprintln!("usage: 17_echo_server [--serve ADDR]");
            std::process::exit(2);
        }
    };
    evloop::run(async move {
        let addr = serve_forever.as_deref().unwrap_or("127.0.0.1:0");
        let listener = TcpListener::bind(addr).await.expect("bind");
        let addr = listener.local_addr().expect("local_addr");
        println!("[server] listening on {addr}");
        if serve_forever.is_some() {
            return serve(listener).await;
        }
        evloop::spawn(serve(listener)); // cancelled by evloop::run when main returns

        let scripts: [&[&str]; 3] = [
            &["hello", "from client 0"],
            &["client 1 here"],
            &["one", "two", "three"],
        ];
        let echoed = evloop::gather(scripts.map(|lines| client(addr, lines)))
            .await
            .expect("no client panics");
        for (i, got) in echoed.into_iter().enumerate() {
            println!("client {i} got back {:?}", got.expect("echo"));
        }
    })
    .expect("run");
}
