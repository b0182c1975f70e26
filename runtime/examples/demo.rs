//! The README demo: the main job of an event loop in one screen.
//!
//! A loop on a background thread (`LoopThread`) serves "requests" posted from worker
//! threads; each request is a coroutine that sleeps (simulated I/O) on the loop, while the
//! loop keeps a heartbeat timer ticking. Many requests overlap on one thread because they
//! await instead of blocking; the posting threads only block when they ask for a result.
//!
//! Run: `cargo run -p evloop --example demo`

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use evloop::LoopThread;

fn main() {
    let thread = LoopThread::start().expect("start the loop thread");
    let handle = thread.handle().clone();
    let started = Instant::now();

    // A heartbeat that re-arms itself every 50 ms on the loop: it keeps ticking while the
    // requests wait, because nothing blocks the loop.
    let beats = Arc::new(AtomicUsize::new(0));
    {
        let beats = beats.clone();
        handle
            .spawn_threadsafe(async move {
                loop {
                    evloop::sleep(Duration::from_millis(50)).await;
                    beats.fetch_add(1, Ordering::Relaxed);
                }
            })
            .expect("loop is open");
    }

    // Four client threads, each posting 25 requests of 200 ms of simulated I/O.
    let clients: Vec<_> = (0..4)
        .map(|client| {
            let handle = handle.clone();
            std::thread::spawn(move || {
                let requests: Vec<_> = (0..25)
                    .map(|n| {
                        handle
                            .spawn_threadsafe(async move {
                                evloop::sleep(Duration::from_millis(200)).await;
                                client * 100 + n
                            })
                            .expect("loop is open")
                    })
                    .collect();
                let mut served = 0;
                for (n, request) in requests.into_iter().enumerate() {
                    let answer = request.result().expect("request result");
                    assert_eq!(answer, client * 100 + n, "each request answers itself");
                    served += 1;
                }
                served
            })
        })
        .collect();
    let served: usize = clients.into_iter().map(|c| c.join().expect("client")).sum();

    let elapsed = started.elapsed();
    println!("served {served} requests of 200 ms each in {elapsed:.2?} on one loop thread");
    println!(
        "(sequentially that would be {:.1?}); the heartbeat ticked {} times meanwhile",
        Duration::from_millis(200) * served as u32,
        beats.load(Ordering::Relaxed)
    );
    thread
        .stop()
        .expect("loop thread stopped cleanly (leftover heartbeat task cancelled)");
    println!("loop stopped and closed; every task cancelled and cleaned up");
}
