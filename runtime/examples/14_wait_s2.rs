//! Scenario S2 with `evloop::wait`: ten tasks sleep random durations; wait for the first to
//! complete, then (after a unit of other work) wait on the rest with a timeout of 2 units,
//! then wait for all. Each result is seen exactly once, and the pending tasks keep running
//! between the calls: `wait` never cancels anything, and a timeout is not an error.
//!
//! Run: `cargo run -p evloop --example 14_wait_s2`

use std::time::{Duration, Instant, SystemTime};

use evloop::{ReturnWhen, Task};

/// One "unit" of scenario time.
const UNIT: Duration = Duration::from_millis(100);

/// Ten durations between 0.1 and 5 units, from a xorshift seeded with `seed`.
fn durations(seed: u64) -> Vec<Duration> {
    let mut state = seed | 1;
    (0..10)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            UNIT * (10 + (state % 490) as u32) / 100
        })
        .collect()
}

/// Awaits the done tasks (they resolve at once) and prints what one `wait` call returned.
async fn report(call: &str, started: Instant, done: Vec<Task<usize>>, pending: &[Task<usize>]) {
    let mut values = Vec::new();
    for task in done {
        values.push(task.await.expect("no task fails"));
    }
    let at = started.elapsed().as_secs_f64() / UNIT.as_secs_f64();
    println!(
        "{call:<34} at {at:.1} units: done {values:?}, {} still pending",
        pending.len()
    );
}

fn main() {
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(7, |since| since.as_nanos() as u64);
    let durations = durations(seed);
    println!("seed {seed}: the tasks sleep (units):");
    for (i, d) in durations.iter().enumerate() {
        println!("  task {i}: {:.2}", d.as_secs_f64() / UNIT.as_secs_f64());
    }
    let started = Instant::now();
    // ANCHOR: s2
    evloop::run(async move {
        let tasks: Vec<Task<usize>> = durations
            .into_iter()
            .enumerate()
            .map(|(i, d)| {
                evloop::spawn(async move {
                    evloop::sleep(d).await;
                    i
                })
            })
            .collect();

        let (done, pending) = evloop::wait(tasks, ReturnWhen::FirstCompleted, None).await;
        report("wait(FIRST_COMPLETED)", started, done, &pending).await;

        evloop::sleep(UNIT).await; // other work: the pending tasks keep running meanwhile

        let (done, pending) = evloop::wait(pending, ReturnWhen::AllCompleted, Some(UNIT * 2)).await;
        report("wait(rest, timeout = 2 units)", started, done, &pending).await;

        let (done, pending) = evloop::wait(pending, ReturnWhen::AllCompleted, None).await;
        report("wait(ALL_COMPLETED)", started, done, &pending).await;
    })
    .expect("run");
    // ANCHOR_END: s2
}
