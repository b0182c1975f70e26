//! Nothing is left behind: no fd leaks into a worker, no child, thread or fd outlives a pool
//! (S14), and no worker outlives its parent.
//!
//! Leak checks count file descriptors ([`Resources`]), child processes ([`children`]) and the
//! pool's own threads by name ([`threads_named`]); a plain thread count is noisy while an
//! `exclusive` body runs (see `lifecycle::fds_only`).

use std::process::Command;
use std::time::{Duration, Instant};

use evloop_pools::JobError;

use crate::lifecycle::fds_only;
use crate::pool_functions::{OPEN_FDS, SLEEP_MS, SQUARE};
use crate::process_pool::{builder, wait_for};
use crate::util::{deadline, exclusive, threads_named, Resources, BUDGET};

/// The state letter and parent pid of process `pid` (from `/proc/<pid>/stat`).
fn stat(pid: u32) -> Option<(char, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Careful: the command name is in parentheses and may hold spaces; split after it.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// The pids of our child processes (zombies included).
fn children() -> Vec<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
                .filter(|pid| stat(*pid).is_some_and(|(_, ppid)| ppid == me))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `pid` is a live (not zombie) process.
fn is_alive(pid: u32) -> bool {
    stat(pid).is_some_and(|(state, _)| state != 'Z' && state != 'X')
}

/// Our fds without `O_CLOEXEC`: any child inherits those, whoever opened them (the test
/// harness may hold some, e.g. a jobserver pipe).
fn inheritable_fds() -> Vec<i32> {
    /// `O_CLOEXEC` in the octal `flags:` line of `/proc/self/fdinfo/<fd>`.
    const O_CLOEXEC: u32 = 0o2_000_000;
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    fds.into_iter()
        .filter(|fd| {
            let info =
                std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap_or_default();
            info.lines()
                .find_map(|line| line.strip_prefix("flags:"))
                .and_then(|flags| u32::from_str_radix(flags.trim(), 8).ok())
                .is_some_and(|flags| flags & O_CLOEXEC == 0)
        })
        .collect()
}

#[test]
fn a_worker_holds_only_stdio_and_its_socket() {
    deadline(BUDGET, || {
        let pool = builder(1).build().unwrap();
        let fds = pool.submit(OPEN_FDS.call(())).unwrap().result().unwrap();
        // Besides stdio and its socket, only what the test process itself leaks to children.
        let inherited = inheritable_fds();
        let sockets: Vec<_> = fds
            .iter()
            .filter(|(_, target)| target.starts_with("socket:"))
            .collect();
        assert_eq!(sockets.len(), 1, "{fds:?}");
        for (fd, target) in &fds {
            assert!(
                (0..=2).contains(fd) || target.starts_with("socket:") || inherited.contains(fd),
                "the worker holds fd {fd} ({target}) it should not: {fds:?}"
            );
        }
    });
}

/// S14: a pool used and shut down with `wait` leaves no child, thread or fd behind.
#[test]
fn s14_shutdown_with_wait_reaps_every_worker() {
    exclusive(BUDGET, || {
        wait_for("earlier pools' children to go", BUDGET / 4, || {
            children().is_empty()
        });
        let before = fds_only(Resources::now());
        let pool = builder(2)
            .max_tasks_per_child(Some(3))
            .thread_name_prefix("s14-wait")
            .build()
            .unwrap();
        let jobs: Vec<_> = (0..10)
            .map(|i| pool.submit(SQUARE.call(i)).unwrap())
            .collect();
        for (i, job) in jobs.into_iter().enumerate() {
            assert_eq!(job.result(), Ok((i * i) as u64));
        }
        pool.shutdown(true, false);
        assert_eq!(children(), Vec::<u32>::new(), "a worker was not reaped");
        assert_eq!(threads_named("s14-wait"), 0, "a supervisor was not joined");
        drop(pool);
        before.assert_back_to("a process pool shut down with wait");
    });
}

/// S14: a pool dropped mid-work stops its jobs and, in the background, reaps its workers.
#[test]
fn s14_a_pool_dropped_mid_work_leaves_nothing_behind() {
    exclusive(BUDGET, || {
        wait_for("earlier pools' children to go", BUDGET / 4, || {
            children().is_empty()
        });
        let before = fds_only(Resources::now());
        let pool = builder(2).thread_name_prefix("s14-drop").build().unwrap();
        let jobs: Vec<_> = (0..5)
            .map(|_| pool.submit(SLEEP_MS.call(60_000)).unwrap())
            .collect();
        wait_for("two running jobs", BUDGET / 4, || {
            jobs.iter().filter(|job| job.is_running()).count() == 2 && pool.worker_pids().len() == 2
        });
        let pids = pool.worker_pids();
        let dropped = Instant::now();
        drop(pool);
        assert!(
            dropped.elapsed() < Duration::from_millis(500),
            "drop blocked"
        );
        for job in jobs {
            assert_eq!(job.result(), Err(JobError::Cancelled));
        }
        wait_for("the workers to be reaped", BUDGET / 4, || {
            children().is_empty() && !pids.iter().any(|pid| is_alive(*pid))
        });
        wait_for("the supervisors to exit", BUDGET / 4, || {
            threads_named("s14-drop") == 0
        });
        before.assert_back_to("a process pool dropped mid-work");
    });
}

#[test]
fn workers_die_when_their_parent_dies() {
    deadline(BUDGET, || {
        use std::io::BufRead;
        let mut parent = Command::new(env!("CARGO_BIN_EXE_pool-worker"))
            .arg("orphan")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let stdout = parent.stdout.take().unwrap();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap();
        let pids: Vec<u32> = line
            .trim()
            .strip_prefix("pids: ")
            .unwrap_or_else(|| panic!("unexpected output {line:?}"))
            .split(' ')
            .map(|pid| pid.parse().unwrap())
            .collect();
        assert_eq!(pids.len(), 2);
        assert!(pids.iter().all(|pid| is_alive(*pid)));
        parent.kill().unwrap();
        parent.wait().unwrap();
        wait_for(
            "the orphaned workers to exit",
            Duration::from_secs(5),
            || !pids.iter().any(|pid| is_alive(*pid)),
        );
    });
}
