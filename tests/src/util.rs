//! Helpers shared by the integration tests: deadlines, leak checks, virtual-clock loops,
//! exception recorders and manual polling.
//!
//! - [`deadline`] runs a test body on a fresh thread and fails the test if it takes longer
//!   than its budget, so a hang fails fast instead of eating CI. The body creates its own
//!   loop (loops are `!Send`).
//! - [`exclusive`] runs a body while no other test of this binary runs, so it can count the
//!   process's threads and file descriptors ([`Resources`]) without seeing other tests' ones.
//!   Every `deadline` body holds the shared side of the same lock.
//! - [`virtual_loop`] builds a loop on the virtual clock; [`on_virtual_loop`] runs one future
//!   on a fresh one under the default deadline; [`settle`] lets queued work run.
//! - [`record_exceptions`] and [`record_exception_texts`] collect what reaches a loop's
//!   exception handler; [`outcomes`] awaits tasks in order; [`Occupancy`] measures how many
//!   tasks are inside a section at once.
//! - [`poll_once`] and [`CountingWaker`] poll a future by hand, without a loop.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use evloop::{EventLoop, ExceptionContext, Task, TaskError};
use parking_lot::RwLock;

/// Readers: ordinary tests. Writer: a test that counts process-wide resources.
static RESOURCE_LOCK: RwLock<()> = RwLock::new(());

/// Runs `body` on its own thread and panics if it does not finish within `budget`.
/// A panic inside `body` fails the test with the body's message.
pub fn deadline<T: Send + 'static>(
    budget: Duration,
    body: impl FnOnce() -> T + Send + 'static,
) -> T {
    let _shared = RESOURCE_LOCK.read();
    run_with_deadline(budget, body)
}

/// Like [`deadline`], but no other test runs meanwhile (for thread and fd counting).
pub fn exclusive<T: Send + 'static>(
    budget: Duration,
    body: impl FnOnce() -> T + Send + 'static,
) -> T {
    let _alone = RESOURCE_LOCK.write();
    run_with_deadline(budget, body)
}

/// The common body of `deadline` and `exclusive`.
fn run_with_deadline<T: Send + 'static>(
    budget: Duration,
    body: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = thread::Builder::new()
        .name("test-body".into())
        .spawn(move || {
            let _ = tx.send(body());
        })
        .expect("spawn test body thread");
    match rx.recv_timeout(budget) {
        Ok(value) => {
            worker.join().expect("test body thread");
            value
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(payload) => std::panic::resume_unwind(payload),
            Ok(()) => unreachable!("the body returned without sending"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("test exceeded its deadline of {budget:?} (a hang?)")
        }
    }
}

/// A snapshot of this process's threads and open file descriptors (Linux `/proc`).
///
/// libtest's own threads are not counted: it names each after its test (`module::test`, cut
/// to 15 bytes by Linux), and it may start one for the next test while an `exclusive` test
/// runs (that thread then waits for the lock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resources {
    /// Threads in `/proc/self/task`, except libtest's test threads.
    pub threads: usize,
    /// Entries in `/proc/self/fd`.
    pub fds: usize,
}

impl Resources {
    /// Counts now.
    pub fn now() -> Resources {
        let count = |dir: &str| std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
        let modules = test_modules();
        let threads = thread_names()
            .iter()
            .filter(|name| !modules.iter().any(|module| is_test_thread(name, module)))
            .count();
        Resources {
            threads,
            fds: count("/proc/self/fd"),
        }
    }

    /// Waits (briefly) until the counts are back to `self`, then asserts they are.
    /// Threads that were joined may take a moment to leave `/proc`.
    pub fn assert_back_to(self, what: &str) {
        let mut now = Resources::now();
        for _ in 0..200 {
            if now.threads <= self.threads && now.fds <= self.fds {
                break;
            }
            thread::sleep(Duration::from_millis(5));
            now = Resources::now();
        }
        assert!(
            now.threads <= self.threads && now.fds <= self.fds,
            "{what} leaked: before {self:?}, after {now:?}; threads now: {:?}",
            thread_names()
        );
    }
}

/// The modules of this test binary (the `mod` lines of `main.rs`): libtest names its threads
/// after tests, and every test lives in one of them.
fn test_modules() -> &'static [String] {
    static MODULES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    MODULES.get_or_init(|| {
        let main = concat!(env!("CARGO_MANIFEST_DIR"), "/src/main.rs");
        std::fs::read_to_string(main)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.trim().strip_prefix("mod ")?.strip_suffix(';'))
            .filter(|module| *module != "util")
            .map(|module| format!("{module}::"))
            .collect()
    })
}

/// Whether a thread name (at most 15 bytes, as Linux keeps it) is libtest's thread for a test
/// in `module` (given as `name::`).
fn is_test_thread(name: &str, module: &str) -> bool {
    if name.len() >= 15 {
        module.starts_with(name) || name.starts_with(module)
    } else {
        name.starts_with(module)
    }
}

/// How many threads of this process have a name starting with `prefix` (Linux keeps the
/// first 15 bytes of a thread's name, so keep prefixes short).
pub fn threads_named(prefix: &str) -> usize {
    thread_names()
        .iter()
        .filter(|name| name.starts_with(prefix))
        .count()
}

/// The names of this process's threads (for leak messages).
pub fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
                .map(|name| name.trim_end().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The text of a caught panic payload (`&str` or `String`; empty for anything else).
pub fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// A short unit of time for scenario tests (see shared/SCENARIOS.md).
pub const UNIT: Duration = Duration::from_millis(20);

/// The default budget for one test.
pub const BUDGET: Duration = Duration::from_secs(20);

/// The proptest case count: `default` for CI, or `$PROPTEST_CASES` (the `just soak` recipe
/// raises it).
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// A loop on the virtual clock.
pub fn virtual_loop() -> EventLoop {
    EventLoop::builder().virtual_clock(true).build().unwrap()
}

/// Runs the future that `body` makes on a fresh [`virtual_loop`], under the default
/// [`deadline`], closes the loop and returns the future's value.
///
/// `body` runs on the deadline's thread, so the future may hold `Rc`s (loops are `!Send`).
pub fn on_virtual_loop<T, F>(body: impl FnOnce() -> F + Send + 'static) -> T
where
    T: Send + 'static,
    F: Future<Output = T>,
{
    deadline(BUDGET, move || {
        let lp = virtual_loop();
        let value = lp.run_until_complete(body()).unwrap();
        lp.close().unwrap();
        value
    })
}

/// Yields `iterations` times, letting every ready task run in between.
pub async fn settle_for(iterations: usize) {
    for _ in 0..iterations {
        evloop::yield_now().await;
    }
}

/// Lets the loop run 8 iterations: enough for every hand-off chain the sync tests build.
pub async fn settle() {
    settle_for(8).await;
}

/// Awaits every task in order and returns their outcomes, in the same order.
pub async fn outcomes<T: 'static>(
    tasks: impl IntoIterator<Item = Task<T>>,
) -> Vec<Result<T, TaskError>> {
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await);
    }
    outcomes
}

/// Installs an exception handler on `lp` that keeps every context it is given.
pub fn record_exceptions(lp: &EventLoop) -> Rc<RefCell<Vec<ExceptionContext>>> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let sink = seen.clone();
    lp.set_exception_handler(Some(Box::new(move |context: &ExceptionContext| {
        sink.borrow_mut().push(context.clone())
    })));
    seen
}

/// Installs an exception handler on `lp` that keeps each report's panic text (or its message
/// when it carries no panic).
pub fn record_exception_texts(lp: &EventLoop) -> Rc<RefCell<Vec<String>>> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let sink = seen.clone();
    lp.set_exception_handler(Some(Box::new(move |context: &ExceptionContext| {
        sink.borrow_mut().push(
            context
                .panic
                .clone()
                .unwrap_or_else(|| context.message.clone()),
        )
    })));
    seen
}

/// A waker that counts how often it was woken.
pub struct CountingWaker(AtomicUsize);

impl CountingWaker {
    /// A fresh counter and the waker that bumps it.
    pub fn new() -> (Arc<CountingWaker>, Waker) {
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        (counter.clone(), Waker::from(counter))
    }

    /// How many wakes so far.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Polls `future` once with `waker`.
pub fn poll_once<F: Future + Unpin>(future: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(waker))
}

/// Counts the sections open at once (tasks inside a lock or holding a permit), their peak,
/// and how many were entered in all.
#[derive(Clone, Default)]
pub struct Occupancy(Rc<OccupancyCounts>);

/// The counters an [`Occupancy`] shares with its [`Inside`] guards.
#[derive(Default)]
struct OccupancyCounts {
    /// Sections open now.
    inside: Cell<usize>,
    /// The most sections ever open at once.
    peak: Cell<usize>,
    /// Sections entered so far.
    entries: Cell<usize>,
}

/// One open section of an [`Occupancy`]; dropping it leaves the section.
pub struct Inside(Rc<OccupancyCounts>);

impl Occupancy {
    /// Enters a section until the returned guard is dropped.
    pub fn enter(&self) -> Inside {
        let counts = &self.0;
        counts.inside.set(counts.inside.get() + 1);
        counts.peak.set(counts.peak.get().max(counts.inside.get()));
        counts.entries.set(counts.entries.get() + 1);
        Inside(self.0.clone())
    }

    /// The most sections open at once so far.
    pub fn peak(&self) -> usize {
        self.0.peak.get()
    }

    /// How many sections were entered so far.
    pub fn entries(&self) -> usize {
        self.0.entries.get()
    }
}

impl Drop for Inside {
    fn drop(&mut self) {
        self.0.inside.set(self.0.inside.get() - 1);
    }
}
