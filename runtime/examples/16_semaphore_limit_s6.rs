//! Scenario S6: 600 requests, at most 500 at once. A `Semaphore(500)` guards each request;
//! `gather` runs all 600 and returns their answers in the order given. The peak concurrency
//! is measured: exactly 500, so a server (or the process's file-descriptor limit) never sees
//! more.
//!
//! The request is simulated (10 to 20 ms of waiting, as a server's answer would take) until
//! evloop has sockets; then this example will send real HTTP requests to a local server.
//!
//! Run: `cargo run -p evloop --example 16_semaphore_limit_s6`

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// One simulated HTTP request: the server answers `200` after 10 to 20 ms.
async fn get(i: u64) -> u16 {
    evloop::sleep(Duration::from_millis(10 + i % 11)).await;
    200
}

fn main() {
    let started = Instant::now();
    let (answers, peak) = evloop::run(async {
        let limit = evloop::Semaphore::new(500);
        let in_flight = Rc::new(Cell::new(0usize));
        let peak = Rc::new(Cell::new(0usize));
        let requests = (0..600u64).map(|i| {
            let (limit, in_flight, peak) = (limit.clone(), in_flight.clone(), peak.clone());
            async move {
                let _permit = limit.acquire().await; // the 501st waits here for a permit
                in_flight.set(in_flight.get() + 1);
                peak.set(peak.get().max(in_flight.get()));
                let status = get(i).await;
                in_flight.set(in_flight.get() - 1);
                status
            } // the permit goes back here, straight to the oldest waiting request
        });
        let answers = evloop::gather(requests).await.expect("no request panics");
        (answers, peak.get())
    })
    .unwrap();
    let ok = answers.iter().filter(|&&status| status == 200).count();
    println!("{} requests, {ok} answered 200", answers.len());
    println!("peak concurrency: {peak} (the semaphore has 500 permits)");
    println!(
        "took {:?}: two waves of about 10-20 ms, not 600 requests one after another",
        started.elapsed()
    );
    assert_eq!(peak, 500);
}
