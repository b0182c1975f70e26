//! [`Lock`] (asyncio's `Lock`), its [`LockGuard`] and the [`LockAcquire`] future.
//!
//! A lock is a semaphore with one permit, and that is how it is built: it wraps the
//! `Permits` of `semaphore.rs`, so it inherits its FIFO hand-off and its cancellation rule
//! unchanged; this file only gives them a lock's names. It guards no data (unlike tokio's
//! `Mutex<T>`): it orders tasks, as asyncio's does. The data it protects lives beside it (in a
//! `RefCell`, say).
//!
//! Invariant: at most one `LockGuard` of a lock exists at a time (the permit is the guard).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::semaphore::{Permits, SemaphoreAcquire, SemaphorePermit};

/// A mutual-exclusion lock for tasks (asyncio's `Lock`).
///
/// [`acquire`](Lock::acquire) waits until the lock is free and resolves to a [`LockGuard`];
/// dropping the guard releases the lock. Waiters get the lock in arrival order: a release
/// while tasks wait hands the lock straight to the oldest one, so no late arrival (and no
/// [`try_acquire`](Lock::try_acquire)) takes it first. `Lock` is a cheap handle: clones share
/// one lock. It is single-threaded (`!Send`), like the loop's tasks.
///
/// Unlike tokio's `Mutex<T>` it guards no data: the guard proves you hold the lock, and the
/// data it protects lives wherever you keep it (an `Rc<RefCell<T>>`, say). There is no
/// manual `release()` either: drop the guard.
///
/// # Cancellation
///
/// Dropping a [`LockAcquire`] that waits removes it from the queue. Dropping one that was
/// already handed the lock (its task was cancelled before it ran again) hands the lock on to
/// the next waiter, or unlocks it. A cancelled task never leaves the lock held.
///
/// # Examples
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
///
/// let log = evloop::run(async {
///     let lock = evloop::Lock::new();
///     let log = Rc::new(RefCell::new(Vec::new()));
///     let tasks: Vec<_> = (0..3)
///         .map(|i| {
///             let (lock, log) = (lock.clone(), log.clone());
///             evloop::spawn(async move {
///                 let _guard = lock.acquire().await;
///                 log.borrow_mut().push(format!("{i} in"));
///                 evloop::yield_now().await; // others run, but cannot enter
///                 log.borrow_mut().push(format!("{i} out"));
///             })
///         })
///         .collect();
///     for task in tasks {
///         task.await.unwrap();
///     }
///     log.take()
/// })
/// .unwrap();
/// assert_eq!(log, ["0 in", "0 out", "1 in", "1 out", "2 in", "2 out"]);
/// ```
#[derive(Clone)]
pub struct Lock {
    /// One permit: the lock is held while it is out.
    permits: Rc<Permits>,
}

impl Default for Lock {
    fn default() -> Self {
        Lock::new()
    }
}

impl Lock {
    /// An unlocked lock.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!evloop::Lock::new().locked());
    /// ```
    pub fn new() -> Lock {
        Lock {
            permits: Permits::new(1),
        }
    }

    /// Waits for the lock; the future resolves to a guard that releases it when dropped.
    ///
    /// Waiters are served in the order they first polled this future. See the type docs
    /// for cancellation.
    ///
    /// # Examples
    ///
    /// ```
    /// evloop::run(async {
    ///     let lock = evloop::Lock::new();
    ///     let guard = lock.acquire().await;
    ///     assert!(lock.locked());
    ///     drop(guard);
    ///     assert!(!lock.locked());
    /// })
    /// .unwrap();
    /// ```
    pub fn acquire(&self) -> LockAcquire {
        LockAcquire {
            inner: self.permits.acquire(),
        }
    }

    /// The lock now, or `None` if it is held (or handed to a waiter that has not run yet).
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = evloop::Lock::new();
    /// let guard = lock.try_acquire().expect("free");
    /// assert!(lock.try_acquire().is_none());
    /// drop(guard);
    /// assert!(lock.try_acquire().is_some());
    /// ```
    pub fn try_acquire(&self) -> Option<LockGuard> {
        self.permits
            .try_acquire()
            .map(|permit| LockGuard { permit })
    }

    /// Whether the lock is held (asyncio's `locked()`).
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = evloop::Lock::new();
    /// let _guard = lock.try_acquire();
    /// assert!(lock.locked());
    /// ```
    pub fn locked(&self) -> bool {
        self.permits.available() == 0
    }

    /// Whether `guard` is a guard of this lock.
    pub(crate) fn owns(&self, guard: &LockGuard) -> bool {
        guard.permit.is_from(&self.permits)
    }
}

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Lock").field(&self.permits).finish()
    }
}

/// Proof that a [`Lock`] is held; dropping it releases the lock (to the oldest waiter, if
/// any).
///
/// # Examples
///
/// ```
/// let lock = evloop::Lock::new();
/// {
///     let _guard = lock.try_acquire().unwrap();
///     assert!(lock.locked());
/// }
/// assert!(!lock.locked());
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard {
    /// The lock's single permit; given back on drop.
    permit: SemaphorePermit,
}

impl fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard").finish_non_exhaustive()
    }
}

/// The future of [`Lock::acquire`]: resolves to a [`LockGuard`].
///
/// Dropping it while it waits leaves the queue; dropping it after the lock was handed to it
/// hands the lock on (see [`Lock`], "Cancellation").
#[must_use = "a LockAcquire does nothing unless awaited"]
#[derive(Debug)]
pub struct LockAcquire {
    /// The semaphore acquire it is (cancellation included).
    inner: SemaphoreAcquire,
}

impl Future for LockAcquire {
    type Output = LockGuard;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<LockGuard> {
        Pin::new(&mut self.inner)
            .poll(cx)
            .map(|permit| LockGuard { permit })
    }
}
