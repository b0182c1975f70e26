//! `HyperTimer`: hyper's `rt::Timer`, backed by the running loop's timers.
//!
//! hyper drives its timeouts (how long a client may take to send a request head, HTTP/2
//! keep-alive pings) through `rt::Timer`, and it requires `Timer + Send + Sync` and
//! `rt::Sleep: Send + Sync`, although our loop is `!Send`. No `Arc`ed shared state is
//! needed to bridge that: evloop's own [`Sleep`](crate::Sleep) is already `Send + Sync`,
//! because it holds plain data only (its deadline, and once polled the loop's id and its
//! sleeper's key in the timer heap), never a reference to the loop. It finds the loop at
//! poll time (the running loop of the polling thread) and files the polling task as a
//! sleeper; dropping it cancels the sleeper when dropped on that loop's thread while it runs,
//! and anywhere else leaves it to fire once, harmlessly (see `sleep.rs`). So a hyper sleep
//! here is an evloop `Sleep` in a box, and its deadline is exact on the loop clock,
//! including the virtual clock.
//!
//! [`HyperTimer::now`] is the loop's clock (hyper computes deadlines as `now() + timeout`),
//! so timeouts follow a virtual clock too. [`HyperTimer::reset`] re-arms the boxed sleep in
//! place instead of allocating a new one.
//!
//! This file keeps no timer state of its own: the timer heap (`timers.rs`) does.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::current::running_loop;

/// hyper's timer on the running evloop loop: hyper's sleeps are loop timers.
///
/// A unit struct; give it to hyper's builders (`http1::Builder::timer(HyperTimer)`), which
/// turns on hyper's timeouts (`header_read_timeout`, 30 s by default).
///
/// # Panics
///
/// The sleeps it returns must be polled on a thread where an evloop loop runs (that is where
/// hyper polls them when the connection is an evloop task); polled elsewhere they panic with
/// the `NoRunningLoop` message, like [`evloop::sleep`](crate::sleep).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use hyper::rt::Timer;
/// use evloop::hyper::HyperTimer;
///
/// evloop::run(async {
///     let lp = evloop::get_running_loop().unwrap();
///     let start = HyperTimer.now();
///     HyperTimer.sleep(Duration::from_millis(5)).await;
///     assert!(lp.time() - start >= Duration::from_millis(5));
/// })
/// .unwrap();
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HyperTimer;

/// One of hyper's sleeps: an evloop [`Sleep`](crate::Sleep), which is `Send + Sync` as hyper
/// requires (see the file header).
struct HyperSleep {
    /// The loop timer that ends the sleep.
    inner: crate::Sleep,
}

impl Future for HyperSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.inner).poll(cx)
    }
}

impl ::hyper::rt::Sleep for HyperSleep {}

impl ::hyper::rt::Timer for HyperTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn ::hyper::rt::Sleep>> {
        Box::pin(HyperSleep {
            inner: crate::sleep(duration),
        })
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn ::hyper::rt::Sleep>> {
        Box::pin(HyperSleep {
            inner: crate::sleep_until(deadline),
        })
    }

    /// The running loop's clock ([`EventLoop::time`](crate::EventLoop::time)), or
    /// `Instant::now()` on a thread that runs no loop.
    fn now(&self) -> Instant {
        match running_loop() {
            Some(lp) => lp.time(),
            None => Instant::now(),
        }
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn ::hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<HyperSleep>() {
            // Ours: swap the loop timer in place (dropping the old one cancels its sleeper).
            Some(ours) => ours.get_mut().inner = crate::sleep_until(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}
