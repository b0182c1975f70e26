//! An HTTP/1.1 server with hyper 1.x on evloop: one task accepts, one task per connection,
//! keep-alive, and three routes that show the loop's rules:
//!
//! - `GET /` answers at once;
//! - `GET /slow` sleeps 100 ms with `evloop::sleep` first: the loop serves others meanwhile,
//!   so two slow requests at once take 100 ms, not 200;
//! - `GET /blocking` does blocking work (a `std::thread::sleep` standing in for a blocking
//!   library call) through `evloop::to_thread`, never on the loop thread: a `GET /` sent
//!   meanwhile is answered first;
//! - `GET /shutdown` stops the server.
//!
//! By default the example is its own client: plain blocking std `TcpStream`s on threads (no
//! HTTP library) send the requests, print the answers, and finally ask for `/shutdown`, so
//! the example ends alone. With `--serve` it prints its address and waits for you instead:
//!
//! ```text
//! cargo run -p evloop --features hyper --example 21_hyper_server -- --serve
//! curl -s http://127.0.0.1:PORT/ http://127.0.0.1:PORT/slow   # two requests, one connection
//! curl -s http://127.0.0.1:PORT/shutdown
//! ```
//!
//! Run: `cargo run -p evloop --features hyper --example 21_hyper_server`

use std::cell::Cell;
use std::convert::Infallible;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use evloop::hyper::{HyperIo, HyperTimer};
use evloop::net::{TcpListener, TcpStream};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};

/// What the connection tasks share.
struct Server {
    /// Set by `GET /shutdown`; the main future waits for it.
    shutdown: evloop::Event,
    /// Connections accepted so far.
    connections: Cell<usize>,
    /// Requests answered so far.
    requests: Cell<usize>,
}

/// The routes.
async fn route(
    request: Request<Incoming>,
    server: Rc<Server>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    server.requests.set(server.requests.get() + 1);
    let (status, body) = match request.uri().path() {
        "/" => (StatusCode::OK, "hello from evloop\n".to_owned()),
        "/slow" => {
            // Awaiting a sleep gives the loop back: other connections are served meanwhile.
            evloop::sleep(Duration::from_millis(100)).await;
            (StatusCode::OK, "slow, after 100 ms\n".to_owned())
        }
        "/blocking" => {
            // Blocking work goes to a thread of the default executor, never on the loop.
            let answer = evloop::to_thread(|| {
                thread::sleep(Duration::from_millis(200));
                42
            })
            .await
            .expect("the blocking job ran");
            (
                StatusCode::OK,
                format!("blocking work on a thread: {answer}\n"),
            )
        }
        "/shutdown" => {
            server.shutdown.set();
            (StatusCode::OK, "bye\n".to_owned())
        }
        _ => (StatusCode::NOT_FOUND, "not found\n".to_owned()),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    Ok(response)
}

/// Accepts forever; each connection is served by a task of its own.
async fn accept_loop(listener: TcpListener, server: Rc<Server>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _peer)) => stream,
            Err(error) => {
                // Out of descriptors, say: the listener backs off; keep going.
                eprintln!("accept failed: {error}");
                continue;
            }
        };
        server.connections.set(server.connections.get() + 1);
        let server = server.clone();
        evloop::spawn(serve_connection(stream, server));
    }
}

/// Serves one connection with hyper's HTTP/1.1 (keep-alive is on by default).
async fn serve_connection(stream: TcpStream, server: Rc<Server>) {
    let service = service_fn(move |request| route(request, server.clone()));
    let connection = http1::Builder::new()
        // hyper's timeouts (a 30 s limit to send a request head) run on the loop's timers.
        .timer(HyperTimer)
        .serve_connection(HyperIo::new(stream).vectored(true), service);
    if let Err(error) = connection.await {
        eprintln!("connection failed: {error}");
    }
}

/// A plain blocking HTTP/1.1 client on one kept-alive connection: writes a request, reads
/// the status line, the headers and `Content-Length` bytes of body.
struct BlockingClient {
    /// The connection, buffered for reading lines.
    reader: BufReader<std::net::TcpStream>,
}

impl BlockingClient {
    /// Connects to `server`.
    fn connect(server: SocketAddr) -> io::Result<BlockingClient> {
        let stream = std::net::TcpStream::connect(server)?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        Ok(BlockingClient {
            reader: BufReader::new(stream),
        })
    }

    /// `GET path`: the status line and the body.
    fn get(&mut self, path: &str) -> io::Result<(String, String)> {
        // Careful: one write per request. `write!` straight to the socket would send the
        // request in pieces, and Nagle's algorithm would hold the last piece back until the
        // server acknowledges the first (tens of milliseconds with delayed ACKs).
        let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
        self.reader.get_mut().write_all(request.as_bytes())?;
        let mut status = String::new();
        self.reader.read_line(&mut status)?;
        let mut length = 0;
        loop {
            let mut header = String::new();
            self.reader.read_line(&mut header)?;
            if header.trim_end().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().map_err(io::Error::other)?;
                }
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        let body = String::from_utf8(body).map_err(io::Error::other)?;
        Ok((status.trim_end().to_owned(), body))
    }
}

/// The example's own client, on threads: prints what it gets, then asks for `/shutdown`.
fn exercise(server: SocketAddr) -> io::Result<()> {
    let started = Instant::now();
    let at = move || format!("{:>4} ms", started.elapsed().as_millis());

    // Three requests on one kept-alive connection.
    let mut client = BlockingClient::connect(server)?;
    for path in ["/", "/slow", "/nowhere"] {
        let (status, body) = client.get(path)?;
        println!("{} GET {path:<10} -> {status}: {}", at(), body.trim_end());
    }

    // Two slow requests on two connections at once: both done after about 100 ms.
    let slow_started = Instant::now();
    let slow: Vec<_> = (0..2)
        .map(|_| thread::spawn(move || BlockingClient::connect(server)?.get("/slow")))
        .collect();
    for request in slow {
        request.join().expect("client thread")?;
    }
    println!(
        "{} two GET /slow at once took {} ms (not 200: the loop awaited both sleeps together)",
        at(),
        slow_started.elapsed().as_millis()
    );

    // A blocking route, and a GET / sent while it runs: the loop answers the GET / first.
    let blocking = thread::spawn(move || BlockingClient::connect(server)?.get("/blocking"));
    thread::sleep(Duration::from_millis(50));
    let (status, body) = BlockingClient::connect(server)?.get("/")?;
    println!(
        "{} GET {:<10} -> {status}: {} (while /blocking runs on a thread)",
        at(),
        "/",
        body.trim_end()
    );
    let (status, body) = blocking.join().expect("client thread")?;
    println!(
        "{} GET {:<10} -> {status}: {}",
        at(),
        "/blocking",
        body.trim_end()
    );

    let (status, body) = client.get("/shutdown")?;
    println!(
        "{} GET {:<10} -> {status}: {}",
        at(),
        "/shutdown",
        body.trim_end()
    );
    Ok(())
}

fn main() -> io::Result<()> {
    let serve_only = std::env::args().any(|arg| arg == "--serve");
    let (connections, requests) = evloop::run(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let server = Rc::new(Server {
            shutdown: evloop::Event::new(),
            connections: Cell::new(0),
            requests: Cell::new(0),
        });
        evloop::spawn(accept_loop(listener, server.clone()));
        if serve_only {
            println!("serving on http://{address}/ (GET /shutdown to stop)");
        } else {
            // The blocking client runs on a thread; the loop serves it meanwhile.
            let client = evloop::to_thread(move || exercise(address));
            evloop::spawn(async move {
                if let Err(error) = client.await.expect("the client thread ran") {
                    eprintln!("client failed: {error}");
                    std::process::exit(1);
                }
            });
        }
        server.shutdown.wait().await;
        Ok::<_, io::Error>((server.connections.get(), server.requests.get()))
    })
    .expect("the loop ran")?;
    println!("served {requests} requests on {connections} connections; the loop is closed");
    Ok(())
}
