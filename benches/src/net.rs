//! Network servers on evloop side by side with tokio (current_thread) and smol
//! (`LocalExecutor`), loaded by one neutral client in a separate process.
//!
//! Run with `cargo bench -p evloop-benches --bench net` (or `just bench-net`). Arguments
//! after `--`:
//! - a name substring runs only the matching benchmarks (`just bench-net echo`);
//! - `--quick` measures 3 rounds of 1 s, for smoke runs;
//! - `--only=evloop` (or `tokio`, `smol`) runs one server, to profile it alone;
//! - `--secs=S` measures S seconds per run (default 2), e.g. for a long `perf record`;
//! - `--rounds=N` measures N rounds (default 5);
//! - `--pin=same` (default), `--pin=split` or `--pin=none`: where the server and the client
//!   run (below).
//!
//! Without cargo's `--bench` flag (that is, under `cargo test --benches`) every server runs
//! once for a fraction of a second, to check that it still works.
//!
//! How one run goes (`load.rs`): the server starts on its own thread in this process, bound
//! to `127.0.0.1:0`; the client, `netload` (`src/bin/netload.rs`, plain mio, single-threaded),
//! runs as a child process against it, warms up for half a second, then counts completed ops
//! for the measured seconds and prints them; the server is shut down and its thread joined
//! (and the run fails if any thread outlives it). Each round runs every server once, in a
//! rotating order.
//!
//! Two tables come out. The first is throughput: the *median* ops/s of each server over the
//! rounds, the same as ns/op (1e9 / ops per second), and the ratio evloop/peer of ns/op as
//! `core.rs` prints it (below 1: evloop is faster); the targets are judged on it. The second
//! is the server thread's own CPU time per op (from `/proc/self/task/TID/schedstat`), which
//! moves much less with the client and with other load on the machine.
//!
//! Pinning. With `--pin=same` (the default) the whole benchmark process, so every server
//! thread, and `netload` share CPU 0 (`taskset`): throughput is then one core's worth of
//! client plus server work, and repeats within a few percent. With `--pin=split` the server
//! gets CPU 0 and the client CPU 1, the textbook layout; on the 2-vCPU benchmark VM it is
//! bimodal (the same server measured 55k and 160k requests/s in consecutive rounds, with the
//! same CPU per request), because throughput then hangs on how often each side sleeps and
//! is woken across cores. `--pin=none` leaves placement to the OS. Pinning needs Linux and
//! `taskset`; without them every mode falls back to `none`.
//!
//! The workloads (one file each says exactly what each server does):
//! - `echo.rs`: TCP echo, 50 connections, 64-byte ping-pongs;
//! - `http.rs`: hyper 1.x hello world, HTTP/1.1 keep-alive, 50 connections.
//!
//! Every server is single-threaded: evloop's loop on a `LoopThread`, tokio's current_thread
//! runtime, smol's `LocalExecutor` under `smol::block_on`.

// Careful: a crate root's modules sit beside it, so the `net/` folder is named explicitly.
#[path = "net/echo.rs"]
mod echo;
#[path = "net/http.rs"]
mod http;
#[path = "net/load.rs"]
mod load;
#[path = "net/servers.rs"]
mod servers;

use load::{Config, NetBench, Target};

/// Every benchmark, in table order.
fn benches() -> Vec<NetBench> {
    vec![
        NetBench {
            name: "TCP echo: 50 connections, 64-byte ping-pong (round trips)",
            load: &["echo", "--conns", "50", "--size", "64"],
            target: Target::AtLeastTimesTokio(1.0),
            servers: [Some(echo::evloop), Some(echo::tokio), Some(echo::smol)],
        },
        NetBench {
            name: "hyper hello world: 50 keep-alive HTTP/1.1 connections (requests)",
            load: &["http", "--conns", "50"],
            target: Target::AtLeastTimesTokio(0.95),
            servers: [Some(http::evloop), Some(http::tokio), Some(http::smol)],
        },
    ]
}

/// Reads the command line: `(config, filter)`.
fn parse_args() -> (Config, Option<String>) {
    let mut bench_mode = false;
    let mut quick = false;
    let mut only = None;
    let mut secs = None;
    let mut rounds = None;
    let mut filter = None;
    let mut pin = "same".to_string();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--bench" => bench_mode = true,
            "--quick" => quick = true,
            flag if flag.starts_with("--only=") => {
                let name = &flag["--only=".len()..];
                let index = load::CONTENDERS.iter().position(|c| *c == name);
                only = Some(
                    index.unwrap_or_else(|| panic!("--only= takes one of {:?}", load::CONTENDERS)),
                );
            }
            flag if flag.starts_with("--secs=") => {
                let value = &flag["--secs=".len()..];
                secs = Some(value.parse().expect("--secs= takes a number of seconds"));
            }
            flag if flag.starts_with("--rounds=") => {
                let value = &flag["--rounds=".len()..];
                rounds = Some(value.parse().expect("--rounds= takes a whole number"));
            }
            flag if flag.starts_with("--pin=") => pin = flag["--pin=".len()..].to_string(),
            // Careful: cargo and libtest pass flags we do not implement; ignore them.
            flag if flag.starts_with('-') => {}
            name => filter = Some(name.to_string()),
        }
    }
    let (default_rounds, default_secs, warm_up) = match (bench_mode, quick) {
        (false, _) => (1, 0.2, 0.1),
        (true, true) => (3, 1.0, 0.5),
        (true, false) => (5, 2.0, 0.5),
    };
    // Careful: count the CPUs before pinning shrinks this process's view to one.
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let client_cpu = match pin.as_str() {
        "none" => None,
        "same" => pin_this_thread(0).then_some(0),
        "split" if cores >= 2 => pin_this_thread(0).then_some(1),
        "split" => {
            eprintln!("net: --pin=split needs 2 CPUs; running unpinned");
            None
        }
        other => panic!("--pin= takes same, split or none, not {other:?}"),
    };
    let config = Config {
        rounds: rounds.unwrap_or(default_rounds),
        secs: secs.unwrap_or(default_secs),
        warm_up,
        only,
        client_cpu,
        cores,
    };
    (config, filter)
}

/// Pins the calling thread (and so every thread it starts later) to `cpu` with `taskset`;
/// says so and returns `false` if that is not possible here.
fn pin_this_thread(cpu: usize) -> bool {
    let pinned = load::current_tid().is_some_and(|tid| {
        std::process::Command::new("taskset")
            .args(["-p", "-c", &cpu.to_string(), &tid.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    });
    if !pinned {
        eprintln!("net: cannot pin to CPU {cpu} (needs Linux and taskset); running unpinned");
    }
    pinned
}

/// Runs the selected benchmarks and prints the tables.
fn main() {
    let (config, filter) = parse_args();
    let selected: Vec<NetBench> = benches()
        .into_iter()
        .filter(|bench| filter.as_deref().is_none_or(|f| bench.name.contains(f)))
        .collect();
    let placement = match config.client_cpu {
        None => "unpinned".to_string(),
        Some(0) => "server and client pinned to CPU 0".to_string(),
        Some(cpu) => format!("server on CPU 0, client on CPU {cpu}"),
    };
    println!(
        "evloop-benches net: {} benchmark(s), {} round(s) of {} s after a {} s warm-up each, \
         client `netload` in its own process, {placement}, {} core(s)\n",
        selected.len(),
        config.rounds,
        config.secs,
        config.warm_up,
        config.cores,
    );
    println!("{}", load::table_header());
    let mut outcomes = Vec::new();
    for bench in &selected {
        let outcome = load::run(bench, &config);
        println!("{}", load::table_row(bench, &outcome));
        outcomes.push(outcome);
    }
    println!(
        "\nServer CPU time per op: the server thread's own CPU time (schedstat) over the whole \
         run, warm-up included, divided by the ops completed; medians. Less sensitive than \
         throughput to other load on the machine and to the client.\n"
    );
    println!("{}", load::cpu_header());
    for (bench, outcome) in selected.iter().zip(&outcomes) {
        println!("{}", load::cpu_row(bench, outcome));
    }
    println!("\nNoise: slowest..fastest round, ops/s\n");
    println!("{}", load::spread_header());
    for (bench, outcome) in selected.iter().zip(&outcomes) {
        println!("{}", load::spread_row(bench, outcome));
    }
}
