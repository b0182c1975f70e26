//! Task groups: structured concurrency (asyncio's `TaskGroup`).
//!
//! A [`TaskGroup`] starts children (tasks on the running loop), waits for all of them, and
//! makes sure that none outlives it. The first child that fails cancels its siblings, and
//! the group reports every failure together. The semantics, for users, are on
//! [`TaskGroup`]; this header records the design choices.
//!
//! # Design: the values stay in the group
//!
//! `join` returns every child's value in spawn order instead of giving one handle per child,
//! because a group is a fan-out of work of one shape (the same choice as `gather` and tokio's
//! `JoinSet`), and each child's error has exactly one destination, the group's error. A
//! per-child handle would have to report "failed, but the error went to the group" and would
//! make every caller unwrap a result that, after a successful join, cannot be an error. For
//! children of different shapes, return an enum, or write results into shared state and make
//! `T = ()`.
//!
//! # Design: an owner and weak spawners
//!
//! The [`TaskGroup`] is the only strong owner of the shared state, and "no child outlives the
//! group" hangs on its `Drop`: dropped unjoined (directly, or inside a dropped join future),
//! it cancels every running child. Children and bodies spawn through a [`GroupSpawner`], a
//! `Weak`, so a child holding one neither keeps its group alive nor forms an `Rc` cycle
//! through its own task.
//!
//! # Files
//!
//! - this file: the public faces, [`TaskGroup`], [`GroupSpawner`], [`TaskGroupJoin`],
//!   [`TaskGroupRun`];
//! - `state.rs`: the shared state, the done sink (O(1) per child) and the shutdown protocol;
//! - `error.rs`: [`TaskGroupError`] and [`GroupFailure`].
//!
//! This file does not track children; `state.rs` does.

mod error;
mod state;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};

pub use error::{GroupFailure, TaskGroupError};
use state::{panic_finished, Inner};

use crate::error::TaskError;
use crate::task::CatchUnwind;

/// A group of child tasks that are joined, and cancelled, together (asyncio's `TaskGroup`).
///
/// `T` is the value of a child, `E` its error: every child returns `Result<T, E>`. The group
/// is the owner: dropping it before [`join`](TaskGroup::join) completed cancels every child
/// still running. Children run in a copy of the spawner's context ([`spawn`](crate::spawn)
/// underneath).
///
/// # Two forms
///
/// - **Plain**: `let group = TaskGroup::new(); group.spawn(..); group.join().await`. Closest
///   to tokio's `JoinSet`. A failure cancels the children, not the code that spawned them:
///   that code runs on until it calls `join`.
/// - **Scoped**: `TaskGroup::run(|group| async move { group.spawn(..); ...; Ok(()) }).await`.
///   Closest to `async with asyncio.TaskGroup() as group:`. The body is part of the group: if
///   it returns `Err` (or panics) the children are cancelled and its error is reported with
///   theirs; if a child fails while the body still runs, the body is dropped (asyncio cancels
///   the parent task) and the group then waits for the children.
///
/// # Children, their values and their failures
///
/// A child is a future returning `Result<T, E>`: errors are values in Rust. It *fails* when
/// it returns `Err(e)` or panics. `join` (and `run`) resolve to `Ok(values)`, every child's
/// value in spawn order, or to `Err(`[`TaskGroupError`]`)`, every failure in the order it
/// happened, each [`GroupFailure::Failed`]`(e)` or [`GroupFailure::Panicked`]`(message)`.
/// Cancelled children are never failures.
///
/// # When children are cancelled, exactly
///
/// Children are cancelled with [`Task::cancel`](crate::Task::cancel): the future is dropped on the loop thread at
/// its next poll slot, so its `Drop` runs there; a child never finishes after that.
///
/// - **After the first failure.** The failure (a child's or the body's) puts the group into
///   *shutdown*; one loop iteration later (a `call_soon` callback, like asyncio's done
///   callbacks) every child still running is cancelled. Children that were already running in
///   the iteration of the first failure end normally, so two children that fail at the same
///   instant are both reported, the earlier first.
/// - **When the group is dropped before it was joined**: dropping the `TaskGroup` unjoined,
///   or dropping the [`TaskGroupJoin`] / [`TaskGroupRun`] future before it completed (the
///   task awaiting it was cancelled). Every running child is cancelled at once; nobody waits
///   for them (a `Drop` cannot await), their futures are dropped one iteration later.
///
/// # Spawning into a group that is shutting down or finished
///
/// - While the group is shutting down, `spawn` drops the future unpolled: the child is
///   cancelled at once, as Trio does for a nursery whose scope is cancelled. The group's
///   error already says why; [`TaskGroup::is_shutting_down`] tells it in advance. (asyncio
///   raises "TaskGroup is shutting down" instead.)
/// - Once the group finished (its `join` or `run` returned, or it was dropped), spawning
///   through a [`GroupSpawner`] panics with asyncio's "TaskGroup is finished": the child
///   would outlive the group. The owning `TaskGroup` cannot hit this (`join` consumes it).
///
/// Children that spawn into their own group, and the body of `run`, use a [`GroupSpawner`]:
/// a weak handle, so a child holding one does not keep its group alive. A running child
/// always finds its group open (had it failed, the child would be cancelled).
///
/// # Other departures from asyncio
///
/// - Cancellation is dropping, so a child cannot catch it and go on, and the group cannot
///   "uncancel" its parent: dropping the join future is final.
/// - The body's error is reported in the order it happened, not appended last.
/// - There is no handle to cancel one child alone; use a plain [`spawn`](crate::spawn) (or a
///   nested group) for work you may want to cancel on its own.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use evloop::TaskGroup;
///
/// let doubled = evloop::run(async {
///     let group = TaskGroup::new();
///     for ms in [30u64, 10, 20] {
///         group.spawn(async move {
///             evloop::sleep(Duration::from_millis(ms)).await;
///             Ok::<_, String>(ms * 2)
///         });
///     }
///     group.join().await
/// })
/// .unwrap();
/// assert_eq!(doubled, Ok(vec![60, 20, 40])); // in spawn order, like gather
/// ```
///
/// The first failure cancels the siblings:
///
/// ```
/// use std::time::Duration;
/// use evloop::{GroupFailure, TaskGroup};
///
/// let outcome = evloop::run(async {
///     let group = TaskGroup::new();
///     group.spawn(async {
///         evloop::sleep(Duration::from_millis(50)).await;
///         Ok("never: cancelled when its sibling fails")
///     });
///     group.spawn(async {
///         evloop::sleep(Duration::from_millis(10)).await;
///         Err("connection reset")
///     });
///     group.join().await
/// })
/// .unwrap();
/// let error = outcome.unwrap_err();
/// assert_eq!(error.first(), &GroupFailure::Failed("connection reset"));
/// ```
pub struct TaskGroup<T: 'static, E: 'static> {
    /// The shared state; this is its only strong owner.
    inner: Rc<Inner<T, E>>,
}

impl<T: 'static, E: 'static> TaskGroup<T, E> {
    /// An empty group; children start with [`spawn`](TaskGroup::spawn). No loop is needed
    /// until then.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = evloop::TaskGroup::<u32, String>::new();
    /// assert!(!group.is_shutting_down());
    /// ```
    pub fn new() -> Self {
        TaskGroup {
            inner: Inner::new(),
        }
    }

    /// Starts `future` as a child task on the running loop (asyncio's `create_task`).
    ///
    /// If the group is shutting down (something failed), the future is dropped unpolled
    /// instead: the child is cancelled at once.
    ///
    /// # Panics
    ///
    /// Outside a running loop, with the `NoRunningLoop` message.
    ///
    /// # Examples
    ///
    /// ```
    /// let values = evloop::run(async {
    ///     let group = evloop::TaskGroup::new();
    ///     group.spawn(async { Ok::<_, ()>(1) });
    ///     group.spawn(async { Ok(2) });
    ///     group.join().await
    /// })
    /// .unwrap();
    /// assert_eq!(values, Ok(vec![1, 2]));
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F)
    where
        F: Future<Output = Result<T, E>> + 'static,
    {
        self.inner.spawn(future);
    }

    /// A weak handle that spawns into this group, for children and bodies (it does not keep
    /// the group alive).
    ///
    /// # Examples
    ///
    /// ```
    /// let values = evloop::run(async {
    ///     let group = evloop::TaskGroup::new();
    ///     let spawner = group.spawner();
    ///     group.spawn(async move {
    ///         spawner.spawn(async { Ok::<_, ()>("grandchild") });
    ///         Ok("child")
    ///     });
    ///     group.join().await
    /// })
    /// .unwrap();
    /// assert_eq!(values, Ok(vec!["child", "grandchild"]));
    /// ```
    pub fn spawner(&self) -> GroupSpawner<T, E> {
        GroupSpawner {
            inner: Rc::downgrade(&self.inner),
        }
    }

    /// Whether a failure put the group into shutdown (new children are refused).
    pub fn is_shutting_down(&self) -> bool {
        self.inner.is_shutting_down()
    }

    /// Waits for every child; resolves to their values in spawn order, or to every failure.
    ///
    /// Children spawned while it waits (by other children) are waited for too. Dropping the
    /// returned future before it completes cancels every child still running.
    ///
    /// # Errors
    ///
    /// [`TaskGroupError`] if a child failed (returned `Err` or panicked).
    ///
    /// # Examples
    ///
    /// ```
    /// let outcome = evloop::run(async {
    ///     let group = evloop::TaskGroup::<(), String>::new();
    ///     group.spawn(async { panic!("bug") });
    ///     group.join().await
    /// })
    /// .unwrap();
    /// assert!(outcome.unwrap_err().to_string().contains("panicked: bug"));
    /// ```
    pub fn join(self) -> TaskGroupJoin<T, E> {
        TaskGroupJoin { group: self }
    }

    /// The scoped form: runs `body` with a spawner into a new group, then waits for every
    /// child (asyncio's `async with TaskGroup() as group:`).
    ///
    /// If `body` returns `Err` or panics, that is a failure of the group: the children are
    /// cancelled. If a child fails while `body` still runs, `body` is dropped at its next
    /// poll. Dropping the returned future drops `body` and cancels every running child.
    ///
    /// # Errors
    ///
    /// [`TaskGroupError`] with every failure, the body's among them, in the order they
    /// happened.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use evloop::TaskGroup;
    ///
    /// let pages = evloop::run(TaskGroup::run(|group| async move {
    ///     for page in 1..=3u32 {
    ///         group.spawn(async move {
    ///             evloop::sleep(Duration::from_millis(10)).await;
    ///             Ok(format!("page {page}"))
    ///         });
    ///     }
    ///     Ok::<(), String>(())
    /// }))
    /// .unwrap();
    /// assert_eq!(pages.unwrap(), ["page 1", "page 2", "page 3"]);
    /// ```
    pub fn run<B, Fut>(body: B) -> TaskGroupRun<T, E, Fut>
    where
        B: FnOnce(GroupSpawner<T, E>) -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        let group = TaskGroup::new();
        let body = CatchUnwind::new(body(group.spawner()));
        TaskGroupRun {
            body: Some(body),
            group,
        }
    }
}

impl<T: 'static, E: 'static> Default for TaskGroup<T, E> {
    fn default() -> Self {
        TaskGroup::new()
    }
}

impl<T: 'static, E: 'static> Drop for TaskGroup<T, E> {
    fn drop(&mut self) {
        // Not joined: no child may outlive the group.
        if !self.inner.is_finished() {
            self.inner.set_finished();
            self.inner.cancel_all();
        }
    }
}

impl<T: 'static, E: 'static> fmt::Debug for TaskGroup<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskGroup")
            .field("running", &self.inner.running())
            .field("shutting_down", &self.inner.is_shutting_down())
            .field("finished", &self.inner.is_finished())
            .finish()
    }
}

/// A weak handle that spawns children into a [`TaskGroup`]; cheap to clone.
///
/// Given to the body of [`TaskGroup::run`], and made by [`TaskGroup::spawner`] for children
/// that spawn siblings. It does not keep the group alive.
///
/// # Examples
///
/// ```
/// let values = evloop::run(evloop::TaskGroup::run(|group| async move {
///     let inner = group.clone();
///     group.spawn(async move {
///         inner.spawn(async { Ok(2) });
///         Ok(1)
///     });
///     Ok::<(), ()>(())
/// }))
/// .unwrap();
/// assert_eq!(values, Ok(vec![1, 2]));
/// ```
pub struct GroupSpawner<T, E> {
    /// The group's state, if the group still exists.
    inner: Weak<Inner<T, E>>,
}

impl<T: 'static, E: 'static> GroupSpawner<T, E> {
    /// Starts `future` as a child of the group, like [`TaskGroup::spawn`] (dropped unpolled
    /// while the group is shutting down).
    ///
    /// # Panics
    ///
    /// If the group is finished (joined or dropped; asyncio: "TaskGroup is finished"), or
    /// outside a running loop.
    #[track_caller]
    pub fn spawn<F>(&self, future: F)
    where
        F: Future<Output = Result<T, E>> + 'static,
    {
        match self.inner.upgrade() {
            Some(inner) => inner.spawn(future),
            None => panic_finished(),
        }
    }

    /// Whether a failure put the group into shutdown (new children are refused).
    pub fn is_shutting_down(&self) -> bool {
        self.inner
            .upgrade()
            .is_some_and(|inner| inner.is_shutting_down())
    }

    /// Whether the group finished (joined or dropped): [`spawn`](GroupSpawner::spawn) would
    /// panic.
    pub fn is_finished(&self) -> bool {
        self.inner.upgrade().is_none_or(|inner| inner.is_finished())
    }
}

impl<T, E> Clone for GroupSpawner<T, E> {
    fn clone(&self) -> Self {
        GroupSpawner {
            inner: self.inner.clone(),
        }
    }
}

impl<T, E> fmt::Debug for GroupSpawner<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupSpawner")
            .field("alive", &(self.inner.strong_count() > 0))
            .finish()
    }
}

/// The future of [`TaskGroup::join`]: the values in spawn order, or every failure.
///
/// Dropping it before it completes cancels every child still running.
#[must_use = "a TaskGroupJoin does nothing unless awaited; dropping it cancels the children"]
pub struct TaskGroupJoin<T: 'static, E: 'static> {
    /// The group it waits for (it owns it, so dropping this drops the group).
    group: TaskGroup<T, E>,
}

impl<T: 'static, E: 'static> Future for TaskGroupJoin<T, E> {
    type Output = Result<Vec<T>, TaskGroupError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.group.inner.poll_done(cx.waker())
    }
}

impl<T: 'static, E: 'static> fmt::Debug for TaskGroupJoin<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskGroupJoin")
            .field("group", &self.group)
            .finish()
    }
}

/// The future of [`TaskGroup::run`]: runs the body, then waits for every child.
///
/// Dropping it drops the body and cancels every child still running.
#[must_use = "a TaskGroupRun does nothing unless awaited"]
pub struct TaskGroupRun<T: 'static, E: 'static, Fut> {
    /// The body while it runs; `None` once it returned or was dropped because the group is
    /// shutting down. Declared first so it is dropped before the group.
    body: Option<CatchUnwind<Fut>>,
    /// The group (owned: dropping this future cancels the children).
    group: TaskGroup<T, E>,
}

impl<T, E, Fut> Future for TaskGroupRun<T, E, Fut>
where
    T: 'static,
    E: 'static,
    Fut: Future<Output = Result<(), E>>,
{
    type Output = Result<Vec<T>, TaskGroupError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let inner = &this.group.inner;
        // 1. A failure cancels the body (asyncio cancels the parent task).
        if this.body.is_some() && inner.is_shutting_down() {
            this.body = None;
        }
        // 2. Run the body; its error or panic is a failure of the group.
        if let Some(body) = this.body.as_mut() {
            let outcome = match Pin::new(body).poll(cx) {
                Poll::Pending => {
                    inner.park(cx.waker());
                    return Poll::Pending;
                }
                Poll::Ready(outcome) => outcome,
            };
            this.body = None;
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(error)) => inner.fail(GroupFailure::Failed(error)),
                Err(TaskError::Panicked(message)) => inner.fail(GroupFailure::Panicked(message)),
                Err(_) => {}
            }
        }
        // 3. Wait for the children.
        inner.poll_done(cx.waker())
    }
}

impl<T: 'static, E: 'static, Fut> fmt::Debug for TaskGroupRun<T, E, Fut> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskGroupRun")
            .field("body_running", &self.body.is_some())
            .field("group", &self.group)
            .finish()
    }
}
