//! The process-pool functions the tests run, and the one registry both sides build.
//!
//! This file is compiled twice: into the `pool-worker` binary (the worker program, via
//! `#[path]`) and into the integration test binary (the parent). Both call [`registry`], so
//! their signatures match; each uses only some of the constants, hence the `dead_code` allow.
//!
//! The faults are real: `ABORT` calls `abort()`, `SEGFAULT` sends the worker SIGSEGV, `EXIT3`
//! exits with code 3, `SPIN` never returns. `PID_THEN_SLEEP` writes the worker's pid to a file
//! first, so a test can SIGKILL the worker mid-job.

#![allow(dead_code)]

use std::fmt;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use evloop_pools::{Function, ProcessPool, Registry};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `x * x`.
pub const SQUARE: Function<u64, u64> = Function::new("square");
/// Returns its argument (large payloads in both directions).
pub const ECHO: Function<Bytes, Bytes> = Function::new("echo");
/// Returns `n` bytes (a reply larger than a small `max_frame_size`).
pub const BYTES: Function<usize, Vec<u8>> = Function::new("bytes");
/// Sleeps that many milliseconds.
pub const SLEEP_MS: Function<u64, ()> = Function::new("sleep_ms");
/// Panics with the given message.
pub const PANIC: Function<String, u64> = Function::new("panic");
/// Panics on odd inputs, squares even ones (a `map` with failing elements).
pub const SQUARE_EVEN: Function<u64, u64> = Function::new("square_even");
/// `std::process::abort()`.
pub const ABORT: Function<(), ()> = Function::new("abort");
/// Sends the worker SIGSEGV.
pub const SEGFAULT: Function<(), ()> = Function::new("segfault");
/// `std::process::exit(3)`.
pub const EXIT3: Function<(), ()> = Function::new("exit3");
/// Never returns.
pub const SPIN: Function<(), ()> = Function::new("spin");
/// Writes the worker's pid to the file at `path`, then sleeps `ms`; returns the pid.
pub const PID_THEN_SLEEP: Function<(String, u64), u32> = Function::new("pid_then_sleep");
/// The worker's pid.
pub const PID: Function<(), u32> = Function::new("pid");
/// An initializer that appends a line to the file at `path`, then panics.
pub const FAIL_INIT: Function<String, ()> = Function::new("fail_init");
/// An initializer that stores a greeting in the worker.
pub const SET_GREETING: Function<String, ()> = Function::new("set_greeting");
/// The greeting the initializer stored (empty if none).
pub const GREETING: Function<(), String> = Function::new("greeting");
/// Builds a pool of the same registry inside the worker and squares `0..n` on it.
pub const NESTED: Function<u64, Vec<u64>> = Function::new("nested");
/// A CPU-bound loop of `n` rounds; returns a checksum and when it started and ended (µs since
/// the Unix epoch, so a test can see whether two jobs overlapped).
pub const CPU_WORK: Function<u64, (u64, u64, u64)> = Function::new("cpu_work");
/// The worker's open file descriptors: `(fd, readlink target)`, without the one used to list
/// them.
pub const OPEN_FDS: Function<(), Vec<(i32, String)>> = Function::new("open_fds");

/// A byte buffer that serde sees as one byte string (as `serde_bytes::ByteBuf` does). A plain
/// `Vec<u8>` is a sequence of `u8`s to serde, encoded byte by byte: fine for small values,
/// seconds per 32 MiB in a debug build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bytes(
    /// The bytes.
    pub Vec<u8>,
);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Accepts a byte string, owned or borrowed.
        struct BytesVisitor;
        impl Visitor<'_> for BytesVisitor {
            type Value = Bytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Bytes, E> {
                Ok(Bytes(bytes.to_vec()))
            }
            fn visit_byte_buf<E: de::Error>(self, bytes: Vec<u8>) -> Result<Bytes, E> {
                Ok(Bytes(bytes))
            }
        }
        deserializer.deserialize_byte_buf(BytesVisitor)
    }
}

/// What `SET_GREETING` stored in this worker.
static GREETING_TEXT: Mutex<String> = Mutex::new(String::new());

/// The registry of every function above (the worker and the tests call this same fn).
pub fn registry() -> Registry {
    Registry::new()
        .register(SQUARE, |x| x * x)
        .register(ECHO, |bytes| bytes)
        .register(BYTES, |n| vec![7u8; n])
        .register(SLEEP_MS, |ms| std::thread::sleep(Duration::from_millis(ms)))
        .register(PANIC, |message: String| -> u64 { panic!("{message}") })
        .register(SQUARE_EVEN, |x| {
            assert!(x % 2 == 0, "odd input {x}");
            x * x
        })
        .register(ABORT, |()| std::process::abort())
        .register(SEGFAULT, |()| segfault())
        .register(EXIT3, |()| std::process::exit(3))
        .register(SPIN, |()| spin())
        .register(PID_THEN_SLEEP, |(path, ms): (String, u64)| {
            let pid = std::process::id();
            std::fs::write(&path, pid.to_string()).expect("write the pid file");
            std::thread::sleep(Duration::from_millis(ms));
            pid
        })
        .register(PID, |()| std::process::id())
        .register(FAIL_INIT, |path: String| {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .expect("open the marker file");
            writeln!(file, "{}", std::process::id()).expect("write the marker file");
            panic!("the initializer refuses to start");
        })
        .register(SET_GREETING, |text| *GREETING_TEXT.lock().unwrap() = text)
        .register(GREETING, |()| GREETING_TEXT.lock().unwrap().clone())
        .register(NESTED, nested)
        .register(CPU_WORK, cpu_work)
        .register(OPEN_FDS, |()| open_fds())
}

/// Sends this process SIGSEGV until it dies. Careful: std's stack-overflow handler swallows
/// the first SIGSEGV that is not a guard-page fault (it resets the handler and returns), so
/// one `kill` is not enough.
fn segfault() {
    loop {
        let _ = std::process::Command::new("kill")
            .args(["-SEGV", &std::process::id().to_string()])
            .status();
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Burns CPU forever.
fn spin() {
    let mut x = 0u64;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

/// Squares `0..n` on a pool built inside this worker.
fn nested(n: u64) -> Vec<u64> {
    let pool = ProcessPool::builder(registry())
        .max_workers(2)
        .build()
        .expect("a nested pool");
    let squares = pool
        .map(SQUARE, 0..n, 2)
        .expect("map on the nested pool")
        .map(|value| value.expect("a nested square"))
        .collect();
    pool.shutdown(true, false);
    squares
}

/// A checksum of `n` rounds of integer mixing, with the start and end times.
fn cpu_work(n: u64) -> (u64, u64, u64) {
    let now = || {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        since.map_or(0, |d| d.as_micros() as u64)
    };
    let started = now();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for i in 0..n {
        x = std::hint::black_box(x.rotate_left(5) ^ i).wrapping_mul(0x100_0000_01B3);
    }
    (x, started, now())
}

/// This process's open fds and what they point at, minus the directory handle that lists them.
fn open_fds() -> Vec<(i32, String)> {
    let mut fds: Vec<(i32, String)> = std::fs::read_dir("/proc/self/fd")
        .expect("list /proc/self/fd")
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let fd = entry.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(entry.path()).ok()?;
            Some((fd, target.to_string_lossy().into_owned()))
        })
        .filter(|(_, target)| !target.ends_with("/fd") || !target.starts_with("/proc/"))
        .collect();
    fds.sort();
    fds
}
