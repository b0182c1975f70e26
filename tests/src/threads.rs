//! Helpers for tests that cross threads: [`SyncDropCounter`] (the `Send` cousin of
//! `lifecycle::DropCounter`, which also records the dropping thread), [`Gate`] (a `Send`
//! future another thread releases), [`eventually`], and small wrappers to run code on a loop
//! from outside it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use evloop::{LoopHandle, TaskError};

/// The name `LoopThread::start` gives its thread.
pub(crate) const LOOP_THREAD_NAME: &str = "evloop-loop";

/// How long [`eventually`] and the channel waits of these tests wait before failing.
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

/// Counts, across threads, the drops of the [`SyncDropGuard`]s it hands out.
#[derive(Clone, Default)]
pub(crate) struct SyncDropCounter {
    /// The name of the thread of each drop so far, in drop order (its length is the count).
    dropped_on: Arc<Mutex<Vec<String>>>,
}

impl SyncDropCounter {
    /// A counter at zero.
    pub(crate) fn new() -> Self {
        SyncDropCounter::default()
    }

    /// A `Send` guard that records its drop here; move it into a closure or future.
    pub(crate) fn guard(&self) -> SyncDropGuard {
        SyncDropGuard(self.dropped_on.clone())
    }

    /// How many guards were dropped.
    pub(crate) fn count(&self) -> usize {
        self.dropped_on.lock().unwrap().len()
    }

    /// The names of the threads that dropped the guards, in drop order.
    pub(crate) fn dropped_on(&self) -> Vec<String> {
        self.dropped_on.lock().unwrap().clone()
    }
}

/// Records its drop, and the dropping thread's name, in its [`SyncDropCounter`]'s list.
pub(crate) struct SyncDropGuard(Arc<Mutex<Vec<String>>>);

impl Drop for SyncDropGuard {
    fn drop(&mut self) {
        let name = thread::current().name().unwrap_or("<unnamed>").to_owned();
        self.0.lock().unwrap().push(name);
    }
}

/// A one-shot event that any thread may open; [`Gate::wait`] is a `Send` future that stays
/// pending until then. One waiter per gate (it keeps one waker).
#[derive(Clone, Default)]
pub(crate) struct Gate {
    /// Shared by the opener and the waiting future.
    state: Arc<Mutex<GateState>>,
}

/// The mutable part of a [`Gate`].
#[derive(Default)]
pub(crate) struct GateState {
    /// Set by `open`.
    open: bool,
    /// The waiter's waker, taken by `open` and woken outside the lock.
    waker: Option<Waker>,
    /// How many times the waiting future was polled.
    polls: usize,
}

impl Gate {
    /// A closed gate.
    pub(crate) fn new() -> Self {
        Gate::default()
    }

    /// Opens the gate and wakes its waiter, from any thread.
    pub(crate) fn open(&self) {
        let waker = {
            let mut state = self.state.lock().unwrap();
            state.open = true;
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// How many times the waiting future has been polled.
    pub(crate) fn polls(&self) -> usize {
        self.state.lock().unwrap().polls
    }

    /// A future that completes once the gate is open.
    pub(crate) fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        GateWait(self.clone())
    }
}

/// The future of [`Gate::wait`].
pub(crate) struct GateWait(Gate);

impl Future for GateWait {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.0.state.lock().unwrap();
        state.polls += 1;
        if state.open {
            return Poll::Ready(());
        }
        state.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Waits until `condition` holds; panics naming `what` if it does not within [`PATIENCE`].
pub(crate) fn eventually(what: &str, condition: impl Fn() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < PATIENCE, "never happened: {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// A `Send` future that holds `held` (a drop guard, say) until `gate` opens, then returns
/// `value`.
pub(crate) fn parked<T: Send + 'static>(
    gate: &Gate,
    held: impl Send + 'static,
    value: T,
) -> impl Future<Output = T> + Send + 'static {
    let wait = gate.wait();
    async move {
        let _held = held;
        wait.await;
        value
    }
}

/// Runs `f` on the loop behind `handle` and returns its value. Since posts from one thread
/// run in order, every post this thread (or a thread since joined) made has run by then.
pub(crate) fn on_loop<T: Send + 'static>(
    handle: &LoopHandle,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let post = move || {
        let _ = tx.send(f());
    };
    handle.call_soon_threadsafe(post).unwrap();
    rx.recv_timeout(PATIENCE).expect("the loop ran the call")
}

/// Keeps the loop busy inside a callback until the returned sender sends (or is dropped).
pub(crate) fn block_the_loop(handle: &LoopHandle) -> mpsc::Sender<()> {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (busy_tx, busy_rx) = mpsc::channel();
    let post = move || {
        busy_tx.send(()).unwrap();
        let _ = release_rx.recv();
    };
    handle.call_soon_threadsafe(post).unwrap();
    busy_rx.recv_timeout(PATIENCE).expect("the loop is busy");
    release_tx
}

/// Opens `gate` from a new thread after `delay`.
pub(crate) fn open_later(gate: &Gate, delay: Duration) -> thread::JoinHandle<()> {
    let gate = gate.clone();
    thread::spawn(move || {
        thread::sleep(delay);
        gate.open();
    })
}

/// The text of a caught panic.
pub(crate) fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    crate::util::payload_text(&*payload)
}

/// Asserts that `outcome` is `Panicked` with a message containing `text`.
pub(crate) fn assert_panicked<T: std::fmt::Debug>(outcome: Result<T, TaskError>, text: &str) {
    match outcome {
        Err(TaskError::Panicked(message)) => assert!(message.contains(text), "{message}"),
        other => panic!("expected a panic with {text:?}, got {other:?}"),
    }
}

/// Starts `threads` posters of `posts` posts each; post `seq` of poster `from` is
/// `make(from, seq)`. Returns once every poster is done.
pub(crate) fn post_from_threads<F: FnOnce() + Send + 'static>(
    handle: &LoopHandle,
    threads: usize,
    posts: usize,
    make: impl Fn(usize, usize) -> F + Send + Sync + Clone + 'static,
) {
    let posters: Vec<_> = (0..threads)
        .map(|from| {
            let (handle, make) = (handle.clone(), make.clone());
            thread::spawn(move || {
                for seq in 0..posts {
                    handle.call_soon_threadsafe(make(from, seq)).unwrap();
                }
            })
        })
        .collect();
    posters.into_iter().for_each(|p| p.join().unwrap());
}
