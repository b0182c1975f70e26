//! [`UnixListener`]: a listening Unix-domain stream socket on the reactor (asyncio's
//! `start_unix_server`, tokio's `UnixListener`). Accepting shares the back-off of
//! `accept.rs` with TCP.

use std::fmt;
use std::io;
use std::path::Path;

use super::accept::{self, AcceptBackoff};
use super::unix_stream::UnixStream;
use crate::reactor::IoSource;

/// A Unix-domain socket listening for connections, registered with the running loop.
///
/// The socket file is not removed when the listener is dropped (as with std and tokio):
/// remove it yourself, or bind to a fresh path.
///
/// # Examples
///
/// ```
/// use evloop::net::{UnixListener, UnixStream};
///
/// let dir = std::env::temp_dir().join(format!("evloop-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("listener.sock");
/// let _ = std::fs::remove_file(&path);
/// evloop::run(async {
///     let listener = UnixListener::bind(&path).unwrap();
///     let client = UnixStream::connect(&path).await.unwrap();
///     let (conn, _) = listener.accept().await.unwrap();
///     client.write_all(b"hi").await.unwrap();
///     let mut buf = [0u8; 2];
///     conn.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"hi");
/// }).unwrap();
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub struct UnixListener {
    /// The non-blocking listening socket and its reactor registration.
    pub(super) io: IoSource<mio::net::UnixListener>,
    /// The pause the next `accept` takes after the process ran out of descriptors.
    backoff: AcceptBackoff,
}

impl UnixListener {
    /// Creates the socket file at `path` and listens on it.
    ///
    /// # Errors
    ///
    /// `AddrInUse` if the file exists; other OS errors; outside a running loop, an error
    /// wrapping [`LoopError::NoRunningLoop`](crate::LoopError).
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let event_loop = super::running_loop()?;
        Ok(UnixListener {
            io: IoSource::new(&event_loop, mio::net::UnixListener::bind(path)?)?,
            backoff: AcceptBackoff::default(),
        })
    }

    /// Registers a listening std socket with the running loop (it is made non-blocking).
    ///
    /// # Errors
    ///
    /// The OS refusing the registration; outside a running loop, an error wrapping
    /// [`LoopError::NoRunningLoop`](crate::LoopError).
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        Ok(UnixListener {
            io: IoSource::new(
                &super::running_loop()?,
                mio::net::UnixListener::from_std(listener),
            )?,
            backoff: AcceptBackoff::default(),
        })
    }

    /// Waits for a connection and accepts it. Cancel-safe; on running out of descriptors it
    /// reports the error and backs off, like [`TcpListener::accept`](super::TcpListener::accept).
    ///
    /// # Errors
    ///
    /// As [`TcpListener::accept`](super::TcpListener::accept).
    pub async fn accept(&self) -> io::Result<(UnixStream, std::os::unix::net::SocketAddr)> {
        let (stream, peer) = accept::accept(&self.io, &self.backoff, |l| l.accept()).await?;
        Ok((UnixStream::register(self.io.event_loop(), stream)?, peer))
    }

    /// The address (path) the listener is bound to.
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub fn local_addr(&self) -> io::Result<std::os::unix::net::SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("local", &self.local_addr().ok())
            .finish()
    }
}
