//! The trace recorder on scenarios S7 and S10: record what the loop and the pools did, then
//! open the file in Perfetto (<https://ui.perfetto.dev>, "Open trace file") or
//! `chrome://tracing` and see the loop work.
//!
//! - S7: five blocking sleeps of 1..5 units on a thread pool of five workers, gathered. In the
//!   trace: five job slices on five worker tracks, overlapping, and five arrows from the task
//!   that submitted each job to its worker and back to the poll that received the result.
//! - S10: CPU-heavy calls in a two-process pool while a heartbeat ticks every 10 ms. In the
//!   trace: the jobs on the two supervisor tracks (each stands for its worker process), and
//!   the loop's track made of short heartbeat polls between `poll` waits: it never stalls.
//!
//! Run: `cargo run --release -p evloop --example 25_trace_s7_s10 [-- path.json]`
//! (default path: `trace_s7_s10.json` in the current directory).

use std::sync::Arc;
use std::time::{Duration, Instant};

use evloop::pools::{Function, ProcessPool, Registry, ThreadPool};
use evloop::trace::Recorder;

/// S7's unit of blocking.
const UNIT: Duration = Duration::from_millis(20);

/// A CPU-bound job for S10: `n` rounds of arithmetic.
const BURN: Function<u64, u64> = Function::new("burn");

/// The functions a worker process can run.
fn registry() -> Registry {
    Registry::new().register(BURN, |n| {
        let mut x = n;
        for _ in 0..n {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
        }
        x
    })
}

/// S7: five blocking sleeps of 1..5 units on five threads, gathered.
async fn s7(pool: Arc<ThreadPool>) -> Vec<u32> {
    let jobs = (1..=5u32).map(|units| {
        let pool = pool.clone();
        async move {
            let lp = evloop::get_running_loop().unwrap();
            let job = move || {
                std::thread::sleep(UNIT * units); // blocking: fine on a pool thread
                units
            };
            lp.run_in_executor(pool, job).await.unwrap()
        }
    });
    evloop::gather(jobs).await.unwrap()
}

/// S10: CPU-heavy calls in two processes while a heartbeat ticks every 10 ms; returns the
/// heartbeat's worst gap.
async fn s10(pool: &ProcessPool) -> Duration {
    let lp = evloop::get_running_loop().unwrap();
    let worst = std::rc::Rc::new(std::cell::Cell::new(Duration::ZERO));
    let heartbeat = evloop::spawn({
        let worst = worst.clone();
        async move {
            let mut last = Instant::now();
            loop {
                evloop::sleep(Duration::from_millis(10)).await;
                worst.set(worst.get().max(last.elapsed()));
                last = Instant::now();
            }
        }
    });
    heartbeat.set_name("heartbeat");
    let jobs: Vec<_> = (0..4)
        .map(|_| lp.run_in_executor(pool, BURN.call(150_000_000)))
        .collect();
    for job in jobs {
        job.await.unwrap();
    }
    heartbeat.cancel();
    worst.get()
}

fn main() {
    // First line of main: a worker process stops here and serves jobs.
    evloop::pools::worker_main(registry);
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "trace_s7_s10.json".to_owned());
    // ANCHOR: record
    let recorder = Recorder::new(100_000);
    let lp = evloop::EventLoop::builder()
        .trace(&recorder)
        .build()
        .unwrap();
    let threads = Arc::new(
        ThreadPool::builder()
            .max_workers(5)
            .thread_name_prefix("s7")
            .build(),
    );
    let processes = ProcessPool::builder(registry())
        .max_workers(2)
        .thread_name_prefix("s10")
        .build()
        .expect("a process pool");
    let (units, worst_gap) = lp
        .run_until_complete(async {
            let units = s7(threads.clone()).await;
            evloop::sleep(Duration::from_millis(20)).await; // a visible gap between the two
            (units, s10(&processes).await)
        })
        .unwrap();
    lp.close().unwrap();
    recorder.save(&path).expect("write the trace");
    // ANCHOR_END: record
    println!("S7: results {units:?} (in order; the sleeps overlapped)");
    println!(
        "S10: worst heartbeat gap {:.1} ms",
        worst_gap.as_secs_f64() * 1e3
    );
    println!(
        "trace: {} events ({} dropped) written to {path}; open it in https://ui.perfetto.dev",
        recorder.len(),
        recorder.dropped()
    );
}
