//! Debug mode for the pools: the `EVLOOP_DEBUG` rule, and the report of a job error that
//! nobody retrieved (asyncio's "Future exception was never retrieved").
//!
//! A pool built with `debug(true)` (the default when `EVLOOP_DEBUG` is `1`, `true` or `yes`)
//! gives each job's shared cell a [`Watch`]: the job's name and the pool's label. When the
//! cell dies (its handle and the pool's promise are both gone) still holding an error that
//! nobody took, [`report_unretrieved`] logs one warning with target `evloop_pools::debug`.
//!
//! What is reported: every error other than `Cancelled` (a panic, a dead worker, a timeout, a
//! protocol error, a broken pool). What is not: a cancellation (someone chose it), and a
//! *value* dropped unretrieved (fire-and-forget jobs are legitimate, as in asyncio, which
//! only complains about exceptions).
//!
//! This file does not decide when a cell dies (`job.rs` does); it only formats and logs.
//! Invariant: a report runs with no lock held (the cell is being destroyed; the pool's lock is
//! never held where a cell can die), so a slow logger only delays the thread that let go last.

use std::sync::{Arc, OnceLock};

use crate::error::JobError;

/// Whether `EVLOOP_DEBUG` asks for debug mode: `1`, `true` or `yes` (any case, surrounding
/// spaces ignored). The variable is read once per process and the answer cached, so setting
/// it later changes nothing. The pools' builders default to this; `evloop` uses the same rule.
///
/// # Examples
///
/// ```
/// // Whatever the environment says, a builder can override it.
/// let on = evloop_pools::debug_from_env();
/// let pool = evloop_pools::ThreadPool::builder().debug(!on).build();
/// assert_eq!(pool.get_debug(), !on);
/// ```
pub fn debug_from_env() -> bool {
    static DEBUG: OnceLock<bool> = OnceLock::new();
    *DEBUG.get_or_init(|| {
        std::env::var_os("EVLOOP_DEBUG")
            .and_then(|value| value.into_string().ok())
            .is_some_and(|value| is_yes(&value))
    })
}

/// The `EVLOOP_DEBUG` rule on one value: `1`, `true` or `yes`, any case, spaces trimmed.
fn is_yes(value: &str) -> bool {
    let value = value.trim();
    ["1", "true", "yes"]
        .iter()
        .any(|yes| value.eq_ignore_ascii_case(yes))
}

/// What a debug pool's job cell keeps to report an error nobody retrieved. `None` in a pool
/// without debug mode, so a job there pays for nothing but the `Option`.
#[derive(Debug)]
pub(crate) struct Watch {
    /// The job's name: the closure's type name (thread jobs) or the registered function's
    /// name (process jobs). Static, so watching a job allocates nothing.
    pub(crate) job: &'static str,
    /// The pool's label, e.g. `ThreadPool "evloop-pool"`; built once per pool and shared.
    pub(crate) pool: Arc<str>,
}

/// A pool's label for reports: its kind and its thread name prefix, built once (`Some` only in
/// a debug pool).
pub(crate) fn pool_label(debug: bool, kind: &str, prefix: &str) -> Option<Arc<str>> {
    debug.then(|| Arc::from(format!("{kind} {prefix:?}")))
}

/// A job's watch in a pool whose label is `label` (`None`: not a debug pool).
pub(crate) fn watch(label: &Option<Arc<str>>, job: &'static str) -> Option<Watch> {
    label.as_ref().map(|pool| Watch {
        job,
        pool: pool.clone(),
    })
}

/// Whether `error`, left in a dying cell, is worth a report (anything but a cancellation;
/// `WaitTimedOut` and `AlreadyRetrieved` are never stored in a cell).
pub(crate) fn worth_reporting(error: &JobError) -> bool {
    !matches!(error, JobError::Cancelled)
}

/// Logs the warning for an error nobody retrieved. Call with no lock held.
pub(crate) fn report_unretrieved(watch: &Watch, error: &JobError) {
    log::warn!(
        target: "evloop_pools::debug",
        "job exception was never retrieved: job `{}` in {}: {error} \
         (fix: take the outcome with `result()` or `.await`, or handle the error inside the job)",
        watch.job,
        watch.pool,
    );
}

#[cfg(test)]
mod tests {
    use super::is_yes;

    #[test]
    fn the_env_rule_accepts_one_true_yes_in_any_case() {
        for yes in ["1", "true", "yes", "TRUE", " Yes ", "tRuE\n"] {
            assert!(is_yes(yes), "{yes:?}");
        }
        for no in ["", "0", "false", "no", "on", "2", "yess", "y"] {
            assert!(!is_yes(no), "{no:?}");
        }
    }
}
