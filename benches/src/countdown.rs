//! `Countdown`: a single-threaded latch, so every runtime waits for "all N done" the same way.
//!
//! Workloads that fire and forget (flat `call_soon`, detached spawns) still need to know when
//! the last piece of work ran. Each piece calls [`Countdown::tick`]; the driver awaits
//! [`Countdown::wait`], which completes once the count reaches zero. It is a plain `Rc` of two
//! `Cell`s, runtime-agnostic, so it costs every contender the same: one decrement per op and
//! one wake at the end.
//!
//! Not thread-safe (the threadsafe bench counts on the loop thread instead).

use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::rc::Rc;
use std::task::{Poll, Waker};

/// A latch that opens after `n` ticks.
#[derive(Clone)]
pub struct Countdown {
    /// The shared state, one per latch.
    inner: Rc<Inner>,
}

/// The state shared by the ticking work and the waiting driver.
struct Inner {
    /// Ticks still to come.
    left: Cell<u64>,
    /// The driver's waker, woken by the last tick.
    waiter: Cell<Option<Waker>>,
}

impl Countdown {
    /// A latch that opens after `n` ticks.
    pub fn new(n: u64) -> Self {
        Countdown {
            inner: Rc::new(Inner {
                left: Cell::new(n),
                waiter: Cell::new(None),
            }),
        }
    }

    /// Counts one piece of work done; the last one wakes the waiter.
    pub fn tick(&self) {
        let left = self.inner.left.get() - 1;
        self.inner.left.set(left);
        if left == 0 {
            if let Some(waker) = self.inner.waiter.take() {
                waker.wake();
            }
        }
    }

    /// Ticks still to come.
    pub fn left(&self) -> u64 {
        self.inner.left.get()
    }

    /// Completes once every tick has happened.
    pub fn wait(&self) -> impl Future<Output = ()> + '_ {
        poll_fn(move |cx| {
            if self.inner.left.get() == 0 {
                Poll::Ready(())
            } else {
                self.inner.waiter.set(Some(cx.waker().clone()));
                Poll::Pending
            }
        })
    }
}
