//! The measuring side of the network benchmarks: servers on threads, the `netload` client,
//! rounds, medians, ratios and the markdown tables.
//!
//! A [`NetBench`] names one workload: the `netload` arguments that generate it and one
//! [`StartFn`] per contender. A start function spawns the server on its own thread (bound to
//! `127.0.0.1:0`) and returns a [`Server`]: its address and how to shut it down. [`run`] starts
//! each server in turn, runs `netload` against it as a child process, reads its
//! `ops=<n> secs=<f>` line and shuts the server down (joining its thread) before the next
//! one starts, so at most one server runs at a time and none outlives its run.
//!
//! This file knows nothing about the servers; `echo.rs` and `http.rs` do.

use std::net::SocketAddr;
use std::process::Command;

/// The three columns of the table, in order.
pub const CONTENDERS: [&str; 3] = ["evloop", "tokio", "smol"];

/// Index of tokio in [`CONTENDERS`].
const TOKIO: usize = 1;

/// A running server.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The OS id of the thread running it, to read its CPU time (Linux only).
    tid: Option<u32>,
    /// Stops it and joins its thread (panics if the server thread panicked).
    shutdown: Box<dyn FnOnce()>,
}

impl Server {
    /// A server listening on `addr`, run by thread `tid`, stopped by `shutdown` (which must
    /// also join its thread).
    pub fn new(addr: SocketAddr, tid: Option<u32>, shutdown: impl FnOnce() + 'static) -> Server {
        Server {
            addr,
            tid,
            shutdown: Box::new(shutdown),
        }
    }

    /// The CPU time the server's thread has used so far, in ns (from
    /// `/proc/self/task/TID/schedstat`), if the OS tells.
    fn cpu_ns(&self) -> Option<f64> {
        let path = format!("/proc/self/task/{}/schedstat", self.tid?);
        let text = std::fs::read_to_string(path).ok()?;
        text.split_whitespace().next()?.parse().ok()
    }

    /// Stops the server and waits for its thread.
    pub fn shut_down(self) {
        (self.shutdown)();
    }
}

/// Starts one contender's server.
pub type StartFn = fn() -> Server;

/// What the runtime aims for on one benchmark.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// evloop's median throughput must be at least this times tokio's.
    AtLeastTimesTokio(f64),
}

/// One workload and its servers.
pub struct NetBench {
    /// Short name, matched by the command-line filter and printed in the table.
    pub name: &'static str,
    /// `netload`'s mode and flags (the address and durations are added by [`run`]).
    pub load: &'static [&'static str],
    /// The goal evloop is judged against.
    pub target: Target,
    /// One server per column of [`CONTENDERS`]; `None` where a contender has none.
    pub servers: [Option<StartFn>; 3],
}

/// How hard to measure.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Measured rounds (the median is taken over them).
    pub rounds: usize,
    /// Seconds `netload` counts ops in each run.
    pub secs: f64,
    /// Seconds `netload` runs before counting, in each run.
    pub warm_up: f64,
    /// Run only this contender (an index in [`CONTENDERS`]), for profiling.
    pub only: Option<usize>,
    /// The CPU `netload` is pinned to (with `taskset`), if any.
    pub client_cpu: Option<usize>,
    /// CPUs on the machine (for the report).
    pub cores: usize,
}

/// The measured outcome of one bench.
pub struct Outcome {
    /// Per contender, the ops/s of every round, sorted ascending; empty for absent ones.
    pub samples: [Vec<f64>; 3],
    /// Per contender, the server thread's CPU ns per op of every round, sorted ascending.
    pub cpu: [Vec<f64>; 3],
}

impl Outcome {
    /// The median throughput (ops/s) of contender `index`, if it ran.
    pub fn median(&self, index: usize) -> Option<f64> {
        median(&self.samples[index])
    }

    /// evloop's ns/op divided by contender `index`'s (below 1: evloop is faster).
    pub fn ratio(&self, index: usize) -> Option<f64> {
        Some(self.median(index)? / self.median(0)?)
    }

    /// The median server CPU ns/op of contender `index`, if measured.
    pub fn cpu_median(&self, index: usize) -> Option<f64> {
        median(&self.cpu[index])
    }

    /// evloop's server CPU per op divided by contender `index`'s.
    pub fn cpu_ratio(&self, index: usize) -> Option<f64> {
        Some(self.cpu_median(0)? / self.cpu_median(index)?)
    }
}

/// The median of sorted `samples`.
fn median(samples: &[f64]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mid = samples.len() / 2;
    Some(if samples.len() % 2 == 1 {
        samples[mid]
    } else {
        (samples[mid - 1] + samples[mid]) / 2.0
    })
}

/// What one run measured.
struct Sample {
    /// Ops per second in `netload`'s measured window.
    throughput: f64,
    /// The server thread's CPU time per op over the whole run (warm-up included), in ns.
    cpu_per_op: Option<f64>,
}

/// Runs `netload` against `addr`; returns `(ops per second measured, ops in the whole run)`.
fn load(bench: &NetBench, addr: SocketAddr, config: &Config) -> (f64, f64) {
    let netload = env!("CARGO_BIN_EXE_netload");
    let mut command = match config.client_cpu {
        Some(cpu) => {
            let mut command = Command::new("taskset");
            command.args(["-c", &cpu.to_string(), netload]);
            command
        }
        None => Command::new(netload),
    };
    let output = command
        .arg(bench.load[0])
        .arg(addr.to_string())
        .args(&bench.load[1..])
        .args(["--secs", &config.secs.to_string()])
        .args(["--warmup", &config.warm_up.to_string()])
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("netload starts");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "netload failed against {addr} ({}): {text}",
        output.status
    );
    let field = |name: &str| -> f64 {
        text.split_whitespace()
            .find_map(|word| word.strip_prefix(name))
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in netload's output: {text}"))
    };
    let (ops, secs, total) = (field("ops="), field("secs="), field("total="));
    assert!(ops > 0.0, "netload completed no op against {addr}");
    (ops / secs, total)
}

/// One run of contender `index`: start its server, load it, shut it down.
fn measure(bench: &NetBench, index: usize, config: &Config) -> Sample {
    let start = bench.servers[index].expect("only present contenders are measured");
    let threads_before = thread_names();
    let server = start();
    let (throughput, total) = load(bench, server.addr, config);
    let cpu_per_op = server.cpu_ns().map(|ns| ns / total);
    server.shut_down();
    // Nothing may outlive the run but async-io's global reactor thread (started once, by
    // smol's first run, and kept for the process, as smol intends).
    let mut leftover = thread_names();
    for name in &threads_before {
        if let Some(i) = leftover.iter().position(|n| n == name) {
            leftover.swap_remove(i);
        }
    }
    leftover.retain(|name| name != "async-io");
    assert!(
        leftover.is_empty(),
        "threads left behind by the {} server: {leftover:?}",
        CONTENDERS[index]
    );
    Sample {
        throughput,
        cpu_per_op,
    }
}

/// Measures every contender of `bench` under `config`, rotating their order each round.
pub fn run(bench: &NetBench, config: &Config) -> Outcome {
    let present: Vec<usize> = (0..3)
        .filter(|&i| bench.servers[i].is_some() && config.only.is_none_or(|only| only == i))
        .collect();
    let mut samples: [Vec<f64>; 3] = Default::default();
    let mut cpu: [Vec<f64>; 3] = Default::default();
    for round in 0..config.rounds {
        for k in 0..present.len() {
            let index = present[(round + k) % present.len()];
            let sample = measure(bench, index, config);
            samples[index].push(sample.throughput);
            cpu[index].extend(sample.cpu_per_op);
        }
    }
    for column in samples.iter_mut().chain(&mut cpu) {
        column.sort_by(f64::total_cmp);
    }
    Outcome { samples, cpu }
}

/// The header of the main table.
pub fn table_header() -> String {
    "| benchmark | evloop ops/s | tokio ops/s | smol ops/s | evloop ns/op | tokio ns/op | evloop/tokio | smol ns/op | evloop/smol | target | met |\n\
     |---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
        .to_string()
}

/// One row of the main table.
pub fn table_row(bench: &NetBench, outcome: &Outcome) -> String {
    let rate = |i: usize| outcome.median(i).map_or("-".into(), format_rate);
    let ns = |i: usize| {
        outcome
            .median(i)
            .map_or("-".into(), |rate| format!("{:.0}", 1e9 / rate))
    };
    let ratio = |i: usize| outcome.ratio(i).map_or("-".into(), |r| format!("{r:.2}x"));
    let (target, met) = judge(bench.target, outcome);
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
        bench.name,
        rate(0),
        rate(1),
        rate(2),
        ns(0),
        ns(1),
        ratio(1),
        ns(2),
        ratio(2),
        target,
        met
    )
}

/// The header of the server CPU table.
pub fn cpu_header() -> String {
    "| benchmark | evloop CPU ns/op | tokio CPU ns/op | evloop/tokio | smol CPU ns/op | evloop/smol |\n\
     |---|---:|---:|---:|---:|---:|"
        .to_string()
}

/// One row of the server CPU table: median CPU time of the server thread per op.
pub fn cpu_row(bench: &NetBench, outcome: &Outcome) -> String {
    let ns = |i: usize| {
        outcome
            .cpu_median(i)
            .map_or("-".into(), |ns| format!("{ns:.0}"))
    };
    let ratio = |i: usize| {
        outcome
            .cpu_ratio(i)
            .map_or("-".into(), |r| format!("{r:.2}x"))
    };
    format!(
        "| {} | {} | {} | {} | {} | {} |",
        bench.name,
        ns(0),
        ns(1),
        ratio(1),
        ns(2),
        ratio(2)
    )
}

/// The header of the noise table.
pub fn spread_header() -> String {
    "| benchmark | evloop min..max | tokio min..max | smol min..max |\n|---|---|---|---|"
        .to_string()
}

/// One row of the noise table: the slowest and fastest round of each contender, in ops/s.
pub fn spread_row(bench: &NetBench, outcome: &Outcome) -> String {
    let cell = |i: usize| match (outcome.samples[i].first(), outcome.samples[i].last()) {
        (Some(&min), Some(&max)) => format!("{}..{}", format_rate(min), format_rate(max)),
        _ => "-".into(),
    };
    format!(
        "| {} | {} | {} | {} |",
        bench.name,
        cell(0),
        cell(1),
        cell(2)
    )
}

/// The target as text, and whether evloop meets it.
fn judge(target: Target, outcome: &Outcome) -> (String, String) {
    let verdict = |ok: bool| if ok { "yes" } else { "**no**" }.to_string();
    match target {
        Target::AtLeastTimesTokio(min) => (
            format!(">= {min}x tokio's ops/s"),
            match (outcome.median(0), outcome.median(TOKIO)) {
                (Some(ours), Some(theirs)) => verdict(ours >= min * theirs),
                _ => "-".into(),
            },
        ),
    }
}

/// A rate in ops/s, rounded to three significant digits (`123k`, `1.23M`).
fn format_rate(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.2}M", rate / 1e6)
    } else if rate >= 1e5 {
        format!("{:.0}k", rate / 1e3)
    } else if rate >= 1e3 {
        format!("{:.1}k", rate / 1e3)
    } else {
        format!("{rate:.0}")
    }
}

/// The names of this process's threads (Linux; empty elsewhere).
fn thread_names() -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_owned())
        .collect()
}

/// The OS id of the calling thread (Linux: from `/proc/thread-self`).
pub fn current_tid() -> Option<u32> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}
