//! [`Condition`] (asyncio's `Condition`) and its [`ConditionWait`] future.
//!
//! A condition is a [`Lock`] plus a [`WaitList`] of tasks waiting to be notified. `wait`
//! takes the caller's [`LockGuard`], queues, releases the lock, waits for a notification,
//! then re-acquires the lock (through the lock's own FIFO) and gives a guard back. `notify`
//! chooses waiters from the front of the list; each chosen waiter then competes for the lock
//! like any other task.
//!
//! What asyncio checks at run time, the types check here: `wait` consumes a guard, and
//! `notify` borrows one, so neither can be called without holding the lock. Which lock the
//! guard belongs to is checked at run time (a panic names the fix).
//!
//! Invariant: a notification is never lost to cancellation. A waiter dropped after it was
//! chosen, whether before it ran again or while it re-acquires the lock, notifies the next
//! waiter in its place (CPython does the same; a spurious wake-up is allowed by the
//! condition-variable protocol, a lost one is not).

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::lock::{Lock, LockAcquire, LockGuard};
use super::wait_list::{WaitList, WaiterState};

/// The state a `Condition` handle and its `ConditionWait` futures share.
struct Shared {
    /// The lock `wait` releases and re-acquires; may be shared with other conditions.
    lock: Lock,
    /// The `wait` futures waiting for a notification, oldest first.
    waiters: RefCell<WaitList>,
}

impl Shared {
    /// Chooses the oldest waiter, if any, and wakes it after the borrow is released.
    fn notify_one(&self) -> bool {
        let front = self.waiters.borrow_mut().choose_one();
        match front {
            Some(waker) => {
                waker.wake();
                true
            }
            None => false,
        }
    }

    /// Panics unless `guard` belongs to this condition's lock.
    fn check(&self, guard: &LockGuard, what: &str) {
        assert!(
            self.lock.owns(guard),
            "Condition::{what}: the guard belongs to another Lock; fix: pass the guard of this \
             condition's lock (from Condition::acquire, or from the Lock given to \
             Condition::with_lock)"
        );
    }
}

/// Lets tasks wait until another task says something changed (asyncio's `Condition`).
///
/// A condition has a [`Lock`]. A task holding its guard calls [`wait`](Condition::wait),
/// which releases the lock while it waits and hands a guard back once it was notified and
/// got the lock again; a task holding the guard calls [`notify`](Condition::notify) or
/// [`notify_all`](Condition::notify_all) to wake waiters, oldest first. Typically the shared
/// state lives beside it (an `Rc<RefCell<T>>`) and waiters re-check it, or use
/// [`wait_for`](Condition::wait_for). `Condition` is a cheap handle: clones share it.
///
/// # Cancellation
///
/// Dropping a [`ConditionWait`]:
///
/// - **before its first poll**: drops the guard it holds, so the lock is released;
/// - **while waiting for a notification**: leaves the queue (the lock was already released);
/// - **after it was notified** (before it ran again, or while it re-acquires the lock): the
///   notification passes to the next waiter, and a lock already handed to it passes on too.
///
/// asyncio re-acquires the lock even when `wait()` is cancelled, so the task still holds it
/// in its `except`/`finally`. A dropped Rust future cannot re-acquire anything: the guard went
/// into `wait`, and a dropped `wait` gives it back to no one. Nothing is stranded (the lock is
/// free, or held by the next waiter), but code that runs after cancellation does not hold the
/// lock.
///
/// # Examples
///
/// ```
/// use std::{cell::Cell, rc::Rc};
///
/// evloop::run(async {
///     let cond = evloop::Condition::new();
///     let ready = Rc::new(Cell::new(false));
///     let waiter = evloop::spawn({
///         let (cond, ready) = (cond.clone(), ready.clone());
///         async move {
///             let guard = cond.acquire().await;
///             let _guard = cond.wait_for(guard, || ready.get()).await;
///             "saw it ready, holding the lock"
///         }
///     });
///     evloop::yield_now().await; // the waiter starts waiting
///     let guard = cond.acquire().await;
///     ready.set(true);
///     cond.notify_all(&guard);
///     drop(guard);
///     assert_eq!(waiter.await.unwrap(), "saw it ready, holding the lock");
/// })
/// .unwrap();
/// ```
#[derive(Clone)]
pub struct Condition {
    /// The lock and the waiters, shared by clones and by `wait` futures.
    shared: Rc<Shared>,
}

impl Default for Condition {
    fn default() -> Self {
        Condition::new()
    }
}

impl Condition {
    /// A condition with a lock of its own.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!evloop::Condition::new().locked());
    /// ```
    pub fn new() -> Condition {
        Condition::with_lock(Lock::new())
    }

    /// A condition on an existing lock (asyncio's `Condition(lock)`); several conditions may
    /// share one lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = evloop::Lock::new();
    /// let cond = evloop::Condition::with_lock(lock.clone());
    /// let _guard = lock.try_acquire().unwrap();
    /// assert!(cond.locked());
    /// ```
    pub fn with_lock(lock: Lock) -> Condition {
        Condition {
            shared: Rc::new(Shared {
                lock,
                waiters: RefCell::new(WaitList::new()),
            }),
        }
    }

    /// The condition's lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = evloop::Condition::new();
    /// let _guard = cond.lock().try_acquire().unwrap();
    /// assert!(cond.locked());
    /// ```
    pub fn lock(&self) -> &Lock {
        &self.shared.lock
    }

    /// Waits for the lock, as [`Lock::acquire`].
    ///
    /// # Examples
    ///
    /// ```
    /// evloop::run(async {
    ///     let cond = evloop::Condition::new();
    ///     let _guard = cond.acquire().await;
    ///     assert!(cond.locked());
    /// })
    /// .unwrap();
    /// ```
    pub fn acquire(&self) -> LockAcquire {
        self.shared.lock.acquire()
    }

    /// The lock now, or `None`, as [`Lock::try_acquire`].
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = evloop::Condition::new();
    /// let _guard = cond.try_acquire().unwrap();
    /// assert!(cond.try_acquire().is_none());
    /// ```
    pub fn try_acquire(&self) -> Option<LockGuard> {
        self.shared.lock.try_acquire()
    }

    /// Whether the lock is held.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!evloop::Condition::new().locked());
    /// ```
    pub fn locked(&self) -> bool {
        self.shared.lock.locked()
    }

    /// Releases the lock, waits for a notification, re-acquires the lock and hands a guard
    /// back (asyncio's `wait()`).
    ///
    /// The lock is released at the future's first poll, when it has joined the queue (so a
    /// `notify` after that point reaches it). Like any condition variable, a waiter may wake
    /// without its predicate being true: re-check it, or use [`wait_for`](Condition::wait_for).
    /// See the type docs for cancellation.
    ///
    /// # Panics
    ///
    /// If `guard` belongs to another lock.
    ///
    /// # Examples
    ///
    /// ```
    /// evloop::run(async {
    ///     let cond = evloop::Condition::new();
    ///     let waiter = evloop::spawn({
    ///         let cond = cond.clone();
    ///         async move {
    ///             let guard = cond.acquire().await;
    ///             let _guard = cond.wait(guard).await;
    ///             cond.locked() // the guard is back: the lock is held
    ///         }
    ///     });
    ///     evloop::yield_now().await;
    ///     let guard = cond.acquire().await; // free: the waiter released it
    ///     cond.notify(&guard, 1);
    ///     drop(guard);
    ///     assert_eq!(waiter.await, Ok(true));
    /// })
    /// .unwrap();
    /// ```
    pub fn wait(&self, guard: LockGuard) -> ConditionWait {
        self.shared.check(&guard, "wait");
        ConditionWait {
            shared: self.shared.clone(),
            state: WaitState::Start(guard),
        }
    }

    /// Waits until `predicate` returns `true`, checking it first and after every
    /// notification, always with the lock held (asyncio's `wait_for()`); hands the guard
    /// back.
    ///
    /// # Panics
    ///
    /// If `guard` belongs to another lock.
    ///
    /// # Examples
    ///
    /// ```
    /// evloop::run(async {
    ///     let cond = evloop::Condition::new();
    ///     let guard = cond.acquire().await;
    ///     // Already true: returns at once, without waiting.
    ///     let guard = cond.wait_for(guard, || true).await;
    ///     drop(guard);
    /// })
    /// .unwrap();
    /// ```
    pub fn wait_for<P: FnMut() -> bool>(
        &self,
        guard: LockGuard,
        mut predicate: P,
    ) -> impl Future<Output = LockGuard> {
        self.shared.check(&guard, "wait_for");
        let cond = self.clone();
        async move {
            let mut guard = guard;
            while !predicate() {
                guard = cond.wait(guard).await;
            }
            guard
        }
    }

    /// Wakes up to `n` waiters, oldest first (asyncio's `notify(n)`); holding the lock is
    /// proved by `guard`. Each woken waiter then waits for the lock, which `guard` still
    /// holds.
    ///
    /// # Panics
    ///
    /// If `guard` belongs to another lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = evloop::Condition::new();
    /// let guard = cond.try_acquire().unwrap();
    /// cond.notify(&guard, 1); // nobody waits: nothing happens
    /// ```
    pub fn notify(&self, guard: &LockGuard, n: usize) {
        self.shared.check(guard, "notify");
        for _ in 0..n {
            if !self.shared.notify_one() {
                break;
            }
        }
    }

    /// Wakes every task waiting right now (asyncio's `notify_all()`).
    ///
    /// # Panics
    ///
    /// If `guard` belongs to another lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = evloop::Condition::new();
    /// let guard = cond.try_acquire().unwrap();
    /// cond.notify_all(&guard);
    /// ```
    pub fn notify_all(&self, guard: &LockGuard) {
        self.shared.check(guard, "notify_all");
        // Only those waiting now: a waker that queues a new waiter must not loop us.
        let waiting = self.shared.waiters.borrow().len();
        self.notify(guard, waiting);
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Condition");
        out.field("lock", &self.shared.lock);
        match self.shared.waiters.try_borrow() {
            Ok(waiters) => out.field("waiting", &waiters.len()),
            Err(_) => out.field("waiting", &"<borrowed>"),
        };
        out.finish()
    }
}

/// Where a [`ConditionWait`] is.
enum WaitState {
    /// Not polled yet: holds the caller's guard (the lock is still held).
    Start(LockGuard),
    /// Queued for a notification, under this wait-list key; the lock is released.
    Waiting(usize),
    /// Notified; waiting for the lock again.
    Reacquiring(LockAcquire),
    /// Returned its guard.
    Done,
}

/// The future of [`Condition::wait`]: resolves to the lock's guard once notified and
/// re-locked. See [`Condition`], "Cancellation", for what dropping it does.
#[must_use = "a ConditionWait does nothing unless awaited (and holds the lock until then)"]
pub struct ConditionWait {
    /// The condition's lock and waiters.
    shared: Rc<Shared>,
    /// Where it is.
    state: WaitState,
}

impl Future for ConditionWait {
    type Output = LockGuard;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<LockGuard> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                // Queue first, then release the lock: a notify from now on reaches us.
                WaitState::Start(_) => {
                    let key = this.shared.waiters.borrow_mut().push(cx.waker().clone());
                    let start = mem::replace(&mut this.state, WaitState::Waiting(key));
                    drop(start); // drops the guard: the lock goes to its next waiter, if any
                    return Poll::Pending;
                }
                WaitState::Waiting(key) => {
                    let turn = this.shared.waiters.borrow_mut().poll(*key, cx.waker());
                    if turn.is_pending() {
                        return Poll::Pending;
                    }
                    this.state = WaitState::Reacquiring(this.shared.lock.acquire());
                }
                WaitState::Reacquiring(acquire) => {
                    let Poll::Ready(guard) = Pin::new(acquire).poll(cx) else {
                        return Poll::Pending;
                    };
                    this.state = WaitState::Done;
                    return Poll::Ready(guard);
                }
                WaitState::Done => panic!(
                    "ConditionWait polled after it returned its guard; fix: await each wait once"
                ),
            }
        }
    }
}

impl Drop for ConditionWait {
    fn drop(&mut self) {
        match mem::replace(&mut self.state, WaitState::Done) {
            WaitState::Waiting(key) => {
                let state = self.shared.waiters.borrow_mut().remove(key);
                if state == WaiterState::Chosen {
                    self.shared.notify_one(); // chosen, never ran: pass it on
                }
            }
            WaitState::Reacquiring(acquire) => {
                drop(acquire); // a lock already handed to us is handed on
                self.shared.notify_one(); // and so is the notification
            }
            WaitState::Start(guard) => drop(guard),
            WaitState::Done => {}
        }
    }
}

impl fmt::Debug for ConditionWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            WaitState::Start(_) => "start",
            WaitState::Waiting(_) => "waiting",
            WaitState::Reacquiring(_) => "reacquiring",
            WaitState::Done => "done",
        };
        f.debug_struct("ConditionWait")
            .field("state", &state)
            .finish()
    }
}
