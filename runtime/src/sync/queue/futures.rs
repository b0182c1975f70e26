//! The futures of a queue: [`QueuePut`], [`QueueGet`] and [`QueueJoin`].
//!
//! Each holds an `Rc` of the queue's state and, while it waits, its key in one of the state's
//! wait lists. A poll runs the claim protocol of `state.rs` in three steps: if it waits, see
//! whether it was chosen (and give its claim back); try to take an item (or room); otherwise
//! wait at the back. Dropping a waiting future removes it and, if it had been chosen, passes
//! its claim on (`State::drop_getter` / `State::drop_putter`).
//!
//! Every poll and drop releases the state's borrow before it wakes anyone or drops an item.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::error::QueueShutDown;
use super::order::QueueOrder;
use super::state::{wake, State};

/// The future returned by [`GenericQueue::put`](super::GenericQueue::put); see there,
/// including its cancellation behaviour.
#[must_use = "futures do nothing unless awaited"]
pub struct QueuePut<O: QueueOrder> {
    /// The queue's shared state.
    pub(super) state: Rc<RefCell<State<O>>>,
    /// The item to put; `None` once it went in or was handed back.
    pub(super) item: Option<O::Item>,
    /// Its place among the putters, while it waits for room.
    pub(super) key: Option<usize>,
}

impl<O: QueueOrder> Future for QueuePut<O> {
    type Output = Result<(), QueueShutDown<O::Item>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut state = this.state.borrow_mut();
        // Step 1: a waiting putter goes on only once chosen, and gives its claim back.
        let chosen = match this.key {
            Some(key) => {
                if state.putters.poll(key, cx.waker()).is_pending() {
                    return Poll::Pending;
                }
                this.key = None;
                state.room_claims -= 1;
                true
            }
            None => false,
        };
        let Some(item) = this.item.take() else {
            panic!("a QueuePut was polled after it completed; fix: await each put() once");
        };
        if state.shut_down {
            return Poll::Ready(Err(QueueShutDown(item)));
        }
        // Step 2: put if there is room: any room when chosen, unclaimed room otherwise.
        let room = state.room();
        if (chosen && room > 0) || room > state.room_claims {
            let getter = state.put(item);
            drop(state);
            wake(getter);
            return Poll::Ready(Ok(()));
        }
        // Step 3: wait for room, at the back.
        this.item = Some(item);
        this.key = Some(state.putters.push(cx.waker().clone()));
        Poll::Pending
    }
}

// The item is moved in and out, never pinned: the future can be `Unpin` whatever the item.
impl<O: QueueOrder> Unpin for QueuePut<O> {}

impl<O: QueueOrder> Drop for QueuePut<O> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let putter = self.state.borrow_mut().drop_putter(key);
            wake(putter);
        }
        // The item, if still here, is dropped with the fields, after the borrow.
    }
}

/// The future returned by [`GenericQueue::get`](super::GenericQueue::get); see there,
/// including its cancellation behaviour.
#[must_use = "futures do nothing unless awaited"]
pub struct QueueGet<O: QueueOrder> {
    /// The queue's shared state.
    pub(super) state: Rc<RefCell<State<O>>>,
    /// Its place among the getters, while it waits for an item.
    pub(super) key: Option<usize>,
}

impl<O: QueueOrder> Future for QueueGet<O> {
    type Output = Result<O::Item, QueueShutDown>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut state = this.state.borrow_mut();
        // Step 1: a waiting getter goes on only once chosen, and gives its claim back.
        let chosen = match this.key {
            Some(key) => {
                if state.getters.poll(key, cx.waker()).is_pending() {
                    return Poll::Pending;
                }
                this.key = None;
                state.item_claims -= 1;
                true
            }
            None => false,
        };
        // Step 2: take an item: any item when chosen or shut down, an unclaimed one otherwise.
        let count = state.items.len();
        if ((chosen || state.shut_down) && count > 0) || count > state.item_claims {
            let (item, putter) = state.take().expect("the queue holds an item");
            drop(state);
            wake(putter);
            return Poll::Ready(Ok(item));
        }
        if state.shut_down {
            return Poll::Ready(Err(QueueShutDown(())));
        }
        // Step 3: wait for an item, at the back.
        this.key = Some(state.getters.push(cx.waker().clone()));
        Poll::Pending
    }
}

impl<O: QueueOrder> Drop for QueueGet<O> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let getter = self.state.borrow_mut().drop_getter(key);
            wake(getter);
        }
    }
}

/// The future returned by [`GenericQueue::join`](super::GenericQueue::join); see there,
/// including its cancellation behaviour.
#[must_use = "futures do nothing unless awaited"]
pub struct QueueJoin<O: QueueOrder> {
    /// The queue's shared state.
    pub(super) state: Rc<RefCell<State<O>>>,
    /// Its place among the joiners, while it waits.
    pub(super) key: Option<usize>,
}

impl<O: QueueOrder> Future for QueueJoin<O> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let mut state = this.state.borrow_mut();
        match this.key {
            // Chosen when `unfinished` reached 0; done even if items were put since.
            Some(key) => {
                let polled = state.joiners.poll(key, cx.waker());
                if polled.is_ready() {
                    this.key = None;
                }
                polled
            }
            None if state.unfinished == 0 => Poll::Ready(()),
            None => {
                this.key = Some(state.joiners.push(cx.waker().clone()));
                Poll::Pending
            }
        }
    }
}

impl<O: QueueOrder> Drop for QueueJoin<O> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            // Joiners are all chosen at once: a dropped one has no turn to pass on.
            let _ = self.state.borrow_mut().joiners.remove(key);
        }
    }
}

/// Debug for the three futures: whether they wait, nothing about the items.
macro_rules! debug_waiting {
    ($($future:ident),*) => {$(
        impl<O: QueueOrder> fmt::Debug for $future<O> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($future))
                    .field("waiting", &self.key.is_some())
                    .finish()
            }
        }
    )*};
}
debug_waiting!(QueuePut, QueueGet, QueueJoin);
