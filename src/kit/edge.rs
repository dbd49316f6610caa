//! Edges: the bounded channels between stages.
//!
//! An edge is an [`async_channel`] of [`Batch`]es, bounded in batches so that
//! it holds about `capacity` events. A full edge makes `send` wait, and that
//! wait is the backpressure, all the way back to the reader.
//!
//! An edge into an `ordered` sink releases batches strictly in sequence
//! order per (lane, origin) (see `edge/reorder.rs`), and forgets an origin
//! once the batch marking its end was released. Its buffer of early batches is bounded at the
//! source, not here: a source feeding an ordered sink takes a permit for
//! every batch it sends (see `source_outputs.rs`) and the batch carries it
//! until the ordered sink has released it, so at most that many batches per
//! source are ever in flight. Nothing downstream of a source ever waits for
//! a permit, so no stage holding the batch everyone waits for can be stuck
//! behind it.

use async_channel::{Receiver, Sender};

use crate::kit::event::Batch;

mod reorder;
pub use reorder::{Cursor, Reorder};

/// The consumer went away; nothing more can be delivered on this edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

/// Creates an edge holding at most `batches` batches. With `ordered`, the
/// receiver releases batches in sequence order.
pub fn edge(batches: usize, ordered: bool) -> (EdgeSender, EdgeReceiver) {
    let (tx, rx) = async_channel::bounded(batches.max(1));
    let sender = EdgeSender {
        tx,
        lane: 0,
        carry_empty: ordered,
    };
    if ordered {
        let receiver = EdgeReceiver::Ordered(Reorder::new(rx));
        (sender, receiver)
    } else {
        (sender, EdgeReceiver::Plain(rx))
    }
}

/// The sending end of an edge, as held by one upstream port.
#[derive(Clone)]
pub struct EdgeSender {
    tx: Sender<Batch>,
    /// Which of the consumer's inputs this sender feeds.
    lane: u32,
    /// Whether empty batches must be sent: true when an ordered sink is
    /// downstream, whose sequence must stay dense through every stage.
    carry_empty: bool,
}

impl EdgeSender {
    /// A sender for lane `lane` of the same edge.
    pub fn for_lane(&self, lane: u32) -> EdgeSender {
        EdgeSender {
            lane,
            ..self.clone()
        }
    }

    /// Makes the sender forward empty batches too (an ordered sink is
    /// somewhere downstream of the consumer).
    pub fn carrying_empty(mut self) -> EdgeSender {
        self.carry_empty = true;
        self
    }

    /// True when an ordered sink is downstream (empty batches go on).
    pub fn carries_empty(&self) -> bool {
        self.carry_empty
    }

    /// Sends `batch`, waiting while the edge is full (backpressure).
    pub async fn send(&self, mut batch: Batch) -> Result<(), Closed> {
        batch.lane = self.lane;
        if batch.is_empty() && !self.carry_empty {
            return Ok(());
        }
        self.tx.send(batch).await.map_err(|refused| {
            // The consumer is gone: what it refused was not delivered.
            crate::kit::event::fail_events(&refused.0.events);
            Closed
        })
    }

    /// Number of batches waiting in the edge (for occupancy metrics).
    pub fn len(&self) -> usize {
        self.tx.len()
    }

    /// True when the edge holds no batch.
    pub fn is_empty(&self) -> bool {
        self.tx.is_empty()
    }

    /// The edge's capacity in batches.
    pub fn capacity(&self) -> usize {
        self.tx.capacity().unwrap_or(0)
    }
}

/// The receiving end of an edge.
pub enum EdgeReceiver {
    /// Batches in arrival order; cloned by every worker of a stage.
    Plain(Receiver<Batch>),
    /// Batches in sequence order, for one ordered sink.
    Ordered(Reorder),
}

impl EdgeReceiver {
    /// The next batch, or `None` once every sender is gone and the edge is drained.
    pub async fn recv(&mut self) -> Option<Batch> {
        match self {
            EdgeReceiver::Plain(rx) => rx.recv().await.ok(),
            EdgeReceiver::Ordered(r) => r.recv().await,
        }
    }

    /// True when no batch is waiting: the moment for a sink to flush.
    pub fn is_idle(&self) -> bool {
        match self {
            EdgeReceiver::Plain(rx) => rx.is_empty(),
            EdgeReceiver::Ordered(r) => r.nothing_ready() && r.rx.is_empty(),
        }
    }

    /// The underlying channel (for occupancy gauges).
    pub fn channel(&self) -> &Receiver<Batch> {
        match self {
            EdgeReceiver::Plain(rx) => rx,
            EdgeReceiver::Ordered(r) => &r.rx,
        }
    }

    /// A receiver sharing the same queue (workers of one stage share one edge).
    ///
    /// Returns `None` for an ordered edge, which has a single consumer.
    pub fn share(&self) -> Option<Receiver<Batch>> {
        match self {
            EdgeReceiver::Plain(rx) => Some(rx.clone()),
            EdgeReceiver::Ordered(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::event::Event;

    fn batch(seq: u64) -> Batch {
        Batch::new(7, seq, vec![Event::new(jaq_json::Val::from(seq as isize))])
    }

    #[tokio::test]
    async fn ordered_edge_releases_in_sequence() {
        let (tx, mut rx) = edge(16, true);
        for s in [2, 0, 3, 1] {
            tx.send(batch(s)).await.unwrap();
        }
        drop(tx);
        let mut got = Vec::new();
        while let Some(b) = rx.recv().await {
            got.push(b.seq);
        }
        assert_eq!(got, vec![0, 1, 2, 3]);
    }

    #[tokio::test]
    async fn plain_edge_skips_empty_batches_and_closes_on_drop() {
        let (tx, mut rx) = edge(4, false);
        tx.send(Batch::new(1, 0, vec![])).await.unwrap();
        tx.send(batch(1)).await.unwrap();
        drop(tx);
        assert_eq!(rx.recv().await.unwrap().seq, 1);
        assert!(rx.recv().await.is_none());
    }
}
