//! [`UnixStream`]: a Unix-domain stream socket on the reactor (asyncio's
//! `open_unix_connection`, tokio's `UnixStream`). Reads and writes are the shared stream
//! operations of `stream.rs`, so a write to a closed peer is `EPIPE`, never `SIGPIPE`.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::Shutdown;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::task::{Context, Poll};

use super::split::{self, HalfClose, OwnedReadHalf, OwnedWriteHalf};
use super::stream::{self, stream_traits};
use crate::event_loop::EventLoop;
use crate::reactor::IoSource;

/// A Unix-domain stream connection registered with the running loop.
///
/// Like [`TcpStream`](super::TcpStream): async `read`/`write`, `futures-io` traits on the
/// stream and on `&UnixStream`, borrowed and owned halves.
///
/// # Examples
///
/// ```
/// use evloop::net::UnixStream;
///
/// evloop::run(async {
///     let (a, b) = UnixStream::pair().unwrap();
///     a.write_all(b"ping").await.unwrap();
///     a.shutdown(std::net::Shutdown::Write).unwrap();
///     let mut buf = Vec::new();
///     let mut chunk = [0u8; 8];
///     loop {
///         let n = b.read(&mut chunk).await.unwrap();
///         if n == 0 { break } // end of stream: the peer shut its write side
///         buf.extend_from_slice(&chunk[..n]);
///     }
///     assert_eq!(buf, b"ping");
/// }).unwrap();
/// ```
pub struct UnixStream {
    /// The non-blocking socket and its reactor registration.
    pub(crate) io: IoSource<mio::net::UnixStream>,
}

stream_traits!(UnixStream);

impl UnixStream {
    /// Connects to the socket at `path`.
    ///
    /// # Errors
    ///
    /// `NotFound` or `ConnectionRefused` when nothing listens there; outside a running
    /// loop, an error wrapping [`LoopError::NoRunningLoop`](crate::LoopError).
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let event_loop = super::running_loop()?;
        let stream = UnixStream::register(&event_loop, mio::net::UnixStream::connect(path)?)?;
        poll_fn(|cx| stream.io.poll_writable(cx)).await?;
        if let Some(error) = stream.io.get_ref().take_error()? {
            return Err(error);
        }
        Ok(stream)
    }

    /// Two connected streams (`socketpair(2)`), both registered with the running loop.
    ///
    /// # Errors
    ///
    /// The OS's error; outside a running loop, an error wrapping
    /// [`LoopError::NoRunningLoop`](crate::LoopError).
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let event_loop = super::running_loop()?;
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((
            UnixStream::register(&event_loop, a)?,
            UnixStream::register(&event_loop, b)?,
        ))
    }

    /// Registers a connected std stream with the running loop (it is made non-blocking).
    ///
    /// # Errors
    ///
    /// The OS refusing the registration; outside a running loop, an error wrapping
    /// [`LoopError::NoRunningLoop`](crate::LoopError).
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        UnixStream::register(
            &super::running_loop()?,
            mio::net::UnixStream::from_std(stream),
        )
    }

    /// Wraps a mio stream.
    pub(crate) fn register(
        event_loop: &EventLoop,
        stream: mio::net::UnixStream,
    ) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: IoSource::new(event_loop, stream)?,
        })
    }

    /// Reads some bytes into `buf`; `Ok(0)` is end of stream.
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| stream::poll_read(&self.io, cx, buf)).await
    }

    /// Reads exactly `buf.len()` bytes.
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` if the stream ends first; the OS's error.
    pub async fn read_exact(&self, buf: &mut [u8]) -> io::Result<()> {
        stream::read_exact(self, buf).await
    }

    /// Writes some bytes from `buf`, returning how many the kernel took.
    ///
    /// # Errors
    ///
    /// `BrokenPipe` when the peer is gone (never `SIGPIPE`).
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| stream::poll_write(&self.io, cx, buf)).await
    }

    /// Writes all of `buf`, waiting whenever the socket is full.
    ///
    /// # Errors
    ///
    /// As [`write`](UnixStream::write).
    pub async fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        stream::write_all(self, buf).await
    }

    /// Polls a read into `buf` (for hand-written futures and adapters).
    pub fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        stream::poll_read(&self.io, cx, buf)
    }

    /// Polls a write from `buf`.
    pub fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        stream::poll_write(&self.io, cx, buf)
    }

    /// Waits until a read would not block.
    ///
    /// # Errors
    ///
    /// The loop closed meanwhile.
    pub async fn readable(&self) -> io::Result<()> {
        self.io.readable().await
    }

    /// Waits until a write would not block.
    ///
    /// # Errors
    ///
    /// The loop closed meanwhile.
    pub async fn writable(&self) -> io::Result<()> {
        self.io.writable().await
    }

    /// Shuts down the read side, the write side or both; shutting the write side is a
    /// half-close (the peer reads EOF and can still send).
    ///
    /// # Errors
    ///
    /// `NotConnected` if the connection is already gone.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Takes the socket's pending error (`SO_ERROR`), if any.
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// Borrowed halves: both are `&UnixStream`, which is `AsyncRead + AsyncWrite`.
    pub fn split(&self) -> (&UnixStream, &UnixStream) {
        (self, self)
    }

    /// Owned halves; dropping the write half shuts the write side down.
    pub fn into_split(self) -> (OwnedReadHalf<UnixStream>, OwnedWriteHalf<UnixStream>) {
        split::split(self)
    }
}

impl split::sealed::Sealed for UnixStream {}

impl HalfClose for UnixStream {
    fn shutdown_write(&self) -> io::Result<()> {
        stream::close_write(self.io.get_ref())
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .finish()
    }
}
