//! Model-based property of `Queue`, `LifoQueue` and `PriorityQueue`: random programs of
//! put / get / put_nowait / get_nowait / join / task_done / cancel / shutdown, over several
//! producers, consumers and joiners, against a model; no item is ever lost or duplicated.
//!
//! # The program
//!
//! A case picks a queue (FIFO, LIFO or priority) and a `maxsize` (0 = unbounded, or 1..=4),
//! then runs operations. Each *actor* (3 producers, 3 consumers, 2 joiners) stands for a task
//! that awaits at most one queue future at a time: `Put`/`Get`/`Join` start one for an idle
//! actor and poll it once (as a task's first poll would); `Cancel` drops an actor's pending
//! future (a cancelled task); `Run` runs a few iterations of an emulated ready queue that
//! polls woken actors, FIFO, each at most once per wake (the loop's `scheduled` flag).
//! Items carry a priority from 0..3 that their `Ord` compares alone, so priority ties are
//! common (they must leave in arrival order).
//!
//! # The driver
//!
//! No event loop: every future is polled by hand with a waker per actor that logs its wakes,
//! so both sides see exactly the same interleaving and the comparison is exact. Every item's
//! `Drop` and every wake also *probe* the queue (`qsize()`), which panics if the queue's state
//! is borrowed: nothing runs user code under the borrow.
//!
//! # The model
//!
//! asyncio's queue with FIFO-fair waiting, in plain vectors (`props_queue_model.rs`): the
//! items in arrival order, and per wait list the actors waiting, each marked woken or not. A
//! waiter is woken only while an item (room) is left that no woken waiter counts on; a new
//! `get` (`put`) takes only such an item (room); a woken one takes any; a woken one that is
//! dropped passes its wake-up on; the `_nowait` calls take whatever `empty()`/`full()` allow.
//!
//! # What is checked
//!
//! Against the model, after every operation and every poll: the outcome (which item, which
//! error), who was woken and in which order, which items the queue dropped, `qsize`, and
//! whether a fresh `join` would return. On the real queue alone: `qsize <= maxsize`;
//! `empty()`/`full()` agree with `qsize`; at rest, no getter waits while an item is queued and
//! no putter waits while there is room (no wake-up was lost); nobody waits after a shutdown.
//! At the end, each item created has exactly one fate (taken by a get, handed back by a
//! refused put, dropped by the queue, or still queued), and a FIFO queue hands items out in
//! the order they went in.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use evloop::{
    GenericQueue, GetNowaitError, LifoQueue, PriorityQueue, PutNowaitError, Queue, QueueGet,
    QueueJoin, QueueOrder, QueuePut, QueueShutDown,
};
use proptest::prelude::*;

use crate::props_queue_model::*;
use crate::util::{cases, deadline};

thread_local! {
    /// Ids of items dropped on this thread since the last look.
    static DROPS: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
    /// Looks at the queue under test (panics if its state is borrowed).
    static PROBE: RefCell<Option<Box<dyn Fn()>>> = const { RefCell::new(None) };
}

/// Runs the probe, if one is installed.
fn probe() {
    let _ = PROBE.try_with(|probe| {
        if let Some(probe) = probe.borrow().as_ref() {
            probe();
        }
    });
}

/// A queued item: ordered by `prio` alone; its drop is logged and probes the queue.
struct Item {
    id: u32,
    prio: u8,
}

impl Drop for Item {
    fn drop(&mut self) {
        // `try_with`: a failed case may drop items while its thread's locals go away.
        let _ = DROPS.try_with(|drops| drops.borrow_mut().push(self.id));
        probe();
    }
}

impl Ord for Item {
    fn cmp(&self, other: &Self) -> Ordering {
        self.prio.cmp(&other.prio)
    }
}

impl PartialOrd for Item {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Item {
    fn eq(&self, other: &Self) -> bool {
        self.prio == other.prio
    }
}

impl Eq for Item {}

/// An actor's waker: logs the wake and probes the queue.
struct ActorWaker {
    actor: Actor,
    log: Arc<Mutex<Vec<Actor>>>,
}

impl Wake for ActorWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.log.lock().unwrap().push(self.actor);
        probe();
    }
}

/// A waker that does nothing (for the fresh `join` of the per-step check).
struct Silent;

impl Wake for Silent {
    fn wake(self: Arc<Self>) {}
}

/// The real queue and the actors' pending futures.
struct Real<O: QueueOrder<Item = Item>> {
    queue: GenericQueue<O>,
    /// Each producer's pending put, with its item's id.
    puts: Vec<Option<(u32, QueuePut<O>)>>,
    gets: Vec<Option<QueueGet<O>>>,
    joins: Vec<Option<QueueJoin<O>>>,
    /// Every wake, in order, drained after each step.
    log: Arc<Mutex<Vec<Actor>>>,
    /// One waker per actor, as a task keeps one.
    wakers: Vec<(Actor, Waker)>,
    next_id: u32,
    /// Items handed back to the driver (kept alive, so their drops do not count as the
    /// queue's).
    kept: Vec<Item>,
}

impl<O: QueueOrder<Item = Item>> Real<O> {
    fn new(queue: GenericQueue<O>) -> Self {
        let log = Arc::new(Mutex::new(Vec::new()));
        let actors = (0..PRODUCERS)
            .map(Actor::Producer)
            .chain((0..CONSUMERS).map(Actor::Consumer))
            .chain((0..JOINERS).map(Actor::Joiner));
        let wakers = actors
            .map(|actor| {
                let log = log.clone();
                (actor, Waker::from(Arc::new(ActorWaker { actor, log })))
            })
            .collect();
        Real {
            queue,
            puts: (0..PRODUCERS).map(|_| None).collect(),
            gets: (0..CONSUMERS).map(|_| None).collect(),
            joins: (0..JOINERS).map(|_| None).collect(),
            log,
            wakers,
            next_id: 0,
            kept: Vec::new(),
        }
    }

    fn new_item(&mut self, prio: u8) -> Item {
        self.next_id += 1;
        Item {
            id: self.next_id - 1,
            prio,
        }
    }

    fn keep(&mut self, item: Item) -> u32 {
        let id = item.id;
        self.kept.push(item);
        id
    }

    fn apply(&mut self, op: &Op) -> Observation {
        let outcome = match *op {
            Op::Put { producer, .. } if self.puts[producer].is_some() => Outcome::Skipped,
            Op::Put { producer, prio } => {
                let item = self.new_item(prio);
                self.puts[producer] = Some((item.id, self.queue.put(item)));
                self.poll_actor(Actor::Producer(producer))
            }
            Op::PutNowait { prio } => {
                let item = self.new_item(prio);
                let id = item.id;
                Outcome::Put(match self.queue.put_nowait(item) {
                    Ok(()) => Ok(id),
                    Err(PutNowaitError::Full(item)) => Err(Refused::Full(self.keep(item))),
                    Err(PutNowaitError::ShutDown(item)) => Err(Refused::ShutDown(self.keep(item))),
                })
            }
            Op::Get { consumer } if self.gets[consumer].is_some() => Outcome::Skipped,
            Op::Get { consumer } => {
                self.gets[consumer] = Some(self.queue.get());
                self.poll_actor(Actor::Consumer(consumer))
            }
            Op::GetNowait => Outcome::Got(match self.queue.get_nowait() {
                Ok(item) => Ok(self.keep(item)),
                Err(GetNowaitError::Empty) => Err(NoItem::Empty),
                Err(GetNowaitError::ShutDown) => Err(NoItem::ShutDown),
            }),
            Op::Join { joiner } if self.joins[joiner].is_some() => Outcome::Skipped,
            Op::Join { joiner } => {
                self.joins[joiner] = Some(self.queue.join());
                self.poll_actor(Actor::Joiner(joiner))
            }
            Op::Cancel(actor) => {
                let dropped = match actor {
                    Actor::Producer(p) => self.puts[p].take().is_some(),
                    Actor::Consumer(c) => self.gets[c].take().is_some(),
                    Actor::Joiner(j) => self.joins[j].take().is_some(),
                };
                if dropped {
                    Outcome::Cancelled
                } else {
                    Outcome::Skipped
                }
            }
            Op::TaskDone => Outcome::TaskDone(self.queue.task_done().is_ok()),
            Op::Shutdown { immediate } => {
                self.queue.shutdown(immediate);
                Outcome::Skipped
            }
            Op::Run { .. } => unreachable!("the driver runs the ready queue"),
        };
        self.observe(outcome)
    }

    fn poll(&mut self, actor: Actor) -> Observation {
        let outcome = self.poll_actor(actor);
        self.observe(outcome)
    }

    fn poll_actor(&mut self, actor: Actor) -> Outcome {
        let waker = &self
            .wakers
            .iter()
            .find(|(a, _)| *a == actor)
            .expect("a waker")
            .1;
        let mut cx = Context::from_waker(waker);
        match actor {
            Actor::Producer(p) => {
                let Some((id, put)) = self.puts[p].as_mut() else {
                    return Outcome::Skipped;
                };
                let id = *id;
                let Poll::Ready(result) = Pin::new(put).poll(&mut cx) else {
                    return Outcome::Pending;
                };
                self.puts[p] = None;
                Outcome::Put(match result {
                    Ok(()) => Ok(id),
                    Err(QueueShutDown(item)) => Err(Refused::ShutDown(self.keep(item))),
                })
            }
            Actor::Consumer(c) => {
                let Some(get) = self.gets[c].as_mut() else {
                    return Outcome::Skipped;
                };
                let Poll::Ready(result) = Pin::new(get).poll(&mut cx) else {
                    return Outcome::Pending;
                };
                self.gets[c] = None;
                Outcome::Got(match result {
                    Ok(item) => Ok(self.keep(item)),
                    Err(QueueShutDown(())) => Err(NoItem::ShutDown),
                })
            }
            Actor::Joiner(j) => {
                let Some(join) = self.joins[j].as_mut() else {
                    return Outcome::Skipped;
                };
                if Pin::new(join).poll(&mut cx).is_pending() {
                    return Outcome::Pending;
                }
                self.joins[j] = None;
                Outcome::Joined
            }
        }
    }

    fn observe(&mut self, outcome: Outcome) -> Observation {
        let mut dropped = DROPS.with(|drops| std::mem::take(&mut *drops.borrow_mut()));
        dropped.sort_unstable();
        Observation {
            outcome,
            wakes: std::mem::take(&mut *self.log.lock().unwrap()),
            dropped,
            qsize: self.queue.qsize(),
        }
    }

    /// Whether a fresh `join` returns at once (it is dropped again, changing nothing).
    fn join_ready(&self) -> bool {
        let waker = Waker::from(Arc::new(Silent));
        let mut join = self.queue.join();
        Pin::new(&mut join)
            .poll(&mut Context::from_waker(&waker))
            .is_ready()
    }

    fn busy(&self, actor: Actor) -> bool {
        match actor {
            Actor::Producer(p) => self.puts[p].is_some(),
            Actor::Consumer(c) => self.gets[c].is_some(),
            Actor::Joiner(j) => self.joins[j].is_some(),
        }
    }
}

/// The emulated ready queue: woken actors in FIFO order, each queued at most once.
#[derive(Default)]
struct Ready {
    queue: VecDeque<Actor>,
    scheduled: HashSet<Actor>,
}

impl Ready {
    fn schedule(&mut self, wakes: &[Actor]) {
        for &actor in wakes {
            if self.scheduled.insert(actor) {
                self.queue.push_back(actor);
            }
        }
    }
}

/// What the driver saw, for the end-of-case checks.
#[derive(Default)]
struct Ledger {
    /// Ids that went into the queue, in the order they went in.
    accepted: Vec<u32>,
    /// Ids taken by a get or get_nowait, in order.
    gotten: Vec<u32>,
    /// Ids handed back by a refused put.
    refused: Vec<u32>,
    /// Ids the queue dropped.
    dropped: Vec<u32>,
}

/// Both sides, driven in lockstep.
struct Driver<O: QueueOrder<Item = Item>> {
    real: Real<O>,
    model: Model,
    ready: Ready,
    ledger: Ledger,
    maxsize: usize,
    shut_down: bool,
}

impl<O: QueueOrder<Item = Item>> Driver<O> {
    /// Compares one step's observations and records what they show.
    fn compare(
        &mut self,
        what: &dyn std::fmt::Debug,
        real: Observation,
        model: Observation,
    ) -> Result<(), TestCaseError> {
        prop_assert_eq!(&real, &model, "at {:?}", what);
        match real.outcome {
            Outcome::Put(Ok(id)) => self.ledger.accepted.push(id),
            Outcome::Put(Err(Refused::Full(id) | Refused::ShutDown(id))) => {
                self.ledger.refused.push(id)
            }
            Outcome::Got(Ok(id)) => self.ledger.gotten.push(id),
            _ => {}
        }
        self.ledger.dropped.extend(&real.dropped);
        self.ready.schedule(&real.wakes);
        self.check_real(what)?;
        if self.ready.queue.is_empty() {
            self.check_at_rest(what)?;
        }
        Ok(())
    }

    /// What must hold on the real queue after every step, whatever the model says.
    fn check_real(&self, what: &dyn std::fmt::Debug) -> Result<(), TestCaseError> {
        let queue = &self.real.queue;
        let qsize = queue.qsize();
        if self.maxsize > 0 {
            prop_assert!(qsize <= self.maxsize, "qsize {} at {:?}", qsize, what);
        }
        prop_assert_eq!(queue.empty(), qsize == 0);
        prop_assert_eq!(queue.full(), self.maxsize > 0 && qsize == self.maxsize);
        prop_assert_eq!(
            self.real.join_ready(),
            self.model.unfinished() == 0,
            "join at {:?}",
            what
        );
        Ok(())
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        if let Op::Shutdown { .. } = op {
            self.shut_down = true;
        }
        let real = self.real.apply(op);
        let model = self.model.apply(op);
        self.compare(op, real, model)
    }

    /// One iteration: polls what was ready when it began, in order.
    fn run_round(&mut self) -> Result<(), TestCaseError> {
        for _ in 0..self.ready.queue.len() {
            let actor = self.ready.queue.pop_front().expect("a ready actor");
            self.ready.scheduled.remove(&actor);
            let real = self.real.poll(actor);
            let model = self.model.poll(actor);
            self.compare(&("poll", actor), real, model)?;
        }
        Ok(())
    }

    /// Runs until nothing is ready.
    fn quiesce(&mut self) -> Result<(), TestCaseError> {
        let mut rounds = 0;
        while !self.ready.queue.is_empty() {
            rounds += 1;
            prop_assert!(rounds < 1000, "the ready queue never empties");
            self.run_round()?;
        }
        Ok(())
    }

    /// At rest (nothing ready, so every woken waiter has run): no getter waits while an item
    /// is queued, no putter waits while there is room, nobody waits after a shutdown.
    fn check_at_rest(&self, what: &dyn std::fmt::Debug) -> Result<(), TestCaseError> {
        let queue = &self.real.queue;
        for c in 0..CONSUMERS {
            if self.real.busy(Actor::Consumer(c)) {
                prop_assert!(!self.shut_down, "consumer {} waits after shutdown", c);
                prop_assert_eq!(
                    queue.qsize(),
                    0,
                    "consumer {} waits by an item at {:?}",
                    c,
                    what
                );
            }
        }
        for p in 0..PRODUCERS {
            if self.real.busy(Actor::Producer(p)) {
                prop_assert!(!self.shut_down, "producer {} waits after shutdown", p);
                prop_assert!(
                    queue.full(),
                    "producer {} waits by free room at {:?}",
                    p,
                    what
                );
            }
        }
        Ok(())
    }

    /// Each item created has exactly one fate; a FIFO queue keeps the order.
    fn check_fates(&self, fifo: bool, remaining: &[u32]) -> Result<(), TestCaseError> {
        let ledger = &self.ledger;
        let mut fates: Vec<u32> = ledger
            .gotten
            .iter()
            .chain(&ledger.refused)
            .chain(&ledger.dropped)
            .chain(remaining)
            .copied()
            .collect();
        fates.sort_unstable();
        let created: Vec<u32> = (0..self.real.next_id).collect();
        prop_assert_eq!(fates, created, "every item has exactly one fate");
        let accepted: HashSet<u32> = ledger.accepted.iter().copied().collect();
        prop_assert_eq!(
            accepted.len(),
            ledger.accepted.len(),
            "an item went in twice"
        );
        for id in ledger.gotten.iter().chain(remaining) {
            prop_assert!(
                accepted.contains(id),
                "item {} came out but never went in",
                id
            );
        }
        if fifo {
            // Out in the order they went in (drained items leave gaps).
            let rank = |id: &u32| ledger.accepted.iter().position(|a| a == id);
            let ranks: Vec<_> = ledger.gotten.iter().chain(remaining).map(rank).collect();
            prop_assert!(ranks.windows(2).all(|w| w[0] < w[1]), "FIFO order broken");
        }
        Ok(())
    }
}

/// Runs one case on `queue` (module docs).
fn run_case<O: QueueOrder<Item = Item> + 'static>(
    case: &Case,
    queue: GenericQueue<O>,
) -> Result<(), TestCaseError> {
    let probed = queue.clone();
    PROBE.with(|probe| {
        *probe.borrow_mut() = Some(Box::new(move || {
            let _ = probed.qsize();
        }))
    });
    DROPS.with(|drops| drops.borrow_mut().clear());
    let mut driver = Driver {
        real: Real::new(queue),
        model: Model::new(case.kind, case.maxsize),
        ready: Ready::default(),
        ledger: Ledger::default(),
        maxsize: case.maxsize,
        shut_down: false,
    };

    // The program.
    for op in &case.ops {
        match *op {
            Op::Run { rounds } => {
                for _ in 0..rounds {
                    driver.run_round()?;
                }
            }
            ref op => driver.apply(op)?,
        }
    }
    driver.quiesce()?;

    // Cancel whoever still waits, then take what is left.
    let actors = (0..PRODUCERS)
        .map(Actor::Producer)
        .chain((0..CONSUMERS).map(Actor::Consumer))
        .chain((0..JOINERS).map(Actor::Joiner));
    for actor in actors {
        prop_assert_eq!(driver.real.busy(actor), driver.model.busy(actor));
        driver.apply(&Op::Cancel(actor))?;
    }
    driver.quiesce()?;
    let mut remaining = Vec::new();
    while let Ok(item) = driver.real.queue.get_nowait() {
        remaining.push(driver.real.keep(item));
    }
    prop_assert_eq!(&remaining, &driver.model.drain_order(), "the items left");
    let dropped = DROPS.with(|drops| std::mem::take(&mut *drops.borrow_mut()));
    prop_assert!(dropped.is_empty(), "get_nowait dropped {:?}", dropped);
    driver.check_fates(case.kind == Kind::Fifo, &remaining)?;

    // Tear down without the probe (the queue goes away with the driver).
    PROBE.with(|probe| probe.borrow_mut().take());
    Ok(())
}

fn check(case: Case) -> Result<(), TestCaseError> {
    match case.kind {
        Kind::Fifo => run_case(&case, Queue::new(case.maxsize)),
        Kind::Lifo => run_case(&case, LifoQueue::new(case.maxsize)),
        Kind::Priority => run_case(&case, PriorityQueue::new(case.maxsize)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(512)))]

    /// Random programs of puts, gets, cancels and shutdowns behave as the model says, and
    /// lose or duplicate no item.
    #[test]
    fn prop_queue_matches_model(case in case()) {
        deadline(CASE_BUDGET, move || check(case))?;
    }
}
