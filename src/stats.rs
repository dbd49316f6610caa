//! Per-stage counters, the pipeline's in-flight gauge, and the summary and
//! JSON report printed at exit.
//!
//! Counters are plain atomics bumped once per batch, so counting costs
//! nothing measurable on the hot path.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use serde::Serialize;

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
    /// Time spent on each batch (transforms, sinks), for the metrics.
    pub latency: crate::metrics::Histogram,
    /// How full the stage's input edge is (set when the graph is built,
    /// replaced on reload).
    pub input_edge: std::sync::Mutex<Option<crate::metrics::EdgeGauge>>,
}

impl StageStats {
    /// Points the occupancy gauge at the stage's (new) input edge.
    pub fn set_input_edge(&self, gauge: crate::metrics::EdgeGauge) {
        *self.input_edge.lock().unwrap_or_else(|e| e.into_inner()) = Some(gauge);
    }

    /// Batches waiting in the input edge and its capacity, if it has one.
    pub fn input_edge_fill(&self) -> Option<(usize, usize)> {
        let gauge = self.input_edge.lock().unwrap_or_else(|e| e.into_inner());
        gauge.as_ref().map(|g| (g.len(), g.capacity()))
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

/// Everything counted about one run (cloned by the metrics endpoint).
#[derive(Clone)]
pub struct RunStats {
    /// Stages in configuration order: (name, role, type, counters).
    pub stages: Vec<(String, &'static str, String, Arc<StageStats>)>,
    /// The in-flight gauge shared by every stage.
    pub in_flight: Arc<InFlight>,
    /// When the graph started.
    pub started: Instant,
}

/// One stage in the report.
#[derive(Debug, Serialize)]
pub struct StageReport {
    /// Stage name.
    pub name: String,
    /// source, transform or sink.
    pub role: &'static str,
    /// The stage's `type`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Events received.
    pub events_in: u64,
    /// Events emitted (sinks: written).
    pub events_out: u64,
    /// Error events produced.
    pub errors: u64,
    /// Error events nothing consumed (logged and counted).
    pub errors_unconsumed: u64,
    /// Events dropped for lack of a consumer.
    pub discarded: u64,
    /// Bytes read or written.
    pub bytes: u64,
    /// Failed write or connect attempts (sinks).
    pub retries: u64,
}

/// The JSON report written by `--report`.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Wall-clock seconds from start to the last sink's flush.
    pub elapsed_s: f64,
    /// Events read by all sources.
    pub events_read: u64,
    /// Events written by all sinks.
    pub events_written: u64,
    /// Error events produced by all stages.
    pub errors: u64,
    /// Events read per second.
    pub events_per_s: f64,
    /// Highest number of events inside the graph at once.
    pub peak_in_flight: u64,
    /// Per-stage counters, in configuration order.
    pub stages: Vec<StageReport>,
}

impl RunStats {
    /// Counters for a new run.
    pub fn new() -> Self {
        RunStats {
            stages: Vec::new(),
            in_flight: Arc::new(InFlight::default()),
            started: Instant::now(),
        }
    }

    /// Registers a stage and returns its counters.
    pub fn register(&mut self, name: &str, role: &'static str, kind: &str) -> Arc<StageStats> {
        // A stage that keeps its name across a reload keeps its counters.
        if let Some(entry) = self.stages.iter_mut().find(|s| s.0 == name) {
            entry.1 = role;
            entry.2 = kind.to_string();
            return entry.3.clone();
        }
        let s = Arc::new(StageStats::default());
        self.stages
            .push((name.to_string(), role, kind.to_string(), s.clone()));
        s
    }

    /// A snapshot of every counter, as reported at exit.
    pub fn report(&self, elapsed: Duration) -> Report {
        let stages: Vec<StageReport> = self
            .stages
            .iter()
            .map(|(name, role, kind, s)| StageReport {
                name: name.clone(),
                role,
                kind: kind.clone(),
                events_in: s.events_in.load(Relaxed),
                events_out: s.events_out.load(Relaxed),
                errors: s.errors.load(Relaxed),
                errors_unconsumed: s.errors_unconsumed.load(Relaxed),
                discarded: s.discarded.load(Relaxed),
                bytes: s.bytes.load(Relaxed),
                retries: s.retries.load(Relaxed),
            })
            .collect();
        let sum = |role: &str, f: fn(&StageReport) -> u64| {
            stages.iter().filter(|s| s.role == role).map(f).sum::<u64>()
        };
        let events_read = sum("source", |s| s.events_in);
        let secs = elapsed.as_secs_f64();
        Report {
            elapsed_s: secs,
            events_read,
            events_written: sum("sink", |s| s.events_out),
            errors: stages.iter().map(|s| s.errors).sum(),
            events_per_s: if secs > 0.0 {
                events_read as f64 / secs
            } else {
                0.0
            },
            peak_in_flight: self.in_flight.peak(),
            stages,
        }
    }
}

impl Default for RunStats {
    fn default() -> Self {
        Self::new()
    }
}

impl Report {
    /// The short human summary `run` prints on stderr.
    pub fn summary(&self) -> String {
        use std::fmt::Write;
        let width = self
            .stages
            .iter()
            .map(|s| s.name.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:width$}  {:9}  {:>10}  {:>10}  {:>8}",
            "stage", "role", "in", "out", "errors"
        );
        for s in &self.stages {
            let _ = writeln!(
                out,
                "{:width$}  {:9}  {:>10}  {:>10}  {:>8}",
                s.name, s.role, s.events_in, s.events_out, s.errors
            );
        }
        let _ = write!(
            out,
            "{} events read, {} written, {} errors in {:.3}s ({:.0} events/s)",
            self.events_read, self.events_written, self.errors, self.elapsed_s, self.events_per_s
        );
        out
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
