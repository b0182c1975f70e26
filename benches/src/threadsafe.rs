//! Benchmark 5: [`PRODUCERS`] threads post `ops / PRODUCERS` messages each into one loop.
//!
//! - evloop: the bench thread runs the loop with `run_forever`; each producer calls
//!   `LoopHandle::call_soon_threadsafe` with a closure that adds a captured `u64` to a counter
//!   on the loop thread (a capture, so each post boxes its closure, as real callbacks do); the
//!   closure that completes the count calls `stop()`.
//! - tokio: the producers send `u64`s into an unbounded `tokio::sync::mpsc` channel; one task
//!   on a current_thread runtime receives them all.
//! - smol: the same through an unbounded `smol::channel`, received by one `LocalExecutor` task.
//!
//! Producers are spawned before the clock starts and released together by a barrier; the
//! clock stops when the receiving side has seen every message. With 4 producers and the
//! receiver on a 2-core machine the threads are oversubscribed: this measures contention and
//! wake-up coalescing as much as raw channel speed, and it is the noisiest row.

use std::cell::Cell;
use std::sync::{Arc, Barrier};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use evloop::EventLoop;

/// Posting threads.
pub const PRODUCERS: u64 = 4;

thread_local! {
    /// Sum of the values posted so far and the number of posts, on the loop thread.
    static RECEIVED: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    /// The number of posts after which the loop stops.
    static EXPECTED: Cell<u64> = const { Cell::new(0) };
}

/// The body of every posted closure: count `value`, stop the loop after the last post.
fn receive(value: u64) {
    let (sum, count) = RECEIVED.get();
    RECEIVED.set((sum + value, count + 1));
    if count + 1 == EXPECTED.get() {
        evloop::get_running_loop()
            .expect("posts run on the loop")
            .stop();
    }
}

/// Spawns the producers, each waiting on `barrier` and then calling `post` `per_thread` times.
fn producers<S>(
    barrier: &Arc<Barrier>,
    per_thread: u64,
    make: impl Fn() -> S,
) -> Vec<JoinHandle<()>>
where
    S: FnMut(u64) + Send + 'static,
{
    (0..PRODUCERS)
        .map(|_| {
            let barrier = barrier.clone();
            let mut post = make();
            thread::spawn(move || {
                barrier.wait();
                for _ in 0..per_thread {
                    post(1);
                }
            })
        })
        .collect()
}

/// Waits for every producer.
fn join(producers: Vec<JoinHandle<()>>) {
    for producer in producers {
        producer.join().expect("a producer finishes");
    }
}

/// evloop: `call_soon_threadsafe` into a loop running `run_forever`.
pub fn evloop(ops: u64) -> Duration {
    let per_thread = ops / PRODUCERS;
    let total = per_thread * PRODUCERS;
    let lp = EventLoop::new().expect("a loop");
    let handle = lp.handle();
    RECEIVED.set((0, 0));
    EXPECTED.set(total);
    let barrier = Arc::new(Barrier::new(PRODUCERS as usize + 1));
    let threads = producers(&barrier, per_thread, || {
        let handle = handle.clone();
        move |value: u64| {
            handle
                .call_soon_threadsafe(move || receive(value))
                .expect("the loop is open");
        }
    });
    barrier.wait();
    let start = Instant::now();
    lp.run_forever().expect("the loop runs");
    let elapsed = start.elapsed();
    join(threads);
    assert_eq!(RECEIVED.get(), (total, total));
    lp.close().expect("the loop closes");
    elapsed
}

/// tokio: an unbounded mpsc channel into one task on a current_thread runtime.
pub fn tokio(ops: u64) -> Duration {
    let per_thread = ops / PRODUCERS;
    let total = per_thread * PRODUCERS;
    let rt = crate::tokio_runtime(false);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let barrier = Arc::new(Barrier::new(PRODUCERS as usize + 1));
    let threads = producers(&barrier, per_thread, || {
        let tx = tx.clone();
        move |value: u64| tx.send(value).expect("the receiver is alive")
    });
    drop(tx);
    barrier.wait();
    let start = Instant::now();
    let sum = rt
        .block_on(async {
            tokio::spawn(async move {
                let mut sum = 0;
                for _ in 0..total {
                    sum += rx.recv().await.expect("a message");
                }
                sum
            })
            .await
        })
        .expect("the receiver returns");
    let elapsed = start.elapsed();
    join(threads);
    assert_eq!(sum, total);
    elapsed
}

/// smol: an unbounded `smol::channel` into one `LocalExecutor` task.
pub fn smol(ops: u64) -> Duration {
    let per_thread = ops / PRODUCERS;
    let total = per_thread * PRODUCERS;
    let ex = smol::LocalExecutor::new();
    let (tx, rx) = smol::channel::unbounded::<u64>();
    let barrier = Arc::new(Barrier::new(PRODUCERS as usize + 1));
    let threads = producers(&barrier, per_thread, || {
        let tx = tx.clone();
        move |value: u64| tx.try_send(value).expect("the receiver is alive")
    });
    drop(tx);
    barrier.wait();
    let start = Instant::now();
    let sum = smol::block_on(ex.run(ex.spawn(async move {
        let mut sum = 0;
        for _ in 0..total {
            sum += rx.recv().await.expect("a message");
        }
        sum
    })));
    let elapsed = start.elapsed();
    join(threads);
    assert_eq!(sum, total);
    elapsed
}
