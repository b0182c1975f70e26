//! The reactor's cooperative budget: a task whose socket always has data still lets the
//! other ready work run.
//!
//! - A reader that finds 4096 one-byte reads available without waiting yields after each
//!   128 completed operations, so a callback scheduled before it started runs long before it
//!   finishes (without the budget it would run only after all 4096 reads).
//! - Writes count too: a writer with a roomy socket yields the same way.

use std::cell::Cell;
use std::rc::Rc;

use evloop::net::{TcpListener, TcpStream, UnixStream};

use crate::util::{deadline, BUDGET as DEADLINE};

/// Operations a ready entry may complete before it yields (the reactor's `IO_BUDGET`).
const IO_BUDGET: usize = 128;

#[test]
fn a_reader_that_never_waits_still_yields_to_other_ready_work() {
    deadline(DEADLINE, || {
        evloop::run(async {
            let (a, b) = UnixStream::pair().unwrap();
            a.write_all(&[7u8; 4096]).await.unwrap();
            // Let the reactor see b's readiness before the reader starts.
            evloop::sleep(std::time::Duration::from_millis(5)).await;
            let reads_when_callback_ran = Rc::new(Cell::new(None));
            let reads = Rc::new(Cell::new(0usize));
            let reader = {
                let reads = reads.clone();
                evloop::spawn(async move {
                    let mut byte = [0u8; 1];
                    for _ in 0..4096 {
                        assert_eq!(b.read(&mut byte).await.unwrap(), 1);
                        reads.set(reads.get() + 1);
                    }
                })
            };
            let lp = evloop::get_running_loop().unwrap();
            {
                let (seen, reads) = (reads_when_callback_ran.clone(), reads.clone());
                lp.call_soon(move || seen.set(Some(reads.get())));
            }
            reader.await.unwrap();
            assert_eq!(reads.get(), 4096);
            // The callback was queued after the reader, so it ran after the reader's first
            // turn, which ended when the budget ran out.
            assert_eq!(reads_when_callback_ran.get(), Some(IO_BUDGET));
        })
        .unwrap();
    });
}

#[test]
fn a_writer_that_never_waits_still_yields_to_other_ready_work() {
    deadline(DEADLINE, || {
        evloop::run(async {
            // TCP, not a Unix pair: a Unix socket charges each tiny write a whole buffer's
            // overhead and would fill after a few hundred one-byte writes.
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let a = TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let (_b, _) = listener.accept().await.unwrap();
            evloop::sleep(std::time::Duration::from_millis(5)).await;
            let writes = Rc::new(Cell::new(0usize));
            let writer = {
                let writes = writes.clone();
                evloop::spawn(async move {
                    for _ in 0..1000 {
                        assert_eq!(a.write(&[1u8]).await.unwrap(), 1);
                        writes.set(writes.get() + 1);
                    }
                    a
                })
            };
            let seen = Rc::new(Cell::new(None));
            {
                let (seen, writes) = (seen.clone(), writes.clone());
                evloop::get_running_loop()
                    .unwrap()
                    .call_soon(move || seen.set(Some(writes.get())));
            }
            drop(writer.await.unwrap());
            assert_eq!(writes.get(), 1000);
            assert_eq!(seen.get(), Some(IO_BUDGET));
        })
        .unwrap();
    });
}
