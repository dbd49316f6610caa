//! The reordering receiver of an ordered edge: releases batches strictly in
//! key order per (lane, origin), and forgets an origin once its end passed.
//!
//! A batch's position is its `seq` and, when a stage split its output into
//! parts, one (index, last) level per split (see [`crate::kit::event::Part`]).
//! The next batch expected after one released at (`seq`, levels) is found
//! from its deepest level that is not `last`: the next part at that level,
//! whose own deeper levels (if it was split again) all start at 0; when
//! every level is `last`, it is the first batch of `seq + 1`.

use std::collections::{BTreeMap, HashMap, VecDeque};

use async_channel::Receiver;

use crate::kit::event::{Batch, Part};

/// A stream's place in the order: the next batch has `seq` and its part
/// indices start with `prefix`, followed only by zeros.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    seq: u64,
    prefix: Vec<u32>,
}

impl Cursor {
    /// True when the batch at `seq` with these part indices is the next one.
    pub fn admits(&self, seq: u64, indices: &[u32]) -> bool {
        seq == self.seq
            && indices.len() >= self.prefix.len()
            && indices[..self.prefix.len()] == self.prefix[..]
            && indices[self.prefix.len()..].iter().all(|&i| i == 0)
    }

    /// Moves past the batch at `seq` with `parts`.
    pub fn advance(&mut self, seq: u64, parts: &[Part]) {
        match parts.iter().rposition(|p| !p.last) {
            None => {
                self.seq = seq + 1;
                self.prefix.clear();
            }
            Some(j) => {
                self.prefix.clear();
                self.prefix.extend(parts[..j].iter().map(|p| p.index));
                self.prefix.push(parts[j].index + 1);
            }
        }
    }
}

/// Pending batches are sorted by (lane, origin, seq, part indices): the
/// first of a stream is the only one that can be next.
type PendingKey = (u32, u64, u64, Vec<u32>);

/// The receiving state of an ordered edge.
pub struct Reorder {
    pub(super) rx: Receiver<Batch>,
    /// Where each (lane, origin) stream stands; removed at its end.
    next: HashMap<(u32, u64), Cursor>,
    /// Batches that arrived early.
    pending: BTreeMap<PendingKey, Batch>,
    /// Batches released in order, not yet handed out.
    ready: VecDeque<Batch>,
}

impl Reorder {
    pub(super) fn new(rx: Receiver<Batch>) -> Self {
        Reorder {
            rx,
            next: HashMap::new(),
            pending: BTreeMap::new(),
            ready: VecDeque::new(),
        }
    }

    /// True when no released batch waits to be handed out.
    pub(super) fn nothing_ready(&self) -> bool {
        self.ready.is_empty()
    }

    /// Streams whose order is being tracked (for tests of its bound).
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.next.len()
    }

    pub(super) async fn recv(&mut self) -> Option<Batch> {
        loop {
            if let Some(b) = self.ready.pop_front() {
                return Some(b);
            }
            match self.rx.recv().await {
                Ok(batch) => self.accept(batch),
                // All senders gone: whatever is still pending can no longer
                // be completed; release it in key order rather than lose it.
                Err(_) => return self.pending.pop_first().map(|(_, b)| b),
            }
        }
    }

    fn accept(&mut self, batch: Batch) {
        let stream = (batch.lane, batch.origin);
        let indices: Vec<u32> = batch.parts.iter().map(|p| p.index).collect();
        let cursor = self.next.entry(stream).or_default();
        if !cursor.admits(batch.seq, &indices) {
            self.pending
                .insert((stream.0, stream.1, batch.seq, indices), batch);
            return;
        }
        let mut batch = batch;
        loop {
            cursor.advance(batch.seq, &batch.parts);
            let ended = batch.end && batch.is_final_part();
            self.ready.push_back(batch);
            if ended {
                // Nothing of this stream follows its end: forget it.
                self.next.remove(&stream);
                return;
            }
            let from = (stream.0, stream.1, 0, Vec::new());
            let Some(entry) = self.pending.range(from..).next() else {
                return;
            };
            let (lane, origin, seq, indices) = entry.0;
            if (*lane, *origin) != stream || !cursor.admits(*seq, indices) {
                return;
            }
            let key = entry.0.clone();
            batch = self.pending.remove(&key).expect("just found");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::event::{Event, Key};

    fn at(key: &Key) -> Batch {
        key.batch(vec![Event::new(jaq_json::Val::from(key.seq as isize))])
    }

    fn drain(r: &mut Reorder) -> Vec<(u64, Vec<u32>)> {
        r.ready
            .drain(..)
            .map(|b| (b.seq, b.parts.iter().map(|p| p.index).collect()))
            .collect()
    }

    #[test]
    fn split_parts_are_released_in_order_at_every_level() {
        let (_tx, rx) = async_channel::bounded(1);
        let mut r = Reorder::new(rx);
        let k0 = Key::new(1, 0);
        let k1 = Key::new(1, 1);
        // seq 0 split in two, its first part split again in two; seq 1 whole.
        let a = k0.part(0, false).part(0, false);
        let b = k0.part(0, false).part(1, true);
        let c = k0.part(1, true);
        for k in [&k1, &c, &b] {
            r.accept(at(k));
        }
        assert!(drain(&mut r).is_empty(), "nothing before the first part");
        r.accept(at(&a));
        assert_eq!(
            drain(&mut r),
            vec![(0, vec![0, 0]), (0, vec![0, 1]), (0, vec![1]), (1, vec![])]
        );
    }

    #[test]
    fn an_ended_stream_is_forgotten_once_released() {
        let (_tx, rx) = async_channel::bounded(1);
        let mut r = Reorder::new(rx);
        for origin in 0..100 {
            let end = Key {
                end: true,
                ..Key::new(origin, 1)
            };
            r.accept(at(&end));
            assert_eq!(r.tracked(), 1, "seq 0 of {origin} still missing");
            r.accept(at(&Key::new(origin, 0)));
            assert_eq!(r.tracked(), 0, "stream {origin} forgotten");
        }
        assert_eq!(drain(&mut r).len(), 200);
        // An end on a part that is not the last keeps the stream.
        let split = Key {
            end: true,
            ..Key::new(7, 0)
        };
        r.accept(at(&split.part(0, false)));
        assert_eq!(r.tracked(), 1);
        r.accept(at(&split.part(1, true)));
        assert_eq!(r.tracked(), 0);
    }
}
