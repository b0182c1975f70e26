//! Accepting connections, and backing off when the process is out of descriptors.
//!
//! `accept(2)` fails with `EMFILE` (this process is at its descriptor limit) or `ENFILE`
//! (the system is), `ENOBUFS` or `ENOMEM`, while the pending connection stays in the
//! backlog. With edge-triggered readiness the listener still looks readable, so a server
//! that logs the error and calls `accept` again would spin at full CPU until a descriptor
//! frees up. asyncio pauses accepting for a second; hyper-style servers sleep. Here the
//! listener itself reports the error (returns it) and makes its next `accept` wait first:
//! 10 ms, doubling up to 1 s, back to nothing after a success. A connection that was reset
//! before it could be accepted (`ECONNABORTED`) is skipped silently, as asyncio does.

use std::cell::Cell;
use std::future::poll_fn;
use std::io;
use std::time::{Duration, Instant};

use mio::event::Source;

use crate::reactor::IoSource;

/// The first pause after a resource error.
const FIRST_PAUSE: Duration = Duration::from_millis(10);
/// The longest pause (asyncio's `ACCEPT_RETRY_DELAY`).
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// A listener's back-off state, shared by its `accept` calls.
#[derive(Debug, Default)]
pub(crate) struct AcceptBackoff {
    /// The last pause taken; zero when the last accept succeeded.
    pause: Cell<Duration>,
    /// When the next `accept` may try again, set by a resource error.
    resume_at: Cell<Option<Instant>>,
}

/// Whether `error` means "out of descriptors or memory": worth a pause, not a retry.
fn out_of_resources(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Whether `error` is about the one connection being accepted, not the listener.
fn connection_gone(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::ECONNABORTED | libc::EPROTO)
    )
}

/// Accepts one connection with `op` (the mio `accept`), after any pause a previous resource
/// error asked for.
pub(crate) async fn accept<L: Source, R>(
    io: &IoSource<L>,
    backoff: &AcceptBackoff,
    mut op: impl FnMut(&L) -> io::Result<R>,
) -> io::Result<R> {
    if let Some(at) = backoff.resume_at.get() {
        crate::sleep_until(at).await;
        backoff.resume_at.set(None);
    }
    loop {
        match poll_fn(|cx| io.poll_read_with(cx, &mut op)).await {
            Ok(accepted) => {
                backoff.pause.set(Duration::ZERO);
                return Ok(accepted);
            }
            Err(error) if connection_gone(&error) => continue,
            Err(error) if out_of_resources(&error) => {
                let pause = (backoff.pause.get() * 2).clamp(FIRST_PAUSE, MAX_PAUSE);
                backoff.pause.set(pause);
                backoff.resume_at.set(Some(io.event_loop().time() + pause));
                return Err(error);
            }
            Err(error) => return Err(error),
        }
    }
}
