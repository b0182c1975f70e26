//! Scenario S5: Ctrl-C during a gather of long tasks. Three tasks each hold a guard whose
//! `Drop` is their cleanup, and sleep for a minute. The first Ctrl-C cancels the main future
//! (the gather, which cancels its tasks), every cleanup runs, the loop stops and closes, and
//! `evloop::run` returns `Err(LoopError::Interrupted)`. A second Ctrl-C, had a cleanup hung,
//! would have exited the process at once with status 130.
//!
//! So that `just examples` finishes on its own, a thread presses Ctrl-C for you after 300 ms:
//! `signal_hook::low_level::raise(SIGINT)` sends SIGINT to this process, exactly what the
//! terminal does when you press Ctrl-C (or `kill -INT <pid>` from another shell). Run it with
//! `--wait` to press Ctrl-C yourself.
//!
//! Run: `cargo run -p evloop --example 20_ctrl_c_s5 [-- --wait]`

use std::time::Duration;

use evloop::signal::SIGINT;
use evloop::LoopError;

/// Prints its task's cleanup when dropped: what runs when the task is cancelled.
struct Cleanup(&'static str);

impl Drop for Cleanup {
    fn drop(&mut self) {
        println!("cleanup of {} ran", self.0);
    }
}

fn main() {
    if !std::env::args().any(|arg| arg == "--wait") {
        std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(300));
            println!("(pressing Ctrl-C: SIGINT to this process)");
            signal_hook::low_level::raise(SIGINT).expect("raise SIGINT");
        });
    }
    // ANCHOR: ctrl_c_s5
    let outcome = evloop::run(async {
        let jobs = ["download", "index", "report"].map(|name| async move {
            let _cleanup = Cleanup(name);
            println!("{name}: started, sleeping for a minute");
            evloop::sleep(Duration::from_secs(60)).await;
            name
        });
        println!("press Ctrl-C");
        evloop::gather(jobs).await
    });
    match outcome {
        // Every cleanup ran before `run` returned, inside the loop.
        Err(LoopError::Interrupted) => println!("interrupted: {}", LoopError::Interrupted),
        other => println!("finished: {other:?}"),
    }
    // ANCHOR_END: ctrl_c_s5
    // A real program would now end with status 130 (`std::process::exit(130)`), as shells
    // expect after Ctrl-C; this example exits 0 so that `just examples` goes on.
}
