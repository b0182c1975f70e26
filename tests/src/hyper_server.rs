//! hyper 1.x on evloop (`evloop::hyper`), against real clients: ureq and curl on other
//! threads, a raw std socket for the slow client.
//!
//! - ureq's requests on one agent get exact statuses and bodies (hello, echo, a 404, a route
//!   that sleeps, a route that uses `to_thread`), all over one kept-alive connection (the
//!   server counts the connections it accepts: 1).
//! - A 4 MiB body goes up and comes back intact (the read path copies through a scratch
//!   buffer, in pieces of at most 256 KiB).
//! - curl (when it is on PATH; otherwise the test prints a note and passes) gets the same
//!   bodies, two URLs of one invocation over one connection.
//! - `header_read_timeout` fires through `HyperTimer`: a client that sends half a request
//!   head is disconnected after the timeout (not before, not much after), the connection
//!   reports hyper's header timeout error, and a full request on a fresh connection is still
//!   served.
//! - A handler that panics fails its connection only: the loop reports the panic to its
//!   exception handler once and serves the next request.
//! - Every test counts threads and descriptors before and after: nothing leaks.
//!
//! The server here (`TestServer`) is shared with S6 in `scenarios_net.rs`.

use std::cell::{Cell, RefCell};
use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use evloop::hyper::{HyperIo, HyperTimer};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};

use crate::util::{exclusive, record_exception_texts, Occupancy, Resources, BUDGET};
use evloop::net::{TcpListener, TcpStream};

/// How long `/slow` sleeps by default.
const SLOW: Duration = Duration::from_millis(30);

/// What a [`TestServer`] does besides its routes.
#[derive(Clone)]
pub struct ServerOptions {
    /// How long `/slow` sleeps.
    pub slow: Duration,
    /// hyper's `header_read_timeout` (`None`: hyper's default of 30 s).
    pub header_read_timeout: Option<Duration>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            slow: SLOW,
            header_read_timeout: None,
        }
    }
}

/// What the server's tasks share: counters the tests read.
#[derive(Default)]
struct ServerState {
    /// Connections accepted so far.
    accepted: Cell<usize>,
    /// Requests inside a handler now, their peak and total.
    in_flight: Occupancy,
    /// The error text of every connection that ended in an error, in order.
    connection_errors: RefCell<Vec<String>>,
}

/// An HTTP/1.1 server on the running loop: an accept task, one task per connection.
///
/// Routes: `GET /` hello; `POST /echo` the body back; `GET /slow` after sleeping;
/// `GET /blocking` a value computed by `to_thread`; `GET /panic` panics; anything else 404.
pub struct TestServer {
    /// Where it listens (127.0.0.1, port chosen by the OS).
    pub addr: SocketAddr,
    /// The counters, shared with the accept task (which runs until the loop closes) and the
    /// connection tasks.
    state: Rc<ServerState>,
}

impl TestServer {
    /// Binds 127.0.0.1:0 and starts accepting.
    pub async fn start(options: ServerOptions) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Rc::new(ServerState::default());
        let shared = state.clone();
        evloop::spawn(async move {
            loop {
                let (stream, _peer) = listener.accept().await.unwrap();
                shared.accepted.set(shared.accepted.get() + 1);
                let (state, options) = (shared.clone(), options.clone());
                evloop::spawn(serve_connection(stream, state, options));
            }
        });
        TestServer { addr, state }
    }

    /// `http://127.0.0.1:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.state.accepted.get()
    }

    /// Requests inside a handler: now, peak, total.
    pub fn in_flight(&self) -> &Occupancy {
        &self.state.in_flight
    }

    /// The error texts of connections that failed, in order.
    pub fn connection_errors(&self) -> Vec<String> {
        self.state.connection_errors.borrow().clone()
    }
}

/// Serves one connection with hyper's HTTP/1 and records how it ended.
async fn serve_connection(stream: TcpStream, state: Rc<ServerState>, options: ServerOptions) {
    let mut builder = http1::Builder::new();
    builder.timer(HyperTimer);
    if let Some(timeout) = options.header_read_timeout {
        builder.header_read_timeout(timeout);
    }
    let service_state = state.clone();
    let service = service_fn(move |request| route(request, service_state.clone(), options.slow));
    if let Err(error) = builder
        .serve_connection(HyperIo::new(stream).vectored(true), service)
        .await
    {
        state.connection_errors.borrow_mut().push(error.to_string());
    }
}

/// A response with `status` and `body`.
fn respond(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}

/// The routes of [`TestServer`].
async fn route(
    request: Request<Incoming>,
    state: Rc<ServerState>,
    slow: Duration,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let _inside = state.in_flight.enter();
    let response = match (request.method(), request.uri().path()) {
        (&Method::GET, "/") => respond(StatusCode::OK, "hello from evloop\n"),
        (&Method::POST, "/echo") => {
            let body = request.into_body().collect().await.unwrap().to_bytes();
            respond(StatusCode::OK, body)
        }
        (&Method::GET, "/slow") => {
            evloop::sleep(slow).await;
            respond(StatusCode::OK, "slow\n")
        }
        (&Method::GET, "/blocking") => {
            // Blocking work goes to a thread; the loop keeps serving meanwhile.
            let sum = evloop::to_thread(|| {
                std::thread::sleep(Duration::from_millis(10));
                (1..=100u32).sum::<u32>()
            })
            .await
            .unwrap();
            respond(StatusCode::OK, format!("sum {sum}\n"))
        }
        (&Method::GET, "/panic") => panic!("the /panic handler panicked on purpose"),
        _ => respond(StatusCode::NOT_FOUND, "not found\n"),
    };
    Ok(response)
}

/// A ureq agent that keeps connections alive, reports 4xx/5xx as responses, and gives up
/// after a few seconds.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into()
}

/// GET `url` with `agent`: status and body.
fn get(agent: &ureq::Agent, url: &str) -> Result<(u16, String), ureq::Error> {
    let mut response = agent.get(url).call()?;
    let body = response.body_mut().read_to_string()?;
    Ok((response.status().as_u16(), body))
}

/// POST `body` to `url` with `agent`: status and body.
fn post(agent: &ureq::Agent, url: &str, body: &str) -> Result<(u16, String), ureq::Error> {
    let mut response = agent.post(url).send(body)?;
    let body = response.body_mut().read_to_string()?;
    Ok((response.status().as_u16(), body))
}

#[test]
fn ureq_gets_exact_statuses_and_bodies_over_one_kept_alive_connection() {
    exclusive(BUDGET, || {
        let before = Resources::now();
        let (answers, accepted, handled) = evloop::run(async {
            let server = TestServer::start(ServerOptions::default()).await;
            let urls = ["/", "/echo", "/missing", "/slow", "/blocking", "/"].map(|p| server.url(p));
            let answers = evloop::to_thread(move || {
                let agent = agent();
                urls.iter()
                    .map(|url| match url.ends_with("/echo") {
                        true => post(&agent, url, "ping from ureq").unwrap(),
                        false => get(&agent, url).unwrap(),
                    })
                    .collect::<Vec<_>>()
            })
            .await
            .unwrap();
            (answers, server.accepted(), server.in_flight().entries())
        })
        .unwrap();
        let expected = [
            (200, "hello from evloop\n"),
            (200, "ping from ureq"),
            (404, "not found\n"),
            (200, "slow\n"),
            (200, "sum 5050\n"),
            (200, "hello from evloop\n"),
        ]
        .map(|(status, body)| (status, body.to_owned()));
        assert_eq!(answers, expected);
        assert_eq!(accepted, 1, "six requests, one kept-alive connection");
        assert_eq!(handled, 6);
        before.assert_back_to("the hyper server and its ureq client");
    });
}

#[test]
fn a_4_mib_body_passes_through_intact_both_ways() {
    exclusive(BUDGET, || {
        // A pattern with no short period, so a lost, repeated or reordered chunk shows.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let sent: Vec<u8> = (0..4 << 20)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                b'a' + (state % 26) as u8
            })
            .collect();
        let before = Resources::now();
        let expected = sent.clone();
        let echoed = evloop::run(async {
            let server = TestServer::start(ServerOptions::default()).await;
            let url = server.url("/echo");
            evloop::to_thread(move || {
                let body = String::from_utf8(sent).unwrap();
                let mut response = agent().post(&url).send(&body).unwrap();
                assert_eq!(response.status().as_u16(), 200);
                response
                    .body_mut()
                    .with_config()
                    .limit(8 << 20)
                    .read_to_vec()
                    .unwrap()
            })
            .await
            .unwrap()
        })
        .unwrap();
        assert_eq!(echoed.len(), expected.len());
        assert!(echoed == expected, "the echoed body differs");
        before.assert_back_to("the hyper server after a 4 MiB echo");
    });
}

#[test]
fn curl_gets_the_same_bodies_and_reuses_its_connection() {
    exclusive(BUDGET, || {
        if std::process::Command::new("curl")
            .arg("--version")
            .output()
            .is_err()
        {
            println!("note: curl is not on PATH; the curl test checks nothing here");
            return;
        }
        let before = Resources::now();
        let (outputs, accepted) = evloop::run(async {
            let server = TestServer::start(ServerOptions::default()).await;
            let (hello, slow, echo) = (server.url("/"), server.url("/slow"), server.url("/echo"));
            let outputs = evloop::to_thread(move || {
                let curl = |args: &[&str]| {
                    let out = std::process::Command::new("curl")
                        .args(["-s", "--max-time", "5"])
                        .args(args)
                        .output()
                        .unwrap();
                    assert!(out.status.success(), "curl {args:?}: {out:?}");
                    String::from_utf8(out.stdout).unwrap()
                };
                // Two URLs in one invocation: curl keeps the connection for the second.
                let two = curl(&[&hello, &slow]);
                let echoed = curl(&["-d", "ping from curl", &echo]);
                (two, echoed)
            })
            .await
            .unwrap();
            (outputs, server.accepted())
        })
        .unwrap();
        assert_eq!(outputs.0, "hello from evloop\nslow\n");
        assert_eq!(outputs.1, "ping from curl");
        assert_eq!(accepted, 2, "one connection per curl invocation");
        before.assert_back_to("the hyper server and curl");
    });
}

#[test]
fn header_read_timeout_fires_through_hyper_timer_and_closes_a_slow_client() {
    exclusive(BUDGET, || {
        const TIMEOUT: Duration = Duration::from_millis(200);
        let before = Resources::now();
        let (waited, got, errors, answer) = evloop::run(async {
            let server = TestServer::start(ServerOptions {
                header_read_timeout: Some(TIMEOUT),
                ..ServerOptions::default()
            })
            .await;
            let (addr, url) = (server.addr, server.url("/"));
            let (waited, got, answer) = evloop::to_thread(move || {
                // Half a request head, then wait for the server to hang up.
                let mut slow = std::net::TcpStream::connect(addr).unwrap();
                slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let start = Instant::now();
                slow.write_all(b"GET / HTTP/1.1\r\nHost: evloop\r\n")
                    .unwrap();
                let mut got = Vec::new();
                slow.read_to_end(&mut got).unwrap();
                let waited = start.elapsed();
                // A whole request on a fresh connection is served as usual.
                let answer = get(&agent(), &url).unwrap();
                (waited, got, answer)
            })
            .await
            .unwrap();
            (waited, got, server.connection_errors(), answer)
        })
        .unwrap();
        assert!(got.is_empty(), "no response, just the close: {got:?}");
        assert!(
            waited >= TIMEOUT - Duration::from_millis(5) && waited < TIMEOUT * 5,
            "closed after {waited:?}, the timeout is {TIMEOUT:?}"
        );
        assert_eq!(errors, ["read header from client timeout"]);
        assert_eq!(answer, (200, "hello from evloop\n".to_owned()));
        before.assert_back_to("the hyper server with a header timeout");
    });
}

#[test]
fn a_panicking_handler_fails_its_connection_and_the_next_request_is_served() {
    exclusive(BUDGET, || {
        let before = Resources::now();
        let (first, second, accepted, reports) = evloop::run(async {
            let reports = record_exception_texts(&evloop::get_running_loop().unwrap());
            let server = TestServer::start(ServerOptions::default()).await;
            let (panic, hello) = (server.url("/panic"), server.url("/"));
            let (first, second) = evloop::to_thread(move || {
                let agent = agent();
                let first = get(&agent, &panic).map_err(|error| error.to_string());
                (first, get(&agent, &hello).unwrap())
            })
            .await
            .unwrap();
            let reports = reports.borrow().clone();
            (first, second, server.accepted(), reports)
        })
        .unwrap();
        assert!(first.is_err(), "the panicking request got {first:?}");
        assert_eq!(second, (200, "hello from evloop\n".to_owned()));
        assert_eq!(accepted, 2, "the failed connection, then a fresh one");
        assert_eq!(reports.len(), 1, "{reports:?}");
        assert!(
            reports[0].contains("the /panic handler panicked on purpose"),
            "{reports:?}"
        );
        before.assert_back_to("the hyper server after a handler panic");
    });
}
