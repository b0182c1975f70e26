//! The order of the timers: a radix heap, earliest `(when, seq)` first.
//!
//! A loop's timers have a property a general priority queue does not use: the clock only
//! moves forward, so almost every new deadline is at or after the last one popped. A *radix
//! heap* (Ahuja, Mehlhorn, Orlin and Tarjan, 1990) exploits that. It remembers `last`, the
//! deadline of the last minimum it found, and files every entry in bucket `b`, the position
//! of the highest bit in which its deadline differs from `last` (bucket 0: equal to `last`).
//! Pushing is one XOR and one leading-zeros count. To find the minimum, take the lowest
//! non-empty bucket, make its smallest deadline the new `last`, and refile that bucket's
//! entries: each lands in a strictly lower bucket, so an entry moves at most 64 times in its
//! life, and in practice two or three. All of it is sequential `Vec` traffic, which is why
//! it beats a binary heap (17 dependent, cache-missing levels per pop at 100k timers).
//!
//! Two details make it exact for a loop:
//! - **ties stay FIFO.** Among equal deadlines the queue hands entries out in push order (by
//!   `seq`): refiling walks a bucket in order into buckets that were empty, and later pushes
//!   append behind. Bucket 0 is consumed from its front (`head`).
//! - **the past is allowed.** `call_at` may name a deadline before `last`. Such an entry is
//!   *overdue*: earlier than everything in the buckets, it goes to a small binary heap that
//!   is always served first.
//!
//! This file only orders entries; `timers.rs` decides what they mean and when they are dead.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// One queued timer: a deadline, a tie-breaker, and where its action lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimerEntry {
    /// The deadline, in nanoseconds since the timers' epoch.
    pub(crate) when: u64,
    /// Scheduling order, unique and growing: breaks ties between equal deadlines FIFO.
    pub(crate) seq: u64,
    /// Key of the entry's action in `TimerHeap::slots`.
    pub(crate) slot: usize,
}

impl PartialOrd for TimerEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for TimerEntry {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest `(when, seq)` first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.when, other.seq).cmp(&(self.when, self.seq))
    }
}

/// Bucket count: bucket 0 for deadlines equal to `last`, then one per bit of a `u64`.
const BUCKETS: usize = 65;

/// A radix heap of timer entries plus a binary heap of overdue ones.
pub(crate) struct TimerQueue {
    /// The deadline of the last minimum found; every bucketed entry is at or after it.
    last: u64,
    /// `buckets[b]` holds entries whose deadline first differs from `last` at bit `b - 1`
    /// (counting from the least significant); `buckets[0]` those equal to `last`.
    buckets: [Vec<TimerEntry>; BUCKETS],
    /// How much of `buckets[0]` was already popped (it is consumed from the front).
    head: usize,
    /// Entries pushed with a deadline before `last`; all earlier than any bucketed entry.
    overdue: BinaryHeap<TimerEntry>,
    /// Entries held, in the buckets and overdue.
    len: usize,
}

impl TimerQueue {
    /// An empty queue.
    pub(crate) fn new() -> Self {
        TimerQueue {
            last: 0,
            buckets: std::array::from_fn(|_| Vec::new()),
            head: 0,
            overdue: BinaryHeap::new(),
            len: 0,
        }
    }

    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The bucket for deadline `when`, relative to `last` (`when >= last`).
    fn bucket_of(&self, when: u64) -> usize {
        BUCKETS - 1 - (when ^ self.last).leading_zeros() as usize
    }

    /// Adds `entry`. Its `seq` must be larger than every `seq` pushed before.
    pub(crate) fn push(&mut self, entry: TimerEntry) {
        self.len += 1;
        if entry.when < self.last {
            self.overdue.push(entry);
        } else {
            let bucket = self.bucket_of(entry.when);
            self.buckets[bucket].push(entry);
        }
    }

    /// The earliest entry, after moving it to the front of bucket 0 if need be.
    pub(crate) fn peek(&mut self) -> Option<&TimerEntry> {
        if self.len == 0 {
            // The common case of a loop without timers: no bucket scan.
            return None;
        }
        if !self.overdue.is_empty() {
            return self.overdue.peek();
        }
        if self.head == self.buckets[0].len() {
            self.refill_bucket_zero()?;
        }
        self.buckets[0].get(self.head)
    }

    /// Removes and returns the earliest entry.
    pub(crate) fn pop(&mut self) -> Option<TimerEntry> {
        if let Some(entry) = self.overdue.pop() {
            self.len -= 1;
            return Some(entry);
        }
        self.peek()?;
        let entry = self.buckets[0][self.head];
        self.head += 1;
        self.len -= 1;
        Some(entry)
    }

    /// Bucket 0 is used up: find the lowest non-empty bucket, make its smallest deadline
    /// the new `last`, and refile its entries (in order, so ties stay FIFO). `None` if the
    /// queue is empty.
    fn refill_bucket_zero(&mut self) -> Option<()> {
        self.buckets[0].clear();
        self.head = 0;
        let source = (1..BUCKETS).find(|&b| !self.buckets[b].is_empty())?;
        let mut entries = std::mem::take(&mut self.buckets[source]);
        self.last = entries.iter().map(|entry| entry.when).min()?;
        for entry in entries.drain(..) {
            let bucket = self.bucket_of(entry.when);
            self.buckets[bucket].push(entry);
        }
        // Give the emptied vector back, to keep its capacity.
        self.buckets[source] = entries;
        Some(())
    }

    /// Keeps only the entries for which `keep` is true (order is preserved).
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&TimerEntry) -> bool) {
        let head = self.head;
        self.buckets[0].drain(..head);
        self.head = 0;
        for bucket in &mut self.buckets {
            bucket.retain(&mut keep);
        }
        self.overdue.retain(&mut keep);
        self.len = self.overdue.len() + self.buckets.iter().map(Vec::len).sum::<usize>();
    }

    /// Removes every entry.
    pub(crate) fn clear(&mut self) {
        for bucket in &mut self.buckets {
            bucket.clear();
        }
        self.head = 0;
        self.overdue.clear();
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    //! Model-based check: the queue pops exactly what a sorted list would.

    use super::*;
    use proptest::prelude::*;

    /// One step of a random program.
    #[derive(Debug, Clone)]
    enum Op {
        /// Push a deadline this far from the last popped one (negative: overdue).
        Push(i64),
        /// Pop the minimum.
        Pop,
        /// Drop every entry whose `seq` is divisible by this.
        Retain(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (-50i64..2_000).prop_map(Op::Push),
            1 => (0i64..4).prop_map(Op::Push),
            1 => (0i64..1 << 40).prop_map(Op::Push),
            4 => Just(Op::Pop),
            1 => (2u64..5).prop_map(Op::Retain),
        ]
    }

    /// 256 cases by default; `PROPTEST_CASES` raises it (`just soak`).
    fn cases() -> u32 {
        std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(256)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases()))]
        #[test]
        fn pops_in_deadline_then_push_order(ops in proptest::collection::vec(op(), 0..300)) {
            let mut queue = TimerQueue::new();
            let mut model: Vec<TimerEntry> = Vec::new();
            let mut seq = 0;
            let mut last_popped = 1_000u64;
            for op in ops {
                match op {
                    Op::Push(offset) => {
                        let when = last_popped.saturating_add_signed(offset);
                        let entry = TimerEntry { when, seq, slot: seq as usize };
                        seq += 1;
                        queue.push(entry);
                        model.push(entry);
                    }
                    Op::Pop => {
                        model.sort_by_key(|entry| (entry.when, entry.seq));
                        let expected = (!model.is_empty()).then(|| model.remove(0));
                        let got = queue.pop();
                        prop_assert_eq!(got, expected);
                        if let Some(entry) = got {
                            last_popped = entry.when;
                        }
                    }
                    Op::Retain(divisor) => {
                        queue.retain(|entry| entry.seq % divisor != 0);
                        model.retain(|entry| entry.seq % divisor != 0);
                    }
                }
                prop_assert_eq!(queue.len(), model.len());
            }
            model.sort_by_key(|entry| (entry.when, entry.seq));
            for expected in model {
                prop_assert_eq!(queue.pop(), Some(expected));
            }
            prop_assert_eq!(queue.pop(), None);
        }
    }
}
