//! Scenario S8: five threads, each running its own loop, all hand blocking work to one shared
//! thread pool. Each loop gets its own result back, on its own thread: a completion wakes the
//! task that awaits it through that task's loop (its threadsafe path), whichever pool thread
//! ran the job.
//!
//! Run: `cargo run -p evloop --example 07_shared_pool_s8`

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use evloop::pools::ThreadPool;

fn main() {
    // ANCHOR: s8
    let pool = Arc::new(ThreadPool::builder().max_workers(4).build());
    let threads: Vec<_> = (0..5u64)
        .map(|n| {
            let pool = pool.clone();
            thread::Builder::new()
                .name(format!("loop-{n}"))
                .spawn(move || {
                    // A loop per thread; the pool is shared by all of them.
                    evloop::run(async move {
                        let lp = evloop::get_running_loop().unwrap();
                        let (value, worker) = lp
                            .run_in_executor(&pool, move || {
                                thread::sleep(Duration::from_millis(50));
                                (n * n, thread::current().name().unwrap_or("?").to_owned())
                            })
                            .await
                            .expect("the job returns its value");
                        let me = thread::current().name().unwrap_or("?").to_owned();
                        format!("{me}: got {value} from {worker}, back on {me}")
                    })
                    .expect("run")
                })
                .expect("spawn a loop thread")
        })
        .collect();
    for thread in threads {
        println!("{}", thread.join().expect("a loop thread"));
    }
    // ANCHOR_END: s8
    println!(
        "jobs completed by the shared pool: {}",
        pool.counters().completed
    );
}
