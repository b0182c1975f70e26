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
//! The safe path is taken instead: read into a buffer on the stack ([`SCRATCH`] bytes, or
//! fewer if hyper asked for fewer), then `put_slice` what arrived into hyper's buffer. The
//! cost is one `memcpy` of the bytes read (plus zeroing the stack buffer), next to a read
//! syscall that already copies them once from the kernel; measured on loopback it is a few
//! percent on bulk transfers and nothing visible on small requests (numbers in the issue 5
//! report and the tests' module doc). `put_slice` never panics here: the read is capped at
//! `remaining()`.
//!
//! This file does not own the socket's readiness (the stream does) and never blocks.

use std::fmt;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use ::hyper::rt::{Read, ReadBufCursor, Write};
use futures_io::{AsyncRead, AsyncWrite};

/// The most bytes one `poll_read` moves: the size of the stack buffer it reads into. 16 KiB
/// lets hyper's adaptive read size grow past its initial 8 KiB without costing a syscall per
/// 8 KiB on bulk bodies.
const SCRATCH: usize = 16 * 1024;

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
        // Read into the stack, at most what hyper has room for, then copy into hyper's
        // buffer (the safe path: see the file header).
        let mut scratch = [0u8; SCRATCH];
        let want = buf.remaining().min(SCRATCH);
        match Pin::new(&mut self.inner).poll_read(cx, &mut scratch[..want]) {
            Poll::Ready(Ok(n)) => {
                buf.put_slice(&scratch[..n]);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => Poll::Pending,
        }
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
