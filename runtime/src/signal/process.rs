//! The process-wide side of signals: what evloop installs with signal-hook, and the rule that
//! gives a signal its default action back when evloop stops listening to it.
//!
//! A signal handler is process-wide and runs on whatever thread the kernel picks, in a context
//! where almost nothing is allowed (no lock, no allocation). So the handler does one thing: it
//! writes a byte into a self-pipe. That is signal-hook's `low_level::pipe::register`, audited
//! to be async-signal-safe; evloop itself stays free of `unsafe`.
//!
//! # Hooks
//!
//! A [`Hook`] is one loop's registration for one signal: a non-blocking Unix stream pair whose
//! write end signal-hook owns (it writes one byte per delivery, and gives up silently when the
//! pipe is full) and whose read end the loop registers with its reactor. One pipe per signal
//! and loop, so the byte needs to say nothing: which pipe it is in says which signal came, and
//! how many bytes say how many times. After the byte, a second action sets the loop's
//! `arrived` flag, so that a loop that is busy (polling with a zero timeout) can skip the poll
//! syscall while no signal came (`run_once.rs`). Dropping a hook unregisters both actions,
//! which closes the write end.
//!
//! # Default actions, and what "unhooking" can and cannot restore
//!
//! signal-hook cannot uninstall its OS-level handler: once evloop hooked SIGINT, the kernel
//! calls signal-hook's handler for SIGINT for the rest of the process. Without more, a SIGINT
//! arriving after the last listener left would do nothing at all, and Ctrl-C would stop working
//! once `evloop::run` returned. So the first time evloop hooks a signal, it also registers
//! signal-hook's `register_conditional_default` action with a flag that is *armed while no
//! evloop hook for that signal is alive*: then the handler runs the signal's default action
//! (terminate for SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2; nothing for SIGCHLD, SIGWINCH).
//! This is asyncio's `remove_signal_handler`, which puts `SIG_DFL` back.
//!
//! Careful: that assumes the signal had its default action before evloop touched it, which is
//! all evloop can know without `unsafe`. A signal ignored at start-up (`nohup`, a background
//! job's SIGINT) and a handler the program installed itself with signal-hook *before* evloop
//! hooked the signal get the default action once evloop lets go. A signal signal-hook does not
//! know (a real-time one) has no emulation: once unhooked it is ignored.
//!
//! This file knows nothing of loops; `loop_signals.rs` owns the read ends.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use mio::net::UnixStream;
use parking_lot::Mutex;
use signal_hook::consts::FORBIDDEN;
use signal_hook::low_level::{pipe, signal_name, unregister};
use signal_hook::SigId;

use super::SignalError;

/// Every signal evloop ever hooked. Never shrinks: the default-action registration of a
/// signal stays for the life of the process (at most one per signal).
static HOOKED: Mutex<Vec<Hooked>> = Mutex::new(Vec::new());

/// What the process knows about one signal evloop hooked.
struct Hooked {
    /// The signal number.
    signum: i32,
    /// How many [`Hook`]s for it are alive, over all loops.
    hooks: usize,
    /// Armed while `hooks == 0`: signal-hook then runs the signal's default action. `None`
    /// for a signal signal-hook has no default for (it is then ignored when unhooked).
    default_armed: Option<Arc<AtomicBool>>,
}

/// Refuses the signals that cannot or must not be handled.
///
/// # Errors
///
/// [`SignalError::Forbidden`] for SIGKILL and SIGSTOP (the kernel never lets them be
/// caught) and for SIGSEGV, SIGILL and SIGFPE (signal-hook's `FORBIDDEN`: returning from
/// their handler is undefined behaviour).
pub(crate) fn check(signum: i32) -> Result<(), SignalError> {
    if FORBIDDEN.contains(&signum) {
        return Err(SignalError::Forbidden(signum));
    }
    Ok(())
}

/// One loop's registration for one signal; dropping it unhooks the signal for that loop.
pub(crate) struct Hook {
    /// The signal-hook action that writes into the self-pipe; it owns the write end.
    id: SigId,
    /// The action that sets the loop's `arrived` flag, registered after `id` so that it runs
    /// after the byte was written.
    flag_id: SigId,
    /// The signal number, to find its [`Hooked`] entry on drop.
    signum: i32,
}

impl Hook {
    /// Hooks `signum` for one loop: returns the hook and the read end of its self-pipe
    /// (non-blocking, not yet registered with any reactor).
    ///
    /// # Errors
    ///
    /// [`SignalError::Forbidden`] (see [`check`]); [`SignalError::Os`] if the OS refuses the
    /// pipe or the handler (an invalid signal number, or no file descriptor left).
    pub(crate) fn install(
        signum: i32,
        arrived: &Arc<AtomicBool>,
    ) -> Result<(Hook, UnixStream), SignalError> {
        check(signum)?;
        let os = |error: io::Error| SignalError::Os { signum, error };
        let (reader, writer) = UnixStream::pair().map_err(os)?;
        let mut hooked = HOOKED.lock();
        // The first time: register the default-action emulation, disarmed until unhooked.
        let index = match hooked.iter().position(|entry| entry.signum == signum) {
            Some(index) => index,
            None => {
                let default_armed = match signal_name(signum) {
                    Some(_) => {
                        let armed = Arc::new(AtomicBool::new(false));
                        signal_hook::flag::register_conditional_default(signum, armed.clone())
                            .map_err(os)?;
                        Some(armed)
                    }
                    None => None,
                };
                hooked.push(Hooked {
                    signum,
                    hooks: 0,
                    default_armed,
                });
                hooked.len() - 1
            }
        };
        let entry = &mut hooked[index];
        let registered = pipe::register(signum, writer).and_then(|id| {
            match signal_hook::flag::register(signum, arrived.clone()) {
                Ok(flag_id) => Ok((id, flag_id)),
                Err(error) => {
                    unregister(id);
                    Err(error)
                }
            }
        });
        match registered {
            Ok((id, flag_id)) => {
                entry.hooks += 1;
                entry.set_default_armed(false);
                Ok((
                    Hook {
                        id,
                        flag_id,
                        signum,
                    },
                    reader,
                ))
            }
            Err(error) => {
                // Careful: a new entry's default action must be live, as before the attempt.
                entry.set_default_armed(entry.hooks == 0);
                Err(os(error))
            }
        }
    }
}

impl Hooked {
    /// Arms or disarms the default-action emulation, if the signal has one.
    fn set_default_armed(&self, armed: bool) {
        if let Some(flag) = &self.default_armed {
            flag.store(armed, Ordering::SeqCst);
        }
    }
}

impl Drop for Hook {
    fn drop(&mut self) {
        // Unhook first (this closes the write end), then give the default action back if
        // this was the last hook: a signal in between is lost rather than fatal.
        unregister(self.id);
        unregister(self.flag_id);
        let mut hooked = HOOKED.lock();
        if let Some(entry) = hooked.iter_mut().find(|entry| entry.signum == self.signum) {
            entry.hooks -= 1;
            if entry.hooks == 0 {
                entry.set_default_armed(true);
            }
        }
    }
}
