//! Scenario S11: two interleaved requests each set a request-id context variable; one of them
//! hands a blocking call to `to_thread`. No request ever sees the other's id, and the thread
//! job sees its caller's. A `thread_local!` would fail here: both requests run on the one loop
//! thread, so a thread-local is shared by them; a `ContextVar` belongs to the task.
//!
//! Run: `cargo run -p evloop --example 12_context_s11`

use std::sync::LazyLock;
use std::time::Duration;

use evloop::ContextVar;

// ANCHOR: s11
/// The id of the request being handled, per task.
static REQUEST_ID: LazyLock<ContextVar<u32>> = LazyLock::new(|| ContextVar::new("request_id"));

/// Something deep in the call stack that logs with the current request id.
fn log(what: &str) {
    println!("[request {:?}] {what}", REQUEST_ID.get());
}

async fn handle(id: u32, blocking: bool) {
    REQUEST_ID.set(id);
    for step in 1..=3 {
        evloop::sleep(Duration::from_millis(10)).await; // the other request runs meanwhile
        log(&format!("step {step}"));
    }
    if blocking {
        // The job runs on a pool thread, inside a copy of this task's context.
        let seen = evloop::to_thread(|| {
            std::thread::sleep(Duration::from_millis(20));
            log("blocking call on a pool thread");
            REQUEST_ID.get()
        })
        .await
        .expect("the job ran");
        assert_eq!(seen, Some(id));
    }
    assert_eq!(REQUEST_ID.get(), Some(id), "a request saw another's id");
}

fn main() {
    evloop::run(async {
        let first = evloop::spawn(handle(1, true));
        let second = evloop::spawn(handle(2, false));
        first.await.expect("request 1");
        second.await.expect("request 2");
    })
    .expect("run");
    println!("each request only ever saw its own id");
}
// ANCHOR_END: s11
