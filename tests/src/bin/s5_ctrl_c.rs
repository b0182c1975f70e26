//! Scenario S5 as a child process: Ctrl-C during a gather of long tasks. The tests in
//! `signals_ctrl_c.rs` start it, wait for `ready`, send it real SIGINTs and read what it printed.
//!
//! Modes (the first argument):
//! - `gather`: `evloop::run` a gather of 5 tasks that sleep 60 s, each holding a guard whose
//!   `Drop` prints `cleanup N`; prints `ready` once all started. On `Err(Interrupted)` it prints
//!   `interrupted` and exits with status 130.
//! - `stuck`: the same, but the guard of task 1 prints `cleanup blocking` and then blocks for
//!   30 s in its `Drop`: only a second SIGINT can end the process (status 130 at once).
//! - `own`: the program handles Ctrl-C itself: the main future awaits `evloop::ctrl_c()` twice
//!   next to the gather, printing `ctrl-c 1 handled` and `ctrl-c 2 handled` (so neither SIGINT
//!   is `run`'s, not even the second), then `run` returns `Ok` (prints `finished`).
//! - `restore`: one `evloop::run` that finishes, then `ready`, then a 30 s blocking sleep: a
//!   SIGINT must kill the process by its default action, as before the run.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use evloop::LoopError;

/// How many long tasks the gather runs.
const TASKS: usize = 5;

/// Prints `cleanup N` when dropped (and, in `stuck` mode for task 1, blocks).
struct Guard {
    /// The task's number, 1-based.
    n: usize,
    /// Block for 30 s in `Drop` (the `stuck` mode's task 1).
    stuck: bool,
}

impl Drop for Guard {
    fn drop(&mut self) {
        println!("cleanup {}", self.n);
        if self.stuck {
            println!("cleanup blocking");
            std::thread::sleep(Duration::from_secs(30));
        }
    }
}

/// The gather of long tasks; prints `ready` once every task started.
async fn long_tasks(stuck: bool) -> Result<Vec<usize>, evloop::TaskError> {
    let started = Rc::new(Cell::new(0));
    let tasks = (1..=TASKS).map(|n| {
        let started = started.clone();
        async move {
            let _guard = Guard {
                n,
                stuck: stuck && n == 1,
            };
            started.set(started.get() + 1);
            if started.get() == TASKS {
                println!("ready");
            }
            evloop::sleep(Duration::from_secs(60)).await;
            n
        }
    });
    evloop::gather(tasks).await
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let result = match mode.as_str() {
        "gather" => evloop::run(long_tasks(false)).map(|_| ()),
        "stuck" => evloop::run(long_tasks(true)).map(|_| ()),
        "own" => evloop::run(async {
            let gather = evloop::spawn(long_tasks(false));
            for n in 1..=2 {
                evloop::ctrl_c().await.expect("a SIGINT");
                println!("ctrl-c {n} handled");
            }
            gather.cancel();
        }),
        "restore" => {
            evloop::run(async { evloop::yield_now().await }).expect("a plain run");
            println!("ready");
            std::thread::sleep(Duration::from_secs(30));
            println!("SIGINT did not end the process");
            std::process::exit(1);
        }
        other => {
            eprintln!("unknown mode {other:?}: use gather, stuck, own or restore");
            std::process::exit(2);
        }
    };
    match result {
        Ok(()) => println!("finished"),
        Err(LoopError::Interrupted) => {
            println!("interrupted");
            std::process::exit(130);
        }
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(1);
        }
    }
}
