//! Tour stop 7: a semaphore. Twenty tasks share a `Semaphore` of three permits: never more
//! than three run at once, and they get in in the order they arrived. Then a waiter that was
//! handed the permit is cancelled before it runs: the permit passes on to the next waiter.
//!
//! Run: `cargo run -p evloop --example 13_semaphore`

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use evloop::Semaphore;

fn main() {
    evloop::run(async {
        // ANCHOR: bound
        let sem = Semaphore::new(3);
        let running = Rc::new(Cell::new(0));
        let peak = Rc::new(Cell::new(0));
        let order = Rc::new(RefCell::new(Vec::new()));
        let tasks: Vec<_> = (0..20u64)
            .map(|i| {
                let (sem, running, peak, order) =
                    (sem.clone(), running.clone(), peak.clone(), order.clone());
                evloop::spawn(async move {
                    let _permit = sem.acquire().await; // waits while three are inside
                    order.borrow_mut().push(i);
                    running.set(running.get() + 1);
                    peak.set(peak.get().max(running.get()));
                    evloop::sleep(Duration::from_millis(1 + i % 4)).await; // the work
                    running.set(running.get() - 1);
                }) // `_permit` drops here: the next waiter in line gets it
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        println!(
            "peak concurrency: {} (the semaphore has 3 permits)",
            peak.get()
        );
        println!("order in: {:?}", order.borrow());
        // ANCHOR_END: bound

        // ANCHOR: cancel_after_grant
        let sem = Semaphore::new(1);
        let permit = sem.acquire().await; // we hold the only permit
        let waiter = |name: &'static str| {
            let sem = sem.clone();
            evloop::spawn(async move {
                let _permit = sem.acquire().await;
                println!("{name} got the permit");
                name
            })
        };
        let chosen = waiter("chosen");
        let next = waiter("next");
        evloop::yield_now().await; // both run once and queue, in this order
        drop(permit); // handed straight to `chosen`, which has not run yet
        println!(
            "after the release: {} permit(s) free, the permit is in flight to `chosen`",
            sem.available_permits()
        );
        chosen.cancel(); // cancelled before it could use it
        println!("chosen -> {:?}", chosen.await);
        println!("next   -> {:?}", next.await);
        println!("free permits at the end: {}", sem.available_permits());
        // ANCHOR_END: cancel_after_grant
    })
    .expect("run");
}
