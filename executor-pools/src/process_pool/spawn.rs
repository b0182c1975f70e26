//! Starting one worker process, and ending it: rendezvous, handshake, kill, reap.
//!
//! # Start
//!
//! 1. Bind a `UnixListener` on a fresh abstract socket name (nothing on disk to clean up).
//! 2. Run the program with `EVLOOP_POOLS_WORKER=<name>` and `EVLOOP_POOLS_TOKEN=<secret>`;
//!    stdio is inherited, so a worker's prints go where the parent's go. Every fd std opens
//!    is close-on-exec, so the worker holds no fd of ours but the socket it connects.
//! 3. Accept its connection before `start_timeout`, watching `try_wait` so a worker that exits
//!    early is seen at once; then drop the listener (the name disappears).
//! 4. Read `Hello`: check the token, the protocol version and the registry's signatures.
//! 5. Send `Init` and wait for `Ready` (or `InitFailed`).
//!
//! # End
//!
//! Every [`Worker`] is reaped (`wait`) before it is dropped, whichever way it ends: killed
//! (timeout, abort, protocol error, pool dropped), retired (asked to exit), or found dead.
//! `Drop` kills and reaps one that nobody ended, so no zombie is left.

use std::hash::{BuildHasher, RandomState};
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::builder::ProcessPoolBuilder;
use super::protocol::{
    read_frame, write_frame, Deadline, FrameError, ToParent, ToWorker, PROTOCOL_VERSION, TOKEN_ENV,
    WORKER_ENV,
};
use super::registry::{compare, Signature};
use super::worker::{NO_WORKER_MAIN_EXIT, WORKER_MAIN_MISSING};
use crate::error::WorkerExit;

/// The frame limit during the handshake, whatever `max_frame_size` says: a small
/// `max_frame_size` cannot refuse a `Hello` that lists many functions, and a process that
/// connects first without the secret cannot make the parent allocate more than this.
pub(crate) const HANDSHAKE_FRAME_SIZE: usize = 1 << 20;

/// How long a retired worker may take to exit before it is killed.
const RETIRE_GRACE: Duration = Duration::from_secs(2);

/// Why a worker did not start.
#[derive(Debug)]
pub(crate) enum StartError {
    /// The pool is being torn down; the start was abandoned.
    Stopped,
    /// The worker's registry or protocol differs from the parent's: no retry can help.
    Mismatch(String),
    /// This start failed (spawn error, early exit, timeout, initializer); another may succeed.
    Failed(String),
}

/// A live worker process and the socket to it.
#[derive(Debug)]
pub(crate) struct Worker {
    /// The process; `None` once reaped.
    child: Option<Child>,
    /// The socket, shared with the switch that aborts a running job.
    pub(crate) stream: Arc<UnixStream>,
    /// The process id (for `worker_pids` and messages).
    pub(crate) pid: u32,
    /// Jobs this worker ran, for `max_tasks_per_child`.
    pub(crate) jobs: usize,
}

// ANCHOR: worker_end
impl Worker {
    /// Whether the process has already ended (killed or crashed while idle); it is reaped
    /// later by `died`.
    pub(crate) fn has_exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(Some(_))))
    }

    /// Kills the worker and reaps it.
    pub(crate) fn kill(mut self) -> WorkerExit {
        self.reap(Duration::ZERO)
    }

    /// Asks the worker to exit (`Shutdown`, then EOF) and reaps it, killing it after a grace
    /// period.
    pub(crate) fn retire(mut self) -> WorkerExit {
        let _ = write_frame(&*self.stream, &ToWorker::Shutdown, usize::MAX);
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
        self.reap(RETIRE_GRACE)
    }

    /// Reaps a worker that closed its socket (it died, or is dying): waits a little for its
    /// exit status, then kills it.
    pub(crate) fn died(mut self) -> WorkerExit {
        self.reap(RETIRE_GRACE)
    }

    /// Waits up to `grace` for the process to exit, kills it if it did not, and reaps it.
    fn reap(&mut self, grace: Duration) -> WorkerExit {
        let Some(mut child) = self.child.take() else {
            return WorkerExit {
                code: None,
                signal: None,
            };
        };
        let status = wait_for(&mut child, grace).or_else(|| {
            let _ = child.kill();
            child.wait().ok()
        });
        status.map_or(
            WorkerExit {
                code: None,
                signal: None,
            },
            exit_of,
        )
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.reap(Duration::ZERO);
    }
}
// ANCHOR_END: worker_end

/// Polls `child` until it exits or `grace` passes; `Some(status)` if it exited (and was reaped).
fn wait_for(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    let until = Instant::now() + grace;
    let mut pause = Duration::from_micros(200);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < until => {}
            Ok(None) | Err(_) => return None,
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

/// How a process ended, in the pool's terms.
fn exit_of(status: ExitStatus) -> WorkerExit {
    WorkerExit {
        code: status.code(),
        signal: status.signal(),
    }
}

/// 64 unpredictable bits (std's `RandomState` is seeded from the OS).
fn random_u64() -> u64 {
    /// Makes every call hash a different value.
    static CALLS: AtomicU64 = AtomicU64::new(0);
    RandomState::new().hash_one((CALLS.fetch_add(1, Ordering::Relaxed), Instant::now()))
}

// ANCHOR: start_worker
/// Starts one worker and completes the handshake. `stopped` is polled while waiting; when it
/// returns `true` the start is abandoned (the child is killed and reaped).
pub(crate) fn start_worker(
    config: &ProcessPoolBuilder,
    signatures: &[Signature],
    stopped: &dyn Fn() -> bool,
) -> Result<Worker, StartError> {
    /// Numbers the rendezvous sockets of this process.
    static STARTS: AtomicU64 = AtomicU64::new(0);
    let deadline = Instant::now() + config.start_timeout;
    // Bind the rendezvous socket under a fresh abstract name.
    let name = format!(
        "evloop-pools-{}-{}-{:016x}",
        std::process::id(),
        STARTS.fetch_add(1, Ordering::Relaxed),
        random_u64()
    );
    let token = format!("{:016x}{:016x}", random_u64(), random_u64());
    let listener = SocketAddr::from_abstract_name(name.as_bytes())
        .and_then(|address| UnixListener::bind_addr(&address))
        .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
        .map_err(|e| StartError::Failed(format!("cannot bind the rendezvous socket: {e}")))?;
    // Run the program.
    let program = match &config.program {
        Some(program) => program.clone(),
        None => std::env::current_exe()
            .map_err(|e| StartError::Failed(format!("cannot find the current executable: {e}")))?,
    };
    let child = Command::new(&program)
        .args(&config.args)
        .env(WORKER_ENV, &name)
        .env(TOKEN_ENV, &token)
        .spawn()
        .map_err(|e| {
            StartError::Failed(format!("cannot run the worker program {program:?}: {e}"))
        })?;
    // Accept its connection, watching for an early exit, a stop, and the deadline.
    let mut child = child;
    let accepted = accept(&listener, &mut child, deadline, stopped, config);
    drop(listener);
    let stream = match accepted {
        Ok(stream) => stream,
        Err(error) => {
            // Careful: a child reaped by `try_wait` keeps its status; kill and wait are harmless.
            let _ = child.kill();
            let _ = child.wait();
            return Err(error);
        }
    };
    let worker = Worker {
        pid: child.id(),
        child: Some(child),
        stream: Arc::new(stream),
        jobs: 0,
    };
    // Shake hands, then run the initializer (dropping `worker` on failure reaps it).
    handshake(&worker, &token, signatures, deadline, stopped, config)?;
    Ok(worker)
}
// ANCHOR_END: start_worker

/// Turns an I/O error of the parent's own setup into a failed start.
fn io_failed(error: io::Error) -> StartError {
    StartError::Failed(format!("cannot set up a worker: {error}"))
}

/// Waits for the worker to connect.
fn accept(
    listener: &UnixListener,
    child: &mut Child,
    deadline: Instant,
    stopped: &dyn Fn() -> bool,
    config: &ProcessPoolBuilder,
) -> Result<UnixStream, StartError> {
    let pid = child.id();
    let mut pause = Duration::from_micros(200);
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).map_err(io_failed)?;
                return Ok(stream);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(StartError::Failed(format!("cannot accept a worker: {e}"))),
        }
        // ANCHOR: early_exit
        if let Ok(Some(status)) = child.try_wait() {
            let exit = exit_of(status);
            return Err(StartError::Failed(
                if exit.code == Some(NO_WORKER_MAIN_EXIT) {
                    format!("worker {pid} was started but its program never called worker_main: {WORKER_MAIN_MISSING}")
                } else {
                    format!(
                        "worker {pid} {exit} before connecting to the pool: does the worker \
                     program's main() call evloop_pools::worker_main(registry) first?"
                    )
                },
            ));
        }
        // ANCHOR_END: early_exit
        if stopped() {
            return Err(StartError::Stopped);
        }
        if Instant::now() >= deadline {
            return Err(StartError::Failed(format!(
                "worker {pid} did not connect within the start timeout ({:?}); the probable \
                 cause: the program {:?} does not call evloop_pools::worker_main(registry) \
                 first in main()",
                config.start_timeout,
                config
                    .program
                    .as_deref()
                    .unwrap_or("the current executable".as_ref())
            )));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

/// Checks `Hello`, sends `Init`, and waits for `Ready`.
fn handshake(
    worker: &Worker,
    token: &str,
    signatures: &[Signature],
    deadline: Instant,
    stopped: &dyn Fn() -> bool,
    config: &ProcessPoolBuilder,
) -> Result<(), StartError> {
    let pid = worker.pid;
    let max = HANDSHAKE_FRAME_SIZE;
    let link = || Deadline {
        stream: &worker.stream,
        until: Some(deadline),
        stopped: Some(stopped),
    };
    let failed = |what: &str, error: FrameError| {
        if stopped() {
            StartError::Stopped
        } else if matches!(error, FrameError::TimedOut) {
            StartError::Failed(format!(
                "worker {pid} did not {what} within the start timeout ({:?})",
                config.start_timeout
            ))
        } else {
            StartError::Failed(format!("worker {pid} failed to {what}: {error}"))
        }
    };
    // ANCHOR: check_hello
    // Check who it is and what it can run.
    match read_frame(link(), max).map_err(|e| failed("say hello", e))? {
        ToParent::Hello {
            token: theirs,
            protocol_version,
            signatures: theirs_signatures,
            ..
        } => {
            if theirs != token {
                return Err(StartError::Failed(format!(
                    "worker {pid} presented the wrong token"
                )));
            }
            if protocol_version != PROTOCOL_VERSION {
                return Err(StartError::Mismatch(format!(
                    "the worker speaks protocol version {protocol_version}, the parent \
                     version {PROTOCOL_VERSION}: build both from the same evloop-pools"
                )));
            }
            if let Some(why) = compare(signatures, &theirs_signatures) {
                return Err(StartError::Mismatch(why));
            }
        }
        other => {
            return Err(StartError::Failed(format!(
                "worker {pid} sent {other:?} instead of Hello"
            )))
        }
    }
    // ANCHOR_END: check_hello
    // Run the initializer, if any.
    let init = ToWorker::Init {
        max_frame_size: config.max_frame_size as u32,
        initializer: config
            .initializer
            .as_ref()
            .and_then(|(name, args)| Some(((*name).to_string(), args.clone().ok()?))),
    };
    write_frame(link(), &init, max).map_err(|e| failed("start", e))?;
    match read_frame(link(), max).map_err(|e| failed("initialize", e))? {
        ToParent::Ready => Ok(()),
        ToParent::InitFailed(message) => {
            let name = config.initializer.as_ref().map_or("?", |(name, _)| name);
            Err(StartError::Failed(format!(
                "the initializer `{name}` failed in worker {pid}: {message} (fix the \
                 initializer; this pool can run no job until it succeeds)"
            )))
        }
        other => Err(StartError::Failed(format!(
            "worker {pid} sent {other:?} instead of Ready"
        ))),
    }
}
