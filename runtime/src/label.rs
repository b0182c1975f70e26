//! What the loop is running: a printable label for one ready entry.
//!
//! Debug mode names a slow callback or task poll, and the trace recorder names each slice,
//! with a [`Label`]. Making one is cheap (a few words copied, no allocation, no formatting):
//! the text is only built when a report is written or a trace is exported. A label says what
//! asyncio's `repr(handle)` says: the callback's function and where it was scheduled, or the
//! task's name and where it was spawned.
//!
//! This file does not decide when to label anything: `run_once.rs` does, and only while
//! debug mode or a trace recorder is on.

use std::fmt;
use std::panic::Location;
use std::sync::Arc;

/// A ready entry, named for a report or a trace slice.
#[derive(Clone, Debug)]
pub(crate) enum Label {
    /// A `call_soon`/`call_later`/`call_at` callback.
    Callback {
        /// The closure's type name (`my_crate::main::{{closure}}`).
        name: &'static str,
        /// Where it was scheduled.
        at: &'static Location<'static>,
    },
    /// A closure or task start posted from another thread.
    Threadsafe {
        /// The closure's type name.
        name: &'static str,
    },
    /// One poll of a spawned task.
    Task {
        /// The task's id (asyncio's `Task-N`).
        id: u64,
        /// The name given with `Task::set_name`, if any.
        name: Option<Arc<str>>,
        /// Where it was spawned.
        at: &'static Location<'static>,
    },
    /// One poll of the future of `run_until_complete`.
    Main {
        /// Where `run_until_complete` was called.
        at: Option<&'static Location<'static>>,
    },
    /// A job run by a pool worker (trace only).
    Job {
        /// The closure's type name, or the registered function of a process job.
        name: &'static str,
    },
    /// A fixed name (the trace's `poll`, `drain`, ...).
    Static(&'static str),
}

/// The closure segment of a type name.
const CLOSURE: &str = "{{closure}}";

/// A short form of a type name for trace slice names (reports print the full path): the
/// last named segment, with `::{{closure}}` if it is a closure defined in it
/// (`my_crate::server::handle::{{closure}}::{{closure}}` becomes `handle::{{closure}}`).
pub(crate) fn short_type_name(name: &'static str) -> String {
    // Careful: generic arguments contain `::` too; only look at the part before the first `<`.
    let (plain, generics) = name.split_at(name.find('<').unwrap_or(name.len()));
    let segments: Vec<&str> = plain.split("::").collect();
    let named = segments.iter().rposition(|s| *s != CLOSURE);
    match named {
        Some(i) if i + 1 < segments.len() => format!("{}::{CLOSURE}", segments[i]),
        Some(i) => format!("{}{generics}", segments[i]),
        None => name.to_owned(),
    }
}

impl Label {
    /// A short form for trace slice names: the last named path segment, the file's base name.
    pub(crate) fn short(&self) -> String {
        match self {
            Label::Callback { name, at } => {
                format!(
                    "{} @{}:{}",
                    short_type_name(name),
                    base(at.file()),
                    at.line()
                )
            }
            Label::Threadsafe { name } => format!("threadsafe {}", short_type_name(name)),
            Label::Task { id, name, at } => match name {
                Some(name) => format!("task {id} {name}"),
                None => format!("task {id} @{}:{}", base(at.file()), at.line()),
            },
            Label::Main { at: Some(at) } => format!("main @{}:{}", base(at.file()), at.line()),
            Label::Main { at: None } => "main".to_owned(),
            Label::Job { name } => short_type_name(name),
            Label::Static(name) => (*name).to_owned(),
        }
    }
}

/// The last component of a source path.
fn base(file: &str) -> &str {
    file.rsplit(['/', '\\']).next().unwrap_or(file)
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Label::Callback { name, at } => write!(f, "callback {name} scheduled at {at}"),
            Label::Threadsafe { name } => write!(f, "threadsafe callback {name}"),
            Label::Task { id, name, at } => {
                write!(f, "task {id}")?;
                if let Some(name) = name {
                    write!(f, " '{name}'")?;
                }
                write!(f, " spawned at {at}")
            }
            Label::Main { at: Some(at) } => {
                write!(f, "the main future of run_until_complete called at {at}")
            }
            Label::Main { at: None } => f.write_str("the main future of run_until_complete"),
            Label::Job { name } => write!(f, "job {name}"),
            Label::Static(name) => f.write_str(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::short_type_name;

    #[test]
    fn short_type_names_keep_the_last_two_segments() {
        assert_eq!(short_type_name("a::b::c::{{closure}}"), "c::{{closure}}");
        assert_eq!(
            short_type_name("a::main::{{closure}}::{{closure}}"),
            "main::{{closure}}"
        );
        assert_eq!(short_type_name("a::b"), "b");
        assert_eq!(short_type_name("main"), "main");
        assert_eq!(
            short_type_name("a::b::f<x::y::Z>"),
            "f<x::y::Z>",
            "generic arguments are kept whole"
        );
    }
}
