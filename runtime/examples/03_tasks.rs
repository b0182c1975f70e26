//! Tour stop 3: tasks. `spawn` wraps a future in a task the loop owns; awaiting the `Task`
//! gives `Ok(value)`, `Err(Cancelled)` or `Err(Panicked(message))`. A panic never kills the
//! loop, and a cancelled task's future is dropped at the next safe point.
//!
//! Run: `cargo run -p evloop --example 03_tasks`

use std::time::Duration;

use evloop::TaskError;

/// Prints when dropped, to show that cancellation runs a task's cleanup.
struct Cleanup(&'static str);

impl Drop for Cleanup {
    fn drop(&mut self) {
        println!("cleanup ran for {}", self.0);
    }
}

fn main() {
    let outcome = evloop::run(async {
        // Quiet the default report of unobserved panics for this demo.
        evloop::get_running_loop()
            .expect("inside run")
            .set_exception_handler(Some(Box::new(|ctx| println!("handler: {ctx}"))));

        // ANCHOR: outcomes
        let worker = evloop::spawn(async {
            evloop::sleep(Duration::from_millis(10)).await;
            "worker done"
        });
        let sleeper = evloop::spawn(async {
            let _cleanup = Cleanup("the sleeper");
            evloop::sleep(Duration::from_secs(3600)).await;
            "never"
        });
        let faulty = evloop::spawn(async {
            evloop::yield_now().await;
            panic!("something broke in the faulty task");
        });

        println!("worker  -> {:?}", worker.await);
        sleeper.cancel();
        println!("sleeper -> {:?}", sleeper.await);
        match faulty.await {
            Err(TaskError::Panicked(message)) => println!("faulty  -> panicked: {message}"),
            other => println!("faulty  -> {other:?}"),
        }
        // ANCHOR_END: outcomes

        // ANCHOR: detached_and_leftover
        // A detached task: dropping its handle does not cancel it.
        drop(evloop::spawn(async { println!("detached task still ran") }));
        evloop::yield_now().await;

        // Leftover tasks are cancelled by evloop::run when the main future returns.
        evloop::spawn(async {
            let _cleanup = Cleanup("a leftover task");
            evloop::sleep(Duration::from_secs(3600)).await;
        });
        evloop::yield_now().await; // let it start (a never-polled future has no locals yet)
        "main done"
        // ANCHOR_END: detached_and_leftover
    });
    println!("evloop::run -> {outcome:?}");
}
