//! [`Event`], asyncio's `Event`: a flag that tasks can wait for.
//!
//! An event is a boolean and a [`WaitList`]. [`Event::set`] raises the flag and chooses every
//! waiter at once (FIFO order); [`Event::clear`] lowers the flag and wakes nobody. A waiter
//! that was chosen completes even if the flag was lowered again before it ran: it waited
//! through a `set`, which is what asyncio's `wait()` reports (`True`).
//!
//! This file does not decide when woken tasks run (the loop's ready queue does), and it never
//! wakes anyone while its state is borrowed: `set` collects the wakers, releases the borrow,
//! then wakes them.
//!
//! Invariant: while the flag is up, nobody is `Waiting` in the list (`set` chose them all,
//! and [`EventWait`] does not wait on a raised flag).

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::wait_list::WaitList;

/// What every handle of one event shares.
#[derive(Debug)]
struct State {
    /// The flag: raised by `set`, lowered by `clear`.
    is_set: bool,
    /// The futures waiting for the flag to rise; `set` chooses them all.
    waiters: WaitList,
}

/// A flag tasks can wait for (asyncio's `Event`); a cheap `Clone` handle to one shared flag.
///
/// [`wait`](Event::wait) resolves once the flag is raised: at once if it is already up,
/// otherwise at the next [`set`](Event::set), which wakes every waiter in the order they
/// started waiting. [`clear`](Event::clear) lowers the flag for later waiters; it does not
/// take back a wake-up that `set` already gave.
///
/// The event is single-threaded like the loop (`!Send`): share it between the tasks of one
/// loop by cloning it.
///
/// # Examples
///
/// ```
/// evloop::run(async {
///     let ready = evloop::Event::new();
///     let waiter = evloop::spawn({
///         let ready = ready.clone();
///         async move {
///             ready.wait().await;
///             "saw the event"
///         }
///     });
///     evloop::yield_now().await; // the waiter starts waiting
///     ready.set();
///     assert_eq!(waiter.await.unwrap(), "saw the event");
/// })
/// .unwrap();
/// ```
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// assert_send(evloop::Event::new()); // an Event stays on its loop's thread
/// ```
#[derive(Clone)]
pub struct Event {
    /// The flag and its waiters, shared by every clone and every [`EventWait`].
    state: Rc<RefCell<State>>,
}

impl Default for Event {
    fn default() -> Self {
        Event::new()
    }
}

impl Event {
    /// A new event, not set.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = evloop::Event::new();
    /// assert!(!event.is_set());
    /// ```
    pub fn new() -> Event {
        Event {
            state: Rc::new(RefCell::new(State {
                is_set: false,
                waiters: WaitList::new(),
            })),
        }
    }

    /// Whether the flag is up.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = evloop::Event::new();
    /// event.set();
    /// assert!(event.is_set());
    /// ```
    pub fn is_set(&self) -> bool {
        self.state.borrow().is_set
    }

    /// Raises the flag and wakes every waiter, oldest first. Setting a set event does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// evloop::run(async {
    ///     let event = evloop::Event::new();
    ///     event.set();
    ///     event.wait().await; // resolves at once
    /// })
    /// .unwrap();
    /// ```
    pub fn set(&self) {
        // Choose everyone under the borrow, wake them after it.
        let mut wakers: Vec<Waker> = Vec::new();
        {
            let mut state = self.state.borrow_mut();
            if state.is_set {
                return;
            }
            state.is_set = true;
            state.waiters.choose_all(&mut wakers);
        }
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Lowers the flag: later [`wait`](Event::wait)s wait for the next `set`. Waiters that an
    /// earlier `set` woke still complete.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = evloop::Event::new();
    /// event.set();
    /// event.clear();
    /// assert!(!event.is_set());
    /// ```
    pub fn clear(&self) {
        self.state.borrow_mut().is_set = false;
    }

    /// Waits until the flag is up (asyncio's `Event.wait()`).
    ///
    /// The returned future resolves at once if the flag is up when it is first polled;
    /// otherwise at the next [`set`](Event::set), even if [`clear`](Event::clear) lowers the
    /// flag again before the waiting task runs.
    ///
    /// # Cancellation
    ///
    /// Dropping the future leaves the queue of waiters; nothing else changes (a `set` wakes
    /// everyone, so a dropped waiter has no turn to pass on).
    ///
    /// # Examples
    ///
    /// ```
    /// evloop::run(async {
    ///     let event = evloop::Event::new();
    ///     let setter = evloop::spawn({
    ///         let event = event.clone();
    ///         async move { event.set() }
    ///     });
    ///     event.wait().await; // waits until the setter ran
    ///     setter.await.unwrap();
    /// })
    /// .unwrap();
    /// ```
    pub fn wait(&self) -> EventWait {
        EventWait {
            state: self.state.clone(),
            key: None,
        }
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.borrow();
        f.debug_struct("Event")
            .field("is_set", &state.is_set)
            .field("waiters", &state.waiters.len())
            .finish()
    }
}

/// The future returned by [`Event::wait`]; see there, including its cancellation behaviour.
#[must_use = "futures do nothing unless awaited"]
pub struct EventWait {
    /// The event's shared state.
    state: Rc<RefCell<State>>,
    /// Its place in the event's waiters, while it waits.
    key: Option<usize>,
}

impl Future for EventWait {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let mut state = this.state.borrow_mut();
        match this.key {
            // Waiting: done once a `set` chose it, whatever the flag says now.
            Some(key) => {
                let polled = state.waiters.poll(key, cx.waker());
                if polled.is_ready() {
                    this.key = None;
                }
                polled
            }
            None if state.is_set => Poll::Ready(()),
            None => {
                this.key = Some(state.waiters.push(cx.waker().clone()));
                Poll::Pending
            }
        }
    }
}

impl Drop for EventWait {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            // Chosen or not, there is nothing to pass on: `set` chose every waiter.
            let _ = self.state.borrow_mut().waiters.remove(key);
        }
    }
}

impl fmt::Debug for EventWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventWait")
            .field("waiting", &self.key.is_some())
            .finish()
    }
}
