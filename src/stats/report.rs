//! The run's report: [`RunStats`] (every stage's counters, registered as
//! the graph is built), its snapshot [`Report`] written by `--report`, the
//! bottleneck found through the config's edges, and the summary `run`
//! prints at exit.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::Config;
use crate::kit::counters::{InFlight, StageStats};
use crate::kit::extra::Value;
use crate::kit::latency::{LatencyReport, round};
use crate::kit::series::{OCCUPANCY_EVERY, OccupancyReport};
use crate::kit::sync::{lock, nanos};
use crate::kit::tap::Taps;
use crate::stats::bottleneck::{self, Signals, Verdict};

/// Everything counted about one run (cloned by the metrics endpoint).
#[derive(Clone)]
pub struct RunStats {
    /// Stages in configuration order: (name, role, type, counters).
    pub stages: Vec<(String, &'static str, String, Arc<StageStats>)>,
    /// The in-flight gauge shared by every stage.
    pub in_flight: Arc<InFlight>,
    /// When the graph started.
    pub started: Instant,
    /// Every output port's event count and taps (kept across reloads).
    pub taps: Arc<Taps>,
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
    /// The counters of this stage's kind alone (`kit::extra`), e.g. an
    /// `http_enrich` stage's `http_requests` and `http_cache_hits`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub counters: BTreeMap<&'static str, u64>,
    /// The timings of this stage's kind alone, e.g. `http_request`: the
    /// time of one call.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub timings_ms: BTreeMap<&'static str, LatencyReport>,
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
    /// (the sources, or the replay clock, set the pace). See
    /// [`bottleneck`](super::bottleneck).
    pub bottleneck: Option<String>,
    /// Why: `input edge 97% full, busy 99%` (mean fill, busy time over the
    /// run's length and the stage's workers).
    pub bottleneck_reason: Option<String>,
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
            taps: Arc::default(),
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
                counters: extra_counters(s),
                timings_ms: extra_timings(s),
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
            bottleneck_reason: None,
            config_sha256: None,
            stages,
        }
    }
}

/// A stage's extra counters by name (see [`StageReport::counters`]).
fn extra_counters(s: &StageStats) -> BTreeMap<&'static str, u64> {
    s.extra
        .snapshot()
        .into_iter()
        .filter_map(|n| match n.value {
            Value::Counter(c) => Some((n.name, c.load(Relaxed))),
            Value::Timing(_) => None,
        })
        .collect()
}

/// A stage's extra timings by name, those with at least one observation.
fn extra_timings(s: &StageStats) -> BTreeMap<&'static str, LatencyReport> {
    s.extra
        .snapshot()
        .into_iter()
        .filter_map(|n| match n.value {
            Value::Timing(t) => t.quantiles().map(|q| (n.name, q)),
            Value::Counter(_) => None,
        })
        .collect()
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
        let verdict = self.judge(config);
        self.bottleneck = verdict.as_ref().map(|v| v.stage.clone());
        self.bottleneck_reason = verdict.map(|v| v.reason);
    }

    /// The bottleneck over the whole run (see [`bottleneck`](super::bottleneck)):
    /// each stage's mean input edge occupancy, and its busy time over the
    /// run's length times its workers.
    fn judge(&self, config: &Config) -> Option<Verdict> {
        let edges = crate::config::graph::edges(&config.stages);
        let signals: Vec<Signals> = config
            .stages
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let s = self.stages.iter().find(|s| s.name == c.name);
                let workers = c.workers.max(1) as f64;
                Signals {
                    name: c.name.clone(),
                    fill: s.and_then(|s| s.occupancy.as_ref()).map(|o| o.mean),
                    busy: s
                        .filter(|s| s.role != "source" && self.elapsed_s > 0.0)
                        .and_then(|s| s.busy_s)
                        .map(|b| b / (self.elapsed_s * workers)),
                    consumers: edges.iter().filter(|e| e.from == i).map(|e| e.to).collect(),
                }
            })
            .collect();
        bottleneck::judge(&signals)
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
        // Stages whose kind counts more (`kit::extra`): one line each.
        for s in self
            .stages
            .iter()
            .filter(|s| !s.counters.is_empty() || !s.timings_ms.is_empty())
        {
            let mut parts: Vec<String> =
                s.counters.iter().map(|(k, v)| format!("{k} {v}")).collect();
            parts.extend(
                s.timings_ms
                    .iter()
                    .map(|(k, l)| format!("{k} p50 {:.2}ms p99 {:.2}ms", l.p50_ms, l.p99_ms)),
            );
            let _ = writeln!(out, "{}: {}", s.name, parts.join(", "));
        }
        if let Some(b) = &self.bottleneck {
            let reason = self.bottleneck_reason.as_deref().unwrap_or("");
            let _ = writeln!(out, "bottleneck: {b} ({reason}, over the run)");
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
