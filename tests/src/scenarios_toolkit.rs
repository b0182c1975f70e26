//! Scenarios S1, S2 and S6 of `shared/SCENARIOS.md` with the toolkit (the runnable versions
//! are `runtime/examples/05_gather_s1.rs`, `14_wait_s2.rs` and `16_semaphore_limit_s6.rs`).
//!
//! - S1, `gather`: three tasks sleep 1, 2 and 4 units and return a value; the values come
//!   back in the order given, after 4 units, not 1 + 2 + 4 = 7 (exact on the virtual clock,
//!   with margins on the real one).
//! - S2, `wait`: ten tasks with random durations; `wait(FirstCompleted)`, then (after one
//!   unit of other work) `wait` on the rest with a timeout of 2 units, then `wait` for all.
//!   Each result is seen exactly once; the pending tasks keep running between the calls (the
//!   ones that finished meanwhile are done at once in the next call). Checked for many seeds
//!   on the virtual clock against a prediction from the durations.
//! - S6, `Semaphore`: 600 requests gathered under a `Semaphore(500)`; the measured peak
//!   concurrency is exactly 500 and every request is answered. Here the request is simulated
//!   (a sleep of 1 to 2 units on the virtual clock), so the timing is exact; S6 against a
//!   real HTTP server is in `scenarios_net.rs`.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use evloop::{EventLoop, ReturnWhen};

use crate::util::{deadline, BUDGET, UNIT};

/// S1's tasks in the order given: (units of sleep, value returned).
const S1_TASKS: [(u32, &str); 3] = [(1, "one"), (2, "two"), (4, "four")];

/// Runs S1 with `gather` on `lp`; the values and the loop time it took.
fn s1(lp: &EventLoop, unit: Duration) -> (Vec<&'static str>, Duration) {
    lp.run_until_complete(async move {
        let lp = evloop::get_running_loop().unwrap();
        let start = lp.time();
        let values = evloop::gather(S1_TASKS.map(|(units, value)| async move {
            evloop::sleep(unit * units).await;
            value
        }))
        .await
        .expect("no S1 task fails");
        (values, lp.time() - start)
    })
    .expect("the gather ran")
}

#[test]
fn s1_gather_returns_the_values_in_order_after_four_units_on_the_virtual_clock() {
    deadline(BUDGET, || {
        let lp = EventLoop::builder().virtual_clock(true).build().unwrap();
        let (values, took) = s1(&lp, UNIT);
        assert_eq!(values, ["one", "two", "four"]);
        assert_eq!(took, UNIT * 4, "concurrent: 4 units, not 7");
        lp.close().unwrap();
    });
}

#[test]
fn s1_gather_takes_about_four_units_not_seven_on_the_real_clock() {
    deadline(BUDGET, || {
        // A longer unit than UNIT: the margin below 7 units absorbs a busy machine.
        const REAL_UNIT: Duration = Duration::from_millis(50);
        let lp = EventLoop::new().unwrap();
        let wall = Instant::now();
        let (values, took) = s1(&lp, REAL_UNIT);
        let wall = wall.elapsed();
        assert_eq!(values, ["one", "two", "four"]);
        assert!(took >= REAL_UNIT * 4, "{took:?}");
        assert!(wall < REAL_UNIT * 7, "the tasks did not overlap: {wall:?}");
        lp.close().unwrap();
    });
}

/// Ten durations (in ms, 5 to 99) from `seed` (a xorshift).
fn s2_durations(seed: u64) -> Vec<u64> {
    let mut state = seed | 1;
    (0..10)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            5 + state % 95
        })
        .collect()
}

/// What one S2 run saw: for each `wait` call, when it returned (ms) and the values of its
/// done tasks; plus the values of the last call's pending tasks (none).
#[derive(Debug, PartialEq, Eq)]
struct S2Run {
    calls: Vec<(u64, Vec<u64>)>,
    left: usize,
}

/// Runs S2 on the virtual clock: task `i` sleeps `durations[i]` ms and returns `i`.
fn s2(durations: &[u64]) -> S2Run {
    let lp = EventLoop::builder().virtual_clock(true).build().unwrap();
    let durations = durations.to_vec();
    let run = lp
        .run_until_complete(async move {
            let lp = evloop::get_running_loop().unwrap();
            let start = lp.time();
            let ms = move || (lp.time() - start).as_millis() as u64;
            let tasks: Vec<_> = durations
                .iter()
                .enumerate()
                .map(|(i, &d)| {
                    evloop::spawn(async move {
                        evloop::sleep(Duration::from_millis(d)).await;
                        i as u64
                    })
                })
                .collect();
            let mut calls = Vec::new();
            let (done, pending) = evloop::wait(tasks, ReturnWhen::FirstCompleted, None).await;
            calls.push((ms(), done));
            evloop::sleep(UNIT).await; // other work; the pending tasks keep running
            let (done, pending) =
                evloop::wait(pending, ReturnWhen::AllCompleted, Some(UNIT * 2)).await;
            calls.push((ms(), done));
            let (done, pending) = evloop::wait(pending, ReturnWhen::AllCompleted, None).await;
            calls.push((ms(), done));
            let mut seen = Vec::new();
            for (at, done) in calls {
                let mut values = Vec::new();
                for task in done {
                    values.push(task.await.expect("no S2 task fails"));
                }
                seen.push((at, values));
            }
            S2Run {
                calls: seen,
                left: pending.len(),
            }
        })
        .unwrap();
    lp.close().unwrap();
    run
}

/// What S2 must see for `durations` (ties at a deadline count as done: the tasks' sleeps
/// were registered first).
fn s2_expected(durations: &[u64]) -> S2Run {
    let unit = UNIT.as_millis() as u64;
    let first = *durations.iter().min().unwrap();
    let last = *durations.iter().max().unwrap();
    let second = (first + unit + 2 * unit).min(last.max(first + unit));
    let values_between = |from: Option<u64>, to: u64| -> Vec<u64> {
        (0..durations.len() as u64)
            .filter(|&i| {
                let d = durations[i as usize];
                from.is_none_or(|from| d > from) && d <= to
            })
            .collect()
    };
    S2Run {
        calls: vec![
            (first, values_between(None, first)),
            (second, values_between(Some(first), second)),
            (last.max(second), values_between(Some(second), last)),
        ],
        left: 0,
    }
}

#[test]
fn s2_three_waits_see_each_result_exactly_once() {
    deadline(BUDGET, || {
        for seed in 1..=40u64 {
            let durations = s2_durations(seed);
            let run = s2(&durations);
            assert_eq!(
                run,
                s2_expected(&durations),
                "seed {seed}, durations {durations:?}"
            );
            let mut all: Vec<u64> = run.calls.iter().flat_map(|(_, v)| v.clone()).collect();
            all.sort_unstable();
            assert_eq!(all, (0..10).collect::<Vec<_>>(), "each result exactly once");
        }
    });
}

#[test]
fn s2_pending_tasks_keep_running_between_the_calls() {
    deadline(BUDGET, || {
        // Task 0 finishes first; tasks 1 and 2 finish during the unit of other work; task 3
        // within the timeout; the others after it.
        let unit = UNIT.as_millis() as u64;
        let durations = [
            5,
            5 + unit / 2,
            5 + unit,
            5 + 2 * unit,
            5 + 5 * unit,
            99,
            98,
            97,
            96,
            95,
        ];
        let run = s2(&durations);
        assert_eq!(
            run.calls,
            [
                (5, vec![0]),
                (5 + 3 * unit, vec![1, 2, 3]),
                (5 + 5 * unit, vec![4, 5, 6, 7, 8, 9]),
            ]
        );
    });
}

/// One simulated HTTP request of S6: "connects", waits for the server a time that depends on
/// the request (1 to 2 units on the virtual clock), and returns the status (the real requests
/// are in `scenarios_net.rs`).
async fn simulated_request(i: u64) -> u16 {
    evloop::sleep(UNIT + UNIT * (i % 7) as u32 / 7).await;
    200
}

#[test]
fn s6_six_hundred_requests_under_a_semaphore_of_500_peak_at_exactly_500() {
    deadline(BUDGET, || {
        let lp = evloop::EventLoop::builder()
            .virtual_clock(true)
            .build()
            .unwrap();
        let (statuses, peak, elapsed) = lp
            .run_until_complete(async {
                let lp = evloop::get_running_loop().unwrap();
                let start = lp.time();
                let limit = evloop::Semaphore::new(500);
                let in_flight = Rc::new(Cell::new(0usize));
                let peak = Rc::new(Cell::new(0usize));
                let requests = (0..600u64).map(|i| {
                    let (limit, in_flight, peak) = (limit.clone(), in_flight.clone(), peak.clone());
                    async move {
                        let _permit = limit.acquire().await;
                        in_flight.set(in_flight.get() + 1);
                        peak.set(peak.get().max(in_flight.get()));
                        let status = simulated_request(i).await;
                        in_flight.set(in_flight.get() - 1);
                        status
                    }
                });
                let statuses = evloop::gather(requests).await.unwrap();
                (statuses, peak.get(), lp.time() - start)
            })
            .unwrap();
        assert_eq!(statuses.len(), 600);
        assert!(
            statuses.iter().all(|&s| s == 200),
            "every request got its answer"
        );
        assert_eq!(
            peak, 500,
            "the semaphore let exactly 500 requests run at once"
        );
        // 500 start at once; the last 100 start as the first ones finish (after 1..2 units),
        // so the whole batch takes 2 to 4 units, never 600 requests' worth.
        assert!(
            elapsed >= UNIT * 2 && elapsed <= UNIT * 4,
            "took {elapsed:?}"
        );
        lp.close().unwrap();
    });
}
