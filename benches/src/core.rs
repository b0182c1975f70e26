//! evloop's core operations side by side with tokio (current_thread) and smol (`LocalExecutor`).
//!
//! Run with `cargo bench -p evloop-benches` (or `just bench`). Arguments after `--`:
//! - a name substring runs only the matching benchmarks (`cargo bench -p evloop-benches -- timers`);
//! - `--quick` runs a tenth of the ops and 3 rounds, for CI smoke runs;
//! - `--only=evloop` (or `tokio`, `smol`) runs one contender, to profile it alone
//!   (`perf record -g target/release/deps/core-* --bench --only=evloop timers`).
//!
//! With `--bench`, each benchmark runs in a fresh child process (the same binary with
//! `--child=N`), so none inherits a heap fragmented by the benchmarks before it.
//!
//! Without cargo's `--bench` flag (that is, under `cargo test --benches`) every benchmark runs
//! once at a hundredth of its size, to check that it still works.
//!
//! The output is a markdown table (medians of the rounds, ns per op, ratio evloop/peer, the
//! target and whether it is met) followed by a noise table (fastest and slowest round), ready
//! to paste into `docs/benchmarks.md`. `harness.rs` measures; one file per workload says what
//! exactly each contender does.
//!
//! Every runtime is single-threaded: evloop's loop, tokio's current_thread runtime (with a
//! `LocalSet` for `!Send` tasks), smol's `LocalExecutor`. Only benchmark 5 uses other threads,
//! as producers.

mod callbacks;
mod countdown;
mod executor;
mod harness;
mod process;
mod tasks;
mod threadsafe;
mod timers;
mod toolkit;
mod yield_now;

use harness::{Bench, Config, Target};

/// Index of tokio in [`harness::CONTENDERS`].
const TOKIO: usize = 1;
/// Index of smol in [`harness::CONTENDERS`].
const SMOL: usize = 2;

/// A current_thread tokio runtime (the only flavour benchmarked), with its time driver only
/// when the workload sleeps: an enabled driver is polled whenever the scheduler parks or
/// yields, which would charge tokio for a feature the workload does not use.
pub fn tokio_runtime(time: bool) -> tokio::runtime::Runtime {
    let mut builder = tokio::runtime::Builder::new_current_thread();
    if time {
        builder.enable_time();
    }
    builder.build().expect("a tokio runtime")
}

/// Every benchmark, in table order.
fn benches() -> Vec<Bench> {
    vec![
        Bench {
            name: "call_soon, flat, fresh loop (schedule N, run all)",
            ops: 1_000_000,
            target: Target::BelowNs(25.0),
            runs: [Some(callbacks::evloop_flat_fresh), None, None],
        },
        Bench {
            name: "call_soon, flat, warm loop (reused across runs)",
            ops: 1_000_000,
            target: Target::BelowNs(25.0),
            runs: [Some(callbacks::evloop_flat_warm), None, None],
        },
        Bench {
            name: "call_soon, chained (each schedules the next)",
            ops: 1_000_000,
            target: Target::BelowNs(25.0),
            runs: [Some(callbacks::evloop_chained), None, None],
        },
        Bench {
            name: "nearest equivalent of call_soon: spawn N detached trivial tasks, run all",
            ops: 1_000_000,
            target: Target::None,
            runs: [
                Some(callbacks::evloop_spawn_flat),
                Some(callbacks::tokio_spawn_flat),
                Some(callbacks::smol_spawn_flat),
            ],
        },
        Bench {
            name: "spawn + await, sequential",
            ops: 1_000_000,
            target: Target::AtMostTimes {
                peer: SMOL,
                max: 0.6,
            },
            runs: [
                Some(tasks::evloop_sequential),
                Some(tasks::tokio_sequential),
                Some(tasks::smol_sequential),
            ],
        },
        Bench {
            name: "spawn + await, batches of 1000",
            ops: 1_000_000,
            target: Target::AtMostTimes {
                peer: SMOL,
                max: 0.6,
            },
            runs: [
                Some(tasks::evloop_batch),
                Some(tasks::tokio_batch),
                Some(tasks::smol_batch),
            ],
        },
        Bench {
            name: "yield_now in one task",
            ops: 1_000_000,
            target: Target::AtMostTimes {
                peer: SMOL,
                max: 1.0,
            },
            runs: [
                Some(yield_now::evloop),
                Some(yield_now::tokio),
                Some(yield_now::smol),
            ],
        },
        Bench {
            name: "timers: N tasks sleep 0..1 ms (LCG), await all",
            ops: 100_000,
            target: Target::AtMostTimes {
                peer: SMOL,
                max: 0.6,
            },
            runs: [
                Some(timers::evloop),
                Some(timers::tokio),
                Some(timers::smol),
            ],
        },
        Bench {
            name: "threadsafe: 4 threads post N in total",
            ops: 1_000_000,
            target: Target::AtMostTimes {
                peer: TOKIO,
                max: 1.0,
            },
            runs: [
                Some(threadsafe::evloop),
                Some(threadsafe::tokio),
                Some(threadsafe::smol),
            ],
        },
        Bench {
            name: "run_in_executor round trip, sequential (tokio: spawn_blocking, smol: unblock)",
            ops: 20_000,
            target: Target::AtMostTimesBest { max: 0.5 },
            runs: [
                Some(executor::evloop_roundtrip),
                Some(executor::tokio_roundtrip),
                Some(executor::smol_roundtrip),
            ],
        },
        Bench {
            name: "thread jobs: N submitted at once, awaited in order",
            ops: 100_000,
            target: Target::AtMostTimes {
                peer: TOKIO,
                max: 0.75,
            },
            runs: [
                Some(executor::evloop_concurrent),
                Some(executor::tokio_concurrent),
                Some(executor::smol_concurrent),
            ],
        },
        Bench {
            name: "semaphore acquire + release, uncontended",
            ops: 1_000_000,
            target: Target::AtMostTimes {
                peer: TOKIO,
                max: 1.0,
            },
            runs: [
                Some(toolkit::evloop_semaphore_uncontended),
                Some(toolkit::tokio_semaphore_uncontended),
                Some(toolkit::smol_semaphore_uncontended),
            ],
        },
        Bench {
            name: "semaphore, contended: 64 tasks, 8 permits, yield while holding",
            ops: 640_000,
            target: Target::AtMostTimes {
                peer: TOKIO,
                max: 1.0,
            },
            runs: [
                Some(toolkit::evloop_semaphore_contended),
                Some(toolkit::tokio_semaphore_contended),
                Some(toolkit::smol_semaphore_contended),
            ],
        },
        Bench {
            name: "queue ping-pong: two tasks, two bounded(1) queues, per round trip",
            ops: 500_000,
            target: Target::AtMostTimes {
                peer: TOKIO,
                max: 1.0,
            },
            runs: [
                Some(toolkit::evloop_ping_pong),
                Some(toolkit::tokio_ping_pong),
                Some(toolkit::smol_ping_pong),
            ],
        },
        Bench {
            name: "gather 10k trivial tasks (per task)",
            ops: 1_000_000,
            target: Target::AtMostTimes {
                peer: TOKIO,
                max: 1.0,
            },
            runs: [
                Some(toolkit::evloop_gather),
                Some(toolkit::tokio_gather),
                Some(toolkit::smol_gather),
            ],
        },
    ]
}

/// Reads the command line: `(config, filter, child)`, where `child` is the index of the one
/// benchmark a child process must measure (see [`main`]).
fn parse_args() -> (Config, Option<String>, Option<usize>) {
    let mut bench_mode = false;
    let mut quick = false;
    let mut only = None;
    let mut filter = None;
    let mut child = None;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--bench" => bench_mode = true,
            "--quick" => quick = true,
            flag if flag.starts_with("--child=") => {
                child = flag["--child=".len()..].parse().ok();
            }
            flag if flag.starts_with("--only=") => {
                let name = &flag["--only=".len()..];
                let index = harness::CONTENDERS.iter().position(|c| *c == name);
                only =
                    Some(index.unwrap_or_else(|| {
                        panic!("--only= takes one of {:?}", harness::CONTENDERS)
                    }));
            }
            // Careful: cargo and libtest pass flags we do not implement; ignore them.
            flag if flag.starts_with('-') => {}
            name => filter = Some(name.to_string()),
        }
    }
    let config = match (bench_mode, quick) {
        (false, _) => Config {
            ops_divisor: 100,
            rounds: 1,
            warm_up: false,
            only,
        },
        (true, true) => Config {
            ops_divisor: 10,
            rounds: 3,
            warm_up: true,
            only,
        },
        (true, false) => Config {
            ops_divisor: 1,
            rounds: 7,
            warm_up: true,
            only,
        },
    };
    (config, filter, child)
}

/// Measures benchmark `index` of [`benches`] in a fresh copy of this process (same
/// arguments plus `--child=index`), so that no benchmark inherits a heap fragmented by the
/// ones before it; the child prints its samples with [`harness::encode`].
fn run_in_child(index: usize) -> harness::Outcome {
    let exe = std::env::current_exe().expect("the path of this benchmark binary");
    let output = std::process::Command::new(exe)
        .args(std::env::args().skip(1))
        .arg(format!("--child={index}"))
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("a child benchmark process starts");
    assert!(
        output.status.success(),
        "the child process of benchmark {index} failed: {}",
        output.status
    );
    let text = String::from_utf8_lossy(&output.stdout);
    harness::decode(&text).unwrap_or_else(|| panic!("no samples from the child: {text}"))
}

/// Runs the selected benchmarks and prints the tables. In `--bench` mode each benchmark runs
/// in its own child process (see [`run_in_child`]); under `cargo test` all run in-process.
fn main() {
    // Process-pool workers are re-executions of this binary (benchmarks 8 and 9).
    evloop::pools::worker_main(process::registry);
    let (config, filter, child) = parse_args();
    if let Some(index) = child {
        let bench = &benches()[index];
        println!("{}", harness::encode(&harness::run(bench, &config)));
        return;
    }
    let isolate = config.warm_up;
    let selected: Vec<(usize, Bench)> = benches()
        .into_iter()
        .enumerate()
        .filter(|(_, bench)| filter.as_deref().is_none_or(|f| bench.name.contains(f)))
        .collect();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "evloop-benches: {} benchmark(s), {} measured round(s){}, ops / {}, {} core(s)\n",
        selected.len(),
        config.rounds,
        if config.warm_up {
            " after a warm-up"
        } else {
            ""
        },
        config.ops_divisor,
        cores,
    );
    println!("{}", harness::table_header());
    let mut outcomes = Vec::new();
    for (index, bench) in &selected {
        let outcome = if isolate {
            run_in_child(*index)
        } else {
            harness::run(bench, &config)
        };
        println!("{}", harness::table_row(bench, &outcome));
        outcomes.push(outcome);
    }
    println!("\nNoise: fastest..slowest round, ns/op\n");
    println!("{}", harness::spread_header());
    for ((_, bench), outcome) in selected.iter().zip(&outcomes) {
        println!("{}", harness::spread_row(bench, outcome));
    }
    // Benchmarks 8 and 9 (the process pool) have peers outside Rust; their own table.
    if filter.as_deref().is_none_or(|f| "process pool".contains(f)) {
        process::report(2_000 / config.ops_divisor.min(100), config.rounds);
    }
}
