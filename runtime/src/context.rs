//! Task-local context: asyncio's `contextvars`, for tasks and the threads they hand work to.
//!
//! A [`ContextVar<T>`] is a key; its value lives in the *current [`Context`]*, a small
//! immutable map held in a thread-local. Every task owns a context of its own: [`spawn`]
//! copies the creator's current context into the new task (contextvars semantics), and the
//! loop installs the task's context around each of its polls (`task/cell.rs`) and takes it
//! back, with whatever the poll set, afterwards. So two interleaved tasks never see each
//! other's values, which is exactly what a `thread_local!` gets wrong (every task on the loop
//! shares one thread). [`to_thread`](crate::to_thread) runs its closure inside a copy of the
//! caller's context on the worker thread, as `asyncio.to_thread` does.
//!
//! A context is copy-on-write: copying it is an `Arc` clone, and `set` copies the map (a few
//! entries) only when it is shared. Values are `Clone + Send + Sync`, since a copy may travel
//! to a pool thread.
//!
//! Callbacks get the same treatment: `call_soon`, `call_later` and `call_at` take a copy of
//! the current context, and the callback runs in it (`handle.rs`), as in asyncio. So does a
//! closure sent to a thread pool with `run_in_executor` or `to_thread` (`executor.rs`).
//!
//! What this file does not do: carry a context to a worker *process* (a process call is plain
//! serialized data, its worker has contexts of its own).
//!
//! [`spawn`]: crate::spawn

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// One variable's value, type-erased.
type Value = Arc<dyn Any + Send + Sync>;

/// Source of variable ids, unique per process.
static NEXT_VAR_ID: AtomicU64 = AtomicU64::new(1);

/// Whether any variable was ever set in this process. Until then every context is empty, so
/// copying one is free and installing one can be skipped: a program that uses no context
/// variables pays nothing for them on its callbacks and polls (see [`Scope`]).
///
/// Careful: `Relaxed` is enough. A `set` on this thread is seen in program order; a non-empty
/// context made on another thread reaches this one only through a channel or a lock (a job,
/// a posted closure), which orders the flag's store before its arrival.
static IN_USE: AtomicBool = AtomicBool::new(false);

/// Whether any context variable was ever set (see [`IN_USE`]).
#[inline]
fn in_use() -> bool {
    IN_USE.load(Ordering::Relaxed)
}

thread_local! {
    /// The context of whatever runs on this thread now (a task's, during its poll).
    static CURRENT: RefCell<Context> = const { RefCell::new(Context { entries: None }) };
}

/// A snapshot of every context variable's value (asyncio's `contextvars.Context`).
///
/// # Examples
///
/// ```
/// use evloop::{Context, ContextVar};
/// let user = ContextVar::<String>::new("user");
/// let _token = user.set("ada".to_string());
/// let snapshot = Context::current();
/// user.set("grace".to_string());
/// assert_eq!(snapshot.run(|| user.get()), Some("ada".to_string()));
/// assert_eq!(user.get(), Some("grace".to_string()));
/// ```
#[derive(Clone, Default)]
pub struct Context {
    /// `(variable id, value)` pairs; `None` for the empty context (no allocation).
    entries: Option<Arc<Vec<(u64, Value)>>>,
}

impl Context {
    /// A copy of the current context (asyncio's `contextvars.copy_context()`): an `Arc`
    /// clone, whatever its size.
    pub fn current() -> Context {
        if !in_use() {
            return Context::default();
        }
        CURRENT.with(|current| current.borrow().clone())
    }

    /// Runs `f` with this context installed as the current one, then puts the previous one
    /// back (also if `f` panics). What `f` sets stays in a copy and is discarded.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        self.clone().run_owned(f)
    }

    /// Like [`run`](Context::run), consuming the context (no clone): how the loop runs a
    /// callback in the context it was scheduled from.
    pub(crate) fn run_owned<R>(self, f: impl FnOnce() -> R) -> R {
        let _scope = Scope::enter(self); // its drop puts the previous context back
        f()
    }

    /// The value of variable `id`, if set.
    fn value(&self, id: u64) -> Option<&Value> {
        let entries = self.entries.as_ref()?;
        entries.iter().find(|(key, _)| *key == id).map(|(_, v)| v)
    }

    /// Sets (or, with `None`, removes) variable `id`; copies the map only if it is shared.
    fn put(&mut self, id: u64, value: Option<Value>) {
        let entries = Arc::make_mut(self.entries.get_or_insert_with(Default::default));
        let slot = entries.iter().position(|(key, _)| *key == id);
        match (slot, value) {
            (Some(i), Some(value)) => entries[i].1 = value,
            (None, Some(value)) => entries.push((id, value)),
            (Some(i), None) => {
                entries.swap_remove(i);
            }
            (None, None) => {}
        }
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.entries.as_ref().map_or(0, |entries| entries.len());
        f.debug_struct("Context")
            .field("variables", &count)
            .finish()
    }
}

/// Installs `context` as this thread's current context and returns the previous one (the
/// loop does this around every task poll).
pub(crate) fn enter(context: Context) -> Context {
    CURRENT.with(|current| std::mem::replace(&mut *current.borrow_mut(), context))
}

/// A context installed for a while (a callback's run, a task's poll); dropping it, or
/// [`exit`](Scope::exit), puts the previous one back, also when the scope unwinds.
///
/// While no variable was ever set ([`IN_USE`]), every context is empty and nothing is
/// swapped; if the scope itself sets the first variable, leaving it clears the thread's
/// context again (it was empty before), and `exit` hands what was set to the caller.
pub(crate) struct Scope {
    /// The context to put back; `None` when nothing was swapped in.
    outer: Option<Context>,
    /// False once the scope was left (by `exit`), so the drop does nothing more.
    active: bool,
}

impl Scope {
    /// Installs `context` as this thread's current context.
    #[inline]
    pub(crate) fn enter(context: Context) -> Scope {
        let outer = in_use().then(|| enter(context));
        Scope {
            outer,
            active: true,
        }
    }

    /// Puts the previous context back and returns the scope's, with what it set.
    #[inline]
    pub(crate) fn exit(mut self) -> Context {
        self.leave()
    }

    /// Puts the previous context back; returns the one that was current in the scope.
    #[inline]
    fn leave(&mut self) -> Context {
        self.active = false;
        match self.outer.take() {
            Some(outer) => enter(outer),
            // Nothing was swapped in: the thread's context was empty, and is again.
            None if in_use() => enter(Context::default()),
            None => Context::default(),
        }
    }
}

impl Drop for Scope {
    #[inline]
    fn drop(&mut self) {
        if self.active {
            drop(self.leave());
        }
    }
}

/// A context variable (asyncio's `contextvars.ContextVar`): a key whose value belongs to the
/// current task, not to the thread.
///
/// # Examples
///
/// ```
/// use evloop::ContextVar;
/// use std::sync::LazyLock;
///
/// static REQUEST_ID: LazyLock<ContextVar<u32>> = LazyLock::new(|| ContextVar::new("request_id"));
///
/// evloop::run(async {
///     REQUEST_ID.set(1);
///     let child = evloop::spawn(async {
///         let inherited = REQUEST_ID.get(); // a copy of the creator's context
///         REQUEST_ID.set(2); // changes only the child's copy
///         inherited
///     });
///     assert_eq!(child.await.unwrap(), Some(1));
///     assert_eq!(REQUEST_ID.get(), Some(1));
/// }).unwrap();
/// ```
pub struct ContextVar<T> {
    /// The key of this variable in every context.
    id: u64,
    /// For `Debug` and messages (asyncio's `ContextVar.name`).
    name: &'static str,
    /// The value type; `fn() -> T` keeps the variable `Send + Sync` whatever `T` is.
    value: PhantomData<fn() -> T>,
}

impl<T: Clone + Send + Sync + 'static> ContextVar<T> {
    /// A new variable, set in no context yet.
    pub fn new(name: &'static str) -> Self {
        ContextVar {
            id: NEXT_VAR_ID.fetch_add(1, Ordering::Relaxed),
            name,
            value: PhantomData,
        }
    }

    /// The variable's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The value in the current context, or `None` if it is not set there.
    pub fn get(&self) -> Option<T> {
        CURRENT.with(|current| {
            let current = current.borrow();
            let value = current.value(self.id)?;
            value.downcast_ref::<T>().cloned()
        })
    }

    /// Sets the value in the current context; the token restores the previous value.
    ///
    /// # Examples
    ///
    /// A value set in a task or a callback stays there, even when it is the first variable the
    /// program ever sets (until then the loop skips installing contexts, see `Scope`):
    ///
    /// ```
    /// use evloop::ContextVar;
    /// use std::sync::LazyLock;
    ///
    /// static STEP: LazyLock<ContextVar<u8>> = LazyLock::new(|| ContextVar::new("step"));
    ///
    /// evloop::run(async {
    ///     let task = evloop::spawn(async {
    ///         STEP.set(1); // the first set in this program
    ///         evloop::yield_now().await;
    ///         STEP.get() // kept across the task's polls
    ///     });
    ///     assert_eq!(task.await.unwrap(), Some(1));
    ///     assert_eq!(STEP.get(), None, "the task's value stayed in the task");
    ///     let lp = evloop::get_running_loop().unwrap();
    ///     lp.call_soon(|| {
    ///         STEP.set(2);
    ///     });
    ///     evloop::yield_now().await;
    ///     assert_eq!(STEP.get(), None, "the callback's value stayed in the callback");
    /// })
    /// .unwrap();
    /// assert_eq!(STEP.get(), None);
    /// ```
    pub fn set(&self, value: T) -> Token<T> {
        IN_USE.store(true, Ordering::Relaxed);
        let value: Value = Arc::new(value);
        let previous = CURRENT.with(|current| {
            let mut current = current.borrow_mut();
            let previous = current.value(self.id).cloned();
            current.put(self.id, Some(value));
            previous
        });
        Token {
            var_id: self.id,
            previous,
            value: PhantomData,
        }
    }

    /// Restores the value `token`'s `set` replaced (asyncio's `ContextVar.reset`).
    ///
    /// # Panics
    ///
    /// If `token` was made by another variable (asyncio raises `ValueError`).
    pub fn reset(&self, token: Token<T>) {
        assert_eq!(
            token.var_id, self.id,
            "ContextVar::reset: the token was made by another variable; reset it with the \
             variable whose set() returned it"
        );
        CURRENT.with(|current| current.borrow_mut().put(self.id, token.previous));
    }
}

impl<T> fmt::Debug for ContextVar<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContextVar")
            .field("name", &self.name)
            .finish()
    }
}

/// What [`ContextVar::set`] replaced, to put back with [`ContextVar::reset`].
pub struct Token<T> {
    /// The variable that made it.
    var_id: u64,
    /// The value before the `set` (`None`: it was not set).
    previous: Option<Value>,
    /// The value type.
    value: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for Token<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("var_id", &self.var_id)
            .finish()
    }
}

/// A future that runs in a context of its own: `run_until_complete` wraps its main future
/// in one (a copy of the caller's context, as `asyncio.run` runs `main()` in a task), so what
/// the main future sets does not leak into the thread after the loop returns.
pub(crate) struct InContext<F> {
    /// The future's context between polls.
    context: Context,
    /// The future, boxed so the adapter is `Unpin` without unsafe pinning.
    future: std::pin::Pin<Box<F>>,
}

impl<F> InContext<F> {
    /// `future`, to run in a copy of the current context.
    pub(crate) fn new(future: F) -> Self {
        InContext {
            context: Context::current(),
            future: Box::pin(future),
        }
    }
}

impl<F: std::future::Future> std::future::Future for InContext<F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let this = &mut *self;
        // Careful: if the poll panics, the scope's drop still puts the outer context back.
        let scope = Scope::enter(std::mem::take(&mut this.context));
        let polled = this.future.as_mut().poll(cx);
        this.context = scope.exit();
        polled
    }
}
