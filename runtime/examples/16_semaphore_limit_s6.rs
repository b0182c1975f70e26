//! Scenario S6: 600 HTTP requests to a local server, at most 500 at once. A
//! `Semaphore(500)` guards each request; `gather` runs all 600 and returns their answers in
//! the order given. The peak concurrency is measured on both sides: exactly 500 requests are
//! ever open at once in the client, and exactly 500 are ever inside the server's handler, so
//! neither the server nor the process's file-descriptor limit ever sees more.
//!
//! The server is this same program started again with `--server`, in a process of its own
//! (as a real server would be): an HTTP/1.1 server with hyper on evloop that answers
//! `GET /work` after 100 ms and counts the requests inside its handler. Each request of the
//! client is hyper's HTTP/1 client on a fresh `evloop::net::TcpStream`, closed when the
//! answer is in. With the server elsewhere each process holds about 500 sockets at the peak,
//! under the usual limit of 1024 descriptors.
//!
//! Run: `cargo run -p evloop --features hyper --example 16_semaphore_limit_s6`

use std::cell::Cell;
use std::convert::Infallible;
use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use evloop::hyper::{HyperIo, HyperTimer};
use evloop::net::{TcpListener, TcpStream};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};

/// The open file descriptors of this process (Linux; 0 elsewhere).
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count())
}

/// Sections open at once and their peak (requests in flight).
#[derive(Default)]
struct InFlight {
    /// Open now.
    now: Cell<usize>,
    /// The most ever open at once.
    peak: Cell<usize>,
}

impl InFlight {
    /// Runs `future` as one open section.
    async fn count<T>(&self, future: impl std::future::Future<Output = T>) -> T {
        self.now.set(self.now.get() + 1);
        self.peak.set(self.peak.get().max(self.now.get()));
        let value = future.await;
        self.now.set(self.now.get() - 1);
        value
    }
}

/// The server process: prints its address, answers `/work` after 100 ms, `/peak` with the
/// most requests it ever had inside `/work` at once, and `/shutdown` by exiting.
fn server() -> io::Result<()> {
    evloop::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        println!("{}", listener.local_addr()?);
        let in_flight = Rc::new(InFlight::default());
        let shutdown = evloop::Event::new();
        let stop = shutdown.clone();
        evloop::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue; // out of descriptors: the listener backs off, try again
                };
                evloop::spawn(serve(stream, in_flight.clone(), shutdown.clone()));
            }
        });
        stop.wait().await; // `run` then cancels the accept loop and the connections
        Ok(())
    })
    .expect("the server loop ran")
}

/// Serves one connection of the server process.
async fn serve(stream: TcpStream, in_flight: Rc<InFlight>, shutdown: evloop::Event) {
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let (in_flight, shutdown) = (in_flight.clone(), shutdown.clone());
        async move {
            let body = match request.uri().path() {
                "/work" => {
                    in_flight
                        .count(evloop::sleep(Duration::from_millis(100)))
                        .await;
                    "done".to_owned()
                }
                "/peak" => in_flight.peak.get().to_string(),
                _ => {
                    shutdown.set();
                    "bye".to_owned()
                }
            };
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(HyperTimer)
        .serve_connection(HyperIo::new(stream).vectored(true), service)
        .await;
}

/// One request: a fresh connection, `GET path`, the whole body, the connection closed.
async fn get(server: SocketAddr, path: &str) -> io::Result<(u16, String)> {
    let stream = TcpStream::connect(server).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(HyperIo::new(stream).vectored(true))
            .await
            .map_err(io::Error::other)?;
    let connection = evloop::spawn(connection);
    let request = Request::get(path)
        .header(hyper::header::HOST, server.to_string())
        .body(Empty::<Bytes>::new())
        .expect("a valid request");
    let response = sender
        .send_request(request)
        .await
        .map_err(io::Error::other)?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(io::Error::other)?;
    drop(sender); // no more requests: the connection task ends and closes the socket
    let _ = connection.await;
    Ok((
        status,
        String::from_utf8_lossy(&body.to_bytes()).into_owned(),
    ))
}

fn main() -> io::Result<()> {
    if std::env::args().any(|arg| arg == "--server") {
        return server();
    }
    // Start the server process and read its address.
    let mut child = Command::new(std::env::current_exe()?)
        .arg("--server")
        .stdout(Stdio::piped())
        .spawn()?;
    let mut address = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut address)?;
    let server: SocketAddr = address.trim().parse().map_err(io::Error::other)?;

    let fds_before = open_fds();
    let started = Instant::now();
    let (answers, peak, fds_at_peak, server_peak) = evloop::run(async move {
        let limit = evloop::Semaphore::new(500);
        let in_flight = Rc::new(InFlight::default());
        let fds_at_peak = Rc::new(Cell::new(0));
        let requests = (0..600).map(|_| {
            let (limit, in_flight, fds_at_peak) =
                (limit.clone(), in_flight.clone(), fds_at_peak.clone());
            async move {
                let _permit = limit.acquire().await; // the 501st waits here for a permit
                in_flight
                    .count(async {
                        fds_at_peak.set(fds_at_peak.get().max(open_fds()));
                        get(server, "/work").await
                    })
                    .await
            } // the permit goes back here, straight to the oldest waiting request
        });
        let answers = evloop::gather(requests).await.expect("no request panics");
        let server_peak = get(server, "/peak").await.map(|(_, body)| body);
        let _ = get(server, "/shutdown").await;
        (
            answers,
            in_flight.peak.get(),
            fds_at_peak.get(),
            server_peak,
        )
    })
    .expect("the client loop ran");
    child.wait()?;

    let ok = answers
        .iter()
        .filter(|answer| matches!(answer, Ok((200, body)) if body == "done"))
        .count();
    let server_peak = server_peak?;
    println!("{} requests, {ok} answered 200 \"done\"", answers.len());
    println!("peak concurrency: {peak} in the client, {server_peak} in the server's handler (the semaphore has 500 permits)");
    println!(
        "file descriptors: {fds_before} before, at most {fds_at_peak} during, {} after",
        open_fds()
    );
    println!(
        "took {:?}: two waves of about 100 ms, not 600 requests one after another",
        started.elapsed()
    );
    assert_eq!((ok, peak), (600, 500));
    assert_eq!(server_peak, "500");
    Ok(())
}
