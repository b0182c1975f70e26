//! Benchmark 4: `ops` tasks each sleep a pseudo-random delay in `0..1 ms`, all awaited.
//!
//! Every contender gets the same delays, drawn before the clock starts from a fixed-seed
//! [`Lcg`]. The driver spawns one task per delay, each awaiting its runtime's sleep (evloop
//! `evloop::sleep`, tokio `tokio::time::sleep` on a current_thread runtime with time enabled,
//! smol `smol::Timer::after` under `smol::block_on`, which drives async-io's reactor on the
//! bench thread), then awaits every task in spawn order.
//!
//! Careful: the wall time includes up to ~1 ms of real waiting (plus each runtime's timer
//! granularity: tokio rounds up to whole milliseconds), a floor of about 10 ns/op at 100k
//! timers that no runtime can beat; what is left is the cost of the timer structure.

use std::time::{Duration, Instant};

use evloop::EventLoop;

/// Delays are spread over `0..SPREAD_NS`.
const SPREAD_NS: u64 = 1_000_000;

/// A 64-bit linear congruential generator (Knuth's MMIX constants): small, deterministic and
/// good enough to spread deadlines.
pub struct Lcg {
    /// The current state; the seed at first.
    state: u64,
}

impl Lcg {
    /// A generator with a fixed seed.
    pub fn new(seed: u64) -> Self {
        Lcg { state: seed }
    }

    /// The next 31 random bits.
    pub fn next_u31(&mut self) -> u64 {
        self.state = self
            .state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.state >> 33
    }
}

/// The same `ops` delays for every contender.
fn delays(ops: u64) -> Vec<Duration> {
    let mut lcg = Lcg::new(0x5eed);
    (0..ops)
        .map(|_| Duration::from_nanos(lcg.next_u31() % SPREAD_NS))
        .collect()
}

/// evloop: `evloop::sleep` in `ops` spawned tasks.
pub fn evloop(ops: u64) -> Duration {
    let delays = delays(ops);
    let lp = EventLoop::new().expect("a loop");
    let start = Instant::now();
    let woke = lp
        .run_until_complete(async {
            let tasks: Vec<_> = delays
                .iter()
                .map(|&delay| evloop::spawn(async move { evloop::sleep(delay).await }))
                .collect();
            let mut woke = 0;
            for task in tasks {
                task.await.expect("the task returns");
                woke += 1;
            }
            woke
        })
        .expect("the loop runs");
    let elapsed = start.elapsed();
    assert_eq!(woke, ops);
    lp.close().expect("the loop closes");
    elapsed
}

/// tokio: `tokio::time::sleep` in `ops` `spawn_local` tasks.
pub fn tokio(ops: u64) -> Duration {
    let delays = delays(ops);
    let rt = crate::tokio_runtime(true);
    let local = tokio::task::LocalSet::new();
    let start = Instant::now();
    let woke = local.block_on(&rt, async {
        let tasks: Vec<_> = delays
            .iter()
            .map(|&delay| tokio::task::spawn_local(async move { tokio::time::sleep(delay).await }))
            .collect();
        let mut woke = 0;
        for task in tasks {
            task.await.expect("the task returns");
            woke += 1;
        }
        woke
    });
    let elapsed = start.elapsed();
    assert_eq!(woke, ops);
    elapsed
}

/// smol: `smol::Timer::after` in `ops` `LocalExecutor` tasks.
pub fn smol(ops: u64) -> Duration {
    let delays = delays(ops);
    let ex = smol::LocalExecutor::new();
    let start = Instant::now();
    let woke = smol::block_on(ex.run(async {
        let tasks: Vec<_> = delays
            .iter()
            .map(|&delay| {
                ex.spawn(async move {
                    smol::Timer::after(delay).await;
                })
            })
            .collect();
        let mut woke = 0;
        for task in tasks {
            task.await;
            woke += 1;
        }
        woke
    }));
    let elapsed = start.elapsed();
    assert_eq!(woke, ops);
    elapsed
}
