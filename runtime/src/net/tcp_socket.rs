//! [`TcpSocket`]: a TCP socket not yet bound, listening or connected, for the options that
//! must be set before (tokio's `TcpSocket`; asyncio's `create_server(reuse_address=,
//! reuse_port=, backlog=)` arguments).
//!
//! It is a plain `socket2::Socket` until `listen` or `connect` registers it with the loop.
//! std and mio 1.x cannot set `SO_REUSEPORT` or buffer sizes before `bind`, hence socket2.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

use super::tcp_listener::TcpListener;
use super::tcp_stream::TcpStream;

/// A TCP socket to configure before it listens or connects.
///
/// # Examples
///
/// Two listeners sharing one port with `SO_REUSEPORT` (the kernel spreads connections):
///
/// ```
/// use evloop::net::TcpSocket;
///
/// evloop::run(async {
///     let first = TcpSocket::new_v4().unwrap();
///     first.set_reuseport(true).unwrap();
///     first.bind("127.0.0.1:0".parse().unwrap()).unwrap();
///     let addr = first.local_addr().unwrap();
///     let first = first.listen(128).unwrap();
///
///     let second = TcpSocket::new_v4().unwrap();
///     second.set_reuseport(true).unwrap();
///     second.bind(addr).unwrap();
///     let second = second.listen(128).unwrap();
///     assert_eq!(first.local_addr().unwrap(), second.local_addr().unwrap());
/// }).unwrap();
/// ```
#[derive(Debug)]
pub struct TcpSocket {
    /// The socket, blocking until `listen` or `connect` hands it to the reactor.
    socket: Socket,
}

impl TcpSocket {
    /// A new IPv4 TCP socket.
    ///
    /// # Errors
    ///
    /// The OS's error (e.g. `EMFILE`).
    pub fn new_v4() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV4)
    }

    /// A new IPv6 TCP socket.
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub fn new_v6() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV6)
    }

    /// A socket of the family `addr` belongs to.
    pub(crate) fn for_addr(addr: SocketAddr) -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::for_address(addr))
    }

    /// A socket of `domain` (close-on-exec, as socket2 makes every socket).
    fn new(domain: Domain) -> io::Result<TcpSocket> {
        Ok(TcpSocket {
            socket: Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?,
        })
    }

    /// Sets `SO_REUSEADDR`: bind even while old connections on the port sit in `TIME_WAIT`.
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub fn set_reuseaddr(&self, reuse: bool) -> io::Result<()> {
        self.socket.set_reuse_address(reuse)
    }

    /// Sets `SO_REUSEPORT`: several sockets may bind the same port; the kernel spreads
    /// incoming connections over the listeners.
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub fn set_reuseport(&self, reuse: bool) -> io::Result<()> {
        self.socket.set_reuse_port(reuse)
    }

    /// Sets `TCP_NODELAY` (inherited by accepted connections on Linux).
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.socket.set_tcp_nodelay(nodelay)
    }

    /// Sets the send buffer size (`SO_SNDBUF`; Linux doubles the value).
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        self.socket.set_send_buffer_size(size as usize)
    }

    /// Sets the receive buffer size (`SO_RCVBUF`; Linux doubles the value).
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        self.socket.set_recv_buffer_size(size as usize)
    }

    /// Binds the socket to `addr`.
    ///
    /// # Errors
    ///
    /// `AddrInUse` and other OS errors.
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        self.socket.bind(&addr.into())
    }

    /// The bound address.
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::other("not an IP socket"))
    }

    /// Starts listening with room for `backlog` pending connections, and registers the
    /// listener with the running loop.
    ///
    /// # Errors
    ///
    /// The OS's error; outside a running loop, an error wrapping
    /// [`LoopError::NoRunningLoop`](crate::LoopError).
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        let event_loop = super::running_loop()?;
        self.socket
            .listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
        self.socket.set_nonblocking(true)?;
        let listener = mio::net::TcpListener::from_std(self.socket.into());
        TcpListener::register(&event_loop, listener)
    }

    /// Connects to `addr` and registers the stream with the running loop.
    ///
    /// # Errors
    ///
    /// `ConnectionRefused` and other OS errors; outside a running loop, an error wrapping
    /// [`LoopError::NoRunningLoop`](crate::LoopError).
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        let event_loop = super::running_loop()?;
        self.socket.set_nonblocking(true)?;
        match self.socket.connect(&addr.into()) {
            Ok(()) => {}
            Err(error) if error.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(error) => return Err(error),
        }
        let stream = mio::net::TcpStream::from_std(self.socket.into());
        let stream = TcpStream::register(&event_loop, stream)?;
        stream.connected().await?;
        Ok(stream)
    }
}
