//! [`UnixDatagram`]: Unix-domain datagram sockets on the reactor (tokio's
//! `UnixDatagram`). Like UDP, each datagram is sent or received whole; unlike UDP, delivery
//! is reliable and ordered, and a full receiver makes the sender wait.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::unix::net::SocketAddr;
use std::path::Path;

use crate::event_loop::EventLoop;
use crate::reactor::IoSource;

/// A Unix-domain datagram socket registered with the running loop.
///
/// # Examples
///
/// ```
/// use evloop::net::UnixDatagram;
///
/// evloop::run(async {
///     let (a, b) = UnixDatagram::pair().unwrap();
///     a.send(b"one").await.unwrap();
///     a.send(b"two").await.unwrap();
///     let mut buf = [0u8; 8];
///     let n = b.recv(&mut buf).await.unwrap();
///     assert_eq!(&buf[..n], b"one"); // datagrams keep their boundaries
///     let n = b.recv(&mut buf).await.unwrap();
///     assert_eq!(&buf[..n], b"two");
/// }).unwrap();
/// ```
pub struct UnixDatagram {
    /// The non-blocking socket and its reactor registration.
    pub(super) io: IoSource<mio::net::UnixDatagram>,
}

impl UnixDatagram {
    /// Creates the socket file at `path` and binds to it.
    ///
    /// # Errors
    ///
    /// `AddrInUse` if the file exists; outside a running loop, an error wrapping
    /// [`LoopError::NoRunningLoop`](crate::LoopError).
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        UnixDatagram::register(&super::running_loop()?, mio::net::UnixDatagram::bind(path)?)
    }

    /// A socket bound to no path (it can send, and receive replies only once connected).
    ///
    /// # Errors
    ///
    /// The OS's error; outside a running loop, an error wrapping
    /// [`LoopError::NoRunningLoop`](crate::LoopError).
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::register(&super::running_loop()?, mio::net::UnixDatagram::unbound()?)
    }

    /// Two connected sockets (`socketpair(2)`).
    ///
    /// # Errors
    ///
    /// The OS's error; outside a running loop, an error wrapping
    /// [`LoopError::NoRunningLoop`](crate::LoopError).
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let event_loop = super::running_loop()?;
        let (a, b) = mio::net::UnixDatagram::pair()?;
        Ok((
            UnixDatagram::register(&event_loop, a)?,
            UnixDatagram::register(&event_loop, b)?,
        ))
    }

    /// Wraps a mio socket.
    fn register(event_loop: &EventLoop, socket: mio::net::UnixDatagram) -> io::Result<Self> {
        Ok(UnixDatagram {
            io: IoSource::new(event_loop, socket)?,
        })
    }

    /// Sets the default peer to the socket at `path`.
    ///
    /// # Errors
    ///
    /// The OS's error (e.g. `NotFound`).
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.io.get_ref().connect(path)
    }

    /// Sends one datagram to the connected peer.
    ///
    /// # Errors
    ///
    /// `NotConnected` without a peer; the OS's error.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.io.poll_write_with(cx, |socket| socket.send(buf))).await
    }

    /// Receives one datagram from the connected peer.
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.io.poll_read_with(cx, |socket| socket.recv(buf))).await
    }

    /// Sends one datagram to the socket at `path`.
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub async fn send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let path = path.as_ref();
        poll_fn(|cx| {
            self.io
                .poll_write_with(cx, |socket| socket.send_to(buf, path))
        })
        .await
    }

    /// Receives one datagram and its sender's address.
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| self.io.poll_read_with(cx, |socket| socket.recv_from(buf))).await
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` without a peer.
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
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram")
            .field("local", &self.local_addr().ok())
            .finish()
    }
}
