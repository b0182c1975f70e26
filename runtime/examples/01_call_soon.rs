//! Tour stop 1: callbacks. `call_soon` queues a closure; the loop runs ready callbacks in
//! FIFO order, one iteration at a time. A callback that schedules another sees it run in the
//! *next* iteration, and `stop()` lets the current iteration finish first.
//!
//! Run: `cargo run -p evloop --example 01_call_soon`

use std::cell::RefCell;
use std::rc::Rc;

use evloop::EventLoop;

fn main() {
    let lp = EventLoop::new().expect("create a loop");
    let log = Rc::new(RefCell::new(Vec::new()));

    // ANCHOR: fifo
    // Three callbacks, queued in order.
    for name in ["first", "second", "third"] {
        let log = log.clone();
        lp.call_soon(move || log.borrow_mut().push(name.to_string()));
    }

    // A cancelled callback never runs.
    let never = {
        let log = log.clone();
        lp.call_soon(move || log.borrow_mut().push("cancelled (never printed)".into()))
    };
    never.cancel();
    // ANCHOR_END: fifo

    // ANCHOR: stop
    // A callback that schedules another one and stops the loop: the iteration finishes,
    // `run_forever` returns, and the new callback waits for the next run.
    {
        let log = log.clone();
        let lp2 = lp.clone();
        lp.call_soon(move || {
            log.borrow_mut()
                .push("fourth: schedules 'fifth' and calls stop()".into());
            let log = log.clone();
            lp2.call_soon(move || log.borrow_mut().push("fifth (next run)".into()));
            lp2.stop();
        });
    }

    lp.run_forever().expect("first run");
    // ANCHOR_END: stop
    println!("after the first run_forever:");
    for line in log.borrow_mut().drain(..) {
        println!("  {line}");
    }

    lp.stop(); // stop before run_forever: exactly one iteration runs
    lp.run_forever().expect("second run");
    println!("after the second run_forever:");
    for line in log.borrow().iter() {
        println!("  {line}");
    }
    lp.close().expect("close");
}
