//! The hyper 1.x adapter: run hyper's HTTP/1 (and HTTP/2) connections on an evloop loop.
//!
//! hyper is an HTTP library without a runtime. It asks whoever drives it for three things,
//! through the traits of `hyper::rt`, and this module gives them from evloop:
//!
//! | hyper asks for | trait | evloop gives | file |
//! |---|---|---|---|
//! | bytes in and out | `rt::Read`, `rt::Write` | [`HyperIo`], around any `futures_io::AsyncRead + AsyncWrite` (so [`net::TcpStream`](crate::net::TcpStream), [`net::UnixStream`](crate::net::UnixStream), their halves) | `io.rs` |
//! | timeouts (header read, keep-alive, HTTP/2 pings) | `rt::Timer`, `rt::Sleep` | [`HyperTimer`], whose sleeps are the loop's own timers | `timer.rs` |
//! | background tasks (HTTP/2 streams, upgrades) | `rt::Executor` | [`HyperExecutor`], which spawns on the running loop | `exec.rs` |
//!
//! Everything runs on the loop's thread: a connection is a task like any other, so a server
//! accepts in one task and spawns one task per connection, and a handler that must block
//! hands its work to [`to_thread`](crate::to_thread) (the rule asyncio teaches: never block
//! the loop).
//!
//! ```no_run
//! use std::convert::Infallible;
//!
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use hyper::{body::Incoming, service::service_fn, Request, Response};
//! use evloop::hyper::{HyperIo, HyperTimer};
//!
//! async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
//!     Ok(Response::new(Full::new(Bytes::from("hello from evloop\n"))))
//! }
//!
//! evloop::run(async {
//!     let listener = evloop::net::TcpListener::bind("127.0.0.1:8080").await?;
//!     loop {
//!         let (stream, _peer) = listener.accept().await?;
//!         evloop::spawn(async move {
//!             let served = hyper::server::conn::http1::Builder::new()
//!                 .timer(HyperTimer)
//!                 .serve_connection(HyperIo::new(stream), service_fn(hello))
//!                 .await;
//!             if let Err(error) = served {
//!                 eprintln!("connection failed: {error}");
//!             }
//!         });
//!     }
//!     #[allow(unreachable_code)]
//!     Ok::<(), std::io::Error>(())
//! })
//! .unwrap()
//! .unwrap();
//! ```
//!
//! ## What hyper's `Send` bounds mean here
//!
//! The loop is single-threaded and its I/O types are `!Send`; hyper 1.x is fine with that.
//! `http1::Builder::serve_connection` and `client::conn::http1::handshake` ask nothing of
//! `Send`, and the HTTP/2 builders take any `Executor` for the future types they spawn
//! (hyper's `Http2ServerConnExec` has no `Send` bound: a `!Send` executor such as
//! [`HyperExecutor`] is enough). The one place hyper insists on `Send + Sync` is the timer
//! (`Builder::timer` stores an `Arc<dyn Timer + Send + Sync>`, and `rt::Sleep: Send + Sync`):
//! see `timer.rs` for why evloop's sleeps already are.
//!
//! This module is behind the `hyper` cargo feature (off by default) and depends only on
//! hyper's runtime traits; enable hyper's own `server` / `client` / `http1` / `http2`
//! features in your crate for the protocol side.

mod exec;
mod io;
mod timer;

pub use exec::HyperExecutor;
pub use io::HyperIo;
pub use timer::HyperTimer;
