//! asyncio's `Queue`, `LifoQueue` and `PriorityQueue`: one implementation, three orders.
//!
//! - `mod.rs` (this file): [`GenericQueue`], the user's handle, its methods, and the three
//!   names users write ([`Queue`], [`LifoQueue`], [`PriorityQueue`]).
//! - `order.rs`: the three orders (the containers) and the sealed [`QueueOrder`] trait.
//! - `state.rs`: the shared state and the claim protocol that makes waiting fair and
//!   cancellation lose nothing (read its docs first).
//! - `futures.rs`: [`QueuePut`], [`QueueGet`], [`QueueJoin`].
//! - `error.rs`: [`QueueShutDown`], [`PutNowaitError`], [`GetNowaitError`],
//!   [`TaskDoneTooManyTimes`].
//!
//! Not here: waking order across tasks (the loop's ready queue runs woken tasks in FIFO
//! order), and anything threadsafe (a queue belongs to one loop's thread, like asyncio's).

mod error;
mod futures;
mod order;
mod state;

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::task::Waker;

pub use error::{GetNowaitError, PutNowaitError, QueueShutDown, TaskDoneTooManyTimes};
pub use futures::{QueueGet, QueueJoin, QueuePut};
pub use order::{FifoOrder, LifoOrder, PriorityOrder, QueueOrder};
use state::{wake, State};

/// A first-in, first-out queue (asyncio's `Queue`).
///
/// See [`GenericQueue`] for every method.
///
/// # Examples
///
/// ```
/// evloop::run(async {
///     let queue = evloop::Queue::new(2);
///     let consumer = evloop::spawn({
///         let queue = queue.clone();
///         async move {
///             let mut got = Vec::new();
///             while let Ok(item) = queue.get().await {
///                 got.push(item);
///                 queue.task_done().unwrap();
///             }
///             got
///         }
///     });
///     for n in 1..=5 {
///         queue.put(n).await.unwrap(); // waits while two items are queued
///     }
///     queue.join().await; // every item was taken and acknowledged
///     queue.shutdown(false); // the consumer's next get() fails: the end of the stream
///     assert_eq!(consumer.await.unwrap(), [1, 2, 3, 4, 5]);
/// })
/// .unwrap();
/// ```
pub type Queue<T> = GenericQueue<FifoOrder<T>>;

/// A last-in, first-out queue (asyncio's `LifoQueue`): `get` returns the newest item.
///
/// See [`GenericQueue`] for every method.
///
/// # Examples
///
/// ```
/// let stack = evloop::LifoQueue::unbounded();
/// for n in 1..=3 {
///     stack.put_nowait(n).unwrap();
/// }
/// assert_eq!(stack.get_nowait(), Ok(3));
/// assert_eq!(stack.get_nowait(), Ok(2));
/// ```
pub type LifoQueue<T> = GenericQueue<LifoOrder<T>>;

/// A queue that returns its smallest item first (asyncio's `PriorityQueue`, a heap like
/// `heapq`).
///
/// Items that compare equal leave in the order they were put (FIFO among ties), which
/// asyncio does not promise (its heap of `(priority, job)` pairs compares the jobs) but is
/// what a queue of jobs ordered by priority alone is expected to do. See [`GenericQueue`] for
/// every method.
///
/// The items' `Ord` runs while the queue's state is borrowed (the heap compares items as they
/// go in and out): an `Ord` that uses this same queue panics. It should not panic either: a
/// panicking `Ord` may lose the item being taken and leave [`join`](GenericQueue::join)'s
/// count off by one.
///
/// # Examples
///
/// ```
/// use std::cmp::Ordering;
///
/// /// A job, ordered by its priority alone.
/// struct Job(u8, &'static str);
///
/// impl Ord for Job {
///     fn cmp(&self, other: &Self) -> Ordering {
///         self.0.cmp(&other.0)
///     }
/// }
/// impl PartialOrd for Job {
///     fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
///         Some(self.cmp(other))
///     }
/// }
/// impl PartialEq for Job {
///     fn eq(&self, other: &Self) -> bool {
///         self.0 == other.0
///     }
/// }
/// impl Eq for Job {}
///
/// let jobs = evloop::PriorityQueue::unbounded();
/// for job in [Job(2, "b"), Job(1, "a"), Job(2, "c"), Job(2, "d")] {
///     jobs.put_nowait(job).unwrap();
/// }
/// let order: Vec<_> = std::iter::from_fn(|| jobs.get_nowait().ok()).map(|job| job.1).collect();
/// assert_eq!(order, ["a", "b", "c", "d"]); // smallest first, ties in arrival order
/// ```
pub type PriorityQueue<T> = GenericQueue<PriorityOrder<T>>;

/// A queue of items between the tasks of one loop, in the order `O`; a cheap `Clone` handle.
///
/// Write it as [`Queue`], [`LifoQueue`] or [`PriorityQueue`]; all three share this type and
/// its methods, which follow asyncio's `Queue` (including Python 3.13's `shutdown`):
///
/// - [`put`](Self::put) waits while the queue is full, [`get`](Self::get) while it is empty;
///   waiting getters are served in the order they started waiting, and so are putters.
/// - [`put_nowait`](Self::put_nowait) and [`get_nowait`](Self::get_nowait) never wait.
/// - [`task_done`](Self::task_done) and [`join`](Self::join) track items until they are
///   processed, not just taken.
/// - [`shutdown`](Self::shutdown) ends the stream.
///
/// Cancelling (dropping) a `put` or `get` future loses no item and no wake-up: see the
/// "Cancellation" sections of [`put`](Self::put) and [`get`](Self::get). The queue is
/// single-threaded like the loop (`!Send`).
///
/// # Examples
///
/// ```
/// evloop::run(async {
///     let queue = evloop::Queue::new(1);
///     queue.put("a").await.unwrap();
///     assert!(queue.full());
///     assert_eq!(queue.get().await, Ok("a"));
///     assert!(queue.empty());
/// })
/// .unwrap();
/// ```
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// assert_send(evloop::Queue::<u32>::unbounded()); // a queue stays on its loop's thread
/// ```
pub struct GenericQueue<O: QueueOrder> {
    /// The items, the waiters and the counters, shared by every clone and every future.
    state: Rc<RefCell<State<O>>>,
}

impl<T> Queue<T> {
    /// A FIFO queue that holds at most `maxsize` items; 0 means unbounded, as in asyncio.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = evloop::Queue::<u32>::new(10);
    /// assert_eq!(queue.maxsize(), 10);
    /// ```
    pub fn new(maxsize: usize) -> Self {
        GenericQueue::with_maxsize(maxsize)
    }

    /// A FIFO queue without a bound (`put` never waits); the same as `Queue::new(0)`.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = evloop::Queue::<u32>::unbounded();
    /// assert_eq!(queue.maxsize(), 0);
    /// ```
    pub fn unbounded() -> Self {
        GenericQueue::with_maxsize(0)
    }
}

impl<T> LifoQueue<T> {
    /// A LIFO queue that holds at most `maxsize` items; 0 means unbounded.
    ///
    /// # Examples
    ///
    /// ```
    /// let stack = evloop::LifoQueue::<u32>::new(10);
    /// assert_eq!(stack.maxsize(), 10);
    /// ```
    pub fn new(maxsize: usize) -> Self {
        GenericQueue::with_maxsize(maxsize)
    }

    /// A LIFO queue without a bound; the same as `LifoQueue::new(0)`.
    ///
    /// # Examples
    ///
    /// ```
    /// let stack = evloop::LifoQueue::<u32>::unbounded();
    /// assert_eq!(stack.maxsize(), 0);
    /// ```
    pub fn unbounded() -> Self {
        GenericQueue::with_maxsize(0)
    }
}

impl<T: Ord> PriorityQueue<T> {
    /// A priority queue that holds at most `maxsize` items; 0 means unbounded.
    ///
    /// # Examples
    ///
    /// ```
    /// let jobs = evloop::PriorityQueue::<(u8, String)>::new(10);
    /// assert_eq!(jobs.maxsize(), 10);
    /// ```
    pub fn new(maxsize: usize) -> Self {
        GenericQueue::with_maxsize(maxsize)
    }

    /// A priority queue without a bound; the same as `PriorityQueue::new(0)`.
    ///
    /// # Examples
    ///
    /// ```
    /// let jobs = evloop::PriorityQueue::<u32>::unbounded();
    /// assert_eq!(jobs.maxsize(), 0);
    /// ```
    pub fn unbounded() -> Self {
        GenericQueue::with_maxsize(0)
    }
}

impl<O: QueueOrder> GenericQueue<O> {
    /// A queue in order `O` that holds at most `maxsize` items (0: unbounded). `Queue::new`,
    /// `LifoQueue::new` and `PriorityQueue::new` say the same more plainly.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = evloop::GenericQueue::<evloop::FifoOrder<u32>>::with_maxsize(3);
    /// assert_eq!(queue.maxsize(), 3);
    /// ```
    pub fn with_maxsize(maxsize: usize) -> Self {
        GenericQueue {
            state: Rc::new(RefCell::new(State::new(maxsize))),
        }
    }

    /// Puts `item` in the queue, waiting for room while it is full (asyncio's `put`).
    ///
    /// Putters that wait are served in the order they started waiting; a new `put` does not
    /// overtake them.
    ///
    /// # Errors
    ///
    /// [`QueueShutDown`], with the item handed back, if the queue is shut down before the
    /// item went in (also while waiting).
    ///
    /// # Cancellation
    ///
    /// Dropping the future before it completes drops the item, which never was in the queue.
    /// If room had already been promised to it (it was woken but had not run yet), the
    /// promise passes to the next waiting putter, so no room is left unused.
    ///
    /// # Examples
    ///
    /// ```
    /// evloop::run(async {
    ///     let queue = evloop::Queue::new(1);
    ///     queue.put(1).await.unwrap();
    ///     let putter = evloop::spawn({
    ///         let queue = queue.clone();
    ///         async move { queue.put(2).await } // waits: the queue is full
    ///     });
    ///     evloop::yield_now().await;
    ///     assert_eq!(queue.qsize(), 1);
    ///     assert_eq!(queue.get().await, Ok(1)); // makes room
    ///     putter.await.unwrap().unwrap();
    ///     assert_eq!(queue.get().await, Ok(2));
    /// })
    /// .unwrap();
    /// ```
    pub fn put(&self, item: O::Item) -> QueuePut<O> {
        QueuePut {
            state: self.state.clone(),
            item: Some(item),
            key: None,
        }
    }

    /// Takes the next item, waiting while the queue is empty (asyncio's `get`).
    ///
    /// Getters that wait are served in the order they started waiting; a new `get` does not
    /// overtake them. After [`shutdown`](Self::shutdown), items still queued are handed out
    /// and then every `get` fails.
    ///
    /// # Errors
    ///
    /// [`QueueShutDown`] if the queue is shut down and empty (also while waiting).
    ///
    /// # Cancellation
    ///
    /// Dropping the future before it completes takes nothing: an item is only taken out of
    /// the queue by the poll that returns it. If an item had already been promised to it (it
    /// was woken but had not run yet), the promise passes to the next waiting getter, so the
    /// item is not stranded.
    ///
    /// # Examples
    ///
    /// ```
    /// evloop::run(async {
    ///     let queue = evloop::Queue::unbounded();
    ///     let getter = evloop::spawn({
    ///         let queue = queue.clone();
    ///         async move { queue.get().await } // waits: the queue is empty
    ///     });
    ///     evloop::yield_now().await;
    ///     queue.put_nowait("hello").unwrap();
    ///     assert_eq!(getter.await.unwrap(), Ok("hello"));
    /// })
    /// .unwrap();
    /// ```
    pub fn get(&self) -> QueueGet<O> {
        QueueGet {
            state: self.state.clone(),
            key: None,
        }
    }

    /// Puts `item` in the queue if there is room, without waiting (asyncio's `put_nowait`).
    ///
    /// Like asyncio's, it succeeds whenever [`full`](Self::full) is false, even if that room
    /// was promised to a putter that was woken and has not run yet; that putter then waits
    /// again.
    ///
    /// # Errors
    ///
    /// The item comes back in [`PutNowaitError::Full`] if the queue holds `maxsize` items,
    /// in [`PutNowaitError::ShutDown`] if it was shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// use evloop::PutNowaitError;
    ///
    /// let queue = evloop::Queue::new(1);
    /// assert_eq!(queue.put_nowait('a'), Ok(()));
    /// assert_eq!(queue.put_nowait('b'), Err(PutNowaitError::Full('b')));
    /// ```
    pub fn put_nowait(&self, item: O::Item) -> Result<(), PutNowaitError<O::Item>> {
        let getter = {
            let mut state = self.state.borrow_mut();
            if state.shut_down {
                return Err(PutNowaitError::ShutDown(item));
            }
            if state.room() == 0 {
                return Err(PutNowaitError::Full(item));
            }
            state.put(item)
        };
        wake(getter);
        Ok(())
    }

    /// Takes the next item if there is one, without waiting (asyncio's `get_nowait`).
    ///
    /// Like asyncio's, it succeeds whenever [`empty`](Self::empty) is false, even if that
    /// item was promised to a getter that was woken and has not run yet; that getter then
    /// waits again.
    ///
    /// # Errors
    ///
    /// [`GetNowaitError::Empty`] if the queue is empty, [`GetNowaitError::ShutDown`] if it is
    /// empty and shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// use evloop::GetNowaitError;
    ///
    /// let queue = evloop::Queue::unbounded();
    /// queue.put_nowait(7).unwrap();
    /// assert_eq!(queue.get_nowait(), Ok(7));
    /// assert_eq!(queue.get_nowait(), Err(GetNowaitError::Empty));
    /// ```
    pub fn get_nowait(&self) -> Result<O::Item, GetNowaitError> {
        let taken = {
            let mut state = self.state.borrow_mut();
            match state.take() {
                Some(taken) => taken,
                None if state.shut_down => return Err(GetNowaitError::ShutDown),
                None => return Err(GetNowaitError::Empty),
            }
        };
        let (item, putter) = taken;
        wake(putter);
        Ok(item)
    }

    /// How many items are in the queue (asyncio's `qsize`), including items promised to
    /// woken getters that have not run yet.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = evloop::Queue::unbounded();
    /// queue.put_nowait(()).unwrap();
    /// assert_eq!(queue.qsize(), 1);
    /// ```
    pub fn qsize(&self) -> usize {
        self.state.borrow().items.len()
    }

    /// The most items the queue holds; 0 means unbounded.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(evloop::Queue::<u8>::new(4).maxsize(), 4);
    /// ```
    pub fn maxsize(&self) -> usize {
        self.state.borrow().maxsize
    }

    /// Whether the queue holds no item, so that `get_nowait` would fail.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(evloop::Queue::<u8>::unbounded().empty());
    /// ```
    pub fn empty(&self) -> bool {
        self.qsize() == 0
    }

    /// Whether the queue holds `maxsize` items, so that `put_nowait` would fail (never, when
    /// unbounded).
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = evloop::Queue::new(1);
    /// queue.put_nowait(1).unwrap();
    /// assert!(queue.full());
    /// ```
    pub fn full(&self) -> bool {
        self.state.borrow().room() == 0
    }

    /// Acknowledges one item taken from the queue as processed (asyncio's `task_done`);
    /// when every item put has been acknowledged, [`join`](Self::join) returns.
    ///
    /// # Errors
    ///
    /// [`TaskDoneTooManyTimes`] if it is called more times than items were put (items
    /// drained by `shutdown(true)` count as acknowledged already); nothing changes then.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = evloop::Queue::unbounded();
    /// queue.put_nowait("job").unwrap();
    /// let job = queue.get_nowait().unwrap();
    /// // ... process `job` ...
    /// # let _ = job;
    /// queue.task_done().unwrap();
    /// ```
    pub fn task_done(&self) -> Result<(), TaskDoneTooManyTimes> {
        let mut joiners = Vec::new();
        let counted = self.state.borrow_mut().task_done(&mut joiners);
        joiners.into_iter().for_each(Waker::wake);
        if counted {
            Ok(())
        } else {
            Err(TaskDoneTooManyTimes)
        }
    }

    /// Waits until every item put has been acknowledged with
    /// [`task_done`](Self::task_done) (asyncio's `join`); resolves at once if none is
    /// outstanding.
    ///
    /// # Cancellation
    ///
    /// Dropping the future just stops waiting. A joiner that was woken still completes,
    /// even if new items were put before it ran.
    ///
    /// # Examples
    ///
    /// ```
    /// evloop::run(async {
    ///     let queue = evloop::Queue::unbounded();
    ///     queue.put_nowait(1).unwrap();
    ///     let worker = evloop::spawn({
    ///         let queue = queue.clone();
    ///         async move {
    ///             let _job = queue.get().await.unwrap();
    ///             queue.task_done().unwrap();
    ///         }
    ///     });
    ///     queue.join().await; // returns once the worker acknowledged the item
    ///     assert!(worker.is_done());
    /// })
    /// .unwrap();
    /// ```
    pub fn join(&self) -> QueueJoin<O> {
        QueueJoin {
            state: self.state.clone(),
            key: None,
        }
    }

    /// Shuts the queue down (Python 3.13's `Queue.shutdown`).
    ///
    /// Afterwards every `put` and `put_nowait` fails with the item handed back, including
    /// putters waiting now. Getters keep taking the items left in the queue and fail with
    /// [`QueueShutDown`] once it is empty; getters waiting now wake up to do so. With
    /// `immediate`, the queue is first drained: its items are dropped and count as
    /// acknowledged for [`join`](Self::join), so every getter fails. Calling it again is
    /// harmless (`immediate` then drains what is left).
    ///
    /// # Examples
    ///
    /// ```
    /// use evloop::{GetNowaitError, QueueShutDown};
    ///
    /// evloop::run(async {
    ///     let queue = evloop::Queue::unbounded();
    ///     queue.put_nowait(1).unwrap();
    ///     queue.shutdown(false);
    ///     assert_eq!(queue.get().await, Ok(1)); // what was queued is still handed out
    ///     assert_eq!(queue.get().await, Err(QueueShutDown(())));
    ///
    ///     let queue = evloop::Queue::unbounded();
    ///     queue.put_nowait(1).unwrap();
    ///     queue.shutdown(true); // drops the item
    ///     assert_eq!(queue.get_nowait(), Err(GetNowaitError::ShutDown));
    ///     queue.join().await; // the dropped item counts as done
    /// })
    /// .unwrap();
    /// ```
    pub fn shutdown(&self, immediate: bool) {
        let mut wakers = Vec::new();
        let drained = self.state.borrow_mut().shutdown(immediate, &mut wakers);
        wakers.into_iter().for_each(Waker::wake);
        drop(drained);
    }
}

impl<O: QueueOrder> Clone for GenericQueue<O> {
    fn clone(&self) -> Self {
        GenericQueue {
            state: self.state.clone(),
        }
    }
}

impl<O: QueueOrder> Default for GenericQueue<O> {
    /// An unbounded queue.
    fn default() -> Self {
        GenericQueue::with_maxsize(0)
    }
}

impl<O: QueueOrder + fmt::Debug> fmt::Debug for GenericQueue<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.borrow();
        f.debug_struct("GenericQueue")
            .field("order", &state.items)
            .field("qsize", &state.items.len())
            .field("maxsize", &state.maxsize)
            .field("getters", &state.getters.len())
            .field("putters", &state.putters.len())
            .field("unfinished", &state.unfinished)
            .field("shut_down", &state.shut_down)
            .finish()
    }
}
