//! The `Waker` of a loop task, built on `std::task::Wake` (no unsafe).
//!
//! A waker names its task by `(key, task_id)`, plain data that may cross threads. Waking it
//! takes one of two paths:
//!
//! - **local**: on the thread where its loop is running, the task is pushed straight onto the
//!   ready queue (a thread-local lookup and a slab lookup, no atomics, no syscall);
//! - **remote**: anywhere else, a `Remote::Wake` message goes through the threadsafe path
//!   (crossbeam channel plus the one shared `mio::Waker`, see `remote.rs`).
//!
//! Waking a finished task is harmless: the loop finds no task with that id and ignores it.
//! Waker allocations are recycled by the loop (`Core::waker_pool`) once no clone is left,
//! which `Arc::get_mut` proves.
//!
//! This file does not schedule anything itself: `Core::wake_task` does.

use std::sync::Arc;
use std::task::Wake;

use crate::current;
use crate::remote::{Remote, Shared};

/// The key that stands for the future given to `run_until_complete` (not in the task slab).
pub(crate) const MAIN_KEY: usize = usize::MAX;

/// The data behind a task's `Waker`.
pub(crate) struct TaskWaker {
    /// Which loop the task belongs to (compared with the running loop for the local path).
    pub(crate) loop_id: u64,
    /// That loop's threadsafe side, for the remote path.
    pub(crate) shared: Arc<Shared>,
    /// The task's slab key (or `MAIN_KEY`).
    pub(crate) key: usize,
    /// The task's unique id, so a waker of a finished task cannot wake a task that reused
    /// its slab key.
    pub(crate) task_id: u64,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if current::wake_local(self.loop_id, self.key, self.task_id) {
            return;
        }
        // Careful: a closed loop refuses the wake; its tasks are all finished already.
        let _ = self.shared.post(Remote::Wake {
            key: self.key,
            task_id: self.task_id,
        });
    }
}
