//! [`TcpStream`]: a TCP connection on the reactor (asyncio's `open_connection` streams,
//! tokio's `TcpStream`).
//!
//! Connecting is non-blocking: `connect(2)` starts the handshake, the stream waits until it
//! is writable, then asks the socket whether the handshake failed (`SO_ERROR`) and whether it
//! has a peer. Reads and writes are the shared stream operations of `stream.rs`.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::task::{Context, Poll};
use std::time::Duration;

use socket2::SockRef;

use super::addr::{each_addr, ToSocketAddrs};
use super::split::{self, HalfClose, OwnedReadHalf, OwnedWriteHalf};
use super::stream::{self, stream_traits};
use crate::event_loop::EventLoop;
use crate::reactor::IoSource;

/// A TCP connection registered with the running loop.
///
/// Read and write with the async methods, or with any `futures-io` combinator: `TcpStream`
/// and `&TcpStream` implement `AsyncRead` and `AsyncWrite`, so one task can read while
/// another writes ([`split`](TcpStream::split)); [`into_split`](TcpStream::into_split) gives
/// owned halves for two `'static` tasks.
///
/// # Examples
///
/// ```
/// use evloop::net::{TcpListener, TcpStream};
///
/// let echoed = evloop::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let addr = listener.local_addr().unwrap();
///     let server = evloop::spawn(async move {
///         let (conn, _) = listener.accept().await.unwrap();
///         let mut buf = [0u8; 64];
///         let n = conn.read(&mut buf).await.unwrap();
///         conn.write_all(&buf[..n]).await.unwrap();
///     });
///     let client = TcpStream::connect(addr).await.unwrap();
///     client.write_all(b"ping").await.unwrap();
///     let mut buf = [0u8; 4];
///     client.read_exact(&mut buf).await.unwrap();
///     server.await.unwrap();
///     buf
/// }).unwrap();
/// assert_eq!(&echoed, b"ping");
/// ```
pub struct TcpStream {
    /// The non-blocking socket and its reactor registration.
    pub(crate) io: IoSource<mio::net::TcpStream>,
}

stream_traits!(TcpStream);

impl TcpStream {
    /// Opens a connection to `addr`, trying each resolved address in order.
    ///
    /// # Errors
    ///
    /// `ConnectionRefused` when nothing listens there; the last address's error when none
    /// worked; an error wrapping [`LoopError::NoRunningLoop`](crate::LoopError) outside a
    /// running loop.
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let event_loop = super::running_loop()?;
        each_addr(addr, |addr| {
            let event_loop = event_loop.clone();
            async move {
                let stream = TcpStream::register(&event_loop, mio::net::TcpStream::connect(addr)?)?;
                stream.connected().await?;
                Ok(stream)
            }
        })
        .await
    }

    /// Registers a connected std stream with the running loop (it is made non-blocking).
    ///
    /// # Errors
    ///
    /// The OS refusing the registration; outside a running loop, an error wrapping
    /// [`LoopError::NoRunningLoop`](crate::LoopError).
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::register(
            &super::running_loop()?,
            mio::net::TcpStream::from_std(stream),
        )
    }

    /// Wraps a mio stream.
    pub(crate) fn register(
        event_loop: &EventLoop,
        stream: mio::net::TcpStream,
    ) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: IoSource::new(event_loop, stream)?,
        })
    }

    /// Waits for a non-blocking `connect` to finish, and reports how it ended.
    pub(crate) async fn connected(&self) -> io::Result<()> {
        loop {
            poll_fn(|cx| self.io.poll_writable(cx)).await?;
            if let Some(error) = self.io.get_ref().take_error()? {
                return Err(error);
            }
            match self.io.get_ref().peer_addr() {
                Ok(_) => return Ok(()),
                // Careful: writable without a peer means "not yet"; wait for the next edge.
                Err(error) if error.kind() == io::ErrorKind::NotConnected => {
                    self.io.clear_writable();
                }
                Err(error) => return Err(error),
            }
        }
    }

    // ANCHOR: read
    /// Reads some bytes into `buf`; `Ok(0)` is end of stream (the peer shut its write side).
    ///
    /// # Errors
    ///
    /// The OS's error, e.g. `ConnectionReset`.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| stream::poll_read(&self.io, cx, buf)).await
    }
    // ANCHOR_END: read

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
    /// `BrokenPipe` or `ConnectionReset` when the peer is gone (never `SIGPIPE`).
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| stream::poll_write(&self.io, cx, buf)).await
    }

    /// Writes all of `buf`, waiting whenever the socket's send buffer is full.
    ///
    /// # Errors
    ///
    /// As [`write`](TcpStream::write).
    pub async fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        stream::write_all(self, buf).await
    }

    /// Receives bytes without taking them off the socket.
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.io.poll_read_with(cx, |socket| socket.peek(buf))).await
    }

    /// Polls a read into `buf` (for hand-written futures and adapters).
    pub fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        stream::poll_read(&self.io, cx, buf)
    }

    /// Polls a write from `buf`.
    pub fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        stream::poll_write(&self.io, cx, buf)
    }

    /// Waits until a read would not block (or the stream closed or failed).
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

    /// Shuts down the read side, the write side or both (`shutdown(2)`). Shutting the write
    /// side down is a half-close: the peer reads EOF and can still send.
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
    /// `NotConnected` if the connection is gone.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Turns Nagle's algorithm off (`TCP_NODELAY`): small writes go out at once. Servers of
    /// request/response protocols usually want this.
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is on.
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get_ref().nodelay()
    }

    /// Sets `SO_LINGER`. `Some(Duration::ZERO)` makes closing the stream send a reset (RST)
    /// instead of a graceful FIN.
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        SockRef::from(self.io.get_ref()).set_linger(linger)
    }

    /// The `SO_LINGER` setting.
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        SockRef::from(self.io.get_ref()).linger()
    }

    /// Sets the IP time-to-live.
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// The IP time-to-live.
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Takes the socket's pending error (`SO_ERROR`), if any.
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// Borrowed halves for one reader and one writer in the same scope: both are
    /// `&TcpStream`, which is `AsyncRead + AsyncWrite`.
    ///
    /// Careful: with `futures_util::AsyncReadExt` in scope, `stream.split()` resolves to that
    /// trait's `split(self)` (a by-value receiver wins method lookup), which consumes the
    /// stream and puts a lock around it. Write `TcpStream::split(&stream)`, or use
    /// [`into_split`](TcpStream::into_split).
    pub fn split(&self) -> (&TcpStream, &TcpStream) {
        (self, self)
    }

    /// Owned halves, for a reading task and a writing task. Dropping the write half shuts
    /// the write side down; [`OwnedReadHalf::reunite`] undoes the split.
    pub fn into_split(self) -> (OwnedReadHalf<TcpStream>, OwnedWriteHalf<TcpStream>) {
        split::split(self)
    }

    /// Deregisters the stream and returns the std stream (still non-blocking).
    ///
    /// # Errors
    ///
    /// The OS refusing the deregistration.
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        let stream = self.io.into_inner()?;
        Ok(std::net::TcpStream::from(std::os::fd::OwnedFd::from(
            stream,
        )))
    }
}

impl split::sealed::Sealed for TcpStream {}

impl HalfClose for TcpStream {
    fn shutdown_write(&self) -> io::Result<()> {
        stream::close_write(self.io.get_ref())
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .finish()
    }
}
