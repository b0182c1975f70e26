//! `MapResults`: the ordered results of `ThreadPool::map` (and `ProcessPool::map`).

use std::collections::VecDeque;

use crate::error::JobError;
use crate::job::JobHandle;

/// The results of a `map`, in input order; each `next` blocks until that job is resolved.
/// Dropping it cancels the jobs that have not started (Python's `map` does the same when
/// its iterator is closed early).
#[derive(Debug)]
pub struct MapResults<R> {
    /// Handles not yet consumed, in input order.
    handles: VecDeque<JobHandle<R>>,
}

impl<R> MapResults<R> {
    /// Wraps the handles of a map's jobs, in input order.
    pub(crate) fn new(handles: Vec<JobHandle<R>>) -> Self {
        MapResults {
            handles: handles.into(),
        }
    }
}

impl<R> Iterator for MapResults<R> {
    type Item = Result<R, JobError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.handles.pop_front().map(JobHandle::result)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.handles.len(), Some(self.handles.len()))
    }
}

impl<R> ExactSizeIterator for MapResults<R> {}

impl<R> Drop for MapResults<R> {
    fn drop(&mut self) {
        for handle in &self.handles {
            handle.cancel();
        }
    }
}
