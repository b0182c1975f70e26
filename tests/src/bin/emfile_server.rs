//! A TCP server that runs out of file descriptors on purpose, for `net_emfile.rs`.
//!
//! Usage: `emfile-server HOLD`. It binds 127.0.0.1:0 on an evloop loop, then lowers its own
//! soft `RLIMIT_NOFILE` so that exactly `HOLD` descriptors are left, and prints
//! `listening ADDR`. Its accept loop prints one line per outcome: `accepted`, or
//! `error EMFILE at <T>us` (`T`: microseconds since the server started, so the test can
//! measure the pauses without counting its own delays in reading the pipe), or
//! `error <message>` for anything else. Accepted connections are held, so
//! the `HOLD + 1`th accept fails with `EMFILE`, until a line `release` arrives on stdin: then
//! it prints `released N`, drops the held connections and from then on drops every new one
//! at once. It exits when stdin closes.
//!
//! What it does not do: no reading or writing on the connections; the listener's back-off
//! (not this program) decides how often a failing accept is retried.

use std::cell::{Cell, RefCell};
use std::io::BufRead;
use std::path::Path;

use evloop::net::{TcpListener, TcpStream};
use rlimit::Resource;

thread_local! {
    /// The connections held until `release` (on the loop thread).
    static HELD: RefCell<Vec<TcpStream>> = const { RefCell::new(Vec::new()) };
    /// Whether `release` arrived: new connections are dropped at once from then on.
    static RELEASED: Cell<bool> = const { Cell::new(false) };
}

fn main() {
    let hold: usize = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .expect("usage: emfile-server HOLD");
    evloop::run(serve(hold)).expect("run the server");
}

/// Binds, limits the descriptors, and accepts forever.
async fn serve(hold: usize) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let handle = evloop::get_running_loop().expect("running loop").handle();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            match line.as_deref() {
                Ok("release") => {
                    let _ = handle.call_soon_threadsafe(release);
                }
                _ => break,
            }
        }
        std::process::exit(0);
    });
    let started = std::time::Instant::now();
    let limit = limit_descriptors(hold);
    println!(
        "listening {} (descriptor limit {limit})",
        listener.local_addr().unwrap()
    );
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                println!("accepted");
                if !RELEASED.get() {
                    HELD.with_borrow_mut(|held| held.push(stream));
                }
            }
            Err(error) if error.raw_os_error() == Some(libc::EMFILE) => {
                println!("error EMFILE at {}us", started.elapsed().as_micros());
            }
            Err(error) => println!("error {error}"),
        }
    }
}

/// Drops the held connections; later ones are dropped on arrival.
fn release() {
    RELEASED.set(true);
    let held = HELD.take();
    println!("released {}", held.len());
    drop(held);
}

/// Sets the soft descriptor limit so that exactly `free` descriptor numbers are left below
/// it; returns the limit.
fn limit_descriptors(free: usize) -> u64 {
    // Careful: the directory listing has a descriptor of its own, closed by now; keep only
    // the numbers still open.
    let listed: Vec<u64> = std::fs::read_dir("/proc/self/fd")
        .expect("list descriptors")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    let open: Vec<u64> = listed
        .into_iter()
        .filter(|fd| {
            Path::new(&format!("/proc/self/fd/{fd}"))
                .symlink_metadata()
                .is_ok()
        })
        .collect();
    let mut left = free;
    let mut limit = 0;
    while left > 0 {
        if !open.contains(&limit) {
            left -= 1;
        }
        limit += 1;
    }
    let (_, hard) = rlimit::getrlimit(Resource::NOFILE).expect("getrlimit");
    rlimit::setrlimit(Resource::NOFILE, limit, hard).expect("setrlimit");
    limit
}
