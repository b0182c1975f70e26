//! Task-local context (`ContextVar`), and scenario S11 of `shared/SCENARIOS.md` (runnable
//! version: `runtime/examples/12_context_s11.rs`).
//!
//! What is checked: a spawned task starts with a copy of its creator's values and its own
//! changes stay its own; interleaved tasks never see each other's values (the trap a
//! `thread_local!` falls into); `to_thread` and `run_in_executor` run their job in a copy of
//! the caller's context, and a job's changes never reach the next job on that worker;
//! callbacks run in a copy of the context they were scheduled from; `reset`
//! restores the previous value; the main future's values do not leak into the thread once
//! the loop returns; `Context::run` restores the outer context even when its closure panics.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::LazyLock;

use evloop::{Context, ContextVar};

use crate::util::{deadline, BUDGET, UNIT};

/// The request id of S11.
static REQUEST_ID: LazyLock<ContextVar<u32>> = LazyLock::new(|| ContextVar::new("request_id"));
/// Who created a task (the inheritance test).
static WHO: LazyLock<ContextVar<&'static str>> = LazyLock::new(|| ContextVar::new("who"));
/// A flag for the run_in_default_executor test.
static FLAG: LazyLock<ContextVar<u8>> = LazyLock::new(|| ContextVar::new("flag"));

#[test]
fn every_spawned_task_starts_with_a_copy_of_its_creators_values() {
    deadline(BUDGET, || {
        let (child, grandchild, unset) = evloop::run(async {
            WHO.set("parent");
            let child = evloop::spawn(async {
                let mine = WHO.get();
                WHO.set("child");
                let grandchild = evloop::spawn(async { WHO.get() });
                (mine, grandchild.await.unwrap())
            });
            let (child, grandchild) = child.await.unwrap();
            let other = ContextVar::<u8>::new("never set");
            (child, grandchild, other.get())
        })
        .unwrap();
        assert_eq!(child, Some("parent"));
        assert_eq!(
            grandchild,
            Some("child"),
            "a grandchild copies its own creator"
        );
        assert_eq!(unset, None);
    });
}

#[test]
fn changes_in_a_child_stay_in_the_child_and_later_parent_changes_do_not_reach_it() {
    deadline(BUDGET, || {
        let (inherited, child_final, parent_final) = evloop::run(async {
            REQUEST_ID.set(1);
            let child = evloop::spawn(async {
                let inherited = REQUEST_ID.get();
                REQUEST_ID.set(2);
                evloop::sleep(UNIT).await;
                (inherited, REQUEST_ID.get())
            });
            evloop::yield_now().await;
            REQUEST_ID.set(3);
            let (inherited, child_final) = child.await.unwrap();
            (inherited, child_final, REQUEST_ID.get())
        })
        .unwrap();
        assert_eq!(
            inherited,
            Some(1),
            "the child started with the parent's value"
        );
        assert_eq!(
            child_final,
            Some(2),
            "the parent's later set did not reach the child"
        );
        assert_eq!(
            parent_final,
            Some(3),
            "the child's set did not reach the parent"
        );
    });
}

#[test]
fn s11_interleaved_requests_never_see_each_others_id_and_to_thread_sees_its_callers() {
    deadline(BUDGET, || {
        let log = Rc::new(RefCell::new(Vec::new()));
        let seen_in_threads = evloop::run({
            let log = log.clone();
            async move {
                let requests: Vec<_> = [7u32, 8]
                    .into_iter()
                    .map(|id| {
                        let log = log.clone();
                        evloop::spawn(async move {
                            REQUEST_ID.set(id);
                            for step in 0..3 {
                                // Yield so the two requests interleave on the one loop thread.
                                evloop::sleep(UNIT / 4).await;
                                log.borrow_mut().push((id, step, REQUEST_ID.get()));
                            }
                            let in_thread = evloop::to_thread(|| {
                                let seen = REQUEST_ID.get();
                                REQUEST_ID.set(99); // stays in the job's copy
                                seen
                            })
                            .await
                            .unwrap();
                            (id, in_thread, REQUEST_ID.get())
                        })
                    })
                    .collect();
                let mut seen = Vec::new();
                for request in requests {
                    seen.push(request.await.unwrap());
                }
                seen
            }
        })
        .unwrap();
        let log = log.borrow();
        assert_eq!(log.len(), 6, "three steps per request");
        for (id, _, seen) in log.iter() {
            assert_eq!(*seen, Some(*id), "request {id} saw another request's id");
        }
        // The steps really interleaved: the first two entries belong to different requests.
        assert_ne!(log[0].0, log[1].0);
        assert_eq!(
            seen_in_threads,
            [(7, Some(7), Some(7)), (8, Some(8), Some(8))]
        );
    });
}

#[test]
fn run_in_executor_jobs_run_in_the_callers_context_and_leave_nothing_on_the_worker() {
    deadline(BUDGET, || {
        let pool = evloop::pools::ThreadPool::builder().max_workers(1).build();
        let (default, own_pool, cancellable, after) = evloop::run(async move {
            FLAG.set(5);
            let lp = evloop::get_running_loop().unwrap();
            let default = lp.run_in_default_executor(|| FLAG.get()).await.unwrap();
            // A job that sets the variable changes only its copy...
            let own_pool = lp
                .run_in_executor(&pool, || {
                    let seen = FLAG.get();
                    FLAG.set(9);
                    seen
                })
                .await
                .unwrap();
            let cancellable = lp
                .run_in_executor(
                    &pool,
                    evloop::pools::Cancellable(|_token: evloop::pools::CancelToken| FLAG.get()),
                )
                .await
                .unwrap();
            // ... so a job submitted straight to the pool (no caller context) on the same,
            // only, worker thread finds nothing left behind.
            let after = pool.submit(|| FLAG.get()).unwrap().await.unwrap();
            (default, own_pool, cancellable, after)
        })
        .unwrap();
        assert_eq!(default, Some(5));
        assert_eq!(own_pool, Some(5));
        assert_eq!(
            cancellable,
            Some(5),
            "the job saw its caller's value, not the 9 its predecessor set"
        );
        assert_eq!(
            after, None,
            "a job's set() stayed in its copy of the context"
        );
    });
}

#[test]
fn callbacks_run_in_a_copy_of_the_context_they_were_scheduled_from() {
    deadline(BUDGET, || {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let log = seen.clone();
        evloop::run(async move {
            let lp = evloop::get_running_loop().unwrap();
            let task = evloop::spawn({
                let log = log.clone();
                async move {
                    let lp = evloop::get_running_loop().unwrap();
                    FLAG.set(1);
                    let l = log.clone();
                    lp.call_soon(move || {
                        l.borrow_mut().push(("soon", FLAG.get()));
                        FLAG.set(99); // stays in the callback's copy
                    });
                    let l = log.clone();
                    lp.call_later(UNIT, move || l.borrow_mut().push(("later", FLAG.get())));
                    FLAG.set(2);
                    evloop::sleep(UNIT * 2).await;
                    log.borrow_mut().push(("task", FLAG.get()));
                }
            });
            let l = log.clone();
            lp.call_soon(move || l.borrow_mut().push(("main", FLAG.get())));
            task.await.unwrap();
        })
        .unwrap();
        assert_eq!(
            *seen.borrow(),
            [
                ("main", None),
                ("soon", Some(1)),
                ("later", Some(1)),
                ("task", Some(2))
            ]
        );
    });
}

#[test]
fn reset_restores_the_previous_value_and_refuses_a_foreign_token() {
    let var = ContextVar::<u8>::new("a");
    let other = ContextVar::<u8>::new("b");
    Context::default().run(|| {
        let first = var.set(1);
        let second = var.set(2);
        assert_eq!(var.get(), Some(2));
        var.reset(second);
        assert_eq!(var.get(), Some(1));
        var.reset(first);
        assert_eq!(var.get(), None);
        let foreign = other.set(3);
        let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| var.reset(foreign)));
        let message = crate::util::payload_text(&*refused.unwrap_err());
        assert!(message.contains("another variable"), "{message}");
    });
}

#[test]
fn the_main_futures_values_do_not_leak_into_the_thread() {
    deadline(BUDGET, || {
        let var = ContextVar::<u8>::new("leak");
        let _outer = var.set(1);
        let inside = evloop::run(async {
            let inherited = var.get();
            var.set(2);
            inherited
        })
        .unwrap();
        assert_eq!(
            inside,
            Some(1),
            "the main future started with the caller's values"
        );
        assert_eq!(var.get(), Some(1), "its own set stayed inside");
    });
}

#[test]
fn context_run_restores_the_outer_context_even_when_its_closure_panics() {
    let var = ContextVar::<u8>::new("outer");
    Context::default().run(|| {
        let _token = var.set(1);
        let snapshot = Context::current();
        let _token = var.set(2);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            snapshot.run(|| {
                assert_eq!(var.get(), Some(1));
                var.set(9);
                panic!("inside");
            })
        }));
        assert!(panicked.is_err());
        assert_eq!(var.get(), Some(2));
    });
}

#[test]
fn call_soon_threadsafe_runs_in_a_copy_of_the_posting_threads_context() {
    deadline(BUDGET, || {
        let thread = evloop::LoopThread::start().unwrap();
        let (sent, received) = std::sync::mpsc::channel();
        let token = FLAG.set(3);
        let sender = sent.clone();
        thread
            .handle()
            .call_soon_threadsafe(move || sender.send(FLAG.get()).unwrap())
            .unwrap();
        FLAG.reset(token);
        thread
            .handle()
            .call_soon_threadsafe(move || sent.send(FLAG.get()).unwrap())
            .unwrap();
        assert_eq!(received.recv().unwrap(), Some(3));
        assert_eq!(received.recv().unwrap(), None);
        thread.stop().unwrap();
    });
}
