//! TCP echo servers: read up to 4 KiB, write it all back, until the peer closes.
//!
//! The same loop on each runtime, with each runtime's own stream type and its plain
//! read / write-all calls:
//! - evloop: `evloop::net::TcpStream::read` and `write_all` (inherent async methods);
//! - tokio: `tokio::net::TcpStream` with `AsyncReadExt::read` / `AsyncWriteExt::write_all`;
//! - smol: `Async<std::net::TcpStream>` with futures-lite's `read` / `write_all`.
//!
//! A read or write error (the client resets connections when its run ends) ends the
//! connection quietly, like end of stream. The client (`netload echo`) checks every byte.

use crate::load::Server;
use crate::servers;

/// Bytes read at most per read call.
const BUF: usize = 4096;

/// evloop: echo on a `LoopThread`, with the inherent `read` / `write_all`.
pub fn evloop() -> Server {
    servers::evloop("evloop-echo", |stream| async move {
        let mut buf = [0u8; BUF];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if stream.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            }
        }
    })
}

/// tokio: echo on a current_thread runtime.
pub fn tokio() -> Server {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    servers::tokio("tokio-echo", |mut stream| async move {
        let mut buf = [0u8; BUF];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if stream.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            }
        }
    })
}

/// smol: echo on a `LocalExecutor`.
pub fn smol() -> Server {
    use smol::io::{AsyncReadExt, AsyncWriteExt};
    servers::smol("smol-echo", |mut stream| async move {
        let mut buf = [0u8; BUF];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if stream.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            }
        }
    })
}
