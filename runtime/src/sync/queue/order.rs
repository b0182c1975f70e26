//! The three orders a queue can hand its items out in: FIFO, LIFO and priority.
//!
//! An order is the container that holds a queue's items; it decides which item `pop` returns
//! and nothing else. Everything else (waiting, fairness, cancellation, `maxsize`, `join`)
//! lives once in `state.rs` and works the same for all three, which is why a
//! [`GenericQueue`](super::GenericQueue) is generic over its order instead of three copies.
//!
//! The public trait [`QueueOrder`] is sealed: its methods live in the crate-private
//! supertrait `Store`, so only the three orders below implement it.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;

/// The container operations a queue needs (crate-private: it seals [`QueueOrder`]).
pub trait Store: Default {
    /// The type of the items.
    type Item;
    /// How many items it holds.
    fn len(&self) -> usize;
    /// Whether it holds no item.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Adds an item.
    fn push(&mut self, item: Self::Item);
    /// Takes the next item in this order out.
    fn pop(&mut self) -> Option<Self::Item>;
}

/// The order in which a [`GenericQueue`](super::GenericQueue) hands out its items:
/// [`FifoOrder`] ([`Queue`](super::Queue)), [`LifoOrder`] ([`LifoQueue`](super::LifoQueue))
/// or [`PriorityOrder`] ([`PriorityQueue`](super::PriorityQueue)).
///
/// Sealed: only these three implement it. Name it to write code that takes any of the three
/// queues.
///
/// # Examples
///
/// ```
/// use evloop::{GenericQueue, QueueOrder};
///
/// fn fill<O: QueueOrder<Item = u32>>(queue: &GenericQueue<O>) {
///     for n in [2, 3, 1] {
///         queue.put_nowait(n).unwrap();
///     }
/// }
///
/// let fifo = evloop::Queue::unbounded();
/// let lifo = evloop::LifoQueue::unbounded();
/// let priority = evloop::PriorityQueue::unbounded();
/// fill(&fifo);
/// fill(&lifo);
/// fill(&priority);
/// assert_eq!(fifo.get_nowait(), Ok(2));
/// assert_eq!(lifo.get_nowait(), Ok(1));
/// assert_eq!(priority.get_nowait(), Ok(1));
/// ```
pub trait QueueOrder: Store {}

/// First in, first out: the items of a [`Queue`](super::Queue).
pub struct FifoOrder<T> {
    /// Oldest at the front.
    items: VecDeque<T>,
}

/// Last in, first out: the items of a [`LifoQueue`](super::LifoQueue).
pub struct LifoOrder<T> {
    /// Newest at the end.
    items: Vec<T>,
}

/// Smallest first, oldest first among equals: the items of a
/// [`PriorityQueue`](super::PriorityQueue).
pub struct PriorityOrder<T> {
    /// A min-heap on (item, arrival number).
    heap: BinaryHeap<Reverse<Entry<T>>>,
    /// The arrival number of the next item, which breaks ties in FIFO order.
    next_seq: u64,
}

/// An item of a priority queue with its arrival number.
struct Entry<T> {
    /// The item, compared first.
    item: T,
    /// When it arrived, compared second (so equal items leave in arrival order).
    seq: u64,
}

impl<T: Ord> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.item.cmp(&other.item).then(self.seq.cmp(&other.seq))
    }
}

impl<T: Ord> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T: Ord> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<T: Ord> Eq for Entry<T> {}

impl<T> Default for FifoOrder<T> {
    fn default() -> Self {
        FifoOrder {
            items: VecDeque::new(),
        }
    }
}

impl<T> Default for LifoOrder<T> {
    fn default() -> Self {
        LifoOrder { items: Vec::new() }
    }
}

impl<T> Default for PriorityOrder<T> {
    fn default() -> Self {
        PriorityOrder {
            heap: BinaryHeap::new(),
            next_seq: 0,
        }
    }
}

impl<T> Store for FifoOrder<T> {
    type Item = T;
    fn len(&self) -> usize {
        self.items.len()
    }
    fn push(&mut self, item: T) {
        self.items.push_back(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.items.pop_front()
    }
}

impl<T> Store for LifoOrder<T> {
    type Item = T;
    fn len(&self) -> usize {
        self.items.len()
    }
    fn push(&mut self, item: T) {
        self.items.push(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.items.pop()
    }
}

impl<T: Ord> Store for PriorityOrder<T> {
    type Item = T;
    fn len(&self) -> usize {
        self.heap.len()
    }
    fn push(&mut self, item: T) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Reverse(Entry { item, seq }));
    }
    fn pop(&mut self) -> Option<T> {
        self.heap.pop().map(|Reverse(entry)| entry.item)
    }
}

impl<T> QueueOrder for FifoOrder<T> {}
impl<T> QueueOrder for LifoOrder<T> {}
impl<T: Ord> QueueOrder for PriorityOrder<T> {}

/// The orders print their name only (the queue's `Debug` shows the counts).
macro_rules! debug_by_name {
    ($($order:ident),*) => {$(
        impl<T> fmt::Debug for $order<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(stringify!($order))
            }
        }
    )*};
}
debug_by_name!(FifoOrder, LifoOrder, PriorityOrder);
