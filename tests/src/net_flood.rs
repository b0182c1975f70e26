//! 10,000 concurrent loopback connections on one loop (issue 5).
//!
//! An evloop echo server spawns one task per accepted connection; each task echoes one
//! byte, then waits for its client to close. The clients are a child process
//! (`conn-flood`, `src/bin/conn_flood.rs`), because both ends of 10,000 connections in this
//! process would pass the usual hard limit of 20,000 descriptors. The test raises its own
//! soft `RLIMIT_NOFILE` (and skips, saying why, when the hard limit is below 10,500).
//!
//! Asserted: 10,000 accepted, 10,000 echoed, 10,000 connection tasks alive at once (the
//! peak), all of them gone after the child closes its end, and the process's descriptors
//! and threads back to where they started. It runs `exclusive`: it counts descriptors, and
//! 10,000 of them would crowd other tests.

use std::cell::Cell;
use std::io::{BufRead, BufReader};
use std::process::{ChildStdout, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use evloop::net::TcpListener;
use rlimit::Resource;

use crate::net_util::within;
use crate::util::{exclusive, Occupancy, Resources};

/// How many connections.
const N: usize = 10_000;

/// Reads one line of the child's output on the default executor (off the loop).
async fn next_line(stdout: BufReader<ChildStdout>) -> (String, BufReader<ChildStdout>) {
    let read = evloop::to_thread(move || {
        let mut stdout = stdout;
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("read the child's output");
        (line.trim_end().to_owned(), stdout)
    });
    within(Duration::from_secs(20), "a line from conn-flood", read)
        .await
        .expect("the reading thread")
}

/// Polls `done` every millisecond for at most 20 s.
async fn until(what: &str, done: impl Fn() -> bool) {
    within(Duration::from_secs(20), what, async {
        while !done() {
            evloop::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
}

#[test]
fn ten_thousand_concurrent_loopback_connections_are_served_by_one_task_each() {
    exclusive(Duration::from_secs(60), || {
        let (soft, hard) = rlimit::getrlimit(Resource::NOFILE).unwrap();
        if hard < 10_500 {
            eprintln!("skipped: RLIMIT_NOFILE hard limit {hard} < 10500, too low for {N} sockets");
            return;
        }
        rlimit::setrlimit(Resource::NOFILE, hard, hard).unwrap();
        let before = Resources::now();
        let started = Instant::now();

        evloop::run(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let (accepted, echoed, ended) = (
                Rc::new(Cell::new(0usize)),
                Rc::new(Cell::new(0usize)),
                Rc::new(Cell::new(0usize)),
            );
            let live = Occupancy::default();
            let server = evloop::spawn({
                let (accepted, echoed, ended, live) = (
                    accepted.clone(),
                    echoed.clone(),
                    ended.clone(),
                    live.clone(),
                );
                async move {
                    loop {
                        let (stream, _) = listener.accept().await.unwrap();
                        accepted.set(accepted.get() + 1);
                        let inside = live.enter();
                        let (echoed, ended) = (echoed.clone(), ended.clone());
                        evloop::spawn(async move {
                            let mut byte = [0u8; 1];
                            stream.read_exact(&mut byte).await.unwrap();
                            stream.write_all(&byte).await.unwrap();
                            echoed.set(echoed.get() + 1);
                            // Wait for the client to close.
                            assert_eq!(stream.read(&mut byte).await.unwrap(), 0);
                            drop((stream, inside));
                            ended.set(ended.get() + 1);
                        });
                    }
                }
            });

            let mut child = Command::new(env!("CARGO_BIN_EXE_conn-flood"))
                .args([addr.to_string(), N.to_string()])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("start conn-flood");
            let stdout = BufReader::new(child.stdout.take().unwrap());
            let (line, stdout) = next_line(stdout).await;
            assert_eq!(line, format!("connected {N}"));
            let (line, stdout) = next_line(stdout).await;
            assert_eq!(line, format!("echoed {N}"));
            let connected_at = started.elapsed();

            until("every echo counted", || echoed.get() == N).await;
            assert_eq!(accepted.get(), N);
            assert_eq!(live.entries(), N);
            assert_eq!(
                live.peak(),
                N,
                "not all connection tasks were alive at once"
            );
            assert_eq!(ended.get(), 0);

            // The child closes everything when its stdin closes.
            drop(child.stdin.take());
            until("every connection task ended", || ended.get() == N).await;
            let status = evloop::to_thread(move || child.wait()).await.unwrap();
            assert!(status.unwrap().success());
            drop(stdout);
            server.cancel();
            eprintln!(
                "{N} connections: echoed after {connected_at:?}, torn down after {:?}",
                started.elapsed()
            );
        })
        .unwrap();
        before.assert_back_to("10,000 connections");
        rlimit::setrlimit(Resource::NOFILE, soft, hard).unwrap();
    });
}
