//! Scenario S14: pools that leave nothing behind. A thread pool and a process pool are
//! created, used and shut down with `wait`; then both are dropped in the middle of their
//! work. Afterwards this process has the same threads and file descriptors as before, and no
//! child process (not even a zombie).
//!
//! Run: `cargo run -p evloop --example 11_pool_lifecycle_s14`

use std::thread;
use std::time::{Duration, Instant};

use evloop::pools::{Function, ProcessPool, Registry, ThreadPool};

/// Sleeps `ms` milliseconds in a worker process.
const NAP: Function<u64, u64> = Function::new("nap");

fn registry() -> Registry {
    Registry::new().register(NAP, |ms| {
        thread::sleep(Duration::from_millis(ms));
        ms
    })
}

/// Counts this process's threads, file descriptors and child processes (Linux `/proc`).
fn census() -> (usize, usize, usize) {
    let count = |dir: &str| std::fs::read_dir(dir).map_or(0, |d| d.count());
    let me = std::process::id().to_string();
    let children = std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|entry| std::fs::read_to_string(entry.path().join("stat")).ok())
                // The parent pid is the 2nd field after the parenthesised command name.
                .filter(|stat| {
                    let after = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
                    after.split_whitespace().nth(1) == Some(me.as_str())
                })
                .count()
        })
        .unwrap_or(0);
    (count("/proc/self/task"), count("/proc/self/fd"), children)
}

fn main() {
    evloop::pools::worker_main(registry);
    let before = census();
    println!(
        "before: {} threads, {} fds, {} children",
        before.0, before.1, before.2
    );

    // ANCHOR: s14
    // 1. Created, used, shut down with wait: every thread joined, every worker reaped.
    let threads = ThreadPool::builder().max_workers(4).build();
    let processes = ProcessPool::builder(registry())
        .max_workers(2)
        .build()
        .unwrap();
    let jobs: Vec<_> = (0..4)
        .map(|i| threads.submit(move || i * 2).unwrap())
        .collect();
    let calls: Vec<_> = (0..4)
        .map(|i| processes.submit(NAP.call(i)).unwrap())
        .collect();
    let doubled: Vec<i32> = jobs.into_iter().map(|job| job.result().unwrap()).collect();
    let napped: Vec<u64> = calls
        .into_iter()
        .map(|call| call.result().unwrap())
        .collect();
    assert_eq!((doubled, napped), (vec![0, 2, 4, 6], vec![0, 1, 2, 3]));
    threads.shutdown(true, false);
    processes.shutdown(true, false);
    println!(
        "after shutdown(wait): {:?} (threads, fds, children)",
        census()
    );

    // 2. Dropped mid-work: the thread pool's drop joins its threads (their jobs finish);
    //    the process pool's drop never blocks: it kills its busy workers and reaps them in
    //    the background.
    let threads = ThreadPool::builder().max_workers(4).build();
    let processes = ProcessPool::builder(registry())
        .max_workers(2)
        .build()
        .unwrap();
    for _ in 0..4 {
        drop(
            threads
                .submit(|| thread::sleep(Duration::from_millis(50)))
                .unwrap(),
        );
        drop(processes.submit(NAP.call(10_000)).unwrap());
    }
    thread::sleep(Duration::from_millis(100));
    let dropped = Instant::now();
    drop(processes);
    println!("the process pool dropped in {:?}", dropped.elapsed());
    drop(threads);
    // ANCHOR_END: s14

    // Background reaping takes a moment; wait for the census to come back.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut after = census();
    while after != before && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
        after = census();
    }
    println!(
        "after the drops: {} threads, {} fds, {} children",
        after.0, after.1, after.2
    );
    assert_eq!(after, before, "something was left behind");
    println!("nothing left behind");
}
