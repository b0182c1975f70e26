//! `netload`: the load generator of the network benchmarks (`benches/src/net.rs`).
//!
//! One neutral client for every server: plain `mio`, one thread, non-blocking sockets, no
//! tokio, smol or evloop, so whatever it costs is the same for each contender. It opens
//! `--conns` connections and keeps exactly one request in flight on each:
//!
//! - `netload echo ADDR --conns 50 --size 64 --secs 2`: write `--size` bytes, read the same
//!   bytes back (checked), repeat; one op is one round trip.
//! - `netload http ADDR --conns 50 --secs 2`: keep-alive HTTP/1.1
//!   `GET / HTTP/1.1\r\nHost: bench\r\n\r\n`, read the response head and its `Content-Length`
//!   body, check the status is 200 and the body is `Hello, world!`; one op is one response.
//!
//! It first runs `--warmup` seconds (default 0.5) without counting (connections settle, the
//! server's allocator and caches warm up), then counts completed ops for `--secs` seconds and
//! prints one line, `ops=<n> secs=<measured seconds> total=<ops including the warm-up>`, on
//! stdout. Anything unexpected (a
//! refused connection, a short or wrong reply, the server closing, no progress for
//! [`STALL`]) prints the reason on stderr and exits with status 1.
//!
//! It does not: pipeline requests, reconnect, or parse chunked bodies (the benchmark's
//! servers all answer with a fixed `Content-Length`).
//!
//! Invariants: every connection is always either writing its request or reading its reply
//! (never both); every socket is drained until `WouldBlock` before waiting again, as mio's
//! edge-triggered events require; the run ends by itself after `warmup + secs` seconds.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

/// The request of the `http` mode.
const HTTP_REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n";
/// The body every `http` response must carry.
const HTTP_BODY: &[u8] = b"Hello, world!";
/// Longest response (head and body) accepted, and the size of each read buffer.
const MAX_RESPONSE: usize = 4096;
/// With no op completed for this long, the run fails instead of hanging.
const STALL: Duration = Duration::from_secs(5);

/// What to send and how to recognise the end of a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Echo round trips of this many bytes.
    Echo(usize),
    /// HTTP/1.1 keep-alive requests.
    Http,
}

/// The command line.
struct Args {
    /// The workload.
    mode: Mode,
    /// The server.
    addr: SocketAddr,
    /// Concurrent connections, each with one op in flight.
    conns: usize,
    /// Seconds measured.
    secs: f64,
    /// Seconds run before measuring.
    warmup: f64,
}

/// Whose turn it is on one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// This many bytes of the request are written.
    Writing(usize),
    /// The request is out; the reply is being read into `Conn::buf`.
    Reading,
}

/// One client connection.
struct Conn {
    /// The non-blocking socket, registered for both readiness kinds.
    stream: TcpStream,
    /// Where this connection is in its current op.
    phase: Phase,
    /// The reply read so far (the first `filled` bytes).
    buf: Box<[u8; MAX_RESPONSE]>,
    /// How many bytes of `buf` hold the reply.
    filled: usize,
}

impl Conn {
    /// Makes as much progress as the socket allows (until `WouldBlock`), returning the number
    /// of ops completed.
    fn drive(&mut self, request: &[u8], mode: Mode) -> Result<u64, String> {
        let mut done = 0;
        loop {
            match self.phase {
                Phase::Writing(written) => match self.stream.write(&request[written..]) {
                    Ok(n) if written + n == request.len() => self.phase = Phase::Reading,
                    Ok(n) => self.phase = Phase::Writing(written + n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(done),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(format!("write failed: {e}")),
                },
                Phase::Reading => match self.stream.read(&mut self.buf[self.filled..]) {
                    Ok(0) => return Err("the server closed a connection mid-run".into()),
                    Ok(n) => {
                        self.filled += n;
                        let reply = &self.buf[..self.filled];
                        let Some(len) = reply_len(reply, request, mode)? else {
                            if self.filled == MAX_RESPONSE {
                                return Err(format!("a reply longer than {MAX_RESPONSE} bytes"));
                            }
                            continue;
                        };
                        // Careful: one op is in flight, so nothing may follow its reply.
                        if len != self.filled {
                            return Err(format!("{} unexpected bytes", self.filled - len));
                        }
                        self.filled = 0;
                        self.phase = Phase::Writing(0);
                        done += 1;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(done),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(format!("read failed: {e}")),
                },
            }
        }
    }
}

/// The length of the complete reply at the start of `reply`, `None` if more bytes are needed,
/// or an error if it is not the expected reply.
fn reply_len(reply: &[u8], request: &[u8], mode: Mode) -> Result<Option<usize>, String> {
    match mode {
        Mode::Echo(size) => {
            let n = reply.len().min(size);
            if reply[..n] != request[..n] {
                return Err("the echo differs from what was sent".into());
            }
            Ok((reply.len() >= size).then_some(size))
        }
        Mode::Http => http_reply_len(reply),
    }
}

/// [`reply_len`] for an HTTP/1.1 response with a `Content-Length` body.
fn http_reply_len(reply: &[u8]) -> Result<Option<usize>, String> {
    let Some(head_end) = reply.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&reply[..head_end]).map_err(|_| "a non-UTF-8 head")?;
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if !status.starts_with("HTTP/1.1 200") {
        return Err(format!("unexpected status line {status:?}"));
    }
    let length = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .ok_or("a response without Content-Length")?;
    let total = head_end + 4 + length;
    if reply.len() < total {
        return Ok(None);
    }
    if &reply[head_end + 4..total] != HTTP_BODY {
        return Err("the body is not \"Hello, world!\"".into());
    }
    Ok(Some(total))
}

/// Reads the command line (see the file header).
fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mode = args
        .next()
        .ok_or("usage: netload echo|http ADDR [--conns N] [--size N] [--secs S] [--warmup S]")?;
    let addr = args
        .next()
        .ok_or("missing ADDR")?
        .parse()
        .map_err(|e| format!("ADDR: {e}"))?;
    let (mut conns, mut size, mut secs, mut warmup) = (50, 64, 2.0, 0.5);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--conns" => conns = value.parse().map_err(|e| bad(&e))?,
            "--size" => size = value.parse().map_err(|e| bad(&e))?,
            "--secs" => secs = value.parse().map_err(|e| bad(&e))?,
            "--warmup" => warmup = value.parse().map_err(|e| bad(&e))?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    let mode = match mode.as_str() {
        "echo" if (1..=MAX_RESPONSE).contains(&size) => Mode::Echo(size),
        "echo" => return Err(format!("--size must be 1..={MAX_RESPONSE}")),
        "http" => Mode::Http,
        other => return Err(format!("unknown mode {other:?}: use echo or http")),
    };
    Ok(Args {
        mode,
        addr,
        conns,
        secs,
        warmup,
    })
}

/// What one run measured.
struct Measured {
    /// Ops completed in the measured window.
    ops: u64,
    /// The measured window, in seconds.
    secs: f64,
    /// Ops completed in the whole run, warm-up included.
    total: u64,
}

/// Runs the load.
fn run(args: &Args) -> Result<Measured, String> {
    // Build the request and open every connection.
    let request: Vec<u8> = match args.mode {
        Mode::Echo(size) => (0..size).map(|i| b'a' + (i % 26) as u8).collect(),
        Mode::Http => HTTP_REQUEST.to_vec(),
    };
    let mut poll = Poll::new().map_err(|e| format!("mio Poll: {e}"))?;
    let mut conns = Vec::with_capacity(args.conns);
    for i in 0..args.conns {
        let std = std::net::TcpStream::connect(args.addr)
            .map_err(|e| format!("connect to {}: {e}", args.addr))?;
        std.set_nodelay(true).map_err(|e| e.to_string())?;
        std.set_nonblocking(true).map_err(|e| e.to_string())?;
        let mut stream = TcpStream::from_std(std);
        poll.registry()
            .register(
                &mut stream,
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(|e| format!("register: {e}"))?;
        conns.push(Conn {
            stream,
            phase: Phase::Writing(0),
            buf: Box::new([0; MAX_RESPONSE]),
            filled: 0,
        });
    }
    // Start every connection, then react to readiness until the end.
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(args.warmup);
    let end = measure_from + Duration::from_secs_f64(args.secs);
    let mut measuring = false;
    let mut ops = 0u64;
    let mut warm_up_ops = 0u64;
    let mut last_progress = start;
    for conn in &mut conns {
        ops += conn.drive(&request, args.mode)?;
    }
    let mut events = Events::with_capacity(args.conns.max(1));
    loop {
        let now = Instant::now();
        if !measuring && now >= measure_from {
            measuring = true;
            warm_up_ops = ops;
            ops = 0;
        }
        if now >= end {
            break;
        }
        if now - last_progress > STALL {
            return Err(format!("no reply for {STALL:?}: the server stalled"));
        }
        let next = if measuring { end } else { measure_from };
        poll.poll(&mut events, Some(next - now))
            .map_err(|e| format!("poll: {e}"))?;
        for event in &events {
            let done = conns[event.token().0].drive(&request, args.mode)?;
            if done > 0 {
                ops += done;
                last_progress = now;
            }
        }
    }
    // Careful: measure the window actually run (the last poll may return a little late).
    let secs = (Instant::now() - measure_from).as_secs_f64();
    Ok(Measured {
        ops,
        secs,
        total: warm_up_ops + ops,
    })
}

/// Parses the arguments, runs, prints `ops=<n> secs=<f> total=<n>`.
fn main() -> ExitCode {
    let result = parse_args().and_then(|args| run(&args));
    match result {
        Ok(Measured { ops, secs, total }) => {
            println!("ops={ops} secs={secs:.6} total={total}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("netload: {message}");
            ExitCode::FAILURE
        }
    }
}
