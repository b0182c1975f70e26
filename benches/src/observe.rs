//! The cost of watching the loop: the same workloads with debug mode off and on, and with the
//! trace recorder on, side by side with tokio and smol.
//!
//! Run with `cargo bench -p evloop-benches --bench observe` (`-- --quick` for a smoke run).
//!
//! Three evloop columns, one loop each, built with [`EventLoop::builder`]:
//! - *plain*: `debug(false)`, no recorder. Metrics are always on, so this column includes
//!   them; their own cost is measured against the commit before they existed (see
//!   `docs/benchmarks.md`, "Observability").
//! - *debug*: `debug(true)`: every ready entry is named and timed (two clock reads).
//! - *trace*: a [`Recorder`] of 65 536 events attached: every entry is named, timed and
//!   stored, each poll syscall too, each job adds a slice and three flow events. The ring
//!   wraps during the run, so the column includes dropping the oldest events.
//!
//! The rounds interleave the columns (plain, debug, trace, tokio, smol, then again), so a slow
//! patch of the machine hits all of them alike; the table shows medians of the rounds.
//!
//! Workloads (each the same as in the core bench, see those files):
//! - `call_soon` chained: one callback per iteration, the worst case for per-entry costs
//!   (`callbacks.rs`; tokio and smol have no callback queue, so no peers);
//! - `yield_now`: one task polled `ops` times (`yield_now.rs`);
//! - `run_in_executor` round trips to a thread pool (`executor.rs`): the trace adds a job
//!   slice and a flow per round trip.

#[allow(dead_code)] // only the chained workload is used here
#[path = "callbacks.rs"]
mod callbacks;
#[allow(dead_code)]
#[path = "countdown.rs"]
mod countdown;
#[allow(dead_code)] // only the round trips are used here
#[path = "executor.rs"]
mod executor;
#[allow(dead_code)] // only the tokio and smol bodies are used here
#[path = "yield_now.rs"]
mod yield_now;

use std::time::{Duration, Instant};

use evloop::pools::ThreadPool;
use evloop::trace::Recorder;
use evloop::EventLoop;

/// A current_thread tokio runtime (`executor.rs` and `yield_now.rs` call it as `crate::`).
pub fn tokio_runtime(time: bool) -> tokio::runtime::Runtime {
    let mut builder = tokio::runtime::Builder::new_current_thread();
    if time {
        builder.enable_time();
    }
    builder.build().expect("a tokio runtime")
}

/// How the evloop loop is watched.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// Debug off, no recorder (metrics only, which are always on).
    Plain,
    /// Debug mode on.
    Debug,
    /// A trace recorder attached.
    Trace,
}

/// Events the recorder keeps (it wraps during the longer runs).
const TRACE_CAPACITY: usize = 1 << 16;

/// A loop watched as `mode` says.
fn new_loop(mode: Mode) -> EventLoop {
    let builder = EventLoop::builder().debug(matches!(mode, Mode::Debug));
    let builder = match mode {
        Mode::Trace => builder.trace(&Recorder::new(TRACE_CAPACITY)),
        _ => builder,
    };
    builder.build().expect("a loop")
}

/// `ops` chained callbacks, each scheduling the next (`callbacks.rs`).
fn chained(mode: Mode, ops: u64) -> Duration {
    callbacks::chained_on(new_loop(mode), ops)
}

/// One task yielding `ops` times (`yield_now.rs`).
fn yields(mode: Mode, ops: u64) -> Duration {
    yield_now::evloop_on(new_loop(mode), ops)
}

/// `ops` sequential `run_in_executor` round trips.
fn roundtrips(mode: Mode, ops: u64) -> Duration {
    let pool = ThreadPool::new();
    let lp = new_loop(mode);
    let elapsed = lp
        .run_until_complete(async {
            let lp = evloop::get_running_loop().expect("running");
            lp.run_in_executor(&pool, || 0).await.expect("warm-up");
            let start = Instant::now();
            let mut sum = 0u64;
            for i in 0..ops {
                sum += lp.run_in_executor(&pool, move || i).await.expect("a job");
            }
            assert_eq!(sum, ops * ops.saturating_sub(1) / 2);
            start.elapsed()
        })
        .expect("the loop runs");
    lp.close().expect("closed");
    elapsed
}

/// One contender's run of `ops` operations, timed.
type Run = fn(u64) -> Duration;

/// A workload: its name, ops, the evloop body by mode, and the peers.
struct Workload {
    /// Row title.
    name: &'static str,
    /// Operations per run.
    ops: u64,
    /// evloop, by mode.
    evloop: fn(Mode, u64) -> Duration,
    /// tokio's and smol's equivalents, if they have one.
    peers: [Option<Run>; 2],
}

/// The median of `samples` (ns per op).
fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// ns per op of one run.
fn per_op(elapsed: Duration, ops: u64) -> f64 {
    elapsed.as_nanos() as f64 / ops as f64
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bench_mode = args.iter().any(|a| a == "--bench");
    let quick = args.iter().any(|a| a == "--quick");
    // Under `cargo test --benches` (no --bench): one tiny round, to check everything runs.
    let (scale, rounds) = match (bench_mode, quick) {
        (false, _) => (0.001, 1),
        (true, true) => (0.1, 3),
        (true, false) => (1.0, 7),
    };
    let workloads = [
        Workload {
            name: "call_soon, chained (1 callback per iteration)",
            ops: 1_000_000,
            evloop: chained,
            peers: [None, None],
        },
        Workload {
            name: "yield_now (1 task poll per iteration)",
            ops: 1_000_000,
            evloop: yields,
            peers: [Some(yield_now::tokio), Some(yield_now::smol)],
        },
        Workload {
            name: "run_in_executor round trip (thread pool)",
            ops: 20_000,
            evloop: roundtrips,
            peers: [
                Some(executor::tokio_roundtrip),
                Some(executor::smol_roundtrip),
            ],
        },
    ];
    println!("| workload | evloop plain | debug on | trace on | tokio | smol | debug/plain | trace/plain | trace/tokio |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for workload in &workloads {
        let ops = ((workload.ops as f64 * scale) as u64).max(10);
        let mut samples: [Vec<f64>; 5] = Default::default();
        for _ in 0..rounds {
            for (i, mode) in [Mode::Plain, Mode::Debug, Mode::Trace]
                .into_iter()
                .enumerate()
            {
                samples[i].push(per_op((workload.evloop)(mode, ops), ops));
            }
            for (i, peer) in workload.peers.iter().enumerate() {
                if let Some(peer) = peer {
                    samples[3 + i].push(per_op(peer(ops), ops));
                }
            }
        }
        let medians: Vec<Option<f64>> = samples
            .iter_mut()
            .map(|s| (!s.is_empty()).then(|| median(s)))
            .collect();
        let cell = |v: Option<f64>| v.map_or("—".to_owned(), |v| format!("{v:.1} ns"));
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => format!("{:.2}x", a / b),
            _ => "—".to_owned(),
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            workload.name,
            cell(medians[0]),
            cell(medians[1]),
            cell(medians[2]),
            cell(medians[3]),
            cell(medians[4]),
            ratio(medians[1], medians[0]),
            ratio(medians[2], medians[0]),
            ratio(medians[2], medians[3]),
        );
    }
    println!("\n(medians of {rounds} interleaved rounds; ratios < 1.00x mean faster)");
}
