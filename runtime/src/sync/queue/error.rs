//! The queue's errors: asyncio's `QueueFull`, `QueueEmpty`, `QueueShutDown`, and the
//! `ValueError` of a `task_done()` too many.
//!
//! A refused item is always handed back inside the error, never dropped. Each `Display` names
//! asyncio's exception and the fix. `Debug` does not require `T: Debug` (it hides the item).

use std::fmt;

/// The queue was shut down (asyncio's `QueueShutDown`): returned by `put()` with the refused
/// item, and by `get()` (with `()`) once the queue is empty.
///
/// # Examples
///
/// ```
/// use evloop::QueueShutDown;
///
/// evloop::run(async {
///     let queue = evloop::Queue::unbounded();
///     queue.shutdown(false);
///     assert_eq!(queue.put("late").await, Err(QueueShutDown("late")));
///     assert_eq!(queue.get().await, Err(QueueShutDown(())));
/// })
/// .unwrap();
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct QueueShutDown<T = ()>(pub T);

impl<T> QueueShutDown<T> {
    /// Takes back the refused item (`()` for a `get`).
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// Why `put_nowait` refused an item; the item is handed back either way.
///
/// # Examples
///
/// ```
/// use evloop::PutNowaitError;
///
/// let queue = evloop::Queue::new(1);
/// queue.put_nowait(1).unwrap();
/// assert_eq!(queue.put_nowait(2), Err(PutNowaitError::Full(2)));
/// queue.shutdown(false);
/// assert_eq!(queue.put_nowait(3), Err(PutNowaitError::ShutDown(3)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PutNowaitError<T> {
    /// The queue holds `maxsize` items (asyncio's `QueueFull`).
    Full(T),
    /// The queue was shut down (asyncio's `QueueShutDown`).
    ShutDown(T),
}

impl<T> PutNowaitError<T> {
    /// Takes back the refused item.
    pub fn into_inner(self) -> T {
        match self {
            PutNowaitError::Full(item) | PutNowaitError::ShutDown(item) => item,
        }
    }
}

/// Why `get_nowait` found no item.
///
/// # Examples
///
/// ```
/// use evloop::GetNowaitError;
///
/// let queue = evloop::Queue::<u32>::unbounded();
/// assert_eq!(queue.get_nowait(), Err(GetNowaitError::Empty));
/// queue.shutdown(false);
/// assert_eq!(queue.get_nowait(), Err(GetNowaitError::ShutDown));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetNowaitError {
    /// The queue is empty (asyncio's `QueueEmpty`).
    Empty,
    /// The queue is empty and was shut down: no item will ever come (asyncio's
    /// `QueueShutDown`).
    ShutDown,
}

/// `task_done()` was called more times than items were put (asyncio raises `ValueError`).
///
/// # Examples
///
/// ```
/// use evloop::TaskDoneTooManyTimes;
///
/// let queue = evloop::Queue::unbounded();
/// queue.put_nowait("job").unwrap();
/// assert_eq!(queue.task_done(), Ok(()));
/// assert_eq!(queue.task_done(), Err(TaskDoneTooManyTimes));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskDoneTooManyTimes;

/// The text of every shut-down error.
const SHUT_DOWN: &str = "the queue was shut down (asyncio: QueueShutDown): put() refuses \
     items after shutdown(), and get() fails once the queue is empty; fix: treat it as the end \
     of the stream (stop producing or consuming), or call shutdown() only once no task will \
     put into the queue any more";

impl<T> fmt::Display for QueueShutDown<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(SHUT_DOWN)
    }
}

impl<T> fmt::Debug for QueueShutDown<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("QueueShutDown(..)")
    }
}

impl<T> fmt::Display for PutNowaitError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutNowaitError::Full(_) => f.write_str(
                "the queue is full (asyncio: QueueFull); the item was handed back; fix: \
                 `.await` put() to wait for room, or create the queue with a larger maxsize \
                 (0 = unbounded)",
            ),
            PutNowaitError::ShutDown(_) => f.write_str(SHUT_DOWN),
        }
    }
}

impl<T> fmt::Debug for PutNowaitError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutNowaitError::Full(_) => f.write_str("Full(..)"),
            PutNowaitError::ShutDown(_) => f.write_str("ShutDown(..)"),
        }
    }
}

impl fmt::Display for GetNowaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetNowaitError::Empty => f.write_str(
                "the queue is empty (asyncio: QueueEmpty); fix: `.await` get() to wait for an \
                 item, or check empty() first",
            ),
            GetNowaitError::ShutDown => f.write_str(SHUT_DOWN),
        }
    }
}

impl fmt::Display for TaskDoneTooManyTimes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "task_done() called too many times (asyncio: ValueError): more times than items \
             were put; fix: call task_done() exactly once per item taken with get() or \
             get_nowait()",
        )
    }
}

impl<T> std::error::Error for QueueShutDown<T> {}
impl<T> std::error::Error for PutNowaitError<T> {}
impl std::error::Error for GetNowaitError {}
impl std::error::Error for TaskDoneTooManyTimes {}
