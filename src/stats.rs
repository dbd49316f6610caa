//! Per-stage counters, the pipeline's in-flight gauge, and the summary and
//! JSON report printed at exit.
//!
//! Counters are plain atomics bumped once per batch, so counting costs
//! nothing measurable on the hot path. Per batch, a stage also records its
//! processing time ([`Latency`]: Prometheus buckets for `/metrics`, an HDR
//! histogram for the report's quantiles), and a sampler task records how
//! full each stage's input edge is every [`OCCUPANCY_EVERY`] ([`Series`]).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::Config;

/// How often the report samples every input edge's occupancy: fine enough
/// to catch a bottleneck that lasts a second, cheap enough (a lock and a
/// length read per stage) to run under any load.
pub const OCCUPANCY_EVERY: Duration = Duration::from_millis(100);

/// Most points an occupancy time series keeps: when full, neighbouring
/// points merge in pairs and each point covers twice the time, so an hour
/// or a month of samples is still a short, fixed-size series.
pub const SERIES_POINTS: usize = 64;

/// Mean occupancy from which an input edge counts as full for the
/// bottleneck (the stage cannot keep up with its producers).
pub const FULL_EDGE: f64 = 0.5;

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
    /// Input edge occupancy over the run, sampled every [`OCCUPANCY_EVERY`].
    pub occupancy: Mutex<Series>,
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

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Processing time per batch: the Prometheus buckets of `/metrics` (which
/// this derefs to, so the endpoint reads them as before) and an HDR
/// histogram for the report's p50/p90/p99.
///
/// The buckets alone would not do for quantiles: they grow by 2–2.5× each,
/// so a quantile read from them is only known to within that factor. The
/// HDR histogram keeps 2 significant digits from 1 ns to an hour, that is
/// within 1%, in about 40 KiB per stage; one uncontended lock per batch
/// (not per event) costs nothing next to the batch's work.
pub struct Latency {
    buckets: crate::metrics::Histogram,
    hdr: Mutex<hdrhistogram::Histogram<u64>>,
    busy_nanos: AtomicU64,
}

/// Longest batch time the HDR histogram tells apart (longer ones count as
/// this): an hour, in nanoseconds.
const LATENCY_MAX_NANOS: u64 = 3_600 * 1_000_000_000;

impl Default for Latency {
    fn default() -> Self {
        Latency {
            buckets: crate::metrics::Histogram::default(),
            hdr: Mutex::new(
                hdrhistogram::Histogram::new_with_bounds(1, LATENCY_MAX_NANOS, 2)
                    .expect("1 ns to an hour at 2 digits is a valid histogram"),
            ),
            busy_nanos: AtomicU64::new(0),
        }
    }
}

impl std::fmt::Debug for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Latency")
            .field("batches", &self.buckets.count())
            .field("busy_nanos", &self.busy_nanos)
            .finish()
    }
}

impl std::ops::Deref for Latency {
    type Target = crate::metrics::Histogram;

    fn deref(&self) -> &Self::Target {
        &self.buckets
    }
}

impl Latency {
    /// Records the time one batch took.
    pub fn record(&self, d: Duration) {
        self.buckets.record(d);
        let n = nanos(d);
        self.busy_nanos.fetch_add(n, Relaxed);
        lock(&self.hdr).saturating_record(n.max(1));
    }

    /// Total time spent on batches.
    pub fn busy(&self) -> Duration {
        Duration::from_nanos(self.busy_nanos.load(Relaxed))
    }

    /// p50, p90, p99 and max, or `None` before the first batch.
    pub fn quantiles(&self) -> Option<LatencyReport> {
        let h = lock(&self.hdr);
        if h.is_empty() {
            return None;
        }
        let ms = |v: u64| round(v as f64 / 1e6, 6);
        Some(LatencyReport {
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        })
    }
}

/// Rounds `x` to `digits` decimals (keeps the JSON short and readable).
fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// A bounded time series of samples in 0..1: the mean and max overall, and
/// at most [`SERIES_POINTS`] points, each the mean of `per_point` samples.
#[derive(Debug, Default)]
pub struct Series {
    points: Vec<(f64, u32)>,
    /// Samples per point (doubles each time the points merge); 0 before
    /// the first sample.
    per_point: u32,
    sum: f64,
    count: u64,
    max: f64,
}

impl Series {
    /// Adds one sample.
    pub fn push(&mut self, x: f64) {
        self.per_point = self.per_point.max(1);
        self.sum += x;
        self.count += 1;
        self.max = self.max.max(x);
        match self.points.last_mut() {
            Some((sum, n)) if *n < self.per_point => {
                *sum += x;
                *n += 1;
            }
            _ => self.points.push((x, 1)),
        }
        if self.points.len() > SERIES_POINTS {
            self.points = self
                .points
                .chunks(2)
                .map(|c| c.iter().fold((0.0, 0), |(s, n), p| (s + p.0, n + p.1)))
                .collect();
            self.per_point *= 2;
        }
    }

    /// The series for the report, sampled every `every`; `None` when empty.
    pub fn report(&self, every: Duration) -> Option<OccupancyReport> {
        if self.count == 0 {
            return None;
        }
        Some(OccupancyReport {
            mean: round(self.sum / self.count as f64, 3),
            max: round(self.max, 3),
            samples: self.count,
            point_s: round(every.as_secs_f64() * f64::from(self.per_point), 3),
            series: self
                .points
                .iter()
                .map(|(s, n)| round(s / f64::from(*n), 3))
                .collect(),
        })
    }
}

/// Processing time of one batch, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyReport {
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest batch.
    pub max_ms: f64,
}

/// How full a stage's input edge was over the run (0 empty, 1 full).
#[derive(Debug, Clone, Serialize)]
pub struct OccupancyReport {
    /// Mean of all samples.
    pub mean: f64,
    /// Highest sample.
    pub max: f64,
    /// Number of samples (one every `occupancy_every_s`).
    pub samples: u64,
    /// Seconds each point of `series` covers.
    pub point_s: f64,
    /// Mean occupancy per point, oldest first.
    pub series: Vec<f64>,
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
    /// Events a replay's `from`/`to` left out (sources).
    pub skipped: u64,
    /// Seconds spent working: transforms and sinks on batches (N workers
    /// add up), file sources reading and decoding; `null` where unmeasured.
    pub busy_s: Option<f64>,
    /// Seconds a source waited to send on a full edge (backpressure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_s: Option<f64>,
    /// Batches processed (transforms, sinks).
    pub batches: u64,
    /// Processing time per batch (transforms, sinks).
    pub latency_ms: Option<LatencyReport>,
    /// How full the stage's input edge was (stages with an input edge).
    pub occupancy: Option<OccupancyReport>,
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
    /// Bytes read by all sources.
    pub bytes_read: u64,
    /// Bytes written by all sinks.
    pub bytes_written: u64,
    /// Bytes read per second.
    pub bytes_per_s: f64,
    /// Events written per second.
    pub events_written_per_s: f64,
    /// Seconds between two occupancy samples.
    pub occupancy_every_s: f64,
    /// The stage that held the others back: its input edge was full on
    /// average while none of its consumers' was; `null` when no edge was
    /// (the sources, or the replay clock, set the pace).
    pub bottleneck: Option<String>,
    /// SHA-256 of the configuration text (`sha256sum CONFIG` gives the same).
    pub config_sha256: Option<String>,
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
                skipped: s.skipped.load(Relaxed),
                busy_s: {
                    let busy = s.busy_nanos.load(Relaxed) + nanos(s.latency.busy());
                    (busy > 0 || *role != "source").then(|| round(busy as f64 / 1e9, 6))
                },
                blocked_s: (*role == "source").then(|| round(s.blocked().as_secs_f64(), 6)),
                batches: s.latency.count(),
                latency_ms: s.latency.quantiles(),
                occupancy: lock(&s.occupancy).report(OCCUPANCY_EVERY),
            })
            .collect();
        let sum = |role: &str, f: fn(&StageReport) -> u64| {
            stages.iter().filter(|s| s.role == role).map(f).sum::<u64>()
        };
        let events_read = sum("source", |s| s.events_in);
        let events_written = sum("sink", |s| s.events_out);
        let bytes_read = sum("source", |s| s.bytes);
        let secs = elapsed.as_secs_f64();
        let per_s = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        Report {
            elapsed_s: secs,
            events_read,
            events_written,
            errors: stages.iter().map(|s| s.errors).sum(),
            events_per_s: per_s(events_read),
            peak_in_flight: self.in_flight.peak(),
            bytes_read,
            bytes_written: sum("sink", |s| s.bytes),
            bytes_per_s: per_s(bytes_read),
            events_written_per_s: per_s(events_written),
            occupancy_every_s: OCCUPANCY_EVERY.as_secs_f64(),
            bottleneck: None,
            config_sha256: None,
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
    /// Adds what the counters do not know: the hash of the configuration
    /// text, and the bottleneck found through `config`'s edges.
    pub fn annotate(&mut self, config: &Config, config_text: Option<&[u8]>) {
        use sha2::Digest as _;
        self.config_sha256 = config_text.map(|text| {
            sha2::Sha256::digest(text)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        });
        let mean = |name: &str| {
            self.stages
                .iter()
                .find(|s| s.name == name)
                .and_then(|s| s.occupancy.as_ref())
                .map_or(0.0, |o| o.mean)
        };
        // A full input edge whose stage feeds only edges that are not full:
        // that stage is slower than its producers and faster consumers.
        self.bottleneck = config
            .stages
            .iter()
            .filter(|s| mean(&s.name) >= FULL_EDGE)
            .filter(|s| {
                config
                    .stages
                    .iter()
                    .filter(|c| c.inputs.iter().any(|i| i.stage == s.name))
                    .all(|c| mean(&c.name) < FULL_EDGE)
            })
            .max_by(|a, b| mean(&a.name).total_cmp(&mean(&b.name)))
            .map(|s| s.name.clone());
    }

    /// The short human summary `run` prints on stderr: per stage events
    /// in, out, errors, busy seconds, p99 batch time and mean input edge
    /// occupancy; then the totals and rates.
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
            "{:width$}  {:9}  {:>10}  {:>10}  {:>8}  {:>8}  {:>9}  {:>5}",
            "stage", "role", "in", "out", "errors", "busy", "p99", "edge"
        );
        for s in &self.stages {
            let busy = s.busy_s.map_or("-".into(), |b| format!("{b:.2}s"));
            let p99 = s
                .latency_ms
                .as_ref()
                .map_or("-".into(), |l| format!("{:.2}ms", l.p99_ms));
            let edge = s
                .occupancy
                .as_ref()
                .map_or("-".into(), |o| format!("{:.0}%", o.mean * 100.0));
            let _ = writeln!(
                out,
                "{:width$}  {:9}  {:>10}  {:>10}  {:>8}  {busy:>8}  {p99:>9}  {edge:>5}",
                s.name, s.role, s.events_in, s.events_out, s.errors
            );
        }
        if let Some(b) = &self.bottleneck {
            let full = self
                .stages
                .iter()
                .find(|s| &s.name == b)
                .and_then(|s| s.occupancy.as_ref())
                .map_or(0.0, |o| o.mean);
            let _ = writeln!(
                out,
                "bottleneck: {b} (input edge {:.0}% full on average)",
                full * 100.0
            );
        }
        let _ = write!(
            out,
            "{} events read, {} written, {} errors in {:.3}s ({:.0} events/s, {:.1} MB/s)",
            self.events_read,
            self.events_written,
            self.errors,
            self.elapsed_s,
            self.events_per_s,
            self.bytes_per_s / 1e6
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

    #[test]
    fn series_stays_bounded_and_keeps_mean_and_max() {
        let mut s = Series::default();
        for i in 0..1000 {
            s.push(if i == 500 { 1.0 } else { 0.5 });
        }
        let r = s.report(OCCUPANCY_EVERY).unwrap();
        assert!(r.series.len() <= SERIES_POINTS, "{}", r.series.len());
        assert_eq!(r.samples, 1000);
        assert_eq!(r.max, 1.0);
        assert!((r.mean - 0.5005).abs() <= 0.001, "{}", r.mean);
        // Each point covers a power of two of samples; all points together
        // cover every sample.
        assert!((r.point_s / 0.1).round() as usize * r.series.len() >= 1000);
    }

    #[test]
    fn latency_quantiles_are_within_one_percent() {
        let l = Latency::default();
        for us in 1..=1000u64 {
            l.record(Duration::from_micros(us));
        }
        let q = l.quantiles().unwrap();
        for (got, want) in [
            (q.p50_ms, 0.5),
            (q.p90_ms, 0.9),
            (q.p99_ms, 0.99),
            (q.max_ms, 1.0),
        ] {
            assert!((got - want).abs() / want < 0.01, "{got} vs {want}");
        }
        assert_eq!(l.count(), 1000);
        assert_eq!(l.busy(), Duration::from_micros(500_500));
    }
}
