//! What TCP and Unix byte streams share: reading and writing through the reactor, and the
//! runtime-neutral `futures-io` traits.
//!
//! The functions here are the whole data path of a stream socket. Two details matter:
//!
//! - Writes go through `send(2)` with `MSG_NOSIGNAL`, so writing to a peer that went away
//!   returns `EPIPE` (`BrokenPipe`) instead of raising `SIGPIPE`, which would kill a program
//!   that has not ignored it (plain `write(2)` on a socket raises it).
//! - A read that returned fewer bytes than asked for drained the socket, and a write that
//!   took fewer bytes than offered filled it: the readiness is forgotten at once, which saves
//!   the `WouldBlock` syscall edge-triggered readiness would otherwise need (tokio does the
//!   same). Only the readable/writable bit is dropped; a pending error or hang-up stays.
//!
//! The [`stream_traits!`] macro writes the same `AsyncRead`/`AsyncWrite` impls for a stream
//! type and a shared reference to it, so two tasks can read and write one stream at once.

use std::future::poll_fn;
use std::io::{self, IoSlice, Read};
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
use mio::event::Source;
use socket2::SockRef;

use crate::reactor::IoSource;

// ANCHOR: poll_read
/// Reads into `buf`, waiting for readability (the body of every stream's `poll_read`).
pub(crate) fn poll_read<S: Source>(
    io: &IoSource<S>,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>>
where
    for<'a> &'a S: Read,
{
    // Careful: a read into an empty buffer asks for nothing, so it answers `Ok(0)` at once
    // (as std's `Read` allows) instead of waiting for readiness it would not use.
    if buf.is_empty() {
        return Poll::Ready(Ok(0));
    }
    let result = ready!(io.poll_read_with(cx, |mut socket| socket.read(buf)));
    if let Ok(n) = result {
        if n > 0 && n < buf.len() {
            io.forget_readable();
        }
    }
    Poll::Ready(result)
}
// ANCHOR_END: poll_read

/// Writes from `buf`, waiting for writability (the body of every stream's `poll_write`).
pub(crate) fn poll_write<S: Source + AsFd>(
    io: &IoSource<S>,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>> {
    let result = ready!(io.poll_write_with(cx, |socket| {
        SockRef::from(socket).send_with_flags(buf, libc::MSG_NOSIGNAL)
    }));
    if let Ok(n) = result {
        if n < buf.len() {
            io.forget_writable();
        }
    }
    Poll::Ready(result)
}

/// Writes from several buffers in one `sendmsg(2)`, waiting for writability.
pub(crate) fn poll_write_vectored<S: Source + AsFd>(
    io: &IoSource<S>,
    cx: &mut Context<'_>,
    bufs: &[IoSlice<'_>],
) -> Poll<io::Result<usize>> {
    let offered: usize = bufs.iter().map(|buf| buf.len()).sum();
    let result = ready!(io.poll_write_with(cx, |socket| {
        SockRef::from(socket).send_vectored_with_flags(bufs, libc::MSG_NOSIGNAL)
    }));
    if let Ok(n) = result {
        if n < offered {
            io.forget_writable();
        }
    }
    Poll::Ready(result)
}

/// Reads exactly `buf.len()` bytes (the body of every `read_exact`: streams and read halves).
pub(crate) async fn read_exact<R: AsyncRead + Unpin>(
    mut reader: R,
    mut buf: &mut [u8],
) -> io::Result<()> {
    while !buf.is_empty() {
        match poll_fn(|cx| Pin::new(&mut reader).poll_read(cx, buf)).await? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => buf = &mut buf[n..],
        }
    }
    Ok(())
}

/// Writes all of `buf`, waiting whenever the socket is full (the body of every `write_all`:
/// streams and write halves).
pub(crate) async fn write_all<W: AsyncWrite + Unpin>(
    mut writer: W,
    mut buf: &[u8],
) -> io::Result<()> {
    while !buf.is_empty() {
        match poll_fn(|cx| Pin::new(&mut writer).poll_write(cx, buf)).await? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => buf = &buf[n..],
        }
    }
    Ok(())
}

/// Shuts the write half down (`poll_close`): the peer reads EOF after the bytes already sent.
/// A socket the peer already reset counts as closed.
pub(crate) fn close_write<S: AsFd>(socket: &S) -> io::Result<()> {
    match SockRef::from(socket).shutdown(Shutdown::Write) {
        Err(error) if error.kind() == io::ErrorKind::NotConnected => Ok(()),
        result => result,
    }
}

/// Writes `futures_io::AsyncRead` and `AsyncWrite` for a stream type and for a shared
/// reference to it, in terms of the functions above. The type must have a field `io:
/// IoSource<mio socket>`.
macro_rules! stream_traits {
    ($stream:ty) => {
        $crate::net::stream::stream_traits!(@impl $stream);
        $crate::net::stream::stream_traits!(@impl &$stream);
    };
    (@impl $ty:ty) => {
        impl futures_io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                $crate::net::stream::poll_read(&self.io, cx, buf)
            }
        }

        impl futures_io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                $crate::net::stream::poll_write(&self.io, cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                $crate::net::stream::poll_write_vectored(&self.io, cx, bufs)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                // Nothing is buffered here: every write went to the kernel.
                std::task::Poll::Ready(Ok(()))
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready($crate::net::stream::close_write(self.io.get_ref()))
            }
        }
    };
}

pub(crate) use stream_traits;
