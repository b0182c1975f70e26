//! TaskGroup (asyncio's `TaskGroup`): structured concurrency.
//!
//! First group (the scoped form, `TaskGroup::run`): three downloads start together; the
//! second fails after 1 unit. The group cancels the other two at once (their cleanup runs:
//! each holds a `Connection` whose `Drop` prints), waits for them, and returns the failure.
//! Second group (the plain form, `new` / `spawn` / `join`): every child succeeds and `join`
//! returns their values in spawn order, after the slowest.
//!
//! Run: `cargo run -p evloop --example 15_task_group`

use std::time::{Duration, Instant};

use evloop::TaskGroup;

/// One "unit" of example time.
const UNIT: Duration = Duration::from_millis(100);

/// Stands for a resource a child holds; its `Drop` is the child's cleanup.
struct Connection {
    name: &'static str,
    started: Instant,
}

impl Drop for Connection {
    fn drop(&mut self) {
        let units = self.started.elapsed().as_secs_f64() / UNIT.as_secs_f64();
        println!("  [{units:.1}] {}: connection closed", self.name);
    }
}

/// A download that takes `units` and fails if `fails` says so.
async fn download(
    name: &'static str,
    units: u32,
    fails: bool,
    started: Instant,
) -> Result<usize, String> {
    let _connection = Connection { name, started };
    evloop::sleep(UNIT * units).await;
    if fails {
        return Err(format!("{name}: server returned 503"));
    }
    println!("  {name}: done");
    Ok(name.len() * 100)
}

fn main() {
    let started = Instant::now();

    println!("a group where one child fails:");
    // ANCHOR: failing_group
    let outcome = evloop::run(TaskGroup::run(move |group| async move {
        group.spawn(download("alpha", 3, false, started));
        group.spawn(download("beta", 1, true, started));
        group.spawn(download("gamma", 2, false, started));
        Ok(())
    }))
    .expect("run");
    // ANCHOR_END: failing_group
    match outcome {
        Ok(sizes) => println!("unexpected success: {sizes:?}"),
        Err(error) => {
            println!("the group failed: {error}");
            println!("failures: {:?}", error.failures());
        }
    }

    println!("a group where every child succeeds:");
    let started = Instant::now();
    // ANCHOR: plain_group
    let sizes = evloop::run(async move {
        let group = TaskGroup::new();
        group.spawn(download("delta", 2, false, started));
        group.spawn(download("epsilon", 1, false, started));
        group.join().await
    })
    .expect("run");
    // ANCHOR_END: plain_group
    let units = started.elapsed().as_secs_f64() / UNIT.as_secs_f64();
    println!("sizes in spawn order: {sizes:?} (after {units:.1} units: the slowest child)");
}
