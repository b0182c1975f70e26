//! The programs and the reference model of `props_queue.rs`: what a random program of
//! put / get / cancel / shutdown is, how it is generated, and the model that predicts every
//! outcome, wake-up and drop. The module docs of `props_queue.rs` explain both.

use proptest::prelude::*;
use std::time::Duration;

/// How long one case may take before it counts as a hang.
pub(crate) const CASE_BUDGET: Duration = Duration::from_secs(10);
/// Producer actors (each runs at most one `put` at a time).
pub(crate) const PRODUCERS: usize = 3;
/// Consumer actors (each runs at most one `get` at a time).
pub(crate) const CONSUMERS: usize = 3;
/// Joiner actors (each runs at most one `join` at a time).
pub(crate) const JOINERS: usize = 2;

/// Who awaits a future: a producer, a consumer or a joiner (each like one task).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Actor {
    Producer(usize),
    Consumer(usize),
    Joiner(usize),
}

/// Which queue a case runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Fifo,
    Lifo,
    Priority,
}

/// One operation of a program.
#[derive(Clone, Debug)]
pub(crate) enum Op {
    /// The producer, if idle, starts `put` of a new item and polls it once.
    Put { producer: usize, prio: u8 },
    /// `put_nowait` of a new item.
    PutNowait { prio: u8 },
    /// The consumer, if idle, starts `get` and polls it once.
    Get { consumer: usize },
    /// `get_nowait`.
    GetNowait,
    /// The joiner, if idle, starts `join` and polls it once.
    Join { joiner: usize },
    /// Drops the actor's pending future, if any (a cancelled task).
    Cancel(Actor),
    /// `task_done`.
    TaskDone,
    /// Runs this many iterations of the emulated ready queue.
    Run { rounds: usize },
    /// `shutdown(immediate)`.
    Shutdown { immediate: bool },
}

/// A whole program.
#[derive(Clone, Debug)]
pub(crate) struct Case {
    pub(crate) kind: Kind,
    /// 0 = unbounded.
    pub(crate) maxsize: usize,
    pub(crate) ops: Vec<Op>,
}

/// Why a put was refused, with the refused item's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    Full(u32),
    ShutDown(u32),
}

/// Why a get returned no item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NoItem {
    Empty,
    ShutDown,
}

/// What one operation or poll returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Nothing to do (a busy actor asked to start, an idle one to stop or to be polled).
    Skipped,
    /// The future is pending.
    Pending,
    /// A put (or put_nowait) finished: the id of the item that went in, or why not.
    Put(Result<u32, Refused>),
    /// A get (or get_nowait) finished with this item id.
    Got(Result<u32, NoItem>),
    /// A join finished.
    Joined,
    /// What task_done returned (`true`: Ok).
    TaskDone(bool),
    /// A pending future was dropped.
    Cancelled,
}

/// Everything one step shows from outside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Observation {
    pub(crate) outcome: Outcome,
    /// Actors woken during the step, in order.
    pub(crate) wakes: Vec<Actor>,
    /// Ids of items the queue dropped during the step, sorted.
    pub(crate) dropped: Vec<u32>,
    /// `qsize()` after the step.
    pub(crate) qsize: usize,
}

// ---------------------------------------------------------------------------------------
// Generation.

fn actor() -> impl Strategy<Value = Actor> {
    prop_oneof![
        (0..PRODUCERS).prop_map(Actor::Producer),
        (0..CONSUMERS).prop_map(Actor::Consumer),
        (0..JOINERS).prop_map(Actor::Joiner),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => ((0..PRODUCERS), 0u8..3).prop_map(|(producer, prio)| Op::Put { producer, prio }),
        2 => (0u8..3).prop_map(|prio| Op::PutNowait { prio }),
        6 => (0..CONSUMERS).prop_map(|consumer| Op::Get { consumer }),
        2 => Just(Op::GetNowait),
        1 => (0..JOINERS).prop_map(|joiner| Op::Join { joiner }),
        4 => actor().prop_map(Op::Cancel),
        2 => Just(Op::TaskDone),
        5 => (1usize..4).prop_map(|rounds| Op::Run { rounds }),
        1 => any::<bool>().prop_map(|immediate| Op::Shutdown { immediate }),
    ]
}

pub(crate) fn case() -> impl Strategy<Value = Case> {
    let kind = prop_oneof![Just(Kind::Fifo), Just(Kind::Lifo), Just(Kind::Priority)];
    let maxsize = prop_oneof![1 => Just(0usize), 3 => 1usize..=4];
    (kind, maxsize, prop::collection::vec(op(), 1..120)).prop_map(|(kind, maxsize, ops)| Case {
        kind,
        maxsize,
        ops,
    })
}

// ---------------------------------------------------------------------------------------
// The model.

/// A waiter in one of the model's lists: who, and whether it was chosen (woken).
#[derive(Clone, Copy, Debug)]
struct Waiter {
    who: usize,
    woken: bool,
}

/// asyncio's queue with FIFO-fair waiting, in plain vectors (see `props_queue.rs`).
pub(crate) struct Model {
    kind: Kind,
    maxsize: usize,
    /// `(prio, arrival, id)` in arrival order.
    items: Vec<(u8, u64, u32)>,
    next_arrival: u64,
    /// Ids handed to items, in creation order (the real side counts the same way).
    next_id: u32,
    shut_down: bool,
    unfinished: usize,
    /// Waiting or woken getters, in the order they started waiting.
    getters: Vec<Waiter>,
    putters: Vec<Waiter>,
    joiners: Vec<Waiter>,
    /// The item each producer is putting, if it is busy.
    putting: [Option<(u32, u8)>; PRODUCERS],
    getting: [bool; CONSUMERS],
    joining: [bool; JOINERS],
    /// What the current step woke and dropped.
    wakes: Vec<Actor>,
    dropped: Vec<u32>,
}

impl Model {
    pub(crate) fn new(kind: Kind, maxsize: usize) -> Model {
        Model {
            kind,
            maxsize,
            items: Vec::new(),
            next_arrival: 0,
            next_id: 0,
            shut_down: false,
            unfinished: 0,
            getters: Vec::new(),
            putters: Vec::new(),
            joiners: Vec::new(),
            putting: [None; PRODUCERS],
            getting: [false; CONSUMERS],
            joining: [false; JOINERS],
            wakes: Vec::new(),
            dropped: Vec::new(),
        }
    }

    /// Runs one operation (not `Run`: the driver turns it into `poll`s).
    pub(crate) fn apply(&mut self, op: &Op) -> Observation {
        let outcome = match *op {
            Op::Put { producer, prio } => match self.putting[producer] {
                Some(_) => Outcome::Skipped,
                None => {
                    let id = self.new_id();
                    self.putting[producer] = Some((id, prio));
                    self.poll_outcome(Actor::Producer(producer))
                }
            },
            Op::PutNowait { prio } => {
                let id = self.new_id();
                Outcome::Put(if self.shut_down {
                    Err(Refused::ShutDown(id))
                } else if self.room() == 0 {
                    Err(Refused::Full(id))
                } else {
                    self.push(id, prio);
                    Ok(id)
                })
            }
            Op::Get { consumer } if self.getting[consumer] => Outcome::Skipped,
            Op::Get { consumer } => {
                self.getting[consumer] = true;
                self.poll_outcome(Actor::Consumer(consumer))
            }
            Op::GetNowait => Outcome::Got(match self.take() {
                Some(id) => Ok(id),
                None if self.shut_down => Err(NoItem::ShutDown),
                None => Err(NoItem::Empty),
            }),
            Op::Join { joiner } if self.joining[joiner] => Outcome::Skipped,
            Op::Join { joiner } => {
                self.joining[joiner] = true;
                self.poll_outcome(Actor::Joiner(joiner))
            }
            Op::Cancel(actor) => self.cancel(actor),
            Op::TaskDone => Outcome::TaskDone(self.task_done()),
            Op::Shutdown { immediate } => {
                self.shutdown(immediate);
                Outcome::Skipped
            }
            Op::Run { .. } => unreachable!("the driver runs the ready queue"),
        };
        self.observe(outcome)
    }

    /// Polls the actor's pending future, as the ready queue does.
    pub(crate) fn poll(&mut self, actor: Actor) -> Observation {
        let outcome = self.poll_outcome(actor);
        self.observe(outcome)
    }

    fn poll_outcome(&mut self, actor: Actor) -> Outcome {
        match actor {
            Actor::Producer(p) => match self.putting[p] {
                None => Outcome::Skipped,
                Some(item) => self.poll_put(p, item),
            },
            Actor::Consumer(c) if !self.getting[c] => Outcome::Skipped,
            Actor::Consumer(c) => self.poll_get(c),
            Actor::Joiner(j) if !self.joining[j] => Outcome::Skipped,
            Actor::Joiner(j) => self.poll_join(j),
        }
    }

    /// The ids of the items left, in the order `get` would return them.
    pub(crate) fn drain_order(&mut self) -> Vec<u32> {
        std::iter::from_fn(|| self.take()).collect()
    }

    /// How many items put are not acknowledged yet (what `join` waits for).
    pub(crate) fn unfinished(&self) -> usize {
        self.unfinished
    }

    /// Whether `actor` has a pending future.
    pub(crate) fn busy(&self, actor: Actor) -> bool {
        match actor {
            Actor::Producer(p) => self.putting[p].is_some(),
            Actor::Consumer(c) => self.getting[c],
            Actor::Joiner(j) => self.joining[j],
        }
    }

    fn observe(&mut self, outcome: Outcome) -> Observation {
        let mut dropped = std::mem::take(&mut self.dropped);
        dropped.sort_unstable();
        Observation {
            outcome,
            wakes: std::mem::take(&mut self.wakes),
            dropped,
            qsize: self.items.len(),
        }
    }

    fn new_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id - 1
    }

    fn room(&self) -> usize {
        match self.maxsize {
            0 => usize::MAX,
            max => max - self.items.len(),
        }
    }

    fn woken(list: &[Waiter]) -> usize {
        list.iter().filter(|w| w.woken).count()
    }

    /// Wakes the first waiting getter if an item is left that no woken getter counts on.
    fn wake_getter(&mut self) {
        if self.items.len() > Self::woken(&self.getters) {
            if let Some(w) = self.getters.iter_mut().find(|w| !w.woken) {
                w.woken = true;
                self.wakes.push(Actor::Consumer(w.who));
            }
        }
    }

    /// Wakes the first waiting putter if room is left that no woken putter counts on.
    fn wake_putter(&mut self) {
        if self.room() > Self::woken(&self.putters) {
            if let Some(w) = self.putters.iter_mut().find(|w| !w.woken) {
                w.woken = true;
                self.wakes.push(Actor::Producer(w.who));
            }
        }
    }

    fn push(&mut self, id: u32, prio: u8) {
        self.items.push((prio, self.next_arrival, id));
        self.next_arrival += 1;
        self.unfinished += 1;
        self.wake_getter();
    }

    /// Takes the next item in the queue's order, waking a putter for the room.
    fn take(&mut self) -> Option<u32> {
        if self.items.is_empty() {
            return None;
        }
        let at = match self.kind {
            Kind::Fifo => 0,
            Kind::Lifo => self.items.len() - 1,
            Kind::Priority => (0..self.items.len())
                .min_by_key(|&i| (self.items[i].0, self.items[i].1))
                .expect("an item"),
        };
        let (_, _, id) = self.items.remove(at);
        self.wake_putter();
        Some(id)
    }

    /// Removes `who` from `list` if it is there; `Some(woken)` then.
    fn leave(list: &mut Vec<Waiter>, who: usize) -> Option<bool> {
        let at = list.iter().position(|w| w.who == who)?;
        Some(list.remove(at).woken)
    }

    fn poll_put(&mut self, p: usize, (id, prio): (u32, u8)) -> Outcome {
        let chosen = match self.putters.iter().find(|w| w.who == p) {
            Some(w) if !w.woken => return Outcome::Pending,
            Some(_) => Self::leave(&mut self.putters, p).is_some(),
            None => false,
        };
        if self.shut_down {
            self.putting[p] = None;
            return Outcome::Put(Err(Refused::ShutDown(id)));
        }
        let room = self.room();
        if (chosen && room > 0) || room > Self::woken(&self.putters) {
            self.putting[p] = None;
            self.push(id, prio);
            return Outcome::Put(Ok(id));
        }
        self.putters.push(Waiter {
            who: p,
            woken: false,
        });
        Outcome::Pending
    }

    fn poll_get(&mut self, c: usize) -> Outcome {
        let chosen = match self.getters.iter().find(|w| w.who == c) {
            Some(w) if !w.woken => return Outcome::Pending,
            Some(_) => Self::leave(&mut self.getters, c).is_some(),
            None => false,
        };
        let count = self.items.len();
        if ((chosen || self.shut_down) && count > 0) || count > Self::woken(&self.getters) {
            self.getting[c] = false;
            return Outcome::Got(Ok(self.take().expect("an item")));
        }
        if self.shut_down {
            self.getting[c] = false;
            return Outcome::Got(Err(NoItem::ShutDown));
        }
        self.getters.push(Waiter {
            who: c,
            woken: false,
        });
        Outcome::Pending
    }

    fn poll_join(&mut self, j: usize) -> Outcome {
        match self.joiners.iter().find(|w| w.who == j) {
            Some(w) if !w.woken => Outcome::Pending,
            Some(_) => {
                Self::leave(&mut self.joiners, j);
                self.joining[j] = false;
                Outcome::Joined
            }
            None if self.unfinished == 0 => {
                self.joining[j] = false;
                Outcome::Joined
            }
            None => {
                self.joiners.push(Waiter {
                    who: j,
                    woken: false,
                });
                Outcome::Pending
            }
        }
    }

    fn cancel(&mut self, actor: Actor) -> Outcome {
        if !self.busy(actor) {
            return Outcome::Skipped;
        }
        match actor {
            Actor::Producer(p) => {
                let (id, _) = self.putting[p].take().expect("busy");
                if Self::leave(&mut self.putters, p) == Some(true) {
                    self.wake_putter();
                }
                self.dropped.push(id);
            }
            Actor::Consumer(c) => {
                self.getting[c] = false;
                if Self::leave(&mut self.getters, c) == Some(true) {
                    self.wake_getter();
                }
            }
            Actor::Joiner(j) => {
                self.joining[j] = false;
                Self::leave(&mut self.joiners, j);
            }
        }
        Outcome::Cancelled
    }

    fn wake_all(list: &mut [Waiter], wakes: &mut Vec<Actor>, actor: fn(usize) -> Actor) {
        for w in list.iter_mut().filter(|w| !w.woken) {
            w.woken = true;
            wakes.push(actor(w.who));
        }
    }

    fn task_done(&mut self) -> bool {
        if self.unfinished == 0 {
            return false;
        }
        self.unfinished -= 1;
        if self.unfinished == 0 {
            Self::wake_all(&mut self.joiners, &mut self.wakes, Actor::Joiner);
        }
        true
    }

    fn shutdown(&mut self, immediate: bool) {
        self.shut_down = true;
        if immediate && !self.items.is_empty() {
            let drained = std::mem::take(&mut self.items);
            self.unfinished = self.unfinished.saturating_sub(drained.len());
            self.dropped.extend(drained.iter().map(|&(_, _, id)| id));
            if self.unfinished == 0 {
                Self::wake_all(&mut self.joiners, &mut self.wakes, Actor::Joiner);
            }
        }
        Self::wake_all(&mut self.getters, &mut self.wakes, Actor::Consumer);
        Self::wake_all(&mut self.putters, &mut self.wakes, Actor::Producer);
    }
}
