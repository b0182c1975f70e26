//! Real Ctrl-C: scenario S5 and `evloop::run`'s SIGINT handling, on a child process
//! (`src/bin/s5_ctrl_c.rs`) that gets real SIGINTs from `kill -INT`.
//!
//! - S5: Ctrl-C during a gather of long tasks cancels every task, each cleanup (`Drop`) runs
//!   exactly once, `run` returns `Interrupted`, the process exits (130) without a hang or a
//!   panic trace.
//! - A second Ctrl-C while a cleanup hangs exits at once with status 130.
//! - A program that awaits `ctrl_c()` itself gets every SIGINT (the second one too: no exit),
//!   and `run` returns `Ok`.
//! - After `run`, SIGINT does its default action again (the process dies by signal 2).
//!
//! The child's SIGINT handling exists only on its main thread, so these run under `deadline`
//! like any test; each child is waited for (or killed and waited for on failure).

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::util::{deadline, BUDGET};

/// How long a child may take to print a line we wait for (it starts in milliseconds).
const LINE_WITHIN: Duration = Duration::from_secs(10);

/// A running `s5-ctrl-c` child, its stdout read line by line on a helper thread.
struct Child {
    /// The process; killed and reaped on drop if a test fails before it ended.
    process: std::process::Child,
    /// Lines of its stdout, as they come.
    lines: mpsc::Receiver<String>,
    /// Every stdout line received so far.
    seen: Vec<String>,
    /// The thread reading stdout (ends at EOF).
    reader: Option<thread::JoinHandle<()>>,
}

/// How a child ended.
struct Ended {
    /// Its exit status.
    status: ExitStatus,
    /// Every line it printed on stdout.
    stdout: Vec<String>,
    /// Everything it printed on stderr.
    stderr: String,
    /// Time from the call to `finish` to its exit.
    took: Duration,
}

impl Child {
    /// Starts the child in `mode`.
    fn start(mode: &str) -> Child {
        let mut process = Command::new(env!("CARGO_BIN_EXE_s5-ctrl-c"))
            .arg(mode)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the s5-ctrl-c child");
        let stdout = process.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        let reader = thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Child {
            process,
            lines,
            seen: Vec::new(),
            reader: Some(reader),
        }
    }

    /// Waits until the child printed `wanted`.
    fn wait_for(&mut self, wanted: &str) {
        let until = Instant::now() + LINE_WITHIN;
        while !self.seen.iter().any(|line| line == wanted) {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "the child never printed {wanted:?}; it printed {:?}",
                    self.seen
                ),
            }
        }
    }

    /// Sends the child a real SIGINT, as Ctrl-C in a terminal would.
    fn sigint(&self) {
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!("kill -INT {}", self.process.id()))
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -INT failed: {status}");
    }

    /// Waits (at most `within`) for the child to exit, then collects its output.
    fn finish(mut self, within: Duration) -> Ended {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.process.try_wait().expect("try_wait") {
                break status;
            }
            assert!(
                start.elapsed() < within,
                "the child did not exit within {within:?} (a hang); it printed {:?}",
                self.seen
            );
            thread::sleep(Duration::from_millis(5));
        };
        let took = start.elapsed();
        self.reader.take().map(|reader| reader.join());
        self.seen.extend(self.lines.try_iter());
        let mut stderr = String::new();
        if let Some(mut pipe) = self.process.stderr.take() {
            pipe.read_to_string(&mut stderr).expect("read stderr");
        }
        Ended {
            status,
            stdout: std::mem::take(&mut self.seen),
            stderr,
            took,
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Ok(None) = self.process.try_wait() {
            let _ = self.process.kill();
            let _ = self.process.wait();
        }
    }
}

/// How many lines of `lines` equal `line`.
fn count(lines: &[String], line: &str) -> usize {
    lines.iter().filter(|seen| *seen == line).count()
}

#[test]
fn s5_ctrl_c_during_a_gather_cancels_every_task_and_exits_without_a_hang() {
    deadline(BUDGET, || {
        let mut child = Child::start("gather");
        child.wait_for("ready");
        child.sigint();
        let ended = child.finish(Duration::from_secs(5));
        assert_eq!(ended.status.code(), Some(130), "{:?}", ended.stdout);
        for n in 1..=5 {
            let cleanup = format!("cleanup {n}");
            assert_eq!(count(&ended.stdout, &cleanup), 1, "{:?}", ended.stdout);
        }
        assert_eq!(ended.stdout.last().map(String::as_str), Some("interrupted"));
        assert_eq!(count(&ended.stdout, "interrupted"), 1);
        assert!(
            !ended.stderr.contains("panicked"),
            "stderr: {}",
            ended.stderr
        );
    });
}

#[test]
fn a_second_ctrl_c_exits_at_once_while_a_cleanup_hangs() {
    deadline(BUDGET, || {
        let mut child = Child::start("stuck");
        child.wait_for("ready");
        child.sigint();
        child.wait_for("cleanup blocking"); // the first one was taken: the loop is stuck now
        child.sigint();
        let ended = child.finish(Duration::from_secs(2));
        assert_eq!(ended.status.code(), Some(130), "{:?}", ended.stdout);
        assert!(ended.took < Duration::from_secs(2), "took {:?}", ended.took);
        assert_eq!(count(&ended.stdout, "interrupted"), 0, "exited mid-cleanup");
        assert!(
            !ended.stderr.contains("panicked"),
            "stderr: {}",
            ended.stderr
        );
    });
}

#[test]
fn a_program_awaiting_ctrl_c_gets_every_sigint_and_run_returns_ok() {
    deadline(BUDGET, || {
        let mut child = Child::start("own");
        child.wait_for("ready");
        child.sigint();
        child.wait_for("ctrl-c 1 handled");
        child.sigint(); // the program's too: no exit with 130
        let ended = child.finish(Duration::from_secs(5));
        assert_eq!(
            ended.status.code(),
            Some(0),
            "{:?} {}",
            ended.stdout,
            ended.stderr
        );
        let position = |line: &str| ended.stdout.iter().position(|seen| seen == line);
        let (second, finished) = (position("ctrl-c 2 handled"), position("finished"));
        assert!(second.is_some() && second < finished, "{:?}", ended.stdout);
        for n in 1..=5 {
            assert_eq!(count(&ended.stdout, &format!("cleanup {n}")), 1);
        }
        assert_eq!(count(&ended.stdout, "interrupted"), 0);
    });
}

#[test]
fn after_run_sigint_does_its_default_action_again() {
    deadline(BUDGET, || {
        let mut child = Child::start("restore");
        child.wait_for("ready");
        child.sigint();
        let ended = child.finish(Duration::from_secs(5));
        assert_eq!(
            ended.status.signal(),
            Some(2),
            "killed by SIGINT: {:?}",
            ended.status
        );
        assert!(!ended.stdout.iter().any(|line| line.contains("did not end")));
    });
}
