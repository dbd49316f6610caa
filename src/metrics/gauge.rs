//! Edge occupancy: [`EdgeGauge`] reads how full a stage's input edge is
//! through a weak handle (a metrics reader must never keep an edge open,
//! or the close cascade would never reach the sinks), and
//! [`sample_edges`] samples every stage's gauge for the report.

use std::sync::Weak;

use crate::kit::event::Batch;
use crate::stats::StageStats;

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

/// Samples the input edge occupancy of `stages` every
/// [`OCCUPANCY_EVERY`](crate::stats::OCCUPANCY_EVERY) on the current tokio
/// runtime, for the report. The task holds the counters weakly and ends once
/// they are gone. A reload calls it again for the stages it adds, so that
/// every stage of the run is sampled exactly once per tick.
pub fn sample_edges(stages: Vec<Weak<StageStats>>) {
    if stages.is_empty() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(crate::stats::OCCUPANCY_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let mut alive = false;
            for s in stages.iter().filter_map(Weak::upgrade) {
                alive = true;
                s.sample_edge();
            }
            if !alive {
                return;
            }
        }
    });
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
