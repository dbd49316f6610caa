//! The events a sink holds until their bytes are written, and what becomes
//! of them when they never are.
//!
//! Dropping an event acknowledges it, which is right for a filter and wrong
//! for a sink that could not write it. [`Held`] makes the sink say which:
//! [`Held::delivered`] releases the events as written; anything still held
//! when the `Held` is dropped (the sink returned early, failed, panicked)
//! fails its batches, so their sources never commit them.
//! [`drain_failed`] does the same for the batches still queued in the
//! sink's input edge when the sink stops early.

use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crate::kit::counters::InFlight;
use crate::kit::edge::EdgeReceiver;
use crate::kit::event::Event;

/// Events taken by a sink and not written yet.
#[derive(Default)]
pub struct Held(Vec<Event>);

impl Held {
    /// Holds `events` too.
    pub fn extend(&mut self, events: Vec<Event>) {
        self.0.extend(events);
    }

    /// Events held.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every event held was written: dropping them acknowledges them.
    pub fn delivered(&mut self) {
        self.0.clear();
    }

    /// Hands the held events over (to `give_up`, which decides their fate).
    pub fn take(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.0)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        crate::kit::event::fail_events(&self.0);
    }
}

/// Closes `input` and fails every batch still queued in it (and in an
/// ordered edge's reorder buffer); returns how many events that was. Senders
/// waiting on the edge are refused, and the edge fails what they refused.
pub fn drain_failed(input: &mut EdgeReceiver, in_flight: &Arc<InFlight>) -> u64 {
    input.channel().close();
    let mut cx = Context::from_waker(Waker::noop());
    let mut lost = 0u64;
    loop {
        // A closed edge never waits: it yields what it holds, then `None`.
        let mut next = std::pin::pin!(input.recv());
        match next.as_mut().poll(&mut cx) {
            Poll::Ready(Some(batch)) => {
                crate::kit::event::fail_events(&batch.events);
                lost += batch.len() as u64;
            }
            Poll::Ready(None) | Poll::Pending => break,
        }
    }
    in_flight.sub(lost);
    lost
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::ack::{Ack, AckData, AckToken};
    use crate::kit::edge::edge;
    use crate::kit::event::Batch;
    use tokio::sync::mpsc;

    fn event(seq: u64, tx: &mpsc::UnboundedSender<AckToken>) -> Event {
        let mut e = Event::new(jaq_json::Val::from(seq as isize));
        e.ack = Some(Ack::new(seq, AckData::Ids(vec![]), tx));
        e
    }

    #[test]
    fn held_events_fail_unless_delivered() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut held = Held::default();
        held.extend(vec![event(0, &tx)]);
        held.delivered();
        assert!(!rx.try_recv().unwrap().failed);
        held.extend(vec![event(1, &tx)]);
        drop(held);
        assert!(rx.try_recv().unwrap().failed);
    }

    #[tokio::test]
    async fn queued_batches_fail_when_the_sink_stops() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for ordered in [false, true] {
            let (send, mut recv) = edge(8, ordered);
            // Out of order for the ordered edge: 1 waits in the reorder buffer.
            send.send(Batch::new(1, 1, vec![event(1, &tx)]))
                .await
                .unwrap();
            send.send(Batch::new(1, 3, vec![event(3, &tx)]))
                .await
                .unwrap();
            let in_flight = Arc::new(InFlight::default());
            in_flight.add(2);
            assert_eq!(drain_failed(&mut recv, &in_flight), 2);
            assert_eq!(in_flight.current(), 0);
            // Sending after the stop is refused and fails the batch too.
            assert!(
                send.send(Batch::new(1, 0, vec![event(0, &tx)]))
                    .await
                    .is_err()
            );
            drop(recv);
            let mut failed = 0;
            while let Ok(t) = rx.try_recv() {
                assert!(t.failed);
                failed += 1;
            }
            assert_eq!(failed, 3);
        }
    }
}
