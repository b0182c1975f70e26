//! `LoopThread`: a loop running forever on a background thread.
//!
//! The seed pattern of asyncio programs that mix threads and a loop: `new_event_loop()`, a
//! thread that calls `run_forever()`, and `call_soon_threadsafe` /
//! `run_coroutine_threadsafe` from everywhere else. `LoopThread` packages it: `start` creates
//! the loop on the new thread and hands back its [`LoopHandle`]; `stop` (or drop) asks the
//! loop to stop, joins the thread, and the thread closes its loop on the way out, so every
//! task is cancelled and the poller's descriptors are released.
//!
//! This file does not run anything on the loop; users do, through the handle.

use std::io;
use std::sync::mpsc;
use std::thread::{self, JoinHandle};

use crate::error::panic_message;
use crate::event_loop::EventLoop;
use crate::remote::LoopHandle;

/// A loop running forever on its own thread; stopped and joined by [`stop`](LoopThread::stop)
/// or on drop.
///
/// # Examples
///
/// ```
/// let thread = evloop::LoopThread::start().unwrap();
/// let (tx, rx) = std::sync::mpsc::channel();
/// thread.handle().call_soon_threadsafe(move || tx.send(1).unwrap()).unwrap();
/// assert_eq!(rx.recv().unwrap(), 1);
/// thread.stop().unwrap();
/// ```
#[derive(Debug)]
pub struct LoopThread {
    /// Reaches the loop from any thread.
    handle: LoopHandle,
    /// The thread running the loop; `None` once joined.
    thread: Option<JoinHandle<()>>,
}

impl LoopThread {
    /// Starts a thread named `evloop-loop`, creates a loop there and runs it forever.
    ///
    /// # Errors
    ///
    /// The OS refusing the thread, the poller or its waker.
    pub fn start() -> io::Result<LoopThread> {
        Self::start_named("evloop-loop")
    }

    /// Like [`start`](LoopThread::start), with a thread name of your choice.
    ///
    /// # Errors
    ///
    /// The OS refusing the thread, the poller or its waker.
    pub fn start_named(name: &str) -> io::Result<LoopThread> {
        let (ready_tx, ready_rx) = mpsc::channel::<io::Result<LoopHandle>>();
        let thread = thread::Builder::new()
            .name(name.to_owned())
            // ANCHOR: loop_thread_body
            .spawn(move || {
                let event_loop = match EventLoop::new() {
                    Ok(event_loop) => event_loop,
                    Err(error) => {
                        let _ = ready_tx.send(Err(error));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(event_loop.handle()));
                // Careful: run_forever only returns after stop(); close() then cancels what is
                // left and releases the poller before the thread ends.
                let _ = event_loop.run_forever();
                let _ = event_loop.close();
            })?;
        // ANCHOR_END: loop_thread_body
        match ready_rx.recv() {
            Ok(Ok(handle)) => Ok(LoopThread {
                handle,
                thread: Some(thread),
            }),
            Ok(Err(error)) => {
                let _ = thread.join();
                Err(error)
            }
            Err(_) => {
                let _ = thread.join();
                Err(io::Error::other(
                    "the loop thread exited before its loop started",
                ))
            }
        }
    }

    /// The handle of the loop on the thread.
    pub fn handle(&self) -> &LoopHandle {
        &self.handle
    }

    /// Stops the loop, waits for the thread to close it and exit.
    ///
    /// # Errors
    ///
    /// The panic message if the loop thread panicked (a panic inside the loop's callbacks or
    /// tasks is caught by the loop and does not count).
    pub fn stop(mut self) -> Result<(), String> {
        self.stop_and_join()
    }

    // ANCHOR: stop_and_join
    /// Shared by `stop` and `drop`.
    fn stop_and_join(&mut self) -> Result<(), String> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        // Careful: a loop closed by other means refuses the stop; its thread is exiting.
        let _ = self.handle.stop();
        thread.join().map_err(|payload| panic_message(&*payload))
    }
    // ANCHOR_END: stop_and_join
}

impl Drop for LoopThread {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}
