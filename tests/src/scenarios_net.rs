//! The scenarios of shared/SCENARIOS.md that need the network (the runnable version of S6 is
//! `runtime/examples/16_semaphore_limit_s6.rs`).
//!
//! - S6, a `Semaphore` in front of real HTTP: 600 requests to the hyper server of
//!   `hyper_server.rs` (its `/slow` handler sleeps and counts the requests inside it), each
//!   made by hyper's client on its own `TcpStream` while holding a permit of a
//!   `Semaphore(500)`. The peak concurrency is exactly 500 on both sides (client tasks under
//!   the semaphore, requests inside the server's handler), every request gets `200` and its
//!   body, and the process holds as many descriptors afterwards as before. 500 connections
//!   use about 1000 descriptors (both ends live in this process), so the test raises a soft
//!   `RLIMIT_NOFILE` below 2048 to min(hard, 4096) first, and says so and checks nothing if
//!   the hard limit is too low.

use std::time::{Duration, Instant};

use bytes::Bytes;
use evloop::hyper::HyperIo;
use http_body_util::{BodyExt, Empty};
use hyper::{Request, StatusCode};
use rlimit::Resource;

use crate::hyper_server::{ServerOptions, TestServer};
use crate::util::{exclusive, Occupancy, Resources, BUDGET};
use evloop::net::TcpStream;

/// The requests of S6.
const REQUESTS: usize = 600;
/// The semaphore's permits.
const PERMITS: usize = 500;
/// How long the server's handler sleeps: long enough that all 500 requests of the first wave
/// are inside it before the first one is answered (in a debug build the 500th enters 7 to
/// 15 ms after the first).
const HANDLER_SLEEP: Duration = Duration::from_millis(100);
/// The descriptors S6 wants: two ends per connection, plus the test binary's own.
const FDS_WANTED: u64 = 2048;

/// Raises the soft descriptor limit to min(hard, 4096) if it is below [`FDS_WANTED`].
/// `false` if the hard limit does not allow it.
fn enough_descriptors() -> bool {
    let (soft, hard) = Resource::NOFILE.get().expect("getrlimit(RLIMIT_NOFILE)");
    if soft >= FDS_WANTED {
        return true;
    }
    if hard < FDS_WANTED {
        return false;
    }
    Resource::NOFILE
        .set(hard.min(4096), hard)
        .expect("setrlimit(RLIMIT_NOFILE)");
    true
}

/// One request of S6: a fresh connection, `GET /slow` with hyper's client, the whole body,
/// and the connection closed before returning.
async fn get_slow(server: std::net::SocketAddr) -> (StatusCode, Bytes) {
    let stream = TcpStream::connect(server).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(HyperIo::new(stream).vectored(true))
            .await
            .unwrap();
    let connection = evloop::spawn(connection);
    let request = Request::get("/slow")
        .header(hyper::header::HOST, server.to_string())
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    // No more requests: the connection task ends and closes the socket.
    drop(sender);
    connection.await.unwrap().unwrap();
    (status, body)
}

#[test]
fn s6_six_hundred_http_requests_under_a_semaphore_of_500_peak_at_exactly_500_on_both_sides() {
    exclusive(BUDGET, || {
        if !enough_descriptors() {
            println!(
                "note: S6 needs {FDS_WANTED} file descriptors and the hard RLIMIT_NOFILE is \
                 lower; the test checks nothing here (raise it with `ulimit -Hn`)"
            );
            return;
        }
        let before = Resources::now();
        let started = Instant::now();
        let (answers, client_peak, server_peak, server_handled, accepted) = evloop::run(async {
            let server = TestServer::start(ServerOptions {
                slow: HANDLER_SLEEP,
                ..ServerOptions::default()
            })
            .await;
            let addr = server.addr;
            let limit = evloop::Semaphore::new(PERMITS);
            let client = Occupancy::default();
            let requests = (0..REQUESTS).map(|_| {
                let (limit, client) = (limit.clone(), client.clone());
                async move {
                    let _permit = limit.acquire().await;
                    let _inside = client.enter();
                    get_slow(addr).await
                }
            });
            let answers = evloop::gather(requests).await.unwrap();
            let in_flight = server.in_flight();
            (
                answers,
                client.peak(),
                in_flight.peak(),
                in_flight.entries(),
                server.accepted(),
            )
        })
        .unwrap();
        let took = started.elapsed();
        assert_eq!(answers.len(), REQUESTS);
        for (i, (status, body)) in answers.iter().enumerate() {
            assert_eq!(*status, StatusCode::OK, "request {i}");
            assert_eq!(body, "slow\n", "request {i}");
        }
        assert_eq!(client_peak, PERMITS, "requests at once, client side");
        assert_eq!(server_peak, PERMITS, "requests at once inside the handler");
        assert_eq!(server_handled, REQUESTS);
        assert_eq!(accepted, REQUESTS, "one connection per request");
        // Two waves of HANDLER_SLEEP, not 600 of them.
        assert!(took < HANDLER_SLEEP * 12, "took {took:?}");
        println!("S6: {REQUESTS} requests, peak {client_peak}/{server_peak}, took {took:?}");
        before.assert_back_to("S6's 600 connections");
    });
}
