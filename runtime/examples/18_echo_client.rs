//! An echo client with a writing task and a reading task. `into_split` turns the connection
//! into an owned read half and an owned write half; one task writes a line every 20 ms, the
//! other prints each line as it comes back, so the replies arrive while the writer is still
//! writing. Dropping the write half shuts the write side down, which the server reads as EOF;
//! it then closes, and the reader sees its EOF and ends. asyncio's
//! `reader, writer = await asyncio.open_connection(host, port)`, with the reader and the
//! writer used from two tasks.
//!
//! Why two tasks: a single task that writes everything before reading works for a few lines,
//! but with a large payload the server's replies fill this client's receive buffer, the
//! server stops reading to wait for room, and both sides wait for each other forever.
//!
//! The reader goes through the runtime-neutral `futures_io::AsyncRead` trait, which every
//! evloop stream and read half implements, so the same line reader works on a `TcpStream`, a
//! `UnixStream` or a half, and `futures-util`'s combinators would too.
//!
//! By default it starts its own small echo server in the background. Give it an address to
//! talk to another server, e.g. `17_echo_server --serve 127.0.0.1:7000`:
//!
//! ```text
//! cargo run -p evloop --example 18_echo_client -- 127.0.0.1:7000
//! ```
//!
//! Run: `cargo run -p evloop --example 18_echo_client`

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::time::{Duration, Instant};

use evloop::net::{TcpListener, TcpStream};
use futures_io::AsyncRead;

/// Starts an echo server on a free port in the background; returns its address.
async fn background_echo_server() -> io::Result<std::net::SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    evloop::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            evloop::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = conn.read(&mut buf).await {
                    if conn.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    Ok(addr)
}

// ANCHOR: read_lines
/// Reads `reader` to EOF and calls `on_line` for each complete line, as the bytes come.
async fn read_lines<R: AsyncRead + Unpin>(
    mut reader: R,
    mut on_line: impl FnMut(&str),
) -> io::Result<()> {
    let mut pending = Vec::new(); // bytes of a line whose '\n' has not arrived yet
    let mut buf = [0u8; 1024];
    loop {
        let n = poll_fn(|cx| Pin::new(&mut reader).poll_read(cx, &mut buf)).await?;
        if n == 0 {
            return Ok(()); // EOF
        }
        pending.extend_from_slice(&buf[..n]);
        while let Some(end) = pending.iter().position(|&byte| byte == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            on_line(&String::from_utf8_lossy(&line[..end]));
        }
    }
}
// ANCHOR_END: read_lines

fn main() {
    let target = std::env::args().nth(1);
    evloop::run(async move {
        let addr = match target {
            Some(addr) => addr,
            None => background_echo_server().await.expect("server").to_string(),
        };
        // A host name ("localhost:7000") is resolved on a thread, not on the loop.
        let conn = TcpStream::connect(addr.as_str()).await.expect("connect");
        println!("connected to {}", conn.peer_addr().expect("peer"));
        let started = Instant::now();

        // ANCHOR: split
        let (reader, writer) = conn.into_split();
        let writing = evloop::spawn(async move {
            for i in 1..=5 {
                let line = format!("line {i}\n");
                writer.as_ref().write_all(line.as_bytes()).await?;
                println!(
                    "[{:>3} ms] sent     line {i}",
                    started.elapsed().as_millis()
                );
                evloop::sleep(Duration::from_millis(20)).await;
            }
            Ok::<_, io::Error>(())
        }); // `writer` drops at the end of the task: the server reads EOF
        let reading = evloop::spawn(read_lines(reader, move |line| {
            println!("[{:>3} ms] received {line}", started.elapsed().as_millis());
        }));
        writing.await.expect("writer task").expect("write");
        reading.await.expect("reader task").expect("read");
        // ANCHOR_END: split
        println!("the server closed the connection after our EOF");
    })
    .expect("run");
}
