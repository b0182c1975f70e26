//! Sockets on the reactor: TCP, UDP and Unix-domain sockets that await readiness instead of
//! blocking (asyncio's transports and streams, tokio's `net`).
//!
//! Every type here is a thin wrapper around a non-blocking `mio` socket registered with the
//! running loop's reactor through an [`IoSource`](crate::IoSource); the readiness protocol
//! (try, on `WouldBlock` clear and wait for the next edge) lives in `reactor.rs`, not here.
//! This module owns what sockets add on top: resolving addresses without blocking the loop
//! (`addr.rs`), the byte-stream operations TCP and Unix streams share, with the
//! runtime-neutral `futures-io` traits (`stream.rs`), owned read/write halves (`split.rs`),
//! and accepting with a back-off when the process runs out of descriptors (`accept.rs`).
//!
//! What it does not do: no buffering of its own (a write goes to the kernel or waits; a slow
//! reader makes its writer wait, so memory stays bounded), no TLS, no protocol.
//!
//! All types are `!Send`: they belong to the loop that was running when they were created.

use std::io;

use crate::current;
use crate::error::LoopError;
use crate::event_loop::EventLoop;

mod accept;
mod addr;
mod split;
mod stream;
mod tcp_listener;
mod tcp_socket;
mod tcp_stream;
mod udp;
mod unix_datagram;
mod unix_listener;
mod unix_stream;

pub use addr::{lookup_host, ToSocketAddrs};
pub use split::{HalfClose, OwnedReadHalf, OwnedWriteHalf, ReuniteError};
pub use tcp_listener::TcpListener;
pub use tcp_socket::TcpSocket;
pub use tcp_stream::TcpStream;
pub use udp::UdpSocket;
pub use unix_datagram::UnixDatagram;
pub use unix_listener::UnixListener;
pub use unix_stream::UnixStream;

/// Writes `AsFd` and `AsRawFd` for a socket type with an `io: IoSource<..>` field, so its
/// descriptor can be handed to `socket2::SockRef` or `libc` for options we do not wrap.
macro_rules! fd_traits {
    ($($socket:ty),*) => {$(
        impl std::os::fd::AsFd for $socket {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.io.get_ref().as_fd()
            }
        }

        impl std::os::fd::AsRawFd for $socket {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.io.get_ref().as_raw_fd()
            }
        }
    )*};
}

fd_traits!(
    TcpListener,
    TcpStream,
    UdpSocket,
    UnixListener,
    UnixStream,
    UnixDatagram
);

/// The running loop, or the error every socket constructor returns outside one.
pub(crate) fn running_loop() -> io::Result<EventLoop> {
    current::running_loop().ok_or_else(|| io::Error::other(LoopError::NoRunningLoop))
}
