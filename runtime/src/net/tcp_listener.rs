//! [`TcpListener`]: a listening TCP socket on the reactor (asyncio's `start_server`,
//! tokio's `TcpListener`).
//!
//! `bind` makes the socket with `SO_REUSEADDR` (so a restarted server can bind while old
//! connections sit in `TIME_WAIT`) and a backlog of 1024 (std's 128 overflows when
//! thousands of clients connect at once, and overflowing costs each late client a one-second
//! SYN retry). For other options build the socket with [`TcpSocket`](super::TcpSocket).
//! Accepting, and the back-off when descriptors run out, live in `accept.rs`.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use super::accept::{self, AcceptBackoff};
use super::addr::{each_addr, ToSocketAddrs};
use super::tcp_socket::TcpSocket;
use super::tcp_stream::TcpStream;
use crate::event_loop::EventLoop;
use crate::reactor::IoSource;

/// The backlog `bind` asks for (the kernel caps it at `net.core.somaxconn`).
pub(crate) const DEFAULT_BACKLOG: u32 = 1024;

/// A TCP socket listening for connections, registered with the running loop.
///
/// # Examples
///
/// ```
/// use evloop::net::{TcpListener, TcpStream};
///
/// evloop::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let addr = listener.local_addr().unwrap();
///     let client = evloop::spawn(async move { TcpStream::connect(addr).await.unwrap() });
///     let (conn, peer) = listener.accept().await.unwrap();
///     let client = client.await.unwrap();
///     assert_eq!(peer, client.local_addr().unwrap());
///     assert_eq!(conn.peer_addr().unwrap(), client.local_addr().unwrap());
/// }).unwrap();
/// ```
pub struct TcpListener {
    /// The non-blocking listening socket and its reactor registration.
    pub(super) io: IoSource<mio::net::TcpListener>,
    /// The pause the next `accept` takes after the process ran out of descriptors.
    backoff: AcceptBackoff,
}

impl TcpListener {
    /// Binds to `addr` (port 0 picks a free port) and listens, with `SO_REUSEADDR` and a
    /// backlog of 1024. Each resolved address is tried in order.
    ///
    /// # Errors
    ///
    /// `AddrInUse` and other OS errors (the last address's); outside a running loop, an
    /// error wrapping [`LoopError::NoRunningLoop`](crate::LoopError).
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        super::running_loop()?;
        each_addr(addr, |addr| async move {
            let socket = TcpSocket::for_addr(addr)?;
            socket.set_reuseaddr(true)?;
            socket.bind(addr)?;
            socket.listen(DEFAULT_BACKLOG)
        })
        .await
    }

    /// Registers a listening std socket with the running loop (it is made non-blocking).
    ///
    /// # Errors
    ///
    /// The OS refusing the registration; outside a running loop, an error wrapping
    /// [`LoopError::NoRunningLoop`](crate::LoopError).
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        TcpListener::register(
            &super::running_loop()?,
            mio::net::TcpListener::from_std(listener),
        )
    }

    /// Wraps a mio listener.
    pub(crate) fn register(
        event_loop: &EventLoop,
        listener: mio::net::TcpListener,
    ) -> io::Result<TcpListener> {
        Ok(TcpListener {
            io: IoSource::new(event_loop, listener)?,
            backoff: AcceptBackoff::default(),
        })
    }

    /// Waits for a connection and accepts it; returns the stream and the peer's address.
    ///
    /// Cancel-safe: dropping the future loses no connection (it stays in the backlog).
    ///
    /// # Errors
    ///
    /// `EMFILE`/`ENFILE` (out of file descriptors) and `ENOBUFS`/`ENOMEM`: the listener
    /// reports the error and makes the next `accept` wait (10 ms, doubling to 1 s) instead
    /// of spinning; keep calling `accept` and it resumes once descriptors free up. A
    /// connection reset before it was accepted is skipped, not reported.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, peer) = accept::accept(&self.io, &self.backoff, |l| l.accept()).await?;
        Ok((TcpStream::register(self.io.event_loop(), stream)?, peer))
    }

    /// The address the listener is bound to (with the port the OS picked for port 0).
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Sets the IP time-to-live of accepted connections.
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// Deregisters the listener and returns the std socket (still non-blocking).
    ///
    /// # Errors
    ///
    /// The OS refusing the deregistration.
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        let listener = self.io.into_inner()?;
        Ok(std::net::TcpListener::from(std::os::fd::OwnedFd::from(
            listener,
        )))
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local", &self.local_addr().ok())
            .finish()
    }
}
