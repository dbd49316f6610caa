//! The counters every stage bumps: [`StageStats`] (one per stage: events,
//! errors, bytes, busy and blocked time, the input edge gauge) and
//! [`InFlight`] (the events inside the whole graph).
//!
//! Counters are plain atomics bumped once per batch, so counting costs
//! nothing measurable on the hot path.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use super::latency::Latency;
use super::series::Series;
use super::sync::{lock, nanos};

/// Counters of one stage.
#[derive(Debug, Default)]
pub struct StageStats {
    /// Events received from input edges (sources: events read).
    pub events_in: AtomicU64,
    /// Events emitted on regular outputs (sinks: events written).
    pub events_out: AtomicU64,
    /// Error events produced (whether or not something consumes `STAGE.errors`).
    pub errors: AtomicU64,
    /// Error events that no stage consumed and that were only logged.
    pub errors_unconsumed: AtomicU64,
    /// Events discarded because the output they were meant for has no consumer.
    pub discarded: AtomicU64,
    /// Bytes read (sources) or written (sinks).
    pub bytes: AtomicU64,
    /// Open connections (network sources).
    pub connections: AtomicU64,
    /// Failed attempts that were retried or gave up (sinks).
    pub retries: AtomicU64,
    /// Time spent on each batch (transforms, sinks), for the metrics and
    /// the report's quantiles.
    pub latency: Latency,
    /// Nanoseconds a source spent reading and decoding (file sources; the
    /// busy time of transforms and sinks is the sum of `latency`).
    pub busy_nanos: AtomicU64,
    /// Nanoseconds a source waited to send on a full edge (backpressure).
    pub blocked_nanos: AtomicU64,
    /// Events a replay's `from`/`to` left out.
    pub skipped: AtomicU64,
    /// Input edge occupancy over the run, sampled every
    /// [`OCCUPANCY_EVERY`](super::OCCUPANCY_EVERY).
    pub occupancy: Mutex<Series>,
    /// How full the stage's input edge is (set when the graph is built,
    /// replaced on reload).
    pub input_edge: std::sync::Mutex<Option<crate::kit::gauge::EdgeGauge>>,
    /// Counters and timings of this stage's kind alone (an `http_enrich`
    /// stage's requests and cache hits), shown by `/metrics` and the report.
    pub extra: super::extra::Extra,
}

impl StageStats {
    /// Points the occupancy gauge at the stage's (new) input edge.
    pub fn set_input_edge(&self, gauge: crate::kit::gauge::EdgeGauge) {
        *self.input_edge.lock().unwrap_or_else(|e| e.into_inner()) = Some(gauge);
    }

    /// Batches waiting in the input edge and its capacity, if it has one.
    pub fn input_edge_fill(&self) -> Option<(usize, usize)> {
        let gauge = self.input_edge.lock().unwrap_or_else(|e| e.into_inner());
        gauge.as_ref().map(|g| (g.len(), g.capacity()))
    }

    /// Adds time a source spent working (reading, decoding).
    pub fn add_busy(&self, d: Duration) {
        self.busy_nanos.fetch_add(nanos(d), Relaxed);
    }

    /// Adds time a source waited on a full edge.
    pub fn add_blocked(&self, d: Duration) {
        self.blocked_nanos.fetch_add(nanos(d), Relaxed);
    }

    /// Time a source waited on a full edge so far.
    pub fn blocked(&self) -> Duration {
        Duration::from_nanos(self.blocked_nanos.load(Relaxed))
    }

    /// Records how full the input edge is now (stages without one: nothing).
    pub fn sample_edge(&self) {
        if let Some((len, cap)) = self.input_edge_fill().filter(|(_, cap)| *cap > 0) {
            let fill = (len as f64 / cap as f64).min(1.0);
            lock(&self.occupancy).push(fill);
        }
    }
}

/// Events currently inside the graph: read by a source but not yet written by
/// a sink, dropped by a filter or counted as an error. Each fan-out copy counts.
#[derive(Debug, Default)]
pub struct InFlight {
    now: AtomicU64,
    peak: AtomicU64,
}

impl InFlight {
    /// `n` more events entered edges.
    pub fn add(&self, n: u64) {
        if n == 0 {
            return;
        }
        let now = self.now.fetch_add(n, Relaxed) + n;
        self.peak.fetch_max(now, Relaxed);
    }

    /// `n` events left the graph or were consumed by a stage.
    pub fn sub(&self, n: u64) {
        if n > 0 {
            self.now.fetch_sub(n, Relaxed);
        }
    }

    /// Events in flight now.
    pub fn current(&self) -> u64 {
        self.now.load(Relaxed)
    }

    /// Highest number of events in flight seen so far.
    pub fn peak(&self) -> u64 {
        self.peak.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_tracks_its_peak() {
        let g = InFlight::default();
        g.add(5);
        g.sub(3);
        g.add(4);
        g.sub(6);
        assert_eq!(g.current(), 0);
        assert_eq!(g.peak(), 6);
    }
}
