//! What a failed [`TaskGroup`](crate::TaskGroup) reports: [`TaskGroupError`], every failure
//! of the group in the order they happened, each a [`GroupFailure`].
//!
//! This is asyncio's `ExceptionGroup('unhandled errors in a TaskGroup', errors)`. In Rust a
//! child's error is a value, so the group collects values: `Failed(E)` for an `Err(E)` a child
//! (or the body of [`TaskGroup::run`](crate::TaskGroup::run)) returned, `Panicked(message)`
//! for a panic. Cancelled children are never failures (asyncio leaves `CancelledError` out of
//! the group too).
//!
//! Invariant: a `TaskGroupError` holds at least one failure (the group builds one only when
//! something failed), so [`TaskGroupError::first`] cannot fail.
//!
//! This file does not decide what fails or when; `state.rs` does.

use std::fmt;

/// One failure inside a [`TaskGroup`](crate::TaskGroup): an error a child (or the body)
/// returned, or a panic.
///
/// # Examples
///
/// ```
/// use evloop::GroupFailure;
///
/// let failure: GroupFailure<&str> = GroupFailure::Failed("disk full");
/// assert_eq!(failure.to_string(), "disk full");
/// assert_eq!(GroupFailure::<&str>::Panicked("oops".into()).to_string(), "panicked: oops");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupFailure<E> {
    /// The child (or the body) returned `Err(E)`.
    Failed(E),
    /// The child (or the body) panicked; the string is the panic message.
    Panicked(String),
    /// The child was cancelled from outside the group (by `EventLoop::cancel_all_tasks`, or
    /// its loop closing) before the group had a failure: the group cannot give its value.
    /// Children the group cancels itself are never failures.
    CancelledOutside,
}

impl<E> GroupFailure<E> {
    /// `true` for [`GroupFailure::Panicked`].
    pub fn is_panic(&self) -> bool {
        matches!(self, GroupFailure::Panicked(_))
    }

    /// The error, for [`GroupFailure::Failed`]; `None` otherwise.
    pub fn into_error(self) -> Option<E> {
        match self {
            GroupFailure::Failed(error) => Some(error),
            GroupFailure::Panicked(_) | GroupFailure::CancelledOutside => None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for GroupFailure<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupFailure::Failed(error) => error.fmt(f),
            GroupFailure::Panicked(message) => write!(f, "panicked: {message}"),
            GroupFailure::CancelledOutside => f.write_str(
                "cancelled from outside the group (cancel_all_tasks or a closing loop); fix: \
                 let the group's children end before cancelling the loop's tasks",
            ),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for GroupFailure<E> {}

/// Why a [`TaskGroup`](crate::TaskGroup) failed: every failure, the first first (asyncio's
/// `ExceptionGroup` of "unhandled errors in a TaskGroup").
///
/// Its `Display` names the first failure and the count; [`failures`](Self::failures) has
/// them all. It implements `std::error::Error` whenever `E` is `Debug + Display` (so `String`
/// and `anyhow::Error` work, not only `E: Error`).
///
/// # Examples
///
/// ```
/// use evloop::{GroupFailure, TaskGroup};
///
/// let error = evloop::run(async {
///     let group = TaskGroup::new();
///     group.spawn(async { Ok(1) });
///     group.spawn(async { Err("no route to host") });
///     group.join().await
/// })
/// .unwrap()
/// .unwrap_err();
/// assert_eq!(error.failures(), [GroupFailure::Failed("no route to host")]);
/// assert!(error.to_string().contains("no route to host"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskGroupError<E> {
    /// Every failure in the order it happened; never empty.
    failures: Vec<GroupFailure<E>>,
}

impl<E> TaskGroupError<E> {
    /// Wraps `failures` (the group's, never empty).
    pub(crate) fn new(failures: Vec<GroupFailure<E>>) -> Self {
        debug_assert!(!failures.is_empty(), "a TaskGroupError without a failure");
        TaskGroupError { failures }
    }

    /// Every failure, in the order they happened (the first one first).
    pub fn failures(&self) -> &[GroupFailure<E>] {
        &self.failures
    }

    /// The failure that made the group shut down.
    pub fn first(&self) -> &GroupFailure<E> {
        &self.failures[0]
    }

    /// Every failure, in the order they happened, taken out.
    pub fn into_failures(self) -> Vec<GroupFailure<E>> {
        self.failures
    }

    /// The first failure, taken out (the others are dropped): handy to pass one error on
    /// with `?` when one is enough.
    pub fn into_first(self) -> GroupFailure<E> {
        self.failures
            .into_iter()
            .next()
            .expect("a TaskGroupError holds at least one failure")
    }
}

impl<E: fmt::Display> fmt::Display for TaskGroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.failures.len();
        let plural = if count == 1 { "" } else { "s" };
        write!(
            f,
            "unhandled errors in a TaskGroup ({count} failure{plural}), the first: {}; the \
             children still running were cancelled; fix: handle the error inside the child, \
             or read TaskGroupError::failures() for every failure",
            self.first()
        )
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for TaskGroupError<E> {}
