//! The child side: [`worker_main`], which turns a re-executed program into a worker.
//!
//! A process pool starts workers by running a program (by default the current executable)
//! with `EVLOOP_POOLS_WORKER` set to a socket name. The program's `main` calls
//! `worker_main(registry)` first; there it sees the variable, connects, shakes hands, and
//! serves jobs until the parent goes away, then exits. In the parent, `worker_main` only
//! records that it ran (so `build` can tell the user who forgot it) and returns.
//!
//! # Threads of a worker
//!
//! - The main thread reads each request, runs it and writes the reply, one job at a time, so
//!   a request reaches its job without a hand-off between threads. At EOF or on a read error
//!   (the parent died, or the pool closed the socket) it exits.
//! - A watchdog thread checks every 20 ms whether the parent id changed (the parent died and
//!   this process was re-parented) and then calls `std::process::exit(0)` at once, even
//!   mid-job: that is how workers die with their parent, without `PR_SET_PDEATHSIG`.
//!
//! # Panics
//!
//! A panic hook installed here keeps the message and location of a panic in a job (and prints
//! nothing), so the job resolves to `JobError::Panicked(message)` and the worker lives on. A
//! panic on any other thread goes to the previous hook, as usual.

use std::cell::{Cell, RefCell};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::protocol::{
    read_frame, write_frame, Blob, FrameError, ToParent, ToWorker, WorkerError, PROTOCOL_VERSION,
    TOKEN_ENV, WORKER_ENV,
};
use super::registry::Registry;
use super::spawn::HANDSHAKE_FRAME_SIZE;
use crate::error::panic_message;

/// Set by `worker_main` in every process that calls it; `ProcessPoolBuilder::build` refuses to
/// re-execute a program that never did.
static WORKER_MAIN_RAN: AtomicBool = AtomicBool::new(false);

/// The exit code of a process that was started as a worker but builds a pool without having
/// called `worker_main` (this stops a program from re-executing itself forever).
pub(crate) const NO_WORKER_MAIN_EXIT: i32 = 97;

/// How often a worker checks, while a job runs, that its parent is still alive.
const PARENT_CHECK: std::time::Duration = std::time::Duration::from_millis(20);

/// The exit code of a worker that could not reach its parent or spoke nonsense to it.
const PROTOCOL_EXIT: i32 = 70;

/// What to do when `worker_main` was forgotten (shared by `build`'s error and the worker-side
/// message).
pub(crate) const WORKER_MAIN_MISSING: &str =
    "call evloop_pools::worker_main(registry) as the first line of main(): workers re-execute \
     this binary, and worker_main is what turns the copy into a worker (without it the copy \
     would run your whole program again)";

thread_local! {
    /// Whether this thread is running a job right now (the panic hook keeps quiet then).
    static IN_JOB: Cell<bool> = const { Cell::new(false) };
    /// The message of the last panic in a job on this thread, as the hook saw it.
    static CAUGHT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Whether `worker_main` ran in this process.
pub(crate) fn worker_main_ran() -> bool {
    WORKER_MAIN_RAN.load(Ordering::Acquire)
}

/// Whether this process was started as a worker (the pool set its environment variable).
pub(crate) fn started_as_worker() -> bool {
    std::env::var_os(WORKER_ENV).is_some()
}

// ANCHOR: catch_job
/// Runs `job`, turning a panic into its message (with location when the hook saw it).
pub(crate) fn catch_job<T>(job: impl FnOnce() -> T) -> Result<T, String> {
    IN_JOB.with(|flag| flag.set(true));
    let outcome = catch_unwind(AssertUnwindSafe(job));
    IN_JOB.with(|flag| flag.set(false));
    outcome.map_err(|payload| {
        CAUGHT
            .with(|caught| caught.borrow_mut().take())
            .unwrap_or_else(|| panic_message(&*payload))
    })
}
// ANCHOR_END: catch_job

/// Makes this program usable as a process-pool worker. Call it first in `main`.
///
/// In the parent it records that it ran and returns at once (`registry` is not called). In a
/// worker (a process the pool started), it never returns: it builds the registry, serves
/// jobs, and exits the process when the pool closes the connection or the parent dies.
///
/// # Examples
///
/// ```
/// use evloop_pools::{Function, ProcessPool, Registry};
///
/// const SQUARE: Function<u64, u64> = Function::new("square");
///
/// fn registry() -> Registry {
///     Registry::new().register(SQUARE, |x| x * x)
/// }
///
/// fn main() {
///     evloop_pools::worker_main(registry);
///     let pool = ProcessPool::new(registry()).unwrap();
///     assert_eq!(pool.submit(SQUARE.call(7)).unwrap().result(), Ok(49));
/// }
/// ```
// ANCHOR: worker_main
pub fn worker_main(registry: fn() -> Registry) {
    WORKER_MAIN_RAN.store(true, Ordering::Release);
    let Some(socket) = std::env::var_os(WORKER_ENV) else {
        return;
    };
    let token = std::env::var(TOKEN_ENV).unwrap_or_default();
    // Forget the variables, so programs this worker starts (and pools it builds) do not think
    // they are workers. Careful: no other thread exists yet, `worker_main` runs first.
    std::env::remove_var(WORKER_ENV);
    std::env::remove_var(TOKEN_ENV);
    serve(&socket.to_string_lossy(), token, registry);
    process::exit(0);
}
// ANCHOR_END: worker_main

/// Connects, shakes hands, then runs jobs until the parent closes the socket (or the watchdog
/// sees the parent gone) and the process exits.
fn serve(socket: &str, token: String, registry: fn() -> Registry) {
    // ANCHOR: panic_hook
    // Keep job panics quiet; their messages travel to the parent.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if IN_JOB.with(Cell::get) {
            let payload = panic_message(info.payload());
            let message = match info.location() {
                Some(at) => format!("{payload} (at {}:{}:{})", at.file(), at.line(), at.column()),
                None => payload.to_string(),
            };
            CAUGHT.with(|caught| *caught.borrow_mut() = Some(message));
        } else {
            previous(info);
        }
    }));
    // ANCHOR_END: panic_hook
    // ANCHOR: hello
    // Connect to the parent's rendezvous socket.
    let stream = SocketAddr::from_abstract_name(socket.as_bytes())
        .and_then(|address| UnixStream::connect_addr(&address))
        .unwrap_or_else(|error| fail(&format!("cannot reach the pool at {socket:?}: {error}")));
    let stream = Arc::new(stream);
    // Say hello with what this registry holds.
    let registry = registry();
    let hello = ToParent::Hello {
        token,
        protocol_version: PROTOCOL_VERSION,
        pid: process::id(),
        signatures: registry.signatures(),
    };
    send(&stream, &hello);
    // ANCHOR_END: hello
    // ANCHOR: initializer
    // Run the initializer the parent asks for.
    let (max_frame_size, initializer) = match read_frame(&*stream, HANDSHAKE_FRAME_SIZE) {
        Ok(ToWorker::Init {
            max_frame_size,
            initializer,
        }) => (max_frame_size as usize, initializer),
        Ok(_) => fail("expected Init from the pool"),
        Err(_) => process::exit(0),
    };
    if let Some((name, args)) = initializer {
        let failure = match registry.body(&name) {
            None => Some(format!("`{name}` is not registered in the worker")),
            Some(body) => match body(&args.0) {
                Ok(_) => None,
                Err(WorkerError::Panicked(message)) => Some(format!("it panicked: {message}")),
                Err(WorkerError::Codec(message)) => Some(message),
            },
        };
        if let Some(message) = failure {
            send(&stream, &ToParent::InitFailed(message));
            process::exit(1);
        }
    }
    send(&stream, &ToParent::Ready);
    // ANCHOR_END: initializer
    // ANCHOR: watchdog
    // Watch the parent while jobs run: when it dies this process is re-parented, so its
    // parent id changes; exit then, even mid-job. (Between jobs, the read below sees EOF.)
    let parent = std::os::unix::process::parent_id();
    let spawned = std::thread::Builder::new()
        .name("evloop-pools-watchdog".into())
        .spawn(move || loop {
            std::thread::sleep(PARENT_CHECK);
            if std::os::unix::process::parent_id() != parent {
                process::exit(0);
            }
        });
    if let Err(error) = spawned {
        fail(&format!("cannot start the watchdog thread: {error}"));
    }
    // ANCHOR_END: watchdog
    // ANCHOR: serve_loop
    // Read and run jobs one at a time, on this thread (no hand-off between threads).
    loop {
        let request = match read_frame::<ToWorker>(&*stream, max_frame_size) {
            Ok(ToWorker::Shutdown) | Err(_) => process::exit(0),
            Ok(request) => request,
        };
        let (job_id, batch, reply) = match request {
            ToWorker::Run {
                job_id,
                function,
                payload,
            } => {
                let outcome = run(&registry, &function, &payload.0);
                (job_id, None, ToParent::Done { job_id, outcome })
            }
            ToWorker::RunBatch {
                job_id,
                function,
                payloads,
            } => {
                let outcomes: Vec<_> = payloads
                    .iter()
                    .map(|payload| run(&registry, &function, &payload.0))
                    .collect();
                let len = outcomes.len();
                (job_id, Some(len), ToParent::BatchDone { job_id, outcomes })
            }
            ToWorker::Init { .. } | ToWorker::Shutdown => fail("unexpected message from the pool"),
        };
        // ANCHOR_END: serve_loop
        // ANCHOR: oversized_reply
        // Careful: a reply over the limit is still sent; the parent refuses it and replaces
        // this worker. Only a reply that cannot be framed at all (over 4 GiB) becomes an error.
        if let Err(why) = try_send(&stream, &reply) {
            let error = Err(WorkerError::Codec(format!(
                "the reply cannot be sent: {why}"
            )));
            let reply = match batch {
                None => ToParent::Done {
                    job_id,
                    outcome: error,
                },
                Some(len) => ToParent::BatchDone {
                    job_id,
                    outcomes: vec![error; len],
                },
            };
            send(&stream, &reply);
        }
        // ANCHOR_END: oversized_reply
    }
}

/// Runs the function registered as `name` on an encoded argument.
fn run(registry: &Registry, name: &str, payload: &[u8]) -> Result<Blob, WorkerError> {
    match registry.body(name) {
        Some(body) => body(payload),
        None => Err(WorkerError::Codec(format!(
            "`{name}` is not registered in the worker"
        ))),
    }
}

/// Writes one frame; the parent is gone if that fails, so exit quietly.
fn send(stream: &UnixStream, message: &ToParent) {
    if try_send(stream, message).is_err() {
        process::exit(0);
    }
}

/// Writes one frame. Exits quietly if the parent is gone; returns why a message could not be
/// framed (nothing was written then).
fn try_send(stream: &UnixStream, message: &ToParent) -> Result<(), FrameError> {
    match write_frame(stream, message, u32::MAX as usize) {
        Ok(()) => Ok(()),
        Err(error @ (FrameError::TooLarge { .. } | FrameError::Codec(_))) => Err(error),
        Err(_) => process::exit(0),
    }
}

/// Reports a worker-side protocol failure on stderr and exits.
fn fail(why: &str) -> ! {
    eprintln!("evloop-pools worker {}: {why}", process::id());
    process::exit(PROTOCOL_EXIT);
}
