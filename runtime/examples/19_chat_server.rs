//! A line-based chat server, asyncio's classic: the first line a client sends is its nick;
//! every later line goes to all the other clients as `nick: line`; joins and leaves are
//! announced as `* ...` lines. In asyncio: `asyncio.start_server`, `reader.readline()`, and
//! an `asyncio.Queue(maxsize)` per client.
//!
//! The shape of a connection: `into_split` gives a read half and a write half. A reading task
//! turns the bytes into lines (the small `Lines` splitter below, so you see the bytes) and
//! puts each chat line into every other client's *outbox*, a bounded `evloop::Queue`; the
//! connection's own task takes lines out of its outbox and writes them to its socket. The
//! clients are an `Rc<RefCell<HashMap>>`: one thread, no lock, but no borrow held across an
//! `await` or while a queue wakes someone.
//!
//! The policy for a slow client: nothing in evloop buffers in user space, so a client that
//! reads slowly makes its writer wait, and its outbox fills. Making the sender wait for room
//! (`put().await`) would let one slow client stall the whole room; dropping its messages
//! would garble its conversation. So when a client's outbox is full (`OUTBOX_LINES`) the
//! client is dropped, as IRC servers do ("SendQ exceeded"): the server's memory per client
//! stays bounded (at most `OUTBOX_LINES` lines of at most `MAX_LINE` bytes, plus the
//! kernel's socket buffers). One fairness detail makes this work: a socket that always has
//! bytes never makes `read` wait, so the reading task yields after each line to let the
//! writers run before the outboxes fill.
//!
//! By default it runs a scripted session with three clients in the same loop (alice, bob,
//! and carol, who stops reading while alice pastes 6 MB, and is dropped), then prints what
//! each client saw. With `--serve ADDR` it serves until you stop it:
//!
//! ```text
//! cargo run -p evloop --example 19_chat_server -- --serve 127.0.0.1:7000
//! nc 127.0.0.1 7000          # in several terminals; the first line you type is your nick
//! ```
//!
//! Run: `cargo run -p evloop --example 19_chat_server`

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;

use evloop::net::{OwnedReadHalf, OwnedWriteHalf, TcpListener, TcpStream};
use evloop::{Event, Queue, Task};

/// How many lines may wait for one client before it is dropped as too slow.
const OUTBOX_LINES: usize = 64;
/// The longest line a client may send (bytes); a longer one ends its connection.
const MAX_LINE: usize = 1024;

/// One connected client, as the others see it.
struct Client {
    /// Shown before its lines.
    nick: String,
    /// Lines waiting to be written to it; full means it is too slow.
    outbox: Queue<Rc<str>>,
    /// The task reading its lines, cancelled when it is dropped.
    reading: Task<()>,
}

/// Every connected client by connection number.
type Clients = Rc<RefCell<HashMap<u64, Client>>>;

// ANCHOR: lines
/// Splits the bytes of a read half into lines.
struct Lines {
    /// Where the bytes come from.
    reader: OwnedReadHalf<TcpStream>,
    /// Bytes received whose `\n` has not arrived yet.
    pending: Vec<u8>,
}

impl Lines {
    /// The next line, without its `\n` (or `\r\n`); `None` at EOF.
    async fn next_line(&mut self) -> io::Result<Option<String>> {
        loop {
            let newline = self.pending.iter().position(|&byte| byte == b'\n');
            if newline.unwrap_or(self.pending.len()) > MAX_LINE {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
            }
            if let Some(end) = newline {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                let text = String::from_utf8_lossy(&line[..end]);
                return Ok(Some(text.trim_end_matches('\r').to_owned()));
            }
            let mut buf = [0u8; 1024];
            let n = self.reader.as_ref().read(&mut buf).await?;
            if n == 0 {
                return Ok(None); // EOF (a last line without `\n` is dropped)
            }
            self.pending.extend_from_slice(&buf[..n]);
        }
    }
}
// ANCHOR_END: lines

// ANCHOR: broadcast
/// Queues `text` for every client but `from`; drops the clients whose outbox is full.
fn broadcast(clients: &Clients, from: u64, text: &str) {
    let line: Rc<str> = format!("{text}\n").into();
    // Copy the outboxes out first: a put wakes a task and a drop changes the table, so
    // neither may happen while the table is borrowed.
    let outboxes: Vec<(u64, Queue<Rc<str>>)> = (clients.borrow().iter())
        .filter(|(&id, _)| id != from)
        .map(|(&id, client)| (id, client.outbox.clone()))
        .collect();
    for (id, outbox) in outboxes {
        if outbox.put_nowait(line.clone()).is_err() {
            leave(clients, id, "was dropped (too slow)", true);
        }
    }
}

/// Removes client `id` (if still there) and tells the others. `at_once` drops the lines
/// still queued for it; otherwise its connection writes them before it closes.
fn leave(clients: &Clients, id: u64, how: &str, at_once: bool) {
    let Some(client) = clients.borrow_mut().remove(&id) else {
        return;
    };
    client.outbox.shutdown(at_once); // its connection task ends once the outbox is empty
    client.reading.cancel(); // harmless when the reading task itself is leaving
    broadcast(clients, id, &format!("* {} {how}", client.nick));
}
// ANCHOR_END: broadcast

// ANCHOR: connection
/// One connection: the nick, then a reading task, while this task writes the outbox out.
async fn connection(conn: TcpStream, id: u64, clients: Clients) {
    let (reader, writer) = conn.into_split();
    let mut lines = Lines {
        reader,
        pending: Vec::new(),
    };
    let nick = match lines.next_line().await {
        Ok(Some(nick)) if !nick.trim().is_empty() => nick.trim().to_owned(),
        _ => return, // gone before saying who it is
    };
    let outbox = Queue::new(OUTBOX_LINES);
    let mut here: Vec<String> = clients.borrow().values().map(|c| c.nick.clone()).collect();
    here.sort();
    if here.is_empty() {
        here.push("nobody else".to_owned());
    }
    let welcome = format!("* welcome, {nick}; here: {}\n", here.join(", "));
    let _ = outbox.put_nowait(welcome.into()); // a new outbox has room
    broadcast(&clients, id, &format!("* {nick} joined"));
    let reading = evloop::spawn(read_lines(lines, id, nick.clone(), clients.clone()));
    let client = Client {
        nick,
        outbox: outbox.clone(),
        reading,
    };
    clients.borrow_mut().insert(id, client);
    // Until the outbox is shut down (the client left or was dropped) and empty.
    while let Ok(line) = outbox.get().await {
        if writer.as_ref().write_all(line.as_bytes()).await.is_err() {
            leave(&clients, id, "left (connection lost)", true);
        }
    }
} // `writer` drops here: the client reads EOF after the last line

/// The reading task: every line the client sends goes to the others.
async fn read_lines(mut lines: Lines, id: u64, nick: String, clients: Clients) {
    while let Ok(Some(text)) = lines.next_line().await {
        broadcast(&clients, id, &format!("{nick}: {text}"));
        evloop::yield_now().await; // let the writers drain the outboxes (see the header)
    }
    leave(&clients, id, "left", false); // EOF or an error
}
// ANCHOR_END: connection

/// Accepts clients forever.
async fn serve(listener: TcpListener) {
    let clients = Clients::default();
    for id in 0.. {
        match listener.accept().await {
            Ok((conn, _)) => drop(evloop::spawn(connection(conn, id, clients.clone()))),
            Err(error) => eprintln!("accept failed: {error}"), // the listener backs off
        }
    }
}

/// A scripted client: a reading task fills its inbox; the script takes lines from there.
struct Bot {
    /// Where the script's lines go.
    writer: OwnedWriteHalf<TcpStream>,
    /// The lines received, in order; shut down at EOF.
    inbox: Queue<String>,
    /// Set while the reading task may read the socket; cleared to play a slow client.
    reading: Event,
    /// What the script has taken from the inbox so far.
    seen: Vec<String>,
}

impl Bot {
    /// Connects and sends the nick.
    async fn join(addr: SocketAddr, nick: &str) -> io::Result<Bot> {
        let (reader, writer) = TcpStream::connect(addr).await?.into_split();
        let (inbox, reading) = (Queue::unbounded(), Event::new());
        reading.set();
        let (to_inbox, gate) = (inbox.clone(), reading.clone());
        evloop::spawn(async move {
            let mut lines = Lines {
                reader,
                pending: Vec::new(),
            };
            gate.wait().await;
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = to_inbox.put_nowait(line);
                gate.wait().await; // a paused bot reads no further
            }
            to_inbox.shutdown(false);
        });
        let bot = Bot {
            writer,
            inbox,
            reading,
            seen: Vec::new(),
        };
        bot.say(nick).await?;
        Ok(bot)
    }

    /// Sends one line.
    async fn say(&self, text: &str) -> io::Result<()> {
        self.writer
            .as_ref()
            .write_all(format!("{text}\n").as_bytes())
            .await
    }

    /// Takes received lines until `wanted` (or EOF).
    async fn expect(&mut self, wanted: &str) {
        while let Ok(line) = self.inbox.get().await {
            let found = line == wanted;
            self.seen.push(line);
            if found {
                return;
            }
        }
    }

    /// Shuts the write side down (the server sees EOF) and takes every line until EOF.
    async fn leave(&mut self) {
        let _ = self.writer.as_ref().shutdown(Shutdown::Write);
        while let Ok(line) = self.inbox.get().await {
            self.seen.push(line);
        }
    }

    /// Prints what the bot saw, with runs of pasted lines folded into one.
    fn print(&self, nick: &str) {
        println!("--- what {nick} saw ---");
        let mut lines = self.seen.iter().peekable();
        while let Some(line) = lines.next() {
            let Some(first) = line.strip_prefix("alice: paste ") else {
                println!("{line}");
                continue;
            };
            let mut count = 1;
            while lines.next_if(|l| l.starts_with("alice: paste ")).is_some() {
                count += 1;
            }
            println!("alice: paste {} ... ({count} pasted lines)", &first[..5]);
        }
        println!("(EOF)");
    }
}

/// How many lines alice pastes (about 1 KB each: more than the kernel buffers for carol).
const PASTE_LINES: usize = 6000;

// ANCHOR: session
/// The scripted session. Each `expect` waits for a line, so every run prints the same
/// transcripts, except for how much of the paste carol got before she was dropped.
async fn session(addr: SocketAddr) -> io::Result<()> {
    let mut alice = Bot::join(addr, "alice").await?;
    alice.expect("* welcome, alice; here: nobody else").await;
    let mut bob = Bot::join(addr, "bob").await?;
    bob.expect("* welcome, bob; here: alice").await;
    alice.expect("* bob joined").await;
    let mut carol = Bot::join(addr, "carol").await?;
    carol.expect("* welcome, carol; here: alice, bob").await;
    alice.expect("* carol joined").await;
    bob.expect("* carol joined").await;

    alice.say("hi all").await?;
    bob.expect("alice: hi all").await;
    carol.expect("alice: hi all").await;
    bob.say("hi alice").await?;
    alice.expect("bob: hi alice").await;
    carol.expect("bob: hi alice").await;
    carol.say("brb, my link is slow").await?;
    alice.expect("carol: brb, my link is slow").await;
    bob.expect("carol: brb, my link is slow").await;

    // carol stops reading while alice pastes: carol's socket buffers fill, then her
    // outbox, and the server drops her. bob keeps reading and keeps up.
    carol.reading.clear();
    let paste: String = (1..=PASTE_LINES)
        .map(|i| format!("paste {i:05} {}\n", ".".repeat(1000)))
        .collect();
    alice.writer.as_ref().write_all(paste.as_bytes()).await?;
    alice.say("sorry for the flood").await?;
    bob.expect("alice: sorry for the flood").await;

    // carol reads again: what the kernel still held for her, then EOF.
    carol.reading.set();
    carol.leave().await;
    bob.leave().await;
    alice.expect("* bob left").await;
    alice.leave().await;
    for (nick, bot) in [("alice", &alice), ("bob", &bob), ("carol", &carol)] {
        bot.print(nick);
    }
    Ok(())
}
// ANCHOR_END: session

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = match args.as_slice() {
        [] => None,
        [flag, addr] if flag == "--serve" => Some(addr.clone()),
        _ => {
            eprintln!("usage: 19_chat_server [--serve ADDR]");
            std::process::exit(2);
        }
    };
    evloop::run(async move {
        let listener = TcpListener::bind(addr.as_deref().unwrap_or("127.0.0.1:0"))
            .await
            .expect("bind");
        let local = listener.local_addr().expect("local_addr");
        if addr.is_some() {
            println!("chat server on {local}: nc {} {}", local.ip(), local.port());
            return serve(listener).await;
        }
        evloop::spawn(serve(listener));
        session(local).await.expect("session");
    })
    .expect("run");
}
