//! The measuring harness: rounds, medians, ratios and the markdown table.
//!
//! A [`Bench`] names one workload and gives up to three contenders (evloop, tokio, smol), each
//! a plain `fn(ops) -> Duration` that builds its runtime, times only the workload, and checks
//! that the work was really done. [`run`] measures every contender of a bench in the same
//! process: one warm-up round, then several measured rounds whose contender order rotates, so
//! no contender always runs first (cold caches) or last (a heap grown by the others). It
//! reports the *median* ns/op of each contender and the ratio evloop/peer.
//!
//! This file knows nothing about the workloads; they live in one file each.

use std::time::Duration;

/// A contender: runs the workload `ops` times and returns the time the workload took.
pub type RunFn = fn(u64) -> Duration;

/// The three columns of the table, in order.
pub const CONTENDERS: [&str; 3] = ["evloop", "tokio", "smol"];

/// What the runtime aims for on one benchmark (the goals of the performance issue).
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// No goal: a reference row.
    None,
    /// evloop's median must be below this many ns/op.
    BelowNs(f64),
    /// evloop's median must be at most `max` times the median of `peer` (an index in
    /// [`CONTENDERS`]).
    AtMostTimes {
        /// Which contender evloop is compared with.
        peer: usize,
        /// The largest acceptable ratio evloop/peer.
        max: f64,
    },
    /// evloop's median must be at most `max` times the faster peer's median.
    AtMostTimesBest {
        /// The largest acceptable ratio evloop/(faster peer).
        max: f64,
    },
}

/// One workload and its contenders.
pub struct Bench {
    /// Short name, matched by the command-line filter and printed in the table.
    pub name: &'static str,
    /// Operations per run at full size (scaled down by `--quick` and by test mode).
    pub ops: u64,
    /// The goal evloop is judged against.
    pub target: Target,
    /// One entry per column of [`CONTENDERS`]; `None` where a peer has no equivalent.
    pub runs: [Option<RunFn>; 3],
}

/// How hard to measure.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Divides every bench's `ops` (1 for a full run).
    pub ops_divisor: u64,
    /// Measured rounds (the median is taken over them).
    pub rounds: usize,
    /// Whether to run one unmeasured round first.
    pub warm_up: bool,
    /// Run only this contender (an index in [`CONTENDERS`]), for profiling.
    pub only: Option<usize>,
}

/// The measured outcome of one bench.
pub struct Outcome {
    /// Operations per run.
    pub ops: u64,
    /// Per contender, the ns/op of every measured round, sorted; empty for absent contenders.
    pub samples: [Vec<f64>; 3],
}

impl Outcome {
    /// The median ns/op of contender `index`, if it ran.
    pub fn median(&self, index: usize) -> Option<f64> {
        let samples = &self.samples[index];
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

    /// evloop's median divided by contender `index`'s median.
    pub fn ratio(&self, index: usize) -> Option<f64> {
        Some(self.median(0)? / self.median(index)?)
    }

    /// Spread of contender `index` as (min, max) ns/op.
    pub fn spread(&self, index: usize) -> Option<(f64, f64)> {
        let samples = &self.samples[index];
        Some((*samples.first()?, *samples.last()?))
    }
}

/// One line for a parent process: `samples ops | evloop samples | tokio | smol`, numbers
/// separated by spaces.
pub fn encode(outcome: &Outcome) -> String {
    let columns: Vec<String> = outcome
        .samples
        .iter()
        .map(|column| {
            column
                .iter()
                .map(f64::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    format!("samples {} | {}", outcome.ops, columns.join(" | "))
}

/// Reads what [`encode`] wrote (the last line starting with `samples`).
pub fn decode(text: &str) -> Option<Outcome> {
    let line = text
        .lines()
        .rev()
        .find(|line| line.starts_with("samples "))?;
    let mut parts = line["samples ".len()..].split(" | ");
    let ops = parts.next()?.trim().parse().ok()?;
    let mut samples: [Vec<f64>; 3] = Default::default();
    for column in &mut samples {
        *column = parts
            .next()?
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
    }
    Some(Outcome { ops, samples })
}

/// Measures every contender of `bench` under `config`.
pub fn run(bench: &Bench, config: &Config) -> Outcome {
    let ops = (bench.ops / config.ops_divisor).max(1);
    let present: Vec<usize> = (0..3)
        .filter(|&i| bench.runs[i].is_some() && config.only.is_none_or(|only| only == i))
        .collect();
    let mut samples: [Vec<f64>; 3] = Default::default();
    // Warm up: fault in the heap, load the code, spin up the OS's thread machinery.
    if config.warm_up {
        for &index in &present {
            measure(bench, index, ops);
        }
    }
    // Measure, rotating the order each round.
    for round in 0..config.rounds {
        for k in 0..present.len() {
            let index = present[(round + k) % present.len()];
            samples[index].push(measure(bench, index, ops));
        }
    }
    for column in &mut samples {
        column.sort_by(f64::total_cmp);
    }
    Outcome { ops, samples }
}

/// One run of contender `index`, in ns/op.
fn measure(bench: &Bench, index: usize, ops: u64) -> f64 {
    let run = bench.runs[index].expect("only present contenders are measured");
    run(ops).as_nanos() as f64 / ops as f64
}

/// The header of the main table.
pub fn table_header() -> String {
    "| benchmark | ops | evloop ns/op | tokio ns/op | evloop/tokio | smol ns/op | evloop/smol | target | met |\n\
     |---|---:|---:|---:|---:|---:|---:|---|---|"
        .to_string()
}

/// One row of the main table.
pub fn table_row(bench: &Bench, outcome: &Outcome) -> String {
    let ns = |i: usize| outcome.median(i).map_or("-".into(), format_ns);
    let ratio = |i: usize| outcome.ratio(i).map_or("-".into(), |r| format!("{r:.2}x"));
    let (target, met) = judge(bench.target, outcome);
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
        bench.name,
        format_ops(outcome.ops),
        ns(0),
        ns(1),
        ratio(1),
        ns(2),
        ratio(2),
        target,
        met
    )
}

/// The header of the noise table.
pub fn spread_header() -> String {
    "| benchmark | evloop min..max | tokio min..max | smol min..max |\n|---|---|---|---|"
        .to_string()
}

/// One row of the noise table: the fastest and slowest round of each contender.
pub fn spread_row(bench: &Bench, outcome: &Outcome) -> String {
    let cell = |i: usize| {
        outcome.spread(i).map_or("-".into(), |(min, max)| {
            format!("{}..{}", format_ns(min), format_ns(max))
        })
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
        Target::None => ("(reference)".into(), "-".into()),
        Target::BelowNs(limit) => (
            format!("< {limit} ns"),
            outcome
                .median(0)
                .map_or("-".into(), |ns| verdict(ns < limit)),
        ),
        Target::AtMostTimes { peer, max } => (
            format!("<= {max}x {}", CONTENDERS[peer]),
            outcome
                .ratio(peer)
                .map_or("-".into(), |ratio| verdict(ratio <= max)),
        ),
        Target::AtMostTimesBest { max } => (
            format!("<= {max}x faster peer"),
            [outcome.ratio(1), outcome.ratio(2)]
                .into_iter()
                .flatten()
                .reduce(f64::max)
                .map_or("-".into(), |ratio| verdict(ratio <= max)),
        ),
    }
}

/// ns/op with a precision that suits its size.
fn format_ns(ns: f64) -> String {
    if ns < 100.0 {
        format!("{ns:.1}")
    } else {
        format!("{ns:.0}")
    }
}

/// An op count as `1M`, `100k` or plain digits.
fn format_ops(ops: u64) -> String {
    if ops % 1_000_000 == 0 {
        format!("{}M", ops / 1_000_000)
    } else if ops % 1_000 == 0 {
        format!("{}k", ops / 1_000)
    } else {
        ops.to_string()
    }
}
