//! The live graph as the API serves it (`GET /api/v1/graph`, version 1):
//! [`GraphView`] and its parts, one type for the daemon that writes the
//! JSON and the clients (`sluice graph --live`, `sluice tap`, `sluice top`)
//! that read it. Fields beyond the contract are `#[serde(default)]`, so a
//! client reads an older daemon's answer too.

use serde::{Deserialize, Serialize};

use crate::kit::histogram::LATENCY_BUCKETS;
use crate::stats::bottleneck::Verdict;

/// The version of the API's JSON (`version`).
pub const VERSION: u32 = 1;

/// `GET /api/v1/graph`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GraphView {
    /// Always [`VERSION`].
    pub version: u32,
    /// Seconds since the daemon's graph started.
    pub uptime_s: f64,
    /// Seconds the rates, busy ratios and fills are averaged over.
    pub window_s: f64,
    /// Sources first, then the other stages in topological order.
    pub stages: Vec<StageView>,
    /// Every edge: one per (producer port, consumer) pair.
    pub edges: Vec<EdgeView>,
    /// The stage holding the others back now, or `null` when nothing is
    /// slow (see `stats::bottleneck`).
    pub bottleneck: Option<Verdict>,
    /// Tap copies dropped because a tap's reader was slow, over the run.
    pub tap_dropped: u64,
    /// Taps open now.
    #[serde(default)]
    pub taps_open: usize,
    /// Events inside the graph now (read, not yet written or dropped).
    #[serde(default)]
    pub in_flight: u64,
}

/// One stage in [`GraphView`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageView {
    /// The stage's name.
    pub name: String,
    /// Its `type`.
    pub kind: String,
    /// `source`, `transform` or `sink`.
    pub role: String,
    /// Worker tasks (transforms; 1 otherwise).
    pub workers: usize,
    /// Its `inputs` as written (`STAGE` or `STAGE.PORT`).
    pub inputs: Vec<String>,
    /// Events received, over the run (sources: read).
    pub events_in: u64,
    /// Events emitted on regular outputs, over the run (sinks: written).
    pub events_out: u64,
    /// Error events produced, over the run.
    pub errors: u64,
    /// Events per second received, over the window.
    pub rate_in: f64,
    /// Events per second emitted, over the window.
    pub rate_out: f64,
    /// Error events per second, over the window.
    pub rate_errors: f64,
    /// Share of the window its workers spent on batches, 0..1; `null`
    /// where not measured (sources other than `file`).
    pub busy: Option<f64>,
    /// Mean fill of its input edge over the window, 0..1 (`null` for
    /// sources).
    pub input_fill: Option<f64>,
    /// Median time per batch over the window, from the latency
    /// histogram's buckets (`null`: no batch in the window).
    pub p50_ms: Option<f64>,
    /// 99th percentile of the time per batch over the window.
    pub p99_ms: Option<f64>,
    /// Sinks: `ordered = true`.
    #[serde(default)]
    pub ordered: bool,
    /// Sources: share of the window spent waiting to send into a full
    /// edge (backpressure reaching the source).
    #[serde(default)]
    pub blocked: Option<f64>,
}

/// One edge in [`GraphView`]. The stages reading one consumer's inputs
/// share its input edge, so `capacity`, `queued` and `fill` are the
/// consumer's; `rate` is the producer port's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EdgeView {
    /// The producing stage.
    pub from: String,
    /// Its port: `""` for the main output, else `errors` or a route name.
    pub port: String,
    /// The consuming stage.
    pub to: String,
    /// The consumer's input edge capacity, in events.
    pub capacity: usize,
    /// Events waiting in it now (estimated: the edge counts batches).
    pub queued: u64,
    /// Its mean fill over the window, 0..1.
    pub fill: f64,
    /// Events per second sent along this edge, over the window.
    pub rate: f64,
}

impl GraphView {
    /// The stage called `name`.
    pub fn stage(&self, name: &str) -> Option<&StageView> {
        self.stages.iter().find(|s| s.name == name)
    }
}

/// The `q` quantile (0..1), in milliseconds, of observations counted in
/// `buckets` (per bucket of [`LATENCY_BUCKETS`], not cumulative; the last
/// is `+Inf`), interpolated linearly inside the bucket it falls in, as
/// Prometheus's `histogram_quantile` does: exact to within the bucket's
/// width. `None` when nothing was observed.
pub fn quantile_ms(buckets: &[u64], q: f64) -> Option<f64> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * total as f64;
    let mut below = 0u64;
    for (i, &n) in buckets.iter().enumerate() {
        if n > 0 && (below + n) as f64 >= rank {
            let lower = if i == 0 { 0.0 } else { LATENCY_BUCKETS[i - 1] };
            let Some(&upper) = LATENCY_BUCKETS.get(i) else {
                // Past the last bound: all we know is "more than".
                return Some(lower * 1e3);
            };
            let within = ((rank - below as f64) / n as f64).clamp(0.0, 1.0);
            return Some((lower + (upper - lower) * within) * 1e3);
        }
        below += n;
    }
    LATENCY_BUCKETS.last().map(|b| b * 1e3)
}

/// Stage indices in topological order of `edges` (`(from, to)`): a stage
/// comes after everything it reads; ties keep the given order, so sources
/// (listed first, reading nothing) come first.
pub fn topological(count: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let mut indegree = vec![0usize; count];
    for &(_, to) in edges {
        indegree[to] += 1;
    }
    let mut done = vec![false; count];
    let mut order = Vec::with_capacity(count);
    while order.len() < count {
        // The first stage (in the given order) whose inputs are all placed;
        // a cycle (never in a validated config) places the rest as listed.
        let next = (0..count)
            .find(|&i| !done[i] && indegree[i] == 0)
            .or_else(|| (0..count).find(|&i| !done[i]));
        let Some(i) = next else { break };
        done[i] = true;
        order.push(i);
        for &(from, to) in edges {
            if from == i {
                indegree[to] = indegree[to].saturating_sub(1);
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_inside_their_bucket() {
        let mut b = vec![0u64; LATENCY_BUCKETS.len() + 1];
        assert_eq!(quantile_ms(&b, 0.5), None);
        // 100 observations in (1 ms, 2.5 ms].
        b[7] = 100;
        let p50 = quantile_ms(&b, 0.5).unwrap();
        assert!((p50 - 1.75).abs() < 1e-9, "{p50}");
        let p99 = quantile_ms(&b, 0.99).unwrap();
        assert!((p99 - 2.485).abs() < 1e-9, "{p99}");
        // One very slow batch past the last bound.
        b[LATENCY_BUCKETS.len()] = 1000;
        assert_eq!(quantile_ms(&b, 0.99), Some(10_000.0));
    }

    #[test]
    fn topological_order_puts_readers_after_what_they_read() {
        // 0 source, 1 sink reading 2, 2 transform reading 0.
        assert_eq!(topological(3, &[(0, 2), (2, 1)]), vec![0, 2, 1]);
    }
}
