//! One loop's signals: the table of the signals it listens to, and the dispatch that its poll
//! phase runs when a self-pipe became readable (asyncio's `_read_from_self` and
//! `_handle_signal`).
//!
//! Each signal the loop listens to has a [`Slot`]: the read end of its self-pipe (registered
//! with the reactor under `SIGNAL_TOKEN`), its [`Hook`], at most one handler
//! (`add_signal_handler`) and any number of [`Listener`]s (`Signal`, `CtrlC`, and
//! `evloop::run`'s interrupt). A slot exists while it has a handler or a listener; the last one
//! to go removes it, which unhooks the signal. `close` removes them all.
//!
//! Invariants:
//! - one byte in a pipe is one delivery of its signal, as signal-hook's handler saw it (the
//!   kernel itself merges a signal sent again before its handler ran);
//! - dispatch runs no user code: each delivery queues one run of the handler with `call_soon`
//!   (so it runs as a normal callback, in this iteration's run phase, panics caught), and
//!   listeners are woken after the table's borrow is released;
//! - a handler removed or replaced never runs again, not even a run already queued.

use std::cell::{Cell, RefCell};
use std::io::{self, Read};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Waker;

use mio::net::UnixStream;
use mio::Interest;

use super::process::Hook;
use super::SignalError;
use crate::context::Context;
use crate::event_loop::EventLoop;
use crate::loop_core::Core;
use crate::reactor::SIGNAL_TOKEN;

/// The signals one loop listens to (a field of `Core`).
#[derive(Default)]
pub(crate) struct LoopSignals {
    /// One slot per signal, in the order they were first listened to (a handful at most, so a
    /// `Vec` searched linearly).
    slots: RefCell<Vec<Slot>>,
    /// Set by the signal handler after it wrote a byte into any of this loop's pipes; taken
    /// by the poll phase before it decides to skip its syscall (`take_arrived`).
    arrived: Arc<AtomicBool>,
}

/// One signal of one loop.
struct Slot {
    /// The signal number.
    signum: i32,
    /// The read end of the signal's self-pipe, registered with the reactor.
    reader: UnixStream,
    /// The process-wide registration; dropping it unhooks the signal for this loop.
    hook: Hook,
    /// The `add_signal_handler` callback, if any.
    handler: Option<Rc<Handler>>,
    /// Everyone awaiting the signal.
    listeners: Vec<Rc<Listener>>,
}

/// A callback given to `add_signal_handler`.
pub(crate) struct Handler {
    /// The user's callback; runs once per delivery.
    callback: Box<dyn Fn()>,
    /// The context it was added in: each run starts from a copy of it.
    context: Context,
    /// Cleared when it is removed or replaced: runs already queued are then skipped.
    active: Cell<bool>,
}

impl Handler {
    /// A handler running `callback` in the current context.
    pub(crate) fn new(callback: Box<dyn Fn()>) -> Rc<Handler> {
        Rc::new(Handler {
            callback,
            context: Context::current(),
            active: Cell::new(true),
        })
    }

    /// One run, for one delivery (a loop callback; does nothing once removed).
    fn run(&self) {
        if self.active.get() {
            self.context.run(|| (self.callback)());
        }
    }
}

/// One awaiter of a signal: what a `Signal` (or `CtrlC`, or `run`'s interrupt) reads.
#[derive(Default)]
pub(crate) struct Listener {
    /// Deliveries not yet taken by `recv` (which takes them all at once).
    pending: Cell<u64>,
    /// Deliveries that went to someone else instead (only for a `fallback` listener).
    passed: Cell<u64>,
    /// A fallback listener (`run`'s interrupt) gets a delivery only when no handler and no
    /// other listener of the loop wants the signal.
    fallback: bool,
    /// The task waiting for the next delivery.
    waker: Cell<Option<Waker>>,
    /// The loop closed: no delivery will ever come.
    closed: Cell<bool>,
}

impl Listener {
    /// Takes the deliveries seen since the last call (0 if none).
    pub(crate) fn take_pending(&self) -> u64 {
        self.pending.replace(0)
    }

    /// Takes the deliveries passed to someone else since the last call.
    pub(crate) fn take_passed(&self) -> u64 {
        self.passed.replace(0)
    }

    /// Whether the loop closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.get()
    }

    /// Keeps `waker` to be woken by the next delivery (replacing an older one).
    pub(crate) fn set_waker(&self, waker: &Waker) {
        match self.waker.take() {
            Some(old) if old.will_wake(waker) => self.waker.set(Some(old)),
            _ => self.waker.set(Some(waker.clone())),
        }
    }
}

/// What one slot's pipe held, taken out of the table to act on it under no borrow.
struct Arrived {
    /// The slot's handler at the time.
    handler: Option<Rc<Handler>>,
    /// Its listeners at the time.
    listeners: Vec<Rc<Listener>>,
    /// How many deliveries (bytes read).
    count: u64,
}

impl LoopSignals {
    /// Whether a signal may have arrived since the last call: if so, the poll phase must not
    /// skip its syscall. Cleared *before* that poll, so a signal arriving after the clear sets
    /// it again (its byte was written first), and none is left unread (the notify protocol
    /// of `remote.rs`, with the signal handler as the poster).
    pub(crate) fn take_arrived(&self) -> bool {
        // A plain load first: this runs on every syscall-free iteration, where a locked swap
        // was a measurable part of a `call_soon` chain link (34 -> 29 ns). The swap runs only
        // once a signal came; a flag set just after the load is seen next iteration, and a
        // blocking poll never depends on it (it polls the pipes anyway).
        self.arrived.load(Ordering::Relaxed) && self.arrived.swap(false, Ordering::SeqCst)
    }

    /// Sets the handler of `signum`, hooking it if needed; returns the handler it replaced.
    pub(crate) fn set_handler(
        &self,
        core: &Core,
        signum: i32,
        handler: Rc<Handler>,
    ) -> Result<Option<Rc<Handler>>, SignalError> {
        let index = self.slot_for(core, signum)?;
        let old = self.slots.borrow_mut()[index].handler.replace(handler);
        if let Some(old) = &old {
            old.active.set(false);
        }
        Ok(old)
    }

    /// Removes the handler of `signum` (unhooking it if nobody listens); returns it, or `None`
    /// if there was none. The caller drops it, under no borrow.
    pub(crate) fn remove_handler(&self, core: &Core, signum: i32) -> Option<Rc<Handler>> {
        let handler = {
            let mut slots = self.slots.borrow_mut();
            let slot = slots.iter_mut().find(|slot| slot.signum == signum)?;
            slot.handler.take()?
        };
        handler.active.set(false);
        self.remove_if_unused(core, signum);
        Some(handler)
    }

    /// Adds a listener for `signum`, hooking it if needed.
    pub(crate) fn listen(
        &self,
        core: &Core,
        signum: i32,
        fallback: bool,
    ) -> Result<Rc<Listener>, SignalError> {
        let index = self.slot_for(core, signum)?;
        let listener = Rc::new(Listener {
            fallback,
            ..Listener::default()
        });
        self.slots.borrow_mut()[index]
            .listeners
            .push(listener.clone());
        Ok(listener)
    }

    /// Removes a listener (unhooking the signal if nobody else listens).
    pub(crate) fn unlisten(&self, core: &Core, signum: i32, listener: &Rc<Listener>) {
        {
            let mut slots = self.slots.borrow_mut();
            let Some(slot) = slots.iter_mut().find(|slot| slot.signum == signum) else {
                return; // the loop closed and took the slot already
            };
            slot.listeners.retain(|other| !Rc::ptr_eq(other, listener));
        }
        self.remove_if_unused(core, signum);
    }

    // ANCHOR: dispatch
    /// Reads every self-pipe until it would block, then queues one handler run per delivery
    /// and hands the deliveries to the listeners (called by the poll phase, `run_once.rs`).
    pub(crate) fn dispatch(&self, event_loop: &EventLoop) {
        // Read the pipes: one byte per delivery.
        let arrived: Vec<Arrived> = self
            .slots
            .borrow()
            .iter()
            .filter_map(|slot| {
                let count = drain(&slot.reader);
                (count > 0).then(|| Arrived {
                    handler: slot.handler.clone(),
                    listeners: slot.listeners.clone(),
                    count,
                })
            })
            .collect();
        for arrived in arrived {
            // Queue one run of the handler per delivery (asyncio's `_add_callback_signalsafe`).
            if let Some(handler) = &arrived.handler {
                for _ in 0..arrived.count {
                    let handler = handler.clone();
                    event_loop.call_soon(move || handler.run());
                }
            }
            // Hand the deliveries to the listeners; a fallback one only if nobody else wants them.
            let wanted = arrived.handler.is_some()
                || arrived.listeners.iter().any(|listener| !listener.fallback);
            for listener in &arrived.listeners {
                let counter = match listener.fallback && wanted {
                    true => &listener.passed,
                    false => &listener.pending,
                };
                counter.set(counter.get() + arrived.count);
                if let Some(waker) = listener.waker.take() {
                    waker.wake();
                }
            }
        }
    }
    // ANCHOR_END: dispatch

    /// Unhooks every signal (the body's step of `Core::close`): handlers are dropped unrun,
    /// listeners learn that the loop closed.
    pub(crate) fn close(&self, core: &Core) {
        let slots = std::mem::take(&mut *self.slots.borrow_mut());
        for mut slot in slots {
            deregister(core, &mut slot.reader);
            drop(slot.hook);
            if let Some(handler) = slot.handler.take() {
                handler.active.set(false);
                core.guarded("a signal handler's drop panicked during close", || {
                    drop(handler)
                });
            }
            for listener in slot.listeners {
                listener.closed.set(true);
                if let Some(waker) = listener.waker.take() {
                    waker.wake();
                }
            }
        }
    }

    /// The index of `signum`'s slot, created (and the signal hooked) if there is none yet.
    fn slot_for(&self, core: &Core, signum: i32) -> Result<usize, SignalError> {
        if core.closed.get() {
            return Err(SignalError::Closed);
        }
        if let Some(index) = self.index_of(signum) {
            return Ok(index);
        }
        let (hook, mut reader) = Hook::install(signum, &self.arrived)?;
        {
            let reactor = core.reactor.borrow();
            let Some(reactor) = reactor.as_ref() else {
                return Err(SignalError::Closed);
            };
            reactor
                .registry()
                .register(&mut reader, SIGNAL_TOKEN, Interest::READABLE)
                .map_err(|error| SignalError::Os { signum, error })?;
        }
        let mut slots = self.slots.borrow_mut();
        slots.push(Slot {
            signum,
            reader,
            hook,
            handler: None,
            listeners: Vec::new(),
        });
        Ok(slots.len() - 1)
    }

    /// The index of `signum`'s slot, if it has one.
    fn index_of(&self, signum: i32) -> Option<usize> {
        self.slots
            .borrow()
            .iter()
            .position(|slot| slot.signum == signum)
    }

    /// Removes `signum`'s slot if it has no handler and no listener left.
    fn remove_if_unused(&self, core: &Core, signum: i32) {
        let removed = {
            let mut slots = self.slots.borrow_mut();
            let unused = |slot: &Slot| slot.handler.is_none() && slot.listeners.is_empty();
            match slots.iter().position(|slot| slot.signum == signum) {
                Some(index) if unused(&slots[index]) => Some(slots.swap_remove(index)),
                _ => None,
            }
        };
        if let Some(mut slot) = removed {
            deregister(core, &mut slot.reader);
        }
    }
}

/// Reads `reader` until it would block; returns how many bytes it held.
fn drain(mut reader: &UnixStream) -> u64 {
    let mut buffer = [0u8; 64];
    let mut count = 0;
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => return count,
            Ok(read) => count += read as u64,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return count, // WouldBlock: empty (other errors cannot happen here)
        }
    }
}

/// Takes a self-pipe's read end out of the reactor (if the loop still has one).
fn deregister(core: &Core, reader: &mut UnixStream) {
    if let Some(reactor) = core.reactor.borrow().as_ref() {
        let _ = reactor.registry().deregister(reader);
    }
}
