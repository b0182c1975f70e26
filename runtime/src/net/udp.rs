//! [`UdpSocket`]: datagrams on the reactor (asyncio's `create_datagram_endpoint`, tokio's
//! `UdpSocket`).
//!
//! A datagram is sent or received whole, so none of the stream shortcuts apply: every
//! receive waits for readability and is retried after `WouldBlock` like any other source.
//! A connected socket may see an ICMP error (e.g. `ConnectionRefused`) on its next receive.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;

use super::addr::{each_addr, lookup_host, ToSocketAddrs};
use crate::reactor::IoSource;

/// A UDP socket registered with the running loop.
///
/// # Examples
///
/// ```
/// use evloop::net::UdpSocket;
///
/// evloop::run(async {
///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     a.send_to(b"hello", b.local_addr().unwrap()).await.unwrap();
///     let mut buf = [0u8; 16];
///     let (n, from) = b.recv_from(&mut buf).await.unwrap();
///     assert_eq!((&buf[..n], from), (&b"hello"[..], a.local_addr().unwrap()));
/// }).unwrap();
/// ```
pub struct UdpSocket {
    /// The non-blocking socket and its reactor registration.
    pub(super) io: IoSource<mio::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds a socket to `addr` (port 0 picks a free port).
    ///
    /// # Errors
    ///
    /// `AddrInUse` and other OS errors; outside a running loop, an error wrapping
    /// [`LoopError::NoRunningLoop`](crate::LoopError).
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let event_loop = super::running_loop()?;
        each_addr(addr, |addr| {
            let event_loop = event_loop.clone();
            async move {
                Ok(UdpSocket {
                    io: IoSource::new(&event_loop, mio::net::UdpSocket::bind(addr)?)?,
                })
            }
        })
        .await
    }

    /// Registers a std socket with the running loop (it is made non-blocking).
    ///
    /// # Errors
    ///
    /// The OS refusing the registration; outside a running loop, an error wrapping
    /// [`LoopError::NoRunningLoop`](crate::LoopError).
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        Ok(UdpSocket {
            io: IoSource::new(
                &super::running_loop()?,
                mio::net::UdpSocket::from_std(socket),
            )?,
        })
    }

    /// Sets the default peer: `send` goes there, and only its datagrams are received.
    ///
    /// # Errors
    ///
    /// The OS's error (the last resolved address's).
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        each_addr(addr, |addr| async move { self.io.get_ref().connect(addr) }).await
    }

    /// Sends one datagram to the connected peer; returns the bytes sent.
    ///
    /// # Errors
    ///
    /// `EDESTADDRREQ` (an error of kind `Uncategorized`) without
    /// [`connect`](UdpSocket::connect); the OS's error.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.io.poll_write_with(cx, |socket| socket.send(buf))).await
    }

    /// Receives one datagram from the connected peer (truncated to `buf`'s length).
    ///
    /// # Errors
    ///
    /// `ConnectionRefused` if an earlier datagram found no listener; the OS's error.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.io.poll_read_with(cx, |socket| socket.recv(buf))).await
    }

    /// Sends one datagram to `target` (resolved first; the first address is used).
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub async fn send_to(&self, buf: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        let target = lookup_host(target).await?[0];
        poll_fn(|cx| {
            self.io
                .poll_write_with(cx, |socket| socket.send_to(buf, target))
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

    /// Receives one datagram without taking it off the socket.
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| self.io.poll_read_with(cx, |socket| socket.peek_from(buf))).await
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
    /// `NotConnected` without [`connect`](UdpSocket::connect).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Allows sending to broadcast addresses (`SO_BROADCAST`).
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_broadcast(on)
    }

    /// Whether `SO_BROADCAST` is on.
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.io.get_ref().broadcast()
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
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local", &self.local_addr().ok())
            .finish()
    }
}
