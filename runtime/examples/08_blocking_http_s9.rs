//! Scenario S9: twenty blocking HTTP GETs, made with a real blocking client (std's
//! `TcpStream`, one request per connection) against a local server, each run with
//! `evloop::to_thread`, handled in completion order while the loop stays responsive.
//!
//! The server answers `/delay/N` after N milliseconds, so the replies finish out of order.
//! Each request is a task: it awaits its `to_thread` job and records the reply as soon as it
//! arrives. (The `as_completed` combinator comes with the toolkit issue; a task per request
//! does the same job.) A heartbeat counts loop ticks meanwhile. The default executor has
//! min(32, cores + 4) threads (Python's rule), so on a small machine the requests run a few at
//! a time: an exhausted default pool is a classic asyncio surprise, and the example says so.
//!
//! Run: `cargo run -p evloop --example 08_blocking_http_s9`

use std::cell::{Cell, RefCell};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::thread;
use std::time::{Duration, Instant};

/// A tiny HTTP/1.1 server on a background thread: `GET /delay/N` answers `done after N ms`.
fn start_server() -> io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || {
                let _ = serve(stream);
            });
        }
    });
    Ok(address)
}

/// Answers one request on `stream`.
fn serve(mut stream: TcpStream) -> io::Result<()> {
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Careful: read the headers too; closing a socket with unread input resets it.
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let millis: u64 = path.trim_start_matches("/delay/").parse().unwrap_or(0);
    thread::sleep(Duration::from_millis(millis));
    let body = format!("done after {millis} ms");
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

// ANCHOR: http_get
/// A blocking HTTP GET: connect, send, read the whole reply. Never call this on the loop.
fn http_get(address: SocketAddr, path: &str) -> io::Result<String> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    let body = reply.split("\r\n\r\n").nth(1).unwrap_or_default();
    Ok(body.to_owned())
}
// ANCHOR_END: http_get

fn main() -> io::Result<()> {
    let address = start_server()?;
    let started = Instant::now();
    // ANCHOR: s9
    let (arrivals, ticks, workers) = evloop::run(async move {
        let arrivals = Rc::new(RefCell::new(Vec::new()));
        let ticks = Rc::new(Cell::new(0u32));
        let heartbeat = evloop::spawn({
            let ticks = ticks.clone();
            async move {
                loop {
                    evloop::sleep(Duration::from_millis(10)).await;
                    ticks.set(ticks.get() + 1);
                }
            }
        });
        // Twenty requests with delays that finish out of order.
        let requests: Vec<_> = (0..20u64)
            .map(|i| {
                let arrivals = arrivals.clone();
                let path = format!("/delay/{}", 50 + (i * 37) % 200);
                evloop::spawn(async move {
                    let body = evloop::to_thread(move || http_get(address, &path)).await;
                    // Handled here, on the loop, as soon as this one completes.
                    arrivals
                        .borrow_mut()
                        .push((i, body.expect("the job ran").expect("a reply")));
                })
            })
            .collect();
        for request in requests {
            request.await.expect("a request task");
        }
        heartbeat.cancel();
        let arrivals = arrivals.take();
        let workers = evloop::get_running_loop()
            .unwrap()
            .default_executor()
            .max_workers();
        (arrivals, ticks.get(), workers)
    })
    .expect("run");
    // ANCHOR_END: s9
    for (i, body) in &arrivals {
        println!("request {i:2}: {body}");
    }
    println!(
        "{} replies in completion order in {:.0} ms; the heartbeat ticked {ticks} times meanwhile",
        arrivals.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    println!(
        "(the default executor runs {workers} threads here, min(32, cores + 4): the other \
         requests waited in its queue; give the loop a bigger one with \
         Builder::default_executor_max_workers)"
    );
    Ok(())
}
