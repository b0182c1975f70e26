//! Properties of the threadsafe path: `call_soon_threadsafe` from several threads, alone and
//! racing `close()`.
//!
//! # The model
//!
//! Each post is a closure with a fixed id (`thread * posts + seq`) holding a drop guard. Its
//! fate is one of three, and the model says which sequences of fates are possible:
//!
//! - **ran**: called once on the loop thread (then dropped);
//! - **refused**: `call_soon_threadsafe` returned `Err(LoopClosed(f))` and handed `f` back
//!   (the poster marks it refused, then drops it);
//! - **dropped**: accepted, but dropped unrun because the loop closed first (`close()`
//!   discards the ready queue and the channel).
//!
//! Every closure is dropped exactly once and runs at most once, so the three fates partition
//! the posts. Per posting thread, posts are FIFO: the ones that ran ran in posting order, and
//! the fates of one thread's posts, in posting order, read `ran* dropped* refused*` (once a
//! post is refused the loop is closed for good; once one is dropped unrun, no later post can
//! run, since the loop never runs again after `run_forever` returned for the close).
//!
//! # The properties
//!
//! 1. With no close racing, on a [`LoopThread`]: every post runs exactly once, in per-thread
//!    order.
//! 2. The loop thread stops after the `K`-th post ran (the post calls `stop`), then closes the
//!    loop while posters keep posting: the fates obey the model, at least `min(K, total)`
//!    posts ran, and if `K` exceeds the total everything ran.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

use evloop::{EventLoop, LoopHandle, LoopThread};
use proptest::prelude::*;

use crate::util::{cases, deadline};

/// How long one case may take before it counts as a hang.
const CASE_BUDGET: Duration = Duration::from_secs(10);

/// What happened to every post of one case.
struct Stats {
    /// Calls of each closure.
    runs: Vec<AtomicU32>,
    /// Drops of each closure's guard.
    drops: Vec<AtomicU32>,
    /// The poster got the closure back.
    refused: Vec<AtomicBool>,
    /// Ids in the order they ran.
    order: Mutex<Vec<usize>>,
    /// How many ran so far.
    ran: AtomicUsize,
    /// The post that makes `ran` reach this calls `stop` (0: never).
    stop_after: usize,
}

impl Stats {
    fn new(total: usize, stop_after: usize) -> Arc<Stats> {
        Arc::new(Stats {
            runs: (0..total).map(|_| AtomicU32::new(0)).collect(),
            drops: (0..total).map(|_| AtomicU32::new(0)).collect(),
            refused: (0..total).map(|_| AtomicBool::new(false)).collect(),
            order: Mutex::new(Vec::new()),
            ran: AtomicUsize::new(0),
            stop_after,
        })
    }
}

/// Lives in each posted closure; counts its drop.
struct Guard {
    id: usize,
    stats: Arc<Stats>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.stats.drops[self.id].fetch_add(1, Ordering::SeqCst);
    }
}

/// The closure posted as `id`.
fn post(id: usize, stats: &Arc<Stats>) -> impl FnOnce() + Send + 'static {
    let guard = Guard {
        id,
        stats: stats.clone(),
    };
    move || {
        let stats = &guard.stats;
        stats.runs[id].fetch_add(1, Ordering::SeqCst);
        stats.order.lock().unwrap().push(id);
        let ran = stats.ran.fetch_add(1, Ordering::SeqCst) + 1;
        if ran == stats.stop_after {
            evloop::get_running_loop()
                .expect("a post runs on its loop")
                .stop();
        }
    }
}

/// Starts `threads` posters of `posts` posts each (all released at once by a barrier);
/// each yields its time slice every `yield_every` posts. Returns their join handles.
fn start_posters(
    handle: &LoopHandle,
    stats: &Arc<Stats>,
    threads: usize,
    posts: usize,
    yield_every: usize,
) -> Vec<thread::JoinHandle<()>> {
    let barrier = Arc::new(Barrier::new(threads));
    (0..threads)
        .map(|t| {
            let handle = handle.clone();
            let stats = stats.clone();
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                for seq in 0..posts {
                    let id = t * posts + seq;
                    if let Err(refused) = handle.call_soon_threadsafe(post(id, &stats)) {
                        stats.refused[id].store(true, Ordering::SeqCst);
                        drop(refused.into_inner());
                    }
                    if seq % yield_every == yield_every - 1 {
                        thread::yield_now();
                    }
                }
            })
        })
        .collect()
}

/// The fate of one post (module docs), ordered as they may follow each other per thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fate {
    Ran,
    Dropped,
    Refused,
}

/// Checks the invariants every case shares; returns the fates by id.
fn check_fates(stats: &Stats, threads: usize, posts: usize) -> Result<Vec<Fate>, TestCaseError> {
    let total = threads * posts;
    let mut fates = Vec::with_capacity(total);
    for id in 0..total {
        let runs = stats.runs[id].load(Ordering::SeqCst);
        let drops = stats.drops[id].load(Ordering::SeqCst);
        let refused = stats.refused[id].load(Ordering::SeqCst);
        prop_assert_eq!(drops, 1, "post {} dropped {} times", id, drops);
        prop_assert!(runs <= 1, "post {} ran {} times", id, runs);
        prop_assert!(!(runs == 1 && refused), "post {} ran and was refused", id);
        fates.push(match (runs, refused) {
            (1, _) => Fate::Ran,
            (_, true) => Fate::Refused,
            _ => Fate::Dropped,
        });
    }
    let order = stats.order.lock().unwrap().clone();
    prop_assert_eq!(
        order.len(),
        fates.iter().filter(|f| **f == Fate::Ran).count()
    );
    for t in 0..threads {
        let ran: Vec<usize> = order
            .iter()
            .filter(|id| *id / posts == t)
            .copied()
            .collect();
        prop_assert!(
            ran.windows(2).all(|w| w[0] < w[1]),
            "thread {}'s posts ran out of order: {:?}",
            t,
            ran
        );
        let own = &fates[t * posts..(t + 1) * posts];
        prop_assert!(
            own.windows(2).all(|w| w[0] <= w[1]),
            "thread {}'s fates are not ran* dropped* refused*: {:?}",
            t,
            own
        );
    }
    Ok(fates)
}

/// Property 1: posts to a `LoopThread`, no close racing.
fn check_all_run(threads: usize, posts: usize, yield_every: usize) -> Result<(), TestCaseError> {
    let loop_thread = LoopThread::start().expect("start loop thread");
    let stats = Stats::new(threads * posts, 0);
    let posters = start_posters(loop_thread.handle(), &stats, threads, posts, yield_every);
    for poster in posters {
        poster.join().expect("poster");
    }
    // Every post is in the channel before this marker, so it runs after all of them.
    let (done_tx, done_rx) = mpsc::channel();
    loop_thread
        .handle()
        .call_soon_threadsafe(move || done_tx.send(()).unwrap())
        .expect("marker accepted");
    done_rx.recv_timeout(CASE_BUDGET).expect("the marker ran");
    loop_thread.stop().expect("loop thread");
    let fates = check_fates(&stats, threads, posts)?;
    prop_assert!(fates.iter().all(|f| *f == Fate::Ran), "not every post ran");
    Ok(())
}

/// Property 2: the loop stops after the `stop_after`-th post ran, then closes, while posters
/// keep posting.
fn check_close_race(
    threads: usize,
    posts: usize,
    yield_every: usize,
    stop_after: usize,
) -> Result<(), TestCaseError> {
    let total = threads * posts;
    let stats = Stats::new(total, stop_after);
    let (handle_tx, handle_rx) = mpsc::channel();
    let loop_thread = thread::spawn(move || {
        let lp = EventLoop::new().expect("create loop");
        handle_tx.send(lp.handle()).unwrap();
        lp.run_forever().expect("run_forever");
        lp.close().expect("close");
    });
    let handle: LoopHandle = handle_rx.recv().expect("loop handle");
    let posters = start_posters(&handle, &stats, threads, posts, yield_every);
    for poster in posters {
        poster.join().expect("poster");
    }
    // If no post stopped the loop (stop_after > total), stop it now: every post is queued
    // before this stop, so all of them run. A loop already closed refuses the stop.
    let _ = handle.stop();
    loop_thread.join().expect("loop thread");
    prop_assert!(handle.is_closed());

    let fates = check_fates(&stats, threads, posts)?;
    let ran = fates.iter().filter(|f| **f == Fate::Ran).count();
    let refused = fates.iter().filter(|f| **f == Fate::Refused).count();
    let dropped = fates.iter().filter(|f| **f == Fate::Dropped).count();
    prop_assert_eq!(ran + refused + dropped, total);
    if stop_after > total {
        prop_assert_eq!(ran, total, "no stop raced the posts, yet not all ran");
    } else {
        prop_assert!(
            ran >= stop_after,
            "stopped after {} posts ran, wanted {}",
            ran,
            stop_after
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(128)))]

    /// Posts from 1 to 4 threads each run exactly once, in per-thread order.
    #[test]
    fn prop_threadsafe_posts_run_once_in_order(
        threads in 1usize..=4,
        posts in 1usize..=200,
        yield_every in 1usize..=20,
    ) {
        deadline(CASE_BUDGET, move || check_all_run(threads, posts, yield_every))?;
    }

    /// Posts racing close: each ran once, was refused, or was dropped unrun; never twice.
    #[test]
    fn prop_threadsafe_posts_racing_close(
        threads in 1usize..=4,
        posts in 1usize..=200,
        yield_every in 1usize..=20,
        stop_fraction in 0.0f64..1.2,
    ) {
        let total = threads * posts;
        let stop_after = 1 + (stop_fraction * total as f64) as usize;
        deadline(CASE_BUDGET, move || check_close_race(threads, posts, yield_every, stop_after))?;
    }
}
