//! The reactor: the loop's `mio::Poll`, and I/O sources that turn readiness into wakeups.
//!
//! The loop owns one [`Reactor`]. Every registered source gets a slab key, which is its mio
//! `Token`, and a small shared [`SourceState`]: readiness bits the reactor sets, a list of
//! waiting readers and one of waiting writers (their `Waker`s). Two `Token`s live outside the
//! slab: [`WAKER_TOKEN`], the shared `mio::Waker` that other threads poke (see `remote.rs`),
//! and [`SIGNAL_TOKEN`], the self-pipes that signal handlers write to (see `signal/`).
//!
//! Sources are registered edge-triggered, as mio requires. The protocol for a user of
//! [`IoSource`] is tokio's and async-io's: try the operation; on `WouldBlock`, clear the
//! readiness you consumed and wait for the next edge. Because the loop is single-threaded,
//! no event can be processed between an operation returning `WouldBlock` and the clear, so
//! no edge is ever lost and no "tick" counter is needed. A spurious wakeup (readiness seen,
//! but the operation says `WouldBlock`) therefore costs one syscall and nothing else.
//!
//! Any number of tasks may wait in each direction: an edge wakes all of them, and they race
//! for the bytes (tokio allows this too; asyncio's streams refuse a second reader).
//!
//! Budget: a socket that always has data never says `WouldBlock`, so a task reading it in a
//! loop would never return `Pending` and the loop would never run anyone else. Each ready
//! entry may complete [`IO_BUDGET`] operations through `poll_read_with`/`poll_write_with`;
//! after that they wake the task and return `Pending` once, which puts it at the back of the
//! ready queue (tokio's cooperative budget, with its number; in asyncio the data arrives
//! through callbacks, so a reader yields at every chunk anyway).
//!
//! This file does not decide the poll timeout or when to poll; the iteration in
//! `run_once.rs` does. It never calls a `Waker` while the reactor is borrowed: wakers are
//! collected and woken after.

use std::cell::Cell;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use mio::event::Source;
use mio::{Events, Interest, Token};
use slab::Slab;

use crate::error::LoopError;
use crate::event_loop::EventLoop;

/// I/O operations a ready entry may complete before it yields (see "Budget" above).
pub(crate) const IO_BUDGET: u32 = 128;

/// The token of the shared `mio::Waker` that threadsafe posts use.
pub(crate) const WAKER_TOKEN: Token = Token(usize::MAX);

/// The token of every signal self-pipe of the loop (`signal/loop_signals.rs`): an event on it
/// means "some signal arrived", and the loop reads all its pipes to learn which.
pub(crate) const SIGNAL_TOKEN: Token = Token(usize::MAX - 1);

// ANCHOR: readiness
/// Readiness bit: the source can be read (or accepted from).
const READABLE: u8 = 1;
/// Readiness bit: the source can be written.
const WRITABLE: u8 = 1 << 1;
/// Readiness bit, sticky: the read half is closed (reads return EOF, never block).
const READ_CLOSED: u8 = 1 << 2;
/// Readiness bit, sticky: the write half is closed (writes fail, never block).
const WRITE_CLOSED: u8 = 1 << 3;
/// Readiness bit, sticky: the source reported an error (the next operation returns it).
const ERROR: u8 = 1 << 4;

/// What the reactor knows about one registered source, shared with its [`IoSource`].
#[derive(Default)]
pub(crate) struct SourceState {
    /// Readiness seen and not yet consumed (the bit constants above).
    readiness: Cell<u8>,
    /// The tasks waiting to read, all woken by the next readable edge. Kept (emptied, not
    /// dropped) across waits so that waiting does not allocate.
    readers: Cell<Vec<Waker>>,
    /// The tasks waiting to write, all woken by the next writable edge.
    writers: Cell<Vec<Waker>>,
}
// ANCHOR_END: readiness

/// The loop's poller and its registered sources.
pub(crate) struct Reactor {
    /// The OS poller (epoll on Linux).
    poll: mio::Poll,
    /// Reused event buffer for `poll`.
    events: Events,
    /// Registered sources by token.
    sources: Slab<Rc<SourceState>>,
    /// The emptied waker list of the previous poll, reused so that polling does not
    /// allocate (see [`Reactor::recycle`]).
    spare_wakers: Vec<Waker>,
}

/// What one call to [`Reactor::poll`] found.
pub(crate) struct PollOutcome {
    /// The shared `mio::Waker` fired: threadsafe posts may be waiting.
    pub(crate) remote: bool,
    /// A signal self-pipe became readable: signals may be waiting to be dispatched.
    pub(crate) signals: bool,
    /// Tasks to wake, collected so they are woken after the reactor is released.
    pub(crate) wakers: Vec<Waker>,
}

impl Reactor {
    /// A reactor around a fresh `mio::Poll`.
    pub(crate) fn new(poll: mio::Poll) -> Self {
        Reactor {
            poll,
            events: Events::with_capacity(1024),
            sources: Slab::new(),
            spare_wakers: Vec::new(),
        }
    }

    /// How many I/O sources are registered (the shared waker not counted).
    pub(crate) fn source_count(&self) -> usize {
        self.sources.len()
    }

    // ANCHOR: reactor_poll
    /// Blocks in the OS poller for at most `timeout` (`None`: until an event) and turns the
    /// events into readiness bits and wakers.
    pub(crate) fn poll(&mut self, timeout: Option<Duration>) -> io::Result<PollOutcome> {
        let mut outcome = PollOutcome {
            remote: false,
            signals: false,
            wakers: std::mem::take(&mut self.spare_wakers),
        };
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            // Careful: a signal interrupting epoll_wait is not an error; the loop just
            // iterates again with a freshly computed timeout.
            Err(error) if error.kind() == io::ErrorKind::Interrupted => return Ok(outcome),
            Err(error) => return Err(error),
        }
        for event in self.events.iter() {
            if event.token() == WAKER_TOKEN {
                outcome.remote = true;
                continue;
            }
            if event.token() == SIGNAL_TOKEN {
                outcome.signals = true;
                continue;
            }
            // Careful: an event for a key that was deregistered meanwhile is ignored.
            let Some(state) = self.sources.get(event.token().0) else {
                continue;
            };
            let mut bits = 0;
            if event.is_readable() {
                bits |= READABLE;
            }
            if event.is_writable() {
                bits |= WRITABLE;
            }
            if event.is_read_closed() {
                bits |= READ_CLOSED;
            }
            if event.is_write_closed() {
                bits |= WRITE_CLOSED;
            }
            if event.is_error() {
                bits |= ERROR;
            }
            state.readiness.set(state.readiness.get() | bits);
            if bits & (READABLE | READ_CLOSED | ERROR) != 0 {
                drain_into(&state.readers, &mut outcome.wakers);
            }
            if bits & (WRITABLE | WRITE_CLOSED | ERROR) != 0 {
                drain_into(&state.writers, &mut outcome.wakers);
            }
        }
        Ok(outcome)
    }
    // ANCHOR_END: reactor_poll

    /// Takes back an outcome's waker list once its wakers were woken (it must be empty).
    pub(crate) fn recycle(&mut self, wakers: Vec<Waker>) {
        debug_assert!(wakers.is_empty());
        self.spare_wakers = wakers;
    }

    /// The registry, for creating the shared `mio::Waker`.
    pub(crate) fn registry(&self) -> &mio::Registry {
        self.poll.registry()
    }
}

// ANCHOR: drain_into
/// Moves the wakers in `slot` to `out`, keeping the slot's allocation.
fn drain_into(slot: &Cell<Vec<Waker>>, out: &mut Vec<Waker>) {
    let mut wakers = slot.take();
    out.append(&mut wakers);
    slot.set(wakers);
}
// ANCHOR_END: drain_into

/// Whether `result` is the "not now" answer of a non-blocking operation.
pub(crate) fn would_block<R>(result: &io::Result<R>) -> bool {
    matches!(result, Err(error) if error.kind() == io::ErrorKind::WouldBlock)
}

/// Any mio source registered with a loop's reactor: awaits readiness instead of blocking.
///
/// This is the low-level door to the reactor (async-io's `Async<T>`, tokio's
/// `PollEvented`): wrap a non-blocking mio source, then run operations with
/// [`read_with`](IoSource::read_with) / [`write_with`](IoSource::write_with), which retry on
/// `WouldBlock` after waiting for the next readiness edge (or their poll forms,
/// [`poll_read_with`](IoSource::poll_read_with) / [`poll_write_with`](IoSource::poll_write_with),
/// for `poll_*` trait methods). Any number of tasks may wait in each direction; an edge wakes
/// them all.
///
/// Dropping the `IoSource` deregisters the source. It must be used on its loop's thread
/// (it is `!Send`), while that loop runs.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use evloop::{EventLoop, IoSource};
///
/// let lp = EventLoop::new().unwrap();
/// let (a, b) = mio::net::UnixStream::pair().unwrap();
/// let a = IoSource::new(&lp, a).unwrap();
/// let b = IoSource::new(&lp, b).unwrap();
/// let got = lp.run_until_complete(async move {
///     a.write_with(|mut s| s.write(b"ping")).await.unwrap();
///     let mut buf = [0u8; 4];
///     let n = b.read_with(|mut s| s.read(&mut buf)).await.unwrap();
///     buf[..n].to_vec()
/// }).unwrap();
/// assert_eq!(got, b"ping");
/// ```
pub struct IoSource<S: Source> {
    /// The wrapped source; `None` only after `into_inner` took it.
    source: Option<S>,
    /// Readiness and wakers, shared with the reactor's slab entry.
    state: Rc<SourceState>,
    /// The slab key, which is also the mio token.
    key: usize,
    /// The loop whose reactor holds the registration.
    event_loop: EventLoop,
}

impl<S: Source> IoSource<S> {
    /// Registers `source` (already non-blocking) with `event_loop`'s reactor for reading and
    /// writing.
    ///
    /// # Errors
    ///
    /// The OS refusing the registration, or the loop being closed (an error of kind `Other`
    /// wrapping [`LoopError::Closed`]).
    pub fn new(event_loop: &EventLoop, mut source: S) -> io::Result<Self> {
        let core = &event_loop.core;
        let mut reactor = core.reactor.borrow_mut();
        let Some(reactor) = reactor.as_mut() else {
            return Err(io::Error::other(LoopError::Closed));
        };
        let state = Rc::new(SourceState::default());
        let entry = reactor.sources.vacant_entry();
        let key = entry.key();
        reactor.poll.registry().register(
            &mut source,
            Token(key),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        entry.insert(state.clone());
        Ok(IoSource {
            source: Some(source),
            state,
            key,
            event_loop: event_loop.clone(),
        })
    }

    /// The wrapped source.
    pub fn get_ref(&self) -> &S {
        self.source
            .as_ref()
            .expect("source present until into_inner")
    }

    /// The wrapped source, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        self.source
            .as_mut()
            .expect("source present until into_inner")
    }

    // ANCHOR: poll_readable
    /// Polls for read readiness; registers `cx`'s waker if not ready.
    pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_ready(cx, READABLE | READ_CLOSED | ERROR, &self.state.readers)
    }
    // ANCHOR_END: poll_readable

    /// Polls for write readiness; registers `cx`'s waker if not ready.
    pub fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_ready(cx, WRITABLE | WRITE_CLOSED | ERROR, &self.state.writers)
    }

    /// Waits until the source is readable (or closed for reading, or in error).
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| self.poll_readable(cx)).await
    }

    /// Waits until the source is writable (or closed for writing, or in error).
    pub async fn writable(&self) -> io::Result<()> {
        poll_fn(|cx| self.poll_writable(cx)).await
    }

    // ANCHOR: clear_readable
    /// Forgets the read readiness seen so far: call it after a read returned `WouldBlock`.
    pub fn clear_readable(&self) {
        // Careful: a pending error was consumed by the operation that said WouldBlock; a
        // sticky ERROR bit would make every later wait return at once and the caller spin.
        self.state
            .readiness
            .set(self.state.readiness.get() & !(READABLE | ERROR));
    }
    // ANCHOR_END: clear_readable

    /// Forgets the write readiness seen so far: call it after a write returned `WouldBlock`.
    pub fn clear_writable(&self) {
        self.state
            .readiness
            .set(self.state.readiness.get() & !(WRITABLE | ERROR));
    }

    // ANCHOR: forget_readable
    /// Forgets the readable bit only (not an error or hang-up): after a short read drained
    /// the socket, the next read should wait for the next edge without trying first.
    pub(crate) fn forget_readable(&self) {
        self.state
            .readiness
            .set(self.state.readiness.get() & !READABLE);
    }
    // ANCHOR_END: forget_readable

    /// Forgets the writable bit only: after a short write filled the socket.
    pub(crate) fn forget_writable(&self) {
        self.state
            .readiness
            .set(self.state.readiness.get() & !WRITABLE);
    }

    /// The loop whose reactor holds the registration.
    pub(crate) fn event_loop(&self) -> &EventLoop {
        &self.event_loop
    }

    // ANCHOR: poll_read_with
    /// Runs a read-like operation once the source is readable, for `poll_*` methods: on
    /// `WouldBlock` it clears the readiness and tries again, until the operation answers or
    /// the source must wait (then `cx`'s waker is registered and it returns `Pending`).
    ///
    /// The operation is only tried when readiness was seen, so a read that would block costs
    /// no syscall (tokio's order; async-io tries first).
    pub fn poll_read_with<R>(
        &self,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        std::task::ready!(self.poll_budget(cx));
        loop {
            if let Err(error) = std::task::ready!(self.poll_readable(cx)) {
                return Poll::Ready(Err(error));
            }
            let result = op(self.get_ref());
            if !would_block(&result) {
                self.spend_budget();
                return Poll::Ready(result);
            }
            self.clear_readable();
        }
    }
    // ANCHOR_END: poll_read_with

    /// Runs a write-like operation once the source is writable, for `poll_*` methods; the
    /// write twin of [`poll_read_with`](IoSource::poll_read_with).
    pub fn poll_write_with<R>(
        &self,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        std::task::ready!(self.poll_budget(cx));
        loop {
            if let Err(error) = std::task::ready!(self.poll_writable(cx)) {
                return Poll::Ready(Err(error));
            }
            let result = op(self.get_ref());
            if !would_block(&result) {
                self.spend_budget();
                return Poll::Ready(result);
            }
            self.clear_writable();
        }
    }

    /// Runs a read-like operation until it does not return `WouldBlock`, waiting for
    /// readability in between.
    ///
    /// # Errors
    ///
    /// Whatever error `op` returns other than `WouldBlock`.
    pub async fn read_with<R>(&self, mut op: impl FnMut(&S) -> io::Result<R>) -> io::Result<R> {
        loop {
            match op(self.get_ref()) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.clear_readable();
                    self.readable().await?;
                }
                result => return result,
            }
        }
    }

    /// Runs a write-like operation until it does not return `WouldBlock`, waiting for
    /// writability in between.
    ///
    /// # Errors
    ///
    /// Whatever error `op` returns other than `WouldBlock`.
    pub async fn write_with<R>(&self, mut op: impl FnMut(&S) -> io::Result<R>) -> io::Result<R> {
        loop {
            match op(self.get_ref()) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.clear_writable();
                    self.writable().await?;
                }
                result => return result,
            }
        }
    }

    /// Deregisters the source and gives it back.
    ///
    /// # Errors
    ///
    /// The OS refusing the deregistration.
    pub fn into_inner(mut self) -> io::Result<S> {
        let mut source = self.source.take().expect("source present until into_inner");
        self.deregister(&mut source)?;
        Ok(source)
    }

    // ANCHOR: poll_ready
    /// With the running entry's budget spent, wakes the task and returns `Pending`, so it
    /// goes to the back of the ready queue.
    fn poll_budget(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.event_loop.core.io_budget.get() == 0 {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(())
    }

    /// Counts one completed operation against the running entry's budget.
    fn spend_budget(&self) {
        let budget = &self.event_loop.core.io_budget;
        budget.set(budget.get().saturating_sub(1));
    }

    /// Shared body of `poll_readable`/`poll_writable`.
    fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        wanted: u8,
        slot: &Cell<Vec<Waker>>,
    ) -> Poll<io::Result<()>> {
        if self.state.readiness.get() & wanted != 0 {
            return Poll::Ready(Ok(()));
        }
        if self.event_loop.is_closed() {
            return Poll::Ready(Err(io::Error::other(LoopError::Closed)));
        }
        // A task polled twice before the edge stays registered once.
        let mut wakers = slot.take();
        if !wakers.iter().any(|waker| waker.will_wake(cx.waker())) {
            wakers.push(cx.waker().clone());
        }
        slot.set(wakers);
        Poll::Pending
    }
    // ANCHOR_END: poll_ready

    /// Removes the registration from the reactor (if the loop is still open).
    fn deregister(&self, source: &mut S) -> io::Result<()> {
        let mut reactor = self.event_loop.core.reactor.borrow_mut();
        if let Some(reactor) = reactor.as_mut() {
            reactor.sources.try_remove(self.key);
            reactor.poll.registry().deregister(source)?;
        }
        Ok(())
    }
}

impl<S: Source> Drop for IoSource<S> {
    fn drop(&mut self) {
        if let Some(mut source) = self.source.take() {
            let _ = self.deregister(&mut source);
        }
    }
}

impl<S: Source + fmt::Debug> fmt::Debug for IoSource<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IoSource")
            .field("source", &self.source)
            .field("token", &self.key)
            .finish()
    }
}
