//! Semaphores: [`Semaphore`] and [`BoundedSemaphore`] (asyncio's), the [`SemaphorePermit`]
//! guard, the [`SemaphoreAcquire`] future, and `Permits`, the counter both share with
//! [`Lock`](crate::Lock).
//!
//! # How it works
//!
//! `Permits` is a count of free permits plus a [`WaitList`] of acquire futures. Acquiring
//! takes a free permit at once if there is one; otherwise the future queues and waits.
//! Giving a permit back ([`SemaphorePermit`]'s `Drop`, or `release`) *hands it straight to the
//! front waiter* if anyone waits, and only adds it to the count when nobody does. So:
//!
//! - **Invariant: free permits exist only while nobody waits.** That makes the fast path
//!   fair for free: an acquire that finds a free permit cannot be barging past a waiter, and
//!   `try_acquire` fails while anyone queues (asyncio 3.11+ behaves the same).
//! - **A permit in flight belongs to its waiter.** Between the hand-off and the waiter's next
//!   poll, the permit is neither free nor held by a guard: it is *granted*. If the waiter is
//!   dropped meanwhile (its task was cancelled), [`WaitList::remove`] reports it as
//!   `Chosen` and the permit is handed on again, to the next waiter or to the count.
//!
//! Conservation: free + granted + held by guards = the initial value - forgotten permits +
//! manual releases. No path loses a permit or mints one.
//!
//! This file does not schedule anything: waking a waiter's `Waker` is how a permit reaches a
//! task (the loop's ready queue does the rest). Every `wake` happens after the `RefCell`
//! borrow of the wait list is released.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::wait_list::{WaitList, WaiterState};

/// The state shared by [`Semaphore`], [`BoundedSemaphore`] and [`Lock`](crate::Lock): free
/// permits and the queue of futures waiting for one (module docs).
pub(crate) struct Permits {
    /// Permits free right now. Careful: non-zero only while nobody waits (a returned permit
    /// goes straight to the front waiter), which is what keeps the fast path FIFO-fair.
    available: Cell<usize>,
    /// Permits kept out by [`SemaphorePermit::forget`] and not yet given back by `release`:
    /// what a [`BoundedSemaphore`] may still accept.
    forgotten: Cell<usize>,
    /// The acquire futures waiting for a permit, oldest first.
    waiters: RefCell<WaitList>,
}

impl Permits {
    /// `permits` free permits, nobody waiting.
    pub(crate) fn new(permits: usize) -> Rc<Permits> {
        Rc::new(Permits {
            available: Cell::new(permits),
            forgotten: Cell::new(0),
            waiters: RefCell::new(WaitList::new()),
        })
    }

    /// How many permits are free right now.
    pub(crate) fn available(&self) -> usize {
        self.available.get()
    }

    // ANCHOR: permits_acquire
    /// A future that waits for a permit, owning a handle to `self`.
    pub(crate) fn acquire(self: &Rc<Self>) -> SemaphoreAcquire {
        SemaphoreAcquire {
            permits: Some(self.clone()),
            key: None,
        }
    }

    /// A permit now if one is free (never while anyone waits: module invariant).
    pub(crate) fn try_acquire(self: &Rc<Self>) -> Option<SemaphorePermit> {
        self.take_free().then(|| SemaphorePermit {
            permits: Some(self.clone()),
        })
    }

    /// Takes a free permit if there is one.
    fn take_free(&self) -> bool {
        let free = self.available.get();
        debug_assert!(
            free == 0 || self.waiters.borrow().is_empty(),
            "free permits while futures wait"
        );
        if free == 0 {
            return false;
        }
        self.available.set(free - 1);
        true
    }
    // ANCHOR_END: permits_acquire

    // ANCHOR: give_back
    /// Adds one permit: hands it to the front waiter (and wakes it, after the borrow is
    /// released), or adds it to the count if nobody waits.
    ///
    /// # Panics
    ///
    /// If the count would overflow `usize` (only manual releases can get there).
    pub(crate) fn give_back(&self) {
        let front = self.waiters.borrow_mut().choose_one();
        match front {
            Some(waker) => waker.wake(),
            None => {
                let free = self.available.get().checked_add(1).expect(
                    "Semaphore::release: the permit count would overflow usize; fix: release \
                     only permits that were acquired (and forgotten)",
                );
                self.available.set(free);
            }
        }
    }
    // ANCHOR_END: give_back

    /// `release` for a semaphore that may grow: adds a permit, and settles one forgotten
    /// permit if there is any (so that the count stays meaningful).
    fn release_unbounded(&self) {
        self.forgotten.set(self.forgotten.get().saturating_sub(1));
        self.give_back();
    }

    /// `release` for a [`BoundedSemaphore`]: gives back a forgotten permit, or refuses.
    fn release_forgotten(&self, bound: usize) -> Result<(), TooManyReleases> {
        let forgotten = self.forgotten.get();
        if forgotten == 0 {
            return Err(TooManyReleases { bound });
        }
        self.forgotten.set(forgotten - 1);
        self.give_back();
        Ok(())
    }
}

impl fmt::Debug for Permits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Permits");
        out.field("available", &self.available.get());
        match self.waiters.try_borrow() {
            Ok(waiters) => out.field("waiting", &waiters.len()),
            Err(_) => out.field("waiting", &"<borrowed>"),
        };
        out.finish()
    }
}

/// A counter of permits that tasks acquire and give back (asyncio's `Semaphore`).
///
/// [`acquire`](Semaphore::acquire) waits for a permit and resolves to a [`SemaphorePermit`],
/// a guard that gives the permit back when dropped. Permits go to waiters in arrival order:
/// a permit given back while tasks wait is handed to the oldest one, so nobody barges past a
/// waiter. [`release`](Semaphore::release) adds a permit by hand, even beyond the initial
/// value (use [`BoundedSemaphore`] to refuse that). `Semaphore` is a cheap handle: clones
/// share one counter. It is single-threaded (`!Send`), like the loop's tasks.
///
/// # Cancellation
///
/// Dropping a [`SemaphoreAcquire`] that waits removes it from the queue. Dropping one that
/// was already handed a permit (its task was cancelled before it ran again) hands the permit
/// on to the next waiter, or back to the count. So no permit is ever lost to cancellation.
///
/// # Examples
///
/// ```
/// let peak = evloop::run(async {
///     let sem = evloop::Semaphore::new(2);
///     let running = std::rc::Rc::new(std::cell::Cell::new((0, 0))); // (now, peak)
///     let tasks: Vec<_> = (0..5)
///         .map(|_| {
///             let (sem, running) = (sem.clone(), running.clone());
///             evloop::spawn(async move {
///                 let _permit = sem.acquire().await;
///                 let (now, peak) = running.get();
///                 running.set((now + 1, peak.max(now + 1)));
///                 evloop::yield_now().await;
///                 running.set((running.get().0 - 1, running.get().1));
///             })
///         })
///         .collect();
///     for task in tasks {
///         task.await.unwrap();
///     }
///     running.get().1
/// })
/// .unwrap();
/// assert_eq!(peak, 2);
/// ```
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// assert_send(evloop::Semaphore::new(1)); // single-threaded, like the loop's tasks
/// ```
#[derive(Clone)]
pub struct Semaphore {
    /// The shared counter and wait queue.
    permits: Rc<Permits>,
}

impl Semaphore {
    /// A semaphore with `permits` free permits (asyncio's `Semaphore(value)`).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = evloop::Semaphore::new(3);
    /// assert_eq!(sem.available_permits(), 3);
    /// ```
    pub fn new(permits: usize) -> Semaphore {
        Semaphore {
            permits: Permits::new(permits),
        }
    }

    /// Waits for a permit; the future resolves to a guard that gives it back when dropped.
    ///
    /// Waiters are served in the order they first polled this future. See the type docs
    /// for cancellation.
    ///
    /// # Examples
    ///
    /// ```
    /// evloop::run(async {
    ///     let sem = evloop::Semaphore::new(1);
    ///     let permit = sem.acquire().await;
    ///     assert!(sem.locked());
    ///     drop(permit);
    ///     assert!(!sem.locked());
    /// })
    /// .unwrap();
    /// ```
    pub fn acquire(&self) -> SemaphoreAcquire {
        self.permits.acquire()
    }

    /// A permit now, or `None` if none is free, which includes whenever a task waits.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = evloop::Semaphore::new(1);
    /// let permit = sem.try_acquire().expect("one is free");
    /// assert!(sem.try_acquire().is_none());
    /// drop(permit);
    /// assert!(sem.try_acquire().is_some());
    /// ```
    pub fn try_acquire(&self) -> Option<SemaphorePermit> {
        self.permits.try_acquire()
    }

    /// Whether no permit is free right now, so `acquire` would wait (asyncio's `locked()`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(evloop::Semaphore::new(0).locked());
    /// ```
    pub fn locked(&self) -> bool {
        self.permits.available() == 0
    }

    /// How many permits are free right now (tokio's name; asyncio keeps it private).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = evloop::Semaphore::new(2);
    /// let _permit = sem.try_acquire();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.permits.available()
    }

    /// Adds one permit (asyncio's `release()`): to the oldest waiter if any, else to the count.
    ///
    /// The count may grow beyond its initial value. Pair it with [`SemaphorePermit::forget`]
    /// to hold a permit without a guard.
    ///
    /// # Panics
    ///
    /// If the count would overflow `usize`.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = evloop::Semaphore::new(1);
    /// sem.try_acquire().unwrap().forget(); // keep it out, no guard
    /// assert_eq!(sem.available_permits(), 0);
    /// sem.release(); // give it back by hand
    /// sem.release(); // and one more than we started with
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    pub fn release(&self) {
        self.permits.release_unbounded();
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Semaphore").field(&self.permits).finish()
    }
}

/// A [`Semaphore`] that refuses to grow past its initial value (asyncio's
/// `BoundedSemaphore`).
///
/// It behaves as a `Semaphore` in every way (same code) except
/// [`release`](BoundedSemaphore::release): a manual release must give back a permit that was
/// kept out with [`SemaphorePermit::forget`], otherwise it returns [`TooManyReleases`]
/// (asyncio raises `ValueError`). Guards give their permits back on drop and never fail.
///
/// # Cancellation
///
/// As for [`Semaphore`]: a dropped waiter leaves the queue, and a waiter dropped after it was
/// handed a permit hands the permit on.
///
/// # Examples
///
/// ```
/// let sem = evloop::BoundedSemaphore::new(1);
/// sem.try_acquire().unwrap().forget();
/// assert_eq!(sem.release(), Ok(()));
/// assert!(sem.release().is_err()); // beyond the initial value
/// assert_eq!(sem.available_permits(), 1);
/// ```
#[derive(Clone)]
pub struct BoundedSemaphore {
    /// The shared counter and wait queue (the same type a `Semaphore` uses).
    permits: Rc<Permits>,
    /// The initial value, for the error message.
    bound: usize,
}

impl BoundedSemaphore {
    /// A bounded semaphore with `permits` free permits, which is also its bound.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(evloop::BoundedSemaphore::new(4).available_permits(), 4);
    /// ```
    pub fn new(permits: usize) -> BoundedSemaphore {
        BoundedSemaphore {
            permits: Permits::new(permits),
            bound: permits,
        }
    }

    /// Waits for a permit, as [`Semaphore::acquire`].
    ///
    /// # Examples
    ///
    /// ```
    /// evloop::run(async {
    ///     let sem = evloop::BoundedSemaphore::new(1);
    ///     let _permit = sem.acquire().await;
    ///     assert!(sem.locked());
    /// })
    /// .unwrap();
    /// ```
    pub fn acquire(&self) -> SemaphoreAcquire {
        self.permits.acquire()
    }

    /// A permit now, or `None`, as [`Semaphore::try_acquire`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(evloop::BoundedSemaphore::new(0).try_acquire().is_none());
    /// ```
    pub fn try_acquire(&self) -> Option<SemaphorePermit> {
        self.permits.try_acquire()
    }

    /// Whether no permit is free right now, as [`Semaphore::locked`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!evloop::BoundedSemaphore::new(1).locked());
    /// ```
    pub fn locked(&self) -> bool {
        self.permits.available() == 0
    }

    /// How many permits are free right now.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(evloop::BoundedSemaphore::new(2).available_permits(), 2);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.permits.available()
    }

    /// Gives back a permit kept out with [`SemaphorePermit::forget`]: to the oldest waiter if
    /// any, else to the count.
    ///
    /// # Errors
    ///
    /// [`TooManyReleases`] if no forgotten permit is outstanding: the release would push the
    /// semaphore past its initial value. Nothing changes then.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = evloop::BoundedSemaphore::new(2);
    /// let err = sem.release().unwrap_err();
    /// assert!(err.to_string().contains("released too many times"));
    /// ```
    pub fn release(&self) -> Result<(), TooManyReleases> {
        self.permits.release_forgotten(self.bound)
    }
}

impl fmt::Debug for BoundedSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedSemaphore")
            .field("bound", &self.bound)
            .field("permits", &self.permits)
            .finish()
    }
}

/// [`BoundedSemaphore::release`] was called with no forgotten permit to give back (asyncio:
/// `ValueError: BoundedSemaphore released too many times`).
///
/// # Examples
///
/// ```
/// let err = evloop::BoundedSemaphore::new(3).release().unwrap_err();
/// assert_eq!(err.bound, 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyReleases {
    /// The semaphore's initial value, which the release would have exceeded.
    pub bound: usize,
}

impl fmt::Display for TooManyReleases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "BoundedSemaphore released too many times: it would exceed its bound of {} \
             permits (every permit is free, granted, or held by a guard that gives it back on \
             drop); fix: release only a permit you kept with SemaphorePermit::forget, let \
             guards release themselves, or use Semaphore if the count may grow",
            self.bound
        )
    }
}

impl std::error::Error for TooManyReleases {}

/// A permit of a [`Semaphore`] or [`BoundedSemaphore`]; dropping it gives the permit back.
///
/// # Examples
///
/// ```
/// let sem = evloop::Semaphore::new(1);
/// let permit = sem.try_acquire().unwrap();
/// assert_eq!(sem.available_permits(), 0);
/// drop(permit);
/// assert_eq!(sem.available_permits(), 1);
/// ```
#[must_use = "the permit is given back as soon as it is dropped"]
pub struct SemaphorePermit {
    /// The semaphore to give the permit back to; `None` once forgotten.
    permits: Option<Rc<Permits>>,
}

// ANCHOR: permit_drop
impl Drop for SemaphorePermit {
    fn drop(&mut self) {
        if let Some(permits) = self.permits.take() {
            permits.give_back();
        }
    }
}
// ANCHOR_END: permit_drop

impl SemaphorePermit {
    /// Keeps the permit out without a guard: it is given back only by a later `release()`
    /// (tokio's `forget`; with asyncio's manual `acquire`/`release` pairs in mind).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = evloop::BoundedSemaphore::new(1);
    /// sem.try_acquire().unwrap().forget();
    /// assert_eq!(sem.available_permits(), 0);
    /// sem.release().unwrap();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn forget(mut self) {
        if let Some(permits) = self.permits.take() {
            permits.forgotten.set(permits.forgotten.get() + 1);
        }
    }

    /// Whether this permit came from `permits` (a [`Condition`](crate::Condition) checks
    /// that the guard it is given belongs to its lock).
    pub(crate) fn is_from(&self, permits: &Rc<Permits>) -> bool {
        self.permits
            .as_ref()
            .is_some_and(|own| Rc::ptr_eq(own, permits))
    }
}

impl fmt::Debug for SemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit").finish_non_exhaustive()
    }
}

/// The future of [`Semaphore::acquire`] and [`BoundedSemaphore::acquire`]: resolves to a
/// [`SemaphorePermit`].
///
/// Its first poll takes a free permit or queues; later polls ask the wait list whether a
/// permit was handed over. Dropping it while queued leaves the queue; dropping it after a
/// permit was handed over hands the permit on (see [`Semaphore`], "Cancellation").
#[must_use = "a SemaphoreAcquire does nothing unless awaited"]
pub struct SemaphoreAcquire {
    /// The semaphore; moved into the permit when it is granted (`None` once done).
    permits: Option<Rc<Permits>>,
    /// The slot in the wait list while queued.
    key: Option<usize>,
}

// ANCHOR: acquire_poll
impl Future for SemaphoreAcquire {
    type Output = SemaphorePermit;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<SemaphorePermit> {
        let this = self.get_mut();
        let permits = this.permits.as_ref().expect(
            "SemaphoreAcquire polled after it returned its permit; fix: await each acquire once",
        );
        match this.key {
            // First poll: the fast path, or the back of the queue.
            None => {
                if !permits.take_free() {
                    this.key = Some(permits.waiters.borrow_mut().push(cx.waker().clone()));
                    return Poll::Pending;
                }
            }
            // Queued: was a permit handed to us?
            Some(key) => {
                let turn = permits.waiters.borrow_mut().poll(key, cx.waker());
                if turn.is_pending() {
                    return Poll::Pending;
                }
                this.key = None;
            }
        }
        Poll::Ready(SemaphorePermit {
            permits: this.permits.take(),
        })
    }
}
// ANCHOR_END: acquire_poll

// ANCHOR: acquire_drop
impl Drop for SemaphoreAcquire {
    fn drop(&mut self) {
        let (Some(permits), Some(key)) = (&self.permits, self.key) else {
            return;
        };
        let state = permits.waiters.borrow_mut().remove(key);
        if state == WaiterState::Chosen {
            // Granted, but never ran to take it: hand the permit on.
            permits.give_back();
        }
    }
}
// ANCHOR_END: acquire_drop

impl fmt::Debug for SemaphoreAcquire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphoreAcquire")
            .field("queued", &self.key.is_some())
            .field("done", &self.permits.is_none())
            .finish()
    }
}
