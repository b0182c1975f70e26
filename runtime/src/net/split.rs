//! Owned halves of a stream: [`OwnedReadHalf`] and [`OwnedWriteHalf`] (tokio's
//! `into_split`), for handing the reading side and the writing side to two tasks.
//!
//! Both halves share the stream through an `Rc` (the loop is single-threaded, so no lock is
//! needed: the reactor already lets one task wait to read while another waits to write).
//! Borrowed halves need no type at all: `&TcpStream` is itself `AsyncRead + AsyncWrite`.
//! Dropping the write half shuts the write direction down, so the peer reads EOF, as tokio
//! does; [`OwnedReadHalf::reunite`] puts the two back together without shutting anything.
//! The halves have the stream's `read`/`write` methods; anything else (addresses, options)
//! is reached through `as_ref()`.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

/// A stream whose write direction can be shut down (TCP and Unix streams).
pub trait HalfClose: sealed::Sealed {
    /// Shuts the write direction down; the peer reads EOF.
    ///
    /// # Errors
    ///
    /// The OS refusing `shutdown(2)`.
    fn shutdown_write(&self) -> io::Result<()>;
}

pub(crate) mod sealed {
    /// Keeps [`HalfClose`](super::HalfClose) to our stream types.
    pub trait Sealed {}
}

/// The reading half of a stream split with `into_split`.
#[derive(Debug)]
pub struct OwnedReadHalf<T> {
    /// The stream, shared with the write half.
    stream: Rc<T>,
}

/// The writing half of a stream split with `into_split`; dropping it shuts the write
/// direction down.
#[derive(Debug)]
pub struct OwnedWriteHalf<T: HalfClose> {
    /// The stream, shared with the read half.
    stream: Rc<T>,
    /// Whether dropping this half shuts the write direction down (false once reunited).
    shutdown_on_drop: bool,
}

/// The two halves given to [`OwnedReadHalf::reunite`] came from different streams; they are
/// handed back.
pub struct ReuniteError<T: HalfClose>(pub OwnedReadHalf<T>, pub OwnedWriteHalf<T>);

impl<T: HalfClose> fmt::Debug for ReuniteError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReuniteError(..)")
    }
}

impl<T: HalfClose> fmt::Display for ReuniteError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the read half and the write half come from different streams; fix: reunite the \
             two halves returned by one into_split call",
        )
    }
}

impl<T: HalfClose> std::error::Error for ReuniteError<T> {}

/// Splits `stream` into owned halves.
pub(crate) fn split<T: HalfClose>(stream: T) -> (OwnedReadHalf<T>, OwnedWriteHalf<T>) {
    let stream = Rc::new(stream);
    (
        OwnedReadHalf {
            stream: stream.clone(),
        },
        OwnedWriteHalf {
            stream,
            shutdown_on_drop: true,
        },
    )
}

impl<T: HalfClose> OwnedReadHalf<T> {
    /// Puts the halves back together into the stream, without shutting anything down.
    ///
    /// # Errors
    ///
    /// [`ReuniteError`] (with both halves) if they come from different streams.
    pub fn reunite(self, mut write: OwnedWriteHalf<T>) -> Result<T, ReuniteError<T>> {
        if !Rc::ptr_eq(&self.stream, &write.stream) {
            return Err(ReuniteError(self, write));
        }
        write.shutdown_on_drop = false;
        drop(write);
        Ok(Rc::try_unwrap(self.stream)
            .unwrap_or_else(|_| unreachable!("only the two halves hold the stream")))
    }
}

impl<T> OwnedReadHalf<T>
where
    for<'a> &'a T: AsyncRead,
{
    /// Reads some bytes into `buf`; `Ok(0)` is end of stream.
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| Pin::new(&mut &*self.stream).poll_read(cx, buf)).await
    }

    /// Reads exactly `buf.len()` bytes.
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` if the stream ends first; the OS's error.
    pub async fn read_exact(&self, buf: &mut [u8]) -> io::Result<()> {
        super::stream::read_exact(&*self.stream, buf).await
    }
}

impl<T: HalfClose> OwnedWriteHalf<T>
where
    for<'a> &'a T: AsyncWrite,
{
    /// Writes some bytes from `buf`, returning how many the kernel took.
    ///
    /// # Errors
    ///
    /// `BrokenPipe` or `ConnectionReset` when the peer is gone.
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| Pin::new(&mut &*self.stream).poll_write(cx, buf)).await
    }

    /// Writes all of `buf`, waiting whenever the socket is full.
    ///
    /// # Errors
    ///
    /// As [`write`](OwnedWriteHalf::write).
    pub async fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        super::stream::write_all(&*self.stream, buf).await
    }
}

impl<T> AsRef<T> for OwnedReadHalf<T> {
    fn as_ref(&self) -> &T {
        &self.stream
    }
}

impl<T: HalfClose> AsRef<T> for OwnedWriteHalf<T> {
    fn as_ref(&self) -> &T {
        &self.stream
    }
}

impl<T> AsyncRead for OwnedReadHalf<T>
where
    for<'a> &'a T: AsyncRead,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.stream).poll_read(cx, buf)
    }
}

impl<T: HalfClose> AsyncWrite for OwnedWriteHalf<T>
where
    for<'a> &'a T: AsyncWrite,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.stream).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.stream).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.stream).poll_close(cx)
    }
}

impl<T: HalfClose> Drop for OwnedWriteHalf<T> {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            let _ = self.stream.shutdown_write();
        }
    }
}
