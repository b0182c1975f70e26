//! hyper 1.x hello-world servers: HTTP/1.1 only, keep-alive, one service for all.
//!
//! Every contender serves each connection with the same `http1::Builder` (defaults:
//! keep-alive on, no timer) and the same [`hello`] service; only the I/O adapter between the
//! runtime's stream and `hyper::rt::{Read, Write}` differs:
//! - evloop: `evloop::hyper::HyperIo` around `evloop::net::TcpStream` (default: not
//!   vectored, so hyper flattens head and body into one `send`);
//! - tokio: hyper-util's `TokioIo` around `tokio::net::TcpStream` (vectored: one `writev`);
//! - smol: smol-hyper's `FuturesIo` around `Async<std::net::TcpStream>` (its futures-io
//!   traits; not vectored, so flattened like evloop's).
//!
//! A connection error (the client resets its connections when its run ends) ends the
//! connection quietly. The client (`netload http`) checks the status and the body.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};

use crate::load::Server;
use crate::servers;

/// The one service: `200 OK` with the body `Hello, world!` (hyper adds `Content-Length`).
async fn hello(_request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello, world!",
    ))))
}

/// The connection settings every contender uses.
fn builder() -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder.keep_alive(true);
    builder
}

/// evloop: hyper over `evloop::hyper::HyperIo` on a `LoopThread`, with the adapter's default
/// (hyper flattens each response into one buffer, one `send`). `.vectored(true)` (one
/// two-buffer `sendmsg`, what `TokioIo` gets) measured 3-5% more server CPU per request on
/// this 13-byte body.
pub fn evloop() -> Server {
    servers::evloop("evloop-hyper", |stream| async move {
        let io = evloop::hyper::HyperIo::new(stream);
        builder().serve_connection(io, service_fn(hello)).await.ok();
    })
}

/// tokio: hyper over `TokioIo` on a current_thread runtime.
pub fn tokio() -> Server {
    servers::tokio("tokio-hyper", |stream| async move {
        let io = hyper_util::rt::TokioIo::new(stream);
        builder().serve_connection(io, service_fn(hello)).await.ok();
    })
}

/// smol: hyper over smol-hyper's `FuturesIo` on a `LocalExecutor`.
pub fn smol() -> Server {
    servers::smol("smol-hyper", |stream| async move {
        let io = smol_hyper::rt::FuturesIo::new(stream);
        builder().serve_connection(io, service_fn(hello)).await.ok();
    })
}
