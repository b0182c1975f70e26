//! The threadsafe path: the only part of a loop that other threads may touch.
//!
//! Everything here is `Send + Sync`. Another thread reaches the loop by sending a [`Remote`]
//! message into a crossbeam channel and *notifying* the poller through the loop's one shared
//! `mio::Waker`. The loop thread drains the channel in its poll phase.
//!
//! # The notify protocol (coalescing wakeups)
//!
//! A syscall per post would make `call_soon_threadsafe` cost microseconds, so wakeups are
//! coalesced with one flag, `notified`:
//!
//! 1. a poster sends its message, then sets `notified` (a SeqCst fence, a read, and a
//!    `swap(true)` only if it read `false`); only the poster that flipped it from `false` to
//!    `true` calls `Waker::wake`;
//! 2. the loop clears the flag (`swap(false)`) *before* it drains the channel.
//!
//! No wake is lost: a message sent before the loop cleared the flag is seen by the drain that
//! follows; a message sent after that finds the flag `false`, so its poster wakes the poller
//! again. No wake per call: between a clear and the next drain, only one poster pays the
//! syscall. (The same protocol as tokio's and async-io's unparkers.)
//!
//! # Parking
//!
//! The `mio::Waker` syscall is only needed when the loop is blocked in the poller. Before a
//! poll that may block, the loop sets `parked` and then reads `notified` (a post pending:
//! it polls without blocking); a poster that flips `notified` then reads `parked`, and calls
//! `Waker::wake` only if it is set. Both sides write, then read the other's flag, all
//! `SeqCst`: at least one of them sees the other, so either the loop does not block or the
//! poster wakes it. While the loop is busy running callbacks, posts cost no syscall at all.
//!
//! # Closing
//!
//! `close()` sets `closed`, drains and drops what is queued, then drops the channel's only
//! receiver. A post that sees `closed`, or whose send fails because the receiver is gone, gets
//! its closure back in a [`LoopClosed`]; a post that slipped in just before the receiver was
//! dropped is dropped with the channel, unrun. Either way nothing runs twice or after close,
//! and nothing waits forever.
//!
//! This file does not run posted work: the loop does, in its run phase.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

use crate::error::{LoopClosed, LoopError};
use crate::threadsafe_task::{FromFn, FromFuture, SpawnRemote, Start, ThreadsafeTask};

/// A closure or job posted from another thread, type-erased but recoverable.
pub(crate) trait RemoteCall: Send {
    /// Runs it on the loop thread.
    fn call(self: Box<Self>);
    /// Turns it back into its concrete type, to hand it back to a refused poster.
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
    /// Its type name, for debug reports and traces.
    fn name(&self) -> &'static str;
}

/// A `call_soon_threadsafe` closure, and a copy of the poster's context to run it in (as
/// asyncio's `call_soon_threadsafe` does).
pub(crate) struct CallSoon<F>(pub(crate) F, pub(crate) crate::context::Context);

impl<F: FnOnce() + Send + 'static> CallSoon<F> {
    /// `f`, to run in a copy of the current context.
    pub(crate) fn new(f: F) -> Self {
        CallSoon(f, crate::context::Context::current())
    }
}

impl<F: FnOnce() + Send + 'static> RemoteCall for CallSoon<F> {
    fn call(self: Box<Self>) {
        let CallSoon(f, context) = *self;
        context.run_owned(f)
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
    fn name(&self) -> &'static str {
        std::any::type_name::<F>()
    }
}

// ANCHOR: remote_message
/// One message from another thread to the loop.
pub(crate) enum Remote {
    /// Run this closure on the loop (queued behind what is ready, FIFO per sender).
    Call(Box<dyn RemoteCall>),
    /// A loop task's `Waker` was woken on another thread: schedule task `key` if it is still
    /// the task with id `task_id`.
    Wake {
        /// Slab key of the task.
        key: usize,
        /// Unique id, guarding against a reused slab key.
        task_id: u64,
    },
    /// Cancel task `key` (if still the task `task_id`), for `ThreadsafeTask::cancel`.
    Cancel {
        /// Slab key of the task.
        key: usize,
        /// Unique id, guarding against a reused slab key.
        task_id: u64,
    },
    /// `LoopHandle::stop`: stop after the current iteration.
    Stop,
}
// ANCHOR_END: remote_message

/// The `Send + Sync` state of one loop, shared by every `LoopHandle` and task waker.
pub(crate) struct Shared {
    /// Identity of the loop, compared with the running loop's to pick the local wake path.
    pub(crate) loop_id: u64,
    /// The thread that owns the loop (an `EventLoop` never leaves it): blocking there on a
    /// `ThreadsafeTask` of this loop could never end.
    pub(crate) owner: std::thread::ThreadId,
    /// Where posts go; the only receiver is owned by the loop core.
    sender: Sender<Remote>,
    /// The one `mio::Waker` of the loop's poller.
    waker: mio::Waker,
    /// The coalescing flag of the notify protocol (module docs).
    notified: AtomicBool,
    /// Set while the loop is (about to be) blocked in the poller: only then does a post
    /// need the `mio::Waker` syscall (module docs, "Parking").
    parked: AtomicBool,
    /// Set by `close()` before it drains; posters check it first.
    closed: AtomicBool,
    /// The loop's debug mode, for reporting posts refused by a closed loop (`debug.rs`).
    debug: AtomicBool,
    /// `mio::Waker` syscalls made by posters (the `wakeups` metric): bumped only on the path
    /// that makes the syscall, so the common post pays nothing for it.
    wakeups: AtomicU64,
}

impl Shared {
    /// Creates the shared state and the receiver the loop will drain.
    pub(crate) fn new(loop_id: u64, waker: mio::Waker) -> (Arc<Shared>, Receiver<Remote>) {
        let (sender, receiver) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared {
            loop_id,
            owner: std::thread::current().id(),
            sender,
            waker,
            notified: AtomicBool::new(false),
            parked: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            debug: AtomicBool::new(false),
            wakeups: AtomicU64::new(0),
        });
        (shared, receiver)
    }

    // ANCHOR: post
    /// Sends a message and notifies the poller; gives the message back if the loop is closed.
    pub(crate) fn post(&self, message: Remote) -> Result<(), Remote> {
        if self.is_closed() {
            return Err(message);
        }
        self.sender.send(message).map_err(|refused| refused.0)?;
        self.notify();
        Ok(())
    }
    // ANCHOR_END: post

    // ANCHOR: notify
    /// Step 1 of the notify protocol: wake the poller unless a wake is already pending.
    fn notify(&self) {
        // Careful: the fence orders our send before the flag read, against the loop's
        // clear-then-drain (a Dekker handshake): if we see the flag still set, the loop has
        // not cleared it yet, so its drain will see our message. Reading before swapping
        // keeps the flag's cache line shared while a wake is pending, instead of bouncing it
        // between every posting thread.
        fence(Ordering::SeqCst);
        if self.notified.load(Ordering::Relaxed) {
            return;
        }
        if !self.notified.swap(true, Ordering::SeqCst) && self.parked.load(Ordering::SeqCst) {
            // Careful: a failed wake (only possible if the eventfd is gone) is ignored: the
            // loop is then closed and the message was or will be refused.
            let _ = self.waker.wake();
            self.wakeups.fetch_add(1, Ordering::Relaxed);
        }
    }
    // ANCHOR_END: notify

    // ANCHOR: take_notified
    /// Step 2 of the notify protocol, on the loop thread: `true` if posts may be waiting.
    /// The caller must drain the channel after a `true`.
    pub(crate) fn take_notified(&self) -> bool {
        // A plain load first: the common case (no posts) then costs no locked instruction.
        if !self.notified.load(Ordering::Acquire) {
            return false;
        }
        let was_set = self.notified.swap(false, Ordering::SeqCst);
        // The loop's half of the handshake in `notify`: clear, fence, then drain.
        fence(Ordering::SeqCst);
        was_set
    }
    // ANCHOR_END: take_notified

    // ANCHOR: park
    /// On the loop thread, before a poll that may block: announces the loop is parking and
    /// returns `true` if posts are already pending (then it must not block).
    pub(crate) fn park(&self) -> bool {
        self.parked.store(true, Ordering::SeqCst);
        // The loop's half of the parking handshake: publish `parked`, then read `notified`.
        self.notified.load(Ordering::SeqCst)
    }

    /// On the loop thread, after the poll returned: posts no longer need a syscall.
    pub(crate) fn unpark(&self) {
        self.parked.store(false, Ordering::Relaxed);
    }
    // ANCHOR_END: park

    /// Whether a poster has notified since the last drain (a plain read, for spinning).
    pub(crate) fn is_notified(&self) -> bool {
        self.notified.load(Ordering::Relaxed)
    }

    /// Whether `close()` has begun.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// How many wakeup syscalls posters made.
    pub(crate) fn wakeups(&self) -> u64 {
        self.wakeups.load(Ordering::Relaxed)
    }

    /// Sets the debug flag (a copy of the loop's).
    pub(crate) fn set_debug(&self, enabled: bool) {
        self.debug.store(enabled, Ordering::Relaxed);
    }

    /// In debug mode, reports `call` (refused because the loop is closed) for `what`.
    pub(crate) fn report_refused(&self, call: &str, what: &str) {
        if self.debug.load(Ordering::Relaxed) {
            crate::debug::report_closed_post(self.loop_id, call, what);
        }
    }

    /// Marks the loop closed (first step of `close()`).
    pub(crate) fn mark_closed(&self) {
        self.closed.store(true, Ordering::Release);
    }
}

/// A `Send + Sync + Clone` handle for reaching a loop from any thread.
///
/// Get one from [`EventLoop::handle`](crate::EventLoop::handle) or
/// [`LoopThread::handle`](crate::LoopThread::handle). It keeps only the loop's shared,
/// threadsafe part alive; once the loop is closed every call returns an error.
///
/// ```
/// fn assert_send_sync<T: Send + Sync + Clone>() {}
/// assert_send_sync::<evloop::LoopHandle>();
/// ```
#[derive(Clone)]
pub struct LoopHandle {
    /// The loop's threadsafe state.
    pub(crate) shared: Arc<Shared>,
}

impl LoopHandle {
    /// Schedules `f` to run on the loop thread, from any thread
    /// (asyncio's `loop.call_soon_threadsafe`).
    ///
    /// Callbacks posted from one thread run in the order they were posted, each exactly once,
    /// behind whatever the loop had ready. The poller is woken at most once per batch.
    ///
    /// # Errors
    ///
    /// [`LoopClosed`] if the loop is closed; it holds `f`, unrun.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = evloop::EventLoop::new().unwrap();
    /// let handle = lp.handle();
    /// let worker = std::thread::spawn(move || {
    ///     handle.call_soon_threadsafe(|| println!("on the loop")).unwrap();
    ///     handle.stop().unwrap();
    /// });
    /// lp.run_forever().unwrap();
    /// worker.join().unwrap();
    /// ```
    // ANCHOR: call_soon_threadsafe
    pub fn call_soon_threadsafe<F>(&self, f: F) -> Result<(), LoopClosed<F>>
    where
        F: FnOnce() + Send + 'static,
    {
        if self.shared.is_closed() {
            self.shared
                .report_refused("call_soon_threadsafe", std::any::type_name::<F>());
            return Err(LoopClosed(f));
        }
        match self.shared.post(Remote::Call(Box::new(CallSoon::new(f)))) {
            Ok(()) => Ok(()),
            Err(Remote::Call(call)) => {
                self.shared
                    .report_refused("call_soon_threadsafe", std::any::type_name::<F>());
                let call = call
                    .into_any()
                    .downcast::<CallSoon<F>>()
                    .expect("a refused post is handed back as the type it was sent as");
                Err(LoopClosed(call.0))
            }
            Err(_) => unreachable!("post hands back the message it was given"),
        }
    }
    // ANCHOR_END: call_soon_threadsafe

    /// Runs `future` as a task on the loop and returns a handle this thread can block on
    /// (asyncio's `run_coroutine_threadsafe`).
    ///
    /// # Errors
    ///
    /// [`LoopClosed`] if the loop is closed; it holds `future`, never polled.
    ///
    /// # Examples
    ///
    /// ```
    /// let thread = evloop::LoopThread::start().unwrap();
    /// let task = thread.handle().spawn_threadsafe(async { 6 * 7 }).unwrap();
    /// assert_eq!(task.result(), Ok(42));
    /// thread.stop().unwrap();
    /// ```
    #[track_caller]
    pub fn spawn_threadsafe<F>(&self, future: F) -> Result<ThreadsafeTask<F::Output>, LoopClosed<F>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if self.shared.is_closed() {
            self.shared
                .report_refused("spawn_threadsafe", std::any::type_name::<F>());
            return Err(LoopClosed(future));
        }
        self.post_spawn(FromFuture(future))
            .map_err(|start| LoopClosed(start.0))
    }

    /// Like [`spawn_threadsafe`](LoopHandle::spawn_threadsafe), but sends a `Send` closure
    /// that makes the future on the loop thread, so the future itself may be `!Send` (hold
    /// `Rc`s, spawn and await loop tasks).
    ///
    /// # Errors
    ///
    /// [`LoopClosed`] if the loop is closed; it holds `make_future`, never called.
    ///
    /// # Examples
    ///
    /// ```
    /// let thread = evloop::LoopThread::start().unwrap();
    /// let task = thread.handle().spawn_threadsafe_with(|| async {
    ///     let shared = std::rc::Rc::new(21); // !Send, fine: it never leaves the loop
    ///     let inner = evloop::spawn(async { 2 });
    ///     *shared * inner.await.unwrap()
    /// }).unwrap();
    /// assert_eq!(task.result(), Ok(42));
    /// thread.stop().unwrap();
    /// ```
    #[track_caller]
    pub fn spawn_threadsafe_with<M, F>(
        &self,
        make_future: M,
    ) -> Result<ThreadsafeTask<F::Output>, LoopClosed<M>>
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        self.post_spawn(FromFn(make_future))
            .map_err(|start| LoopClosed(start.0))
    }

    /// Posts a task start; hands the start back if the loop is closed.
    #[track_caller]
    fn post_spawn<S: Start>(&self, start: S) -> Result<ThreadsafeTask<S::Output>, S> {
        if self.shared.is_closed() {
            self.shared
                .report_refused("spawn_threadsafe", std::any::type_name::<S>());
            return Err(start);
        }
        let (job, task) =
            SpawnRemote::new(start, self.shared.clone(), std::panic::Location::caller());
        match self.shared.post(Remote::Call(Box::new(job))) {
            Ok(()) => Ok(task),
            Err(Remote::Call(call)) => {
                self.shared
                    .report_refused("spawn_threadsafe", std::any::type_name::<S>());
                let job = call
                    .into_any()
                    .downcast::<SpawnRemote<S>>()
                    .expect("a refused post is handed back as the type it was sent as");
                Err(job.into_start())
            }
            Err(_) => unreachable!("post hands back the message it was given"),
        }
    }

    /// Asks the loop to stop after its current iteration, from any thread (asyncio's
    /// `loop.stop()` posted with `call_soon_threadsafe`).
    ///
    /// If the loop is not running, its next `run_forever` runs one iteration and returns.
    ///
    /// # Errors
    ///
    /// [`LoopError::Closed`] if the loop is closed.
    pub fn stop(&self) -> Result<(), LoopError> {
        self.shared.post(Remote::Stop).map_err(|_| {
            self.shared
                .report_refused("LoopHandle::stop", "the stop request");
            LoopError::Closed
        })
    }

    /// Whether the loop has been closed.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }
}

impl fmt::Debug for LoopHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopHandle")
            .field("loop_id", &self.shared.loop_id)
            .field("closed", &self.shared.is_closed())
            .finish()
    }
}
