//! Scenarios S7 and S9 of `shared/SCENARIOS.md` (runnable versions:
//! `runtime/examples/06_thread_pool_s7.rs` and `08_blocking_http_s9.rs`; S8 is in
//! `executor.rs`).
//!
//! - S7: five blocking sleeps of 1..5 units in a pool of five workers, awaited together,
//!   overlap (about 5 units, not 15) and come back in the order given, while a heartbeat on
//!   the loop keeps ticking.
//! - S9: twenty blocking HTTP GETs with a real blocking client (std's `TcpStream`) against a
//!   local server, each through `to_thread`: all twenty arrive, each handled when its job
//!   completes (the handling order is the jobs' completion order), and the loop stays
//!   responsive (a 5 ms heartbeat keeps ticking).

use std::cell::{Cell, RefCell};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::thread;
use std::time::{Duration, Instant};

use evloop::pools::ThreadPool;

use crate::util::{deadline, BUDGET, UNIT};

#[test]
fn s7_blocking_sleeps_in_a_pool_of_five_overlap_and_keep_their_order() {
    deadline(BUDGET, || {
        let pool = ThreadPool::builder().max_workers(5).build();
        let started = Instant::now();
        let (results, beats) = evloop::run(async {
            let lp = evloop::get_running_loop().unwrap();
            let beats = Rc::new(Cell::new(0));
            let heartbeat = evloop::spawn({
                let beats = beats.clone();
                async move {
                    loop {
                        evloop::sleep(UNIT / 2).await;
                        beats.set(beats.get() + 1);
                    }
                }
            });
            let jobs: Vec<_> = (1..=5u32)
                .map(|units| {
                    lp.run_in_executor(&pool, move || {
                        thread::sleep(UNIT * units);
                        units
                    })
                })
                .collect();
            let mut results = Vec::new();
            for job in jobs {
                results.push(job.await.unwrap());
            }
            heartbeat.cancel();
            (results, beats.get())
        })
        .unwrap();
        let elapsed = started.elapsed();
        assert_eq!(results, [1, 2, 3, 4, 5]);
        assert!(elapsed >= UNIT * 5);
        assert!(
            elapsed < UNIT * 12,
            "the sleeps did not overlap: {elapsed:?}"
        );
        assert!(
            beats >= 5,
            "the heartbeat stalled: {beats} beats in {elapsed:?}"
        );
        assert_eq!(pool.counters().completed, 5);
    });
}

/// A local HTTP/1.1 server on background threads: `GET /delay/N` answers after N ms.
/// It serves `requests` connections, one thread each, then joins them and ends.
fn start_server(requests: usize) -> (SocketAddr, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let connections: Vec<_> = listener
            .incoming()
            .take(requests)
            .flatten()
            .map(|stream| thread::spawn(move || serve(stream)))
            .collect();
        for connection in connections {
            connection.join().unwrap().unwrap();
        }
    });
    (address, server)
}

/// Answers one request (after reading all of it: closing with unread input resets).
fn serve(mut stream: TcpStream) -> io::Result<()> {
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let millis: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|path| path.strip_prefix("/delay/")?.parse().ok())
        .unwrap_or(0);
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    thread::sleep(Duration::from_millis(millis));
    let body = format!("after {millis}");
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// A blocking GET; returns the status line and the body.
fn http_get(address: SocketAddr, path: &str) -> io::Result<(String, String)> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    let status = head.lines().next().unwrap_or_default().to_owned();
    Ok((status, body.to_owned()))
}

#[test]
fn s9_twenty_blocking_gets_through_to_thread_arrive_in_completion_order() {
    deadline(BUDGET, || {
        let (address, server) = start_server(20);
        let lp = evloop::EventLoop::builder()
            .default_executor_max_workers(20)
            .build()
            .unwrap();
        let (arrivals, ticks, elapsed) = lp
            .run_until_complete(async move {
                let started = Instant::now();
                let arrivals = Rc::new(RefCell::new(Vec::new()));
                let ticks = Rc::new(Cell::new(0u32));
                let heartbeat = evloop::spawn({
                    let ticks = ticks.clone();
                    async move {
                        loop {
                            evloop::sleep(Duration::from_millis(5)).await;
                            ticks.set(ticks.get() + 1);
                        }
                    }
                });
                let requests: Vec<_> = (0..20u64)
                    .map(|i| {
                        let arrivals = arrivals.clone();
                        // Delays 20..220 ms in a scrambled order.
                        let millis = 20 + (i * 37) % 200;
                        evloop::spawn(async move {
                            let reply = evloop::to_thread(move || {
                                let reply = http_get(address, &format!("/delay/{millis}"));
                                (reply, Instant::now())
                            })
                            .await
                            .unwrap();
                            let ((status, body), finished) = (reply.0.unwrap(), reply.1);
                            arrivals
                                .borrow_mut()
                                .push((i, millis, status, body, finished));
                        })
                    })
                    .collect();
                for request in requests {
                    request.await.unwrap();
                }
                heartbeat.cancel();
                let arrivals = arrivals.take();
                (arrivals, ticks.get(), started.elapsed())
            })
            .unwrap();
        lp.close().unwrap();
        server.join().unwrap();
        assert_eq!(arrivals.len(), 20, "every request arrived");
        let mut ids: Vec<u64> = arrivals.iter().map(|a| a.0).collect();
        ids.sort_unstable();
        assert_eq!(ids, (0..20).collect::<Vec<_>>(), "each exactly once");
        for (_, millis, status, body, _) in &arrivals {
            assert_eq!(status, "HTTP/1.1 200 OK");
            assert_eq!(body, &format!("after {millis}"));
        }
        // Handled in completion order: each job finished no later than the next handled one.
        for pair in arrivals.windows(2) {
            assert!(pair[0].4 <= pair[1].4, "handled out of completion order");
        }
        // Twenty concurrent requests: about the longest delay (220 ms), not their sum (2.4 s).
        assert!(
            elapsed < Duration::from_millis(1500),
            "requests did not overlap: {elapsed:?}"
        );
        // The loop stayed responsive: a 5 ms heartbeat ticked through the ~220 ms.
        assert!(
            ticks >= 10,
            "the loop stalled: {ticks} ticks in {elapsed:?}"
        );
    });
}
