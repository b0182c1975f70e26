//! The wire between a pool and its workers: frames and the messages they carry.
//!
//! A frame is `[u32 little-endian length][postcard bytes]` on the Unix socket that joins one
//! worker to its supervisor. The reader checks the length against `max_frame_size` *before*
//! allocating, so a corrupt or hostile length cannot make it allocate gigabytes.
//!
//! # The conversation
//!
//! ```text
//! worker  -> parent   Hello { token, protocol_version, pid, signatures }
//! parent  -> worker   Init { max_frame_size, initializer }
//! worker  -> parent   Ready | InitFailed(message)
//! then, one job at a time:
//! parent  -> worker   Run { job_id, function, payload } | RunBatch { job_id, function, payloads }
//! worker  -> parent   Done { job_id, outcome }          | BatchDone { job_id, outcomes }
//! and to end it:      Shutdown, or the parent closes the socket (the worker exits at EOF)
//! ```
//!
//! Reads and writes on the parent side take a deadline ([`Deadline`]): a job's timeout and the
//! start-up deadline both end up here as socket timeouts. This file does not decide what a
//! failure means; the supervisor does.

use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::registry::Signature;

/// Bumped whenever a message changes shape; the handshake refuses a worker that differs.
pub(crate) const PROTOCOL_VERSION: u32 = 1;

/// Set by the pool in a worker's environment: the abstract socket name to connect to.
pub(crate) const WORKER_ENV: &str = "EVLOOP_POOLS_WORKER";

/// Set by the pool in a worker's environment: the secret the worker proves itself with.
pub(crate) const TOKEN_ENV: &str = "EVLOOP_POOLS_TOKEN";

/// Encoded bytes (an argument or a value), serialized as one byte string rather than a
/// sequence of `u8`s, so tens of MiB encode with one copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Blob(
    /// The encoded bytes.
    pub(crate) Vec<u8>,
);

impl Serialize for Blob {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Accepts a byte string, owned or borrowed.
        struct BlobVisitor;
        impl serde::de::Visitor<'_> for BlobVisitor {
            type Value = Blob;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<Blob, E> {
                Ok(Blob(bytes.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, bytes: Vec<u8>) -> Result<Blob, E> {
                Ok(Blob(bytes))
            }
        }
        deserializer.deserialize_byte_buf(BlobVisitor)
    }
}

/// Why a worker produced no value for one call (the job lives on as a `JobError`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum WorkerError {
    /// The function panicked; the panic message and location.
    Panicked(String),
    /// The argument could not be decoded, the value not encoded, or the name is unknown.
    Codec(String),
}

/// Messages from the parent to a worker.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum ToWorker {
    /// Answers `Hello`: the frame limit and the initializer to run before `Ready`.
    Init {
        /// The largest frame either side may send.
        max_frame_size: u32,
        /// A registered function name and its encoded argument, run once.
        initializer: Option<(String, Blob)>,
    },
    /// Run one call.
    Run {
        /// Echoed in `Done`, so a stray reply is caught.
        job_id: u64,
        /// The registered name.
        function: String,
        /// The encoded argument.
        payload: Blob,
    },
    /// Run one call per payload, in order (a `map` chunk).
    RunBatch {
        /// Echoed in `BatchDone`.
        job_id: u64,
        /// The registered name.
        function: String,
        /// The encoded arguments.
        payloads: Vec<Blob>,
    },
    /// Exit now (the pool retires this worker).
    Shutdown,
}

/// Messages from a worker to the parent.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum ToParent {
    /// The first frame: proves the worker is ours and says what it can run.
    Hello {
        /// The secret from `EVLOOP_POOLS_TOKEN`.
        token: String,
        /// The worker's [`PROTOCOL_VERSION`].
        protocol_version: u32,
        /// The worker's process id, for messages.
        pid: u32,
        /// The worker registry's signatures, sorted by name.
        signatures: Vec<Signature>,
    },
    /// The initializer (if any) ran; jobs may come.
    Ready,
    /// The initializer panicked or could not run; the message says why.
    InitFailed(String),
    /// The outcome of a `Run`.
    Done {
        /// The `Run`'s id.
        job_id: u64,
        /// The encoded value, or why there is none.
        outcome: Result<Blob, WorkerError>,
    },
    /// The outcomes of a `RunBatch`, one per payload, in order.
    BatchDone {
        /// The `RunBatch`'s id.
        job_id: u64,
        /// One outcome per payload.
        outcomes: Vec<Result<Blob, WorkerError>>,
    },
}

/// Why a frame could not be read or written.
#[derive(Debug)]
pub(crate) enum FrameError {
    /// The peer closed the socket (cleanly or mid-frame).
    Closed,
    /// The deadline passed.
    TimedOut,
    /// Another I/O error (`EPIPE` when the peer died, `ENOTCONN` after a local shutdown).
    Io(io::Error),
    /// The length in the header (or of the encoded message) exceeds the limit; nothing more was
    /// read (or nothing was written).
    TooLarge {
        /// The frame's length.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// The bytes are not a valid message, or the message could not be encoded.
    Codec(String),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Closed => f.write_str("the peer closed the connection"),
            FrameError::TimedOut => f.write_str("the deadline passed"),
            FrameError::Io(error) => write!(f, "{error}"),
            FrameError::TooLarge { len, max } => write!(
                f,
                "a frame of {len} bytes exceeds max_frame_size ({max} bytes); raise \
                 ProcessPoolBuilder::max_frame_size or send less"
            ),
            FrameError::Codec(why) => write!(f, "a frame could not be (de)coded: {why}"),
        }
    }
}

impl From<io::Error> for FrameError {
    fn from(error: io::Error) -> Self {
        match error.kind() {
            io::ErrorKind::UnexpectedEof => FrameError::Closed,
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => FrameError::TimedOut,
            _ => FrameError::Io(error),
        }
    }
}

// ANCHOR: write_frame
/// Encodes `message` and writes it as one frame, refusing (before writing anything) a frame
/// longer than `max`.
pub(crate) fn write_frame(
    mut out: impl Write,
    message: &impl Serialize,
    max: usize,
) -> Result<(), FrameError> {
    // One buffer, one write: the length prefix is patched in after encoding, so the reader
    // is woken once, by a whole frame.
    let mut frame =
        postcard::to_extend(message, vec![0u8; 4]).map_err(|e| FrameError::Codec(e.to_string()))?;
    let body_len = frame.len() - 4;
    let len = u32::try_from(body_len)
        .ok()
        .filter(|len| *len as usize <= max)
        .ok_or(FrameError::TooLarge {
            len: body_len as u64,
            max,
        })?;
    frame[..4].copy_from_slice(&len.to_le_bytes());
    out.write_all(&frame)?;
    out.flush()?;
    Ok(())
}
// ANCHOR_END: write_frame

/// Frames up to this size (header included) usually arrive in one read.
const SMALL_FRAME: usize = 1024;

// ANCHOR: read_frame
/// Reads one frame and decodes it; checks the length against `max` before allocating.
pub(crate) fn read_frame<T: DeserializeOwned>(
    mut input: impl Read,
    max: usize,
) -> Result<T, FrameError> {
    // Read the header, and as much of a small body as came with it (one read syscall for a
    // small frame); EOF before the header is a clean close. The peer sends one frame and then
    // waits for the answer, so no byte of a next frame can be in this read.
    let mut first = [0u8; SMALL_FRAME];
    let mut filled = 0;
    while filled < 4 {
        match input.read(&mut first[filled..]) {
            Ok(0) => return Err(FrameError::Closed),
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error.into()),
        }
    }
    // Check the length, then read the rest of the body.
    let len = u32::from_le_bytes([first[0], first[1], first[2], first[3]]) as usize;
    if len > max {
        return Err(FrameError::TooLarge {
            len: len as u64,
            max,
        });
    }
    let already = &first[4..filled];
    if already.len() > len {
        return Err(FrameError::Codec(format!(
            "{} bytes arrived after a {len}-byte frame",
            already.len() - len
        )));
    }
    if already.len() == len {
        return postcard::from_bytes(already).map_err(|e| FrameError::Codec(e.to_string()));
    }
    let mut body = vec![0u8; len];
    body[..already.len()].copy_from_slice(already);
    input.read_exact(&mut body[already.len()..])?;
    postcard::from_bytes(&body).map_err(|e| FrameError::Codec(e.to_string()))
}
// ANCHOR_END: read_frame

/// How often a read that can be stopped checks whether it should stop.
const STOP_POLL: Duration = Duration::from_millis(50);

/// A socket seen through a deadline: every read and write first sets the socket timeout to
/// the time left, so one slow peer cannot hold a supervisor past the deadline.
pub(crate) struct Deadline<'a> {
    /// The socket to one worker.
    pub(crate) stream: &'a UnixStream,
    /// When to give up (`None`: never).
    pub(crate) until: Option<Instant>,
    /// Polled every [`STOP_POLL`] while a read waits; `true` abandons it (used while a worker
    /// starts, when no switch can interrupt the read yet).
    pub(crate) stopped: Option<&'a dyn Fn() -> bool>,
}

// ANCHOR: deadline_left
impl Deadline<'_> {
    /// The time left, or `TimedOut` if none is.
    fn left(&self) -> io::Result<Option<Duration>> {
        match self.until {
            None => Ok(None),
            Some(until) => match until.checked_duration_since(Instant::now()) {
                // Careful: a zero timeout means "block forever" to the OS; std refuses it.
                Some(left) if !left.is_zero() => Ok(Some(left)),
                _ => Err(io::ErrorKind::TimedOut.into()),
            },
        }
    }
}
// ANCHOR_END: deadline_left

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(stopped) = self.stopped else {
            self.stream.set_read_timeout(self.left()?)?;
            return (&mut &*self.stream).read(buf);
        };
        loop {
            let slice = self.left()?.map_or(STOP_POLL, |left| left.min(STOP_POLL));
            self.stream.set_read_timeout(Some(slice))?;
            match (&mut &*self.stream).read(buf) {
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if stopped() {
                        return Err(io::Error::other("stopped"));
                    }
                }
                done => return done,
            }
        }
    }
}

impl Write for Deadline<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.set_write_timeout(self.left()?)?;
        (&mut &*self.stream).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
