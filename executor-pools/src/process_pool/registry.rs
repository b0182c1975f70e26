//! What a process worker can run: [`Function`] names, [`Call`]s, and the [`Registry`] that
//! maps each name to its body.
//!
//! A closure cannot cross a process boundary, so a process job names a function that both
//! sides registered under the same name: the parent sends the name and the encoded arguments,
//! the worker looks the name up in its own registry, decodes, runs and encodes the value.
//! Both sides build their registry from the same `fn() -> Registry` (the one passed to
//! [`worker_main`](crate::worker_main)), and the handshake compares the two: each entry's
//! [`Signature`] is its name and the Rust type names of its argument and value (without module
//! paths, see [`type_label`]).
//!
//! Invariants: a name is registered once (`register` panics on a duplicate); a body never
//! lets a panic escape (it returns `WorkerError::Panicked`); bodies run only in a worker.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::protocol::{Blob, WorkerError};
use super::worker::catch_job;

/// The name of a registered function, typed with its argument `A` and value `R`.
///
/// Declare it once as a `const` next to the registry and use it on both sides.
///
/// # Examples
///
/// ```
/// use evloop_pools::{Function, Registry};
///
/// const SQUARE: Function<u64, u64> = Function::new("square");
///
/// fn registry() -> Registry {
///     Registry::new().register(SQUARE, |x| x * x)
/// }
/// assert_eq!(SQUARE.name(), "square");
/// # let _ = registry();
/// ```
pub struct Function<A, R> {
    /// The name both registries know the body by (what travels to the worker).
    name: &'static str,
    /// Ties the argument and value types to the name; `fn(A) -> R` keeps `Function` `Send`,
    /// `Sync` and `Copy` whatever `A` and `R` are.
    types: PhantomData<fn(A) -> R>,
}

impl<A, R> Function<A, R> {
    /// The function registered as `name`.
    pub const fn new(name: &'static str) -> Self {
        Function {
            name,
            types: PhantomData,
        }
    }

    /// The registered name.
    pub fn name(self) -> &'static str {
        self.name
    }

    /// A call of this function with `args`, to submit to a [`ProcessPool`](crate::ProcessPool).
    pub fn call(self, args: A) -> Call<A, R> {
        Call {
            function: self,
            args,
            timeout: None,
        }
    }
}

impl<A, R> Clone for Function<A, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A, R> Copy for Function<A, R> {}

impl<A, R> fmt::Debug for Function<A, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Function({:?})", self.name)
    }
}

/// One call of a registered function: what a process pool runs as one job.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use evloop_pools::Function;
///
/// const SLEEP_MS: Function<u64, ()> = Function::new("sleep_ms");
/// let call = SLEEP_MS.call(50).timeout(Duration::from_secs(1));
/// assert_eq!(call.function().name(), "sleep_ms");
/// ```
pub struct Call<A, R> {
    /// Which function to run.
    pub(crate) function: Function<A, R>,
    /// Its argument, encoded when the call is submitted.
    pub(crate) args: A,
    /// Stops the job (kills its worker) after this long; `None` uses the pool's
    /// `default_timeout`.
    pub(crate) timeout: Option<Duration>,
}

impl<A, R> Call<A, R> {
    /// Stops the job after `timeout` of running: its worker is killed and the handle resolves
    /// to `JobError::TimedOut`. Overrides the pool's `default_timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The function this call runs.
    pub fn function(&self) -> Function<A, R> {
        self.function
    }

    /// The call's argument.
    pub fn args(&self) -> &A {
        &self.args
    }
}

impl<A: fmt::Debug, R> fmt::Debug for Call<A, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("function", &self.function.name)
            .field("args", &self.args)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// `T`'s type name without module paths (`Vec<Bytes>` for `alloc::vec::Vec<app::jobs::Bytes>`).
///
/// Careful: paths are dropped because one module compiled into two binaries (a worker program
/// that includes the job module with `#[path]`) gives its types two paths. The check is a
/// safety net for the common mistakes, not a proof: two types of one name in different modules
/// pass it (a value then fails to decode, as `JobError::Protocol`).
pub(crate) fn type_label<T: ?Sized>() -> String {
    let full = std::any::type_name::<T>();
    let mut label = String::with_capacity(full.len());
    let mut segment_start = 0;
    for (at, c) in full.char_indices() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            // Careful: `a::b` drops everything before the last `::` of the path.
            if c == ':' && full[at..].starts_with("::") {
                segment_start = at + 2;
            }
            continue;
        }
        label.push_str(&full[segment_start.min(at)..at]);
        label.push(c);
        segment_start = at + c.len_utf8();
    }
    label.push_str(&full[segment_start.min(full.len())..]);
    label
}

/// The name and types of one registered function; the handshake compares these lists.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct Signature {
    /// The registered name.
    pub(crate) name: String,
    /// [`type_label`] of the argument.
    pub(crate) args: String,
    /// [`type_label`] of the value.
    pub(crate) returns: String,
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fn {}({}) -> {}", self.name, self.args, self.returns)
    }
}

/// A type-erased body: decodes the argument, runs the function, encodes the value.
pub(crate) type Body = Arc<dyn Fn(&[u8]) -> Result<Blob, WorkerError> + Send + Sync>;

/// One registered function.
struct Entry {
    /// [`type_label`] of the argument.
    args: String,
    /// [`type_label`] of the value.
    returns: String,
    /// The code a worker runs for a call.
    body: Body,
}

/// The functions a process pool's workers can run, by name.
///
/// Build it in one `fn() -> Registry` and pass that same fn to
/// [`worker_main`](crate::worker_main) and to [`ProcessPool::builder`](crate::ProcessPool::builder),
/// so parent and workers agree (the handshake checks they do).
///
/// # Examples
///
/// ```
/// use evloop_pools::{Function, Registry};
///
/// const SQUARE: Function<u64, u64> = Function::new("square");
/// const GREET: Function<String, String> = Function::new("greet");
///
/// fn registry() -> Registry {
///     Registry::new()
///         .register(SQUARE, |x| x * x)
///         .register(GREET, |name| format!("hello, {name}"))
/// }
/// # let _ = registry();
/// ```
#[derive(Default)]
pub struct Registry {
    /// The entries, sorted by name (so signature lists compare in order).
    entries: BTreeMap<&'static str, Entry>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `body` as `function`. A panic in `body` fails only the job that ran it
    /// (`JobError::Panicked`); the worker lives on.
    ///
    /// # Panics
    ///
    /// If a function of the same name is already registered.
    // ANCHOR: register
    pub fn register<A, R>(
        mut self,
        function: Function<A, R>,
        body: impl Fn(A) -> R + Send + Sync + 'static,
    ) -> Self
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let name = function.name;
        assert!(
            !self.entries.contains_key(name),
            "the process-pool function `{name}` is registered twice: give each function its own name"
        );
        let body: Body = Arc::new(move |bytes: &[u8]| {
            let args: A = postcard::from_bytes(bytes).map_err(|error| {
                WorkerError::Codec(format!(
                    "could not decode the argument of `{name}` in the worker: {error}"
                ))
            })?;
            let value = catch_job(|| body(args)).map_err(WorkerError::Panicked)?;
            postcard::to_allocvec(&value).map(Blob).map_err(|error| {
                WorkerError::Codec(format!(
                    "could not encode the value of `{name}` in the worker: {error}"
                ))
            })
        });
        let entry = Entry {
            args: type_label::<A>(),
            returns: type_label::<R>(),
            body,
        };
        self.entries.insert(name, entry);
        self
    }
    // ANCHOR_END: register

    /// The signature of every entry, sorted by name.
    pub(crate) fn signatures(&self) -> Vec<Signature> {
        self.entries
            .iter()
            .map(|(name, entry)| Signature {
                name: (*name).to_string(),
                args: entry.args.clone(),
                returns: entry.returns.clone(),
            })
            .collect()
    }

    /// The body registered as `name`.
    pub(crate) fn body(&self, name: &str) -> Option<Body> {
        self.entries.get(name).map(|entry| entry.body.clone())
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.signatures()).finish()
    }
}

// ANCHOR: check_call
/// Checks that `function` is registered in `signatures` with the types `A` and `R`, and
/// names the problem if not.
pub(crate) fn check_call<A, R>(
    signatures: &[Signature],
    function: Function<A, R>,
) -> Result<(), String> {
    let args = type_label::<A>();
    let returns = type_label::<R>();
    match signatures.iter().find(|s| s.name == function.name) {
        None => Err(format!(
            "`{}` is not registered in this pool's registry: register it with \
             Registry::register before building the pool",
            function.name
        )),
        Some(found) if found.args != args || found.returns != returns => Err(format!(
            "`{}` is registered as `{found}` but was called as `fn {}({args}) -> {returns}`: \
             use one Function constant for both",
            function.name, function.name
        )),
        Some(_) => Ok(()),
    }
}
// ANCHOR_END: check_call

/// Describes the first difference between the parent's and a worker's signatures, with the
/// fix; `None` if they agree.
pub(crate) fn compare(parent: &[Signature], worker: &[Signature]) -> Option<String> {
    let fix = "build both from the same fn passed to worker_main (and, with \
               ProcessPoolBuilder::program, run a binary built from the same code)";
    let detail = if let Some(missing) = parent
        .iter()
        .find(|p| !worker.iter().any(|w| w.name == p.name))
    {
        format!(
            "`{}` is registered in the parent but not in the worker",
            missing.name
        )
    } else if let Some(extra) = worker
        .iter()
        .find(|w| !parent.iter().any(|p| p.name == w.name))
    {
        format!(
            "`{}` is registered in the worker but not in the parent",
            extra.name
        )
    } else if let Some((p, w)) = parent.iter().zip(worker).find(|(p, w)| p != w) {
        format!(
            "`{}` is `{p}` in the parent but `{w}` in the worker",
            p.name
        )
    } else {
        return None;
    };
    Some(format!(
        "parent and worker registries differ: {detail}; {fix}"
    ))
}

#[cfg(test)]
mod tests {
    use super::{compare, type_label, Signature};

    fn sig(name: &str, args: &str, returns: &str) -> Signature {
        Signature {
            name: name.into(),
            args: args.into(),
            returns: returns.into(),
        }
    }

    #[test]
    fn compare_names_the_first_difference() {
        let parent = [sig("a", "u8", "u8"), sig("b", "u8", "u8")];
        assert_eq!(compare(&parent, &parent), None);
        let why = compare(&parent, &parent[..1]).unwrap();
        assert!(why.contains("`b` is registered in the parent but not in the worker"));
        let why = compare(&parent[..1], &parent).unwrap();
        assert!(why.contains("`b` is registered in the worker but not in the parent"));
        let why = compare(&parent, &[sig("a", "u8", "u8"), sig("b", "u16", "u8")]).unwrap();
        assert!(why.contains("`b` is `fn b(u8) -> u8` in the parent but `fn b(u16) -> u8`"));
        assert!(why.contains("worker_main"));
    }

    /// A local type with a long path.
    struct Local;

    #[test]
    fn type_labels_drop_module_paths() {
        assert_eq!(type_label::<u64>(), "u64");
        assert_eq!(type_label::<String>(), "String");
        assert_eq!(type_label::<Vec<Local>>(), "Vec<Local>");
        assert_eq!(
            type_label::<(Option<String>, [u8; 4], &'static str)>(),
            "(Option<String>, [u8; 4], &str)"
        );
        assert_eq!(
            type_label::<std::collections::HashMap<String, Vec<u8>>>(),
            "HashMap<String, Vec<u8>>"
        );
    }
}
