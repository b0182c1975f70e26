//! Helpers shared by the `net_*` and `props_net` modules: connected stream pairs of both
//! kinds behind one small trait, byte patterns, time limits for single operations, and a
//! temporary directory for Unix socket files.
//!
//! It owns no test. Every helper that waits takes a time limit (loop time, which is real time
//! on the loops these modules use), so a hang in one operation fails with its name instead of
//! the whole test's deadline.

use std::future::Future;
use std::io;
use std::net::Shutdown;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use evloop::net::{HalfClose, TcpListener, TcpStream, UnixStream};

/// How long one network operation may take in these tests before it counts as a hang.
pub const OP_LIMIT: Duration = Duration::from_secs(5);

/// Awaits `future` for at most `limit`; panics naming `what` if it takes longer.
pub async fn within<F: Future>(limit: Duration, what: &str, future: F) -> F::Output {
    match evloop::timeout(limit, future).await {
        Ok(value) => value,
        Err(_) => panic!("{what} did not finish within {limit:?} (a hang?)"),
    }
}

/// A connected TCP pair on 127.0.0.1: (the connecting side, the accepted side). The listener
/// is dropped before returning.
pub async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, peer) = listener.accept().await.unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    (client, server)
}

/// What the stream tests need from [`TcpStream`] and [`UnixStream`] alike (their inherent
/// methods have the same names, but no shared trait).
pub(crate) trait Duplex: HalfClose + Sized + 'static {
    /// The transport's name, for messages.
    const NAME: &'static str;
    /// A connected pair on the running loop.
    async fn pair() -> (Self, Self);
    /// The inherent `read`.
    async fn read(&self, buf: &mut [u8]) -> io::Result<usize>;
    /// The inherent `write`.
    async fn write(&self, buf: &[u8]) -> io::Result<usize>;
    /// The inherent `write_all`.
    async fn write_all(&self, buf: &[u8]) -> io::Result<()>;
    /// The inherent `poll_read`.
    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;
    /// The inherent `shutdown`.
    fn shutdown(&self, how: Shutdown) -> io::Result<()>;
}

impl Duplex for TcpStream {
    const NAME: &'static str = "tcp";
    async fn pair() -> (Self, Self) {
        let (a, b) = tcp_pair().await;
        // Careful: Nagle would hold small writes back until an ACK; the models expect every
        // byte written to reach the peer promptly.
        a.set_nodelay(true).unwrap();
        b.set_nodelay(true).unwrap();
        (a, b)
    }
    async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        TcpStream::read(self, buf).await
    }
    async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        TcpStream::write(self, buf).await
    }
    async fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        TcpStream::write_all(self, buf).await
    }
    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        TcpStream::poll_read(self, cx, buf)
    }
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        TcpStream::shutdown(self, how)
    }
}

impl Duplex for UnixStream {
    const NAME: &'static str = "unix";
    async fn pair() -> (Self, Self) {
        UnixStream::pair().unwrap()
    }
    async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        UnixStream::read(self, buf).await
    }
    async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        UnixStream::write(self, buf).await
    }
    async fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        UnixStream::write_all(self, buf).await
    }
    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        UnixStream::poll_read(self, cx, buf)
    }
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        UnixStream::shutdown(self, how)
    }
}

/// Reads until end of stream, each read within [`OP_LIMIT`].
pub async fn read_to_end<S: Duplex>(stream: &S) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match within(OP_LIMIT, "a read", stream.read(&mut buf)).await? {
            0 => return Ok(out),
            n => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// `len` bytes of a pattern that does not repeat with any period shorter than 1 MiB + 7
/// bytes (xorshift from `seed`, eight bytes per step; longer patterns tile that block, whose
/// odd length keeps whole-buffer shifts visible). Tens of MiB are quick in a debug build.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    const BLOCK: usize = (1 << 20) + 7;
    let mut state = seed | 1;
    let mut block = vec![0u8; len.min(BLOCK).next_multiple_of(8)];
    for word in block.chunks_exact_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        word.copy_from_slice(&state.to_le_bytes());
    }
    block.truncate(len.min(BLOCK));
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let take = (len - out.len()).min(block.len());
        out.extend_from_slice(&block[..take]);
    }
    out
}

/// A waker that does nothing (for polling a future once by hand).
pub fn noop_waker() -> Waker {
    /// Ignores wakes.
    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    Waker::from(Arc::new(Noop))
}

/// Polls `future` once with a waker that does nothing.
pub fn poll_now<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    std::pin::Pin::new(future).poll(&mut Context::from_waker(&noop_waker()))
}

/// A fresh directory under the system temp dir, removed (with its contents) on drop.
pub struct TempDir {
    /// The directory's path.
    path: PathBuf,
}

impl TempDir {
    /// Creates `evloop-<name>-<pid>-<n>` in the system temp dir.
    pub fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("evloop-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The names of the entries in the directory, sorted.
    pub fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.path)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
