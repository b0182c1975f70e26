//! A listener that runs out of file descriptors (`EMFILE` on accept, issue 5): it reports
//! the error, backs off instead of spinning, and accepts again once descriptors free up.
//!
//! The server is a child process (`emfile-server`, `src/bin/emfile_server.rs`) that lowers
//! its own descriptor limit so it can hold only 4 connections, and prints a line per accept
//! outcome. This test connects 10 clients (the kernel completes the handshakes; 6 wait in
//! the backlog), then reads the child's lines with their arrival times:
//!
//! - exactly 4 `accepted`, then `error EMFILE`;
//! - over the next second, a handful of errors (the back-off: 10 ms, doubling), each at
//!   least 5 ms after the previous one by the child's own clock (printed on each error line);
//!   a loop that retried at once would print hundreds of thousands;
//! - after `release` (the child drops its 4 connections), the 6 waiting clients are all
//!   accepted, with no error in between.
//!
//! The child is killed at the end (and on any failure), and its output thread joined.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::util::{deadline, BUDGET};

/// How many connections the child can hold.
const HOLD: usize = 4;
/// How many clients connect.
const CLIENTS: usize = 10;
/// How long the back-off is watched.
const WINDOW: Duration = Duration::from_secs(1);

/// Kills the child when dropped (also when the test panics).
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The child's output lines.
struct Lines(mpsc::Receiver<String>);

impl Lines {
    /// The next line, waiting at most until `until`; `None` at the deadline.
    fn next_before(&self, until: Instant) -> Option<String> {
        let left = until.saturating_duration_since(Instant::now());
        self.0.recv_timeout(left).ok()
    }

    /// The next line, within 5 s, or a panic naming what was awaited.
    fn next(&self, what: &str) -> String {
        self.next_before(Instant::now() + Duration::from_secs(5))
            .unwrap_or_else(|| panic!("the child printed no line for {what}"))
    }
}

/// When (by the child's clock) an `error EMFILE at <T>us` line was printed; `None` for any
/// other line.
fn emfile_at(line: &str) -> Option<Duration> {
    let micros = line.strip_prefix("error EMFILE at ")?.strip_suffix("us")?;
    Some(Duration::from_micros(micros.parse().ok()?))
}

#[test]
fn a_listener_out_of_descriptors_reports_emfile_backs_off_and_accepts_again() {
    deadline(BUDGET, || {
        let mut child = KillOnDrop(
            Command::new(env!("CARGO_BIN_EXE_emfile-server"))
                .arg(HOLD.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("start emfile-server"),
        );
        let stdout = child.0.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let lines = Lines(rx);

        let first = lines.next("the address");
        let addr: SocketAddr = first
            .strip_prefix("listening ")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
        let clients: Vec<std::net::TcpStream> = (0..CLIENTS)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();

        // Four accepts, then the first EMFILE.
        let mut accepted = 0;
        let (first_error, first_seen) = loop {
            let line = lines.next("the first EMFILE");
            if line == "accepted" {
                accepted += 1;
            } else if let Some(at) = emfile_at(&line) {
                break (at, Instant::now());
            } else {
                panic!("unexpected line {line:?}");
            }
        };
        assert_eq!(accepted, HOLD, "accepted before the first EMFILE");

        // The back-off: a few retries in a second, spaced out.
        let mut errors = vec![first_error];
        while let Some(line) = lines.next_before(first_seen + WINDOW) {
            let at = emfile_at(&line).unwrap_or_else(|| panic!("unexpected line {line:?}"));
            if at < first_error + WINDOW {
                errors.push(at);
            }
        }
        // (At most the first 10 gaps, so a spinning loop's message stays short.)
        let gaps: Vec<Duration> = errors.windows(2).take(10).map(|w| w[1] - w[0]).collect();
        eprintln!(
            "{} EMFILE errors in {WINDOW:?}, gaps {gaps:?}",
            errors.len()
        );
        assert!(
            (4..=10).contains(&errors.len()),
            "{} EMFILE errors in {WINDOW:?} (gaps {gaps:?})",
            errors.len()
        );
        assert!(
            gaps.iter().all(|gap| *gap >= Duration::from_millis(5)),
            "retries without a pause: {gaps:?}"
        );

        // Free the descriptors: every waiting client is accepted, with no error between.
        let stdin = child.0.stdin.as_mut().unwrap();
        stdin.write_all(b"release\n").unwrap();
        stdin.flush().unwrap();
        let mut released = false;
        while accepted < CLIENTS {
            let line = lines.next("the accepts after the release");
            if line == format!("released {HOLD}") {
                released = true;
            } else if line == "accepted" && released {
                accepted += 1;
            } else if emfile_at(&line).is_none() || released {
                panic!("unexpected line {line:?} (released: {released})");
            }
        }
        assert_eq!(accepted, CLIENTS);

        drop(clients);
        drop(child);
        reader.join().unwrap();
    });
}
