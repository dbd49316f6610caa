//! Edge occupancy: [`EdgeGauge`] reads how full a stage's input edge is
//! through a weak handle (a metrics reader must never keep an edge open,
//! or the close cascade would never reach the sinks), and
//! [`sample_edges`] samples every stage's gauge for the report.

use crate::kit::event::Batch;

/// How full a stage's input edge is, without holding it open.
#[derive(Debug)]
pub struct EdgeGauge {
    rx: async_channel::WeakReceiver<Batch>,
    /// Capacity in batches (fixed at build time).
    capacity: usize,
}

impl EdgeGauge {
    /// A gauge on the channel `rx` reads from.
    pub fn new(rx: &async_channel::Receiver<Batch>) -> Self {
        EdgeGauge {
            rx: rx.downgrade(),
            capacity: rx.capacity().unwrap_or(0),
        }
    }

    /// Batches waiting now (0 once the edge is closed: it is draining or gone).
    pub fn len(&self) -> usize {
        // The upgraded handle lives only for this call; if it happens to be
        // the last receiver, dropping it closes the edge as the real last
        // receiver would have.
        self.rx.upgrade().map_or(0, |rx| rx.len())
    }

    /// True when no batch waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Capacity in batches.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_gauge_does_not_keep_the_edge_open() {
        let (tx, rx) = async_channel::bounded::<Batch>(4);
        let gauge = EdgeGauge::new(&rx);
        tx.try_send(Batch::default()).unwrap();
        assert_eq!((gauge.len(), gauge.capacity()), (1, 4));
        drop(rx);
        assert!(tx.is_closed(), "the gauge must not count as a receiver");
        assert_eq!(gauge.len(), 0);
    }
}
