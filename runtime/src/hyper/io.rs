//! `HyperIo`: hyper's `rt::Read` / `rt::Write` over any `futures_io` stream.
//!
//! hyper 1.x has I/O traits of its own (so that a completion-based runtime could fit one day).
//! This file maps them onto `futures_io::AsyncRead` / `AsyncWrite`, the traits evloop's
//! sockets implement: `poll_write` and `poll_flush` pass through, `poll_shutdown` is
//! `poll_close`, and vectored writes pass through when the caller says the stream does real
//! gather writes ([`HyperIo::vectored`]).
//!
//! ## Reading without `unsafe`
//!
//! hyper hands `poll_read` a `ReadBufCursor` over possibly uninitialized memory; the direct
//! path (`as_mut` + `advance`) is `unsafe`, and the runtime is `#![forbid(unsafe_code)]`.
//! The safe path is taken instead: read into a scratch buffer (one per thread, at most
//! [`SCRATCH_MAX`] bytes, never more than hyper has room for), then `put_slice` what arrived
//! into hyper's buffer. `put_slice` cannot panic: the read is capped at `remaining()`. The
//! scratch buffer is zeroed once when it grows, not at every read, so the cost is exactly one
//! `memcpy` of the bytes received, next to the kernel's own copy in the read syscall.
//!
//! Measured (release build; one process, one loop: hyper's server sends 1 GiB bodies over
//! loopback to hyper's client, nine times, compared with the same adapter written with the
//! `unsafe` direct path): the copy adds about 0.04 s of user CPU per GiB received, about 9%
//! of the process's whole CPU cost, which the kernel's socket copies dominate (about 0.4 s of
//! system CPU per GiB). On small keep-alive requests (about 15 µs each) no difference shows.
//! A smaller cap costs more than the copy: with 64 KiB, hyper's reads take more syscalls
//! (about 20% more system CPU on bulk).
//!
//! This file does not own the socket's readiness (the stream does) and never blocks.

use std::cell::Cell;
use std::fmt;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use ::hyper::rt::{Read, ReadBufCursor, Write};
use futures_io::{AsyncRead, AsyncWrite};

/// The most bytes one `poll_read` moves (hyper's read buffer grows up to about 400 KiB on
/// bulk bodies; 256 KiB lets it use most of that per syscall).
const SCRATCH_MAX: usize = 256 * 1024;

thread_local! {
    /// The buffer `poll_read` reads into before copying into hyper's: one per thread (a
    /// loop runs on one thread), zeroed once when it grows, never shrunk. Taken out of the
    /// cell while in use, so no borrow is held while the stream's `poll_read` (user code)
    /// runs; a nested use finds it empty and grows its own, and the larger one is kept.
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// A `futures_io` stream seen through hyper's I/O traits (hyper-util's `TokioIo` for evloop).
///
/// Wrap an accepted [`TcpStream`](crate::net::TcpStream) (or a `UnixStream`, or anything
/// `AsyncRead + AsyncWrite + Unpin`) and hand it to hyper's `serve_connection` or
/// `handshake`. Shutting hyper's side down closes the stream's write half (`poll_close`).
///
/// # Examples
///
/// An HTTP/1.1 exchange over a Unix socket pair, hyper's client on one end and its server on
/// the other, both on one loop:
///
/// ```
/// use std::convert::Infallible;
///
/// use bytes::Bytes;
/// use http_body_util::{BodyExt, Empty, Full};
/// use hyper::{body::Incoming, service::service_fn, Request, Response};
/// use evloop::hyper::HyperIo;
///
/// let body = evloop::run(async {
///     let (client, server) = evloop::net::UnixStream::pair().unwrap();
///     evloop::spawn(async move {
///         let hello = service_fn(|_: Request<Incoming>| async {
///             Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("hi"))))
///         });
///         hyper::server::conn::http1::Builder::new()
///             .serve_connection(HyperIo::new(server), hello)
///             .await
///             .unwrap();
///     });
///     let (mut sender, connection) =
///         hyper::client::conn::http1::handshake(HyperIo::new(client)).await.unwrap();
///     evloop::spawn(connection);
///     let request = Request::get("/").body(Empty::<Bytes>::new()).unwrap();
///     let response = sender.send_request(request).await.unwrap();
///     response.into_body().collect().await.unwrap().to_bytes()
/// })
/// .unwrap();
/// assert_eq!(body, "hi");
/// ```
pub struct HyperIo<T> {
    /// The stream hyper reads and writes.
    inner: T,
    /// Whether hyper may hand over several buffers at once (see [`HyperIo::vectored`]).
    vectored: bool,
}

impl<T> HyperIo<T> {
    /// Wraps `inner`; hyper flattens each response into one buffer before writing it.
    pub fn new(inner: T) -> Self {
        HyperIo {
            inner,
            vectored: false,
        }
    }

    /// Tells hyper whether `inner`'s `poll_write_vectored` does real gather writes (`writev`),
    /// so that hyper can send a response's head and body without copying them together.
    ///
    /// `futures_io` cannot say whether a stream writes vectors for real; its default writes
    /// only the first buffer, and with that hyper would send a head and its body in two
    /// syscalls (two packets, which Nagle's algorithm may delay). So it is off unless you turn
    /// it on. evloop's `TcpStream` and `UnixStream` do real gather writes.
    ///
    /// # Examples
    ///
    /// ```
    /// use hyper::rt::Write;
    ///
    /// evloop::run(async {
    ///     let (a, _b) = evloop::net::UnixStream::pair().unwrap();
    ///     let io = evloop::hyper::HyperIo::new(a);
    ///     assert!(!io.is_write_vectored());
    ///     let io = io.vectored(true);
    ///     assert!(io.is_write_vectored());
    /// })
    /// .unwrap();
    /// ```
    pub fn vectored(mut self, on: bool) -> Self {
        self.vectored = on;
        self
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The wrapped stream, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the stream.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: AsyncRead + Unpin> Read for HyperIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // Read into the thread's scratch buffer, at most what hyper has room for, then copy
        // into hyper's buffer (the safe path: see the file header).
        let want = buf.remaining().min(SCRATCH_MAX);
        let mut scratch = SCRATCH.take();
        if scratch.len() < want {
            scratch.resize(want, 0);
        }
        let read = Pin::new(&mut self.inner).poll_read(cx, &mut scratch[..want]);
        if let Poll::Ready(Ok(n)) = read {
            buf.put_slice(&scratch[..n]);
        }
        SCRATCH.with(|cell| {
            let nested = cell.replace(Vec::new());
            cell.set(if nested.len() > scratch.len() {
                nested
            } else {
                scratch
            });
        });
        read.map_ok(|_| ())
    }
}

impl<T: AsyncWrite + Unpin> Write for HyperIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.vectored
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

impl<T: fmt::Debug> fmt::Debug for HyperIo<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperIo")
            .field("inner", &self.inner)
            .field("vectored", &self.vectored)
            .finish()
    }
}
