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
//! A task holds no waker of its own until a poll leaves a clone of the one it was lent
//! somewhere (see `Header::waker`). Waker allocations are recycled by the loop
//! (`Core::waker_pool`) once no clone of them is
//! left anywhere (the strong count says so); `key` and `task_id` are atomics so a recycled
//! waker can be renamed in place, and a stale read of them could only cause a spurious wake,
//! which the `task_id` check turns into a no-op.
//!
//! This file does not schedule anything itself: `Core::wake_task` does.

use std::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Wake, Waker};

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
    /// The task's slab key (or `MAIN_KEY`); rewritten when the allocation is recycled.
    key: AtomicUsize,
    /// The task's unique id, so a waker of a finished task cannot wake a task that reused
    /// its slab key; rewritten when the allocation is recycled.
    task_id: AtomicU64,
}

/// A task waker and the `Arc` behind it, kept together so the loop can tell when no clone
/// of the waker is left (strong count 2: this pair's two references) and recycle both.
pub(crate) struct WakerPair {
    /// The shared data, to rename and to count references.
    data: Arc<TaskWaker>,
    /// The `Waker` made from `data`, given to every poll.
    pub(crate) waker: Waker,
}

impl WakerPair {
    /// A fresh waker for task `(key, task_id)` of the loop `loop_id`.
    pub(crate) fn new(loop_id: u64, shared: Arc<Shared>, key: usize, task_id: u64) -> Self {
        let data = Arc::new(TaskWaker {
            loop_id,
            shared,
            key: AtomicUsize::new(key),
            task_id: AtomicU64::new(task_id),
        });
        let waker = Waker::from(data.clone());
        WakerPair { data, waker }
    }

    /// Whether nobody but this pair holds the waker, so it can be recycled.
    pub(crate) fn is_unique(&self) -> bool {
        if Arc::strong_count(&self.data) == 2 {
            // Pairs with the release of the last foreign clone's drop.
            fence(Ordering::Acquire);
            true
        } else {
            false
        }
    }

    /// Renames a recycled (unique) waker for a new task.
    pub(crate) fn rename(&self, key: usize, task_id: u64) {
        self.data.key.store(key, Ordering::Relaxed);
        self.data.task_id.store(task_id, Ordering::Relaxed);
    }
}

// ANCHOR: task_waker_wake
impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let key = self.key.load(Ordering::Relaxed);
        let task_id = self.task_id.load(Ordering::Relaxed);
        if current::wake_local(self.loop_id, key, task_id) {
            return;
        }
        // Careful: a closed loop refuses the wake; its tasks are all finished already.
        let _ = self.shared.post(Remote::Wake { key, task_id });
    }
}
// ANCHOR_END: task_waker_wake
