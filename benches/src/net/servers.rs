//! Server lifecycles: one thread per server, one accept loop per runtime, clean shutdown.
//!
//! Each function here binds a listener on `127.0.0.1:0` on a new thread, reports the address,
//! accepts connections until asked to stop, and spawns `handler(stream)` as a task per
//! connection (after turning Nagle off: every contender and the client use `TCP_NODELAY`).
//! The returned [`Server`]'s shutdown stops the accept loop, drops the runtime with every
//! connection task still in it, and joins the thread, so no server outlives its run.
//!
//! What a connection does is the caller's (`echo.rs`, `http.rs`); how each runtime is driven
//! is here:
//! - tokio: a current_thread runtime with only the I/O driver, `tokio::spawn` per
//!   connection, stopped by a `oneshot` raced against the accept loop;
//! - smol: a `LocalExecutor` run under `smol::block_on` (which drives async-io's reactor on
//!   this thread), stopped by closing a channel raced against the accept loop;
//! - evloop: a `LoopThread` (the loop on its own thread), the accept loop started with
//!   `spawn_threadsafe_with`, `evloop::spawn` per connection; `LoopThread::stop` stops the
//!   loop, closes it (cancelling every task) and joins the thread.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener};
use std::sync::mpsc;
use std::thread;

use smol::Async;

use crate::load::{self, Server};

/// Where every server listens: loopback, a port the OS picks.
const LOCALHOST: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0));

/// Runs `body` on a new thread named `name`; waits for the address it reports and returns
/// it with the thread's id.
fn on_thread(
    name: &str,
    body: impl FnOnce(mpsc::Sender<SocketAddr>) + Send + 'static,
) -> (SocketAddr, Option<u32>, thread::JoinHandle<()>) {
    let (ready_tx, ready_rx) = mpsc::channel();
    let (tid_tx, tid_rx) = mpsc::channel();
    let thread = thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            tid_tx.send(load::current_tid()).ok();
            body(ready_tx);
        })
        .expect("a server thread");
    let addr = ready_rx
        .recv()
        .unwrap_or_else(|_| panic!("the {name} server died before listening"));
    (addr, tid_rx.recv().ok().flatten(), thread)
}

/// A tokio current_thread server calling `handler` for every accepted connection.
pub fn tokio<F, Fut>(name: &str, handler: F) -> Server
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (addr, tid, thread) = on_thread(name, move |ready| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .expect("a tokio runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind(LOCALHOST)
                .await
                .expect("bind");
            ready.send(listener.local_addr().expect("an address")).ok();
            let accept = async {
                loop {
                    let (stream, _) = listener.accept().await.expect("accept");
                    stream.set_nodelay(true).expect("TCP_NODELAY");
                    tokio::spawn(handler(stream));
                }
            };
            tokio::select! {
                _ = stop_rx => {}
                () = accept => {}
            }
        });
        // Dropping the runtime here drops every connection task.
    });
    let name = name.to_owned();
    Server::new(addr, tid, move || {
        stop_tx.send(()).ok();
        thread
            .join()
            .unwrap_or_else(|_| panic!("the {name} server panicked"));
    })
}

/// A smol `LocalExecutor` server calling `handler` for every accepted connection.
pub fn smol<F, Fut>(name: &str, handler: F) -> Server
where
    F: Fn(Async<std::net::TcpStream>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let (stop_tx, stop_rx) = smol::channel::bounded::<()>(1);
    let (addr, tid, thread) = on_thread(name, move |ready| {
        let executor = smol::LocalExecutor::new();
        let listener = Async::<TcpListener>::bind(LOCALHOST).expect("bind");
        ready
            .send(listener.get_ref().local_addr().expect("an address"))
            .ok();
        let accept = async {
            loop {
                let (stream, _) = listener.accept().await.expect("accept");
                stream.get_ref().set_nodelay(true).expect("TCP_NODELAY");
                executor.spawn(handler(stream)).detach();
            }
        };
        // Careful: the stop channel is closed (not sent to), so `recv` returns an error.
        let stopped = async {
            stop_rx.recv().await.ok();
        };
        smol::block_on(executor.run(smol::future::or(accept, stopped)));
        // Dropping the executor here drops every connection task.
    });
    let name = name.to_owned();
    Server::new(addr, tid, move || {
        drop(stop_tx);
        thread
            .join()
            .unwrap_or_else(|_| panic!("the {name} server panicked"));
    })
}

/// An evloop server (a `LoopThread`) calling `handler` for every accepted connection.
pub fn evloop<F, Fut>(name: &str, handler: F) -> Server
where
    F: Fn(evloop::net::TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let thread = evloop::LoopThread::start_named(name).expect("a loop thread");
    let (ready_tx, ready_rx) = mpsc::channel();
    let accept = thread
        .handle()
        .spawn_threadsafe_with(move || async move {
            let listener = evloop::net::TcpListener::bind(LOCALHOST)
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("an address");
            ready_tx.send((addr, load::current_tid())).ok();
            loop {
                let (stream, _) = listener.accept().await.expect("accept");
                stream.set_nodelay(true).expect("TCP_NODELAY");
                // Dropping the task handle detaches the task; the loop owns it.
                drop(evloop::spawn(handler(stream)));
            }
        })
        .expect("the loop is open");
    let (addr, tid) = ready_rx
        .recv()
        .unwrap_or_else(|_| panic!("the {name} server died before listening"));
    let name = name.to_owned();
    Server::new(addr, tid, move || {
        // Stopping closes the loop: the accept loop and every connection task are cancelled.
        thread
            .stop()
            .unwrap_or_else(|message| panic!("the {name} server panicked: {message}"));
        drop(accept);
    })
}
