//! Processing time per batch ([`Latency`]): the Prometheus buckets of
//! `/metrics` and an HDR histogram for the report's quantiles
//! ([`LatencyReport`]).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use serde::Serialize;

use super::sync::{lock, nanos};

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
    buckets: crate::kit::histogram::Histogram,
    hdr: Mutex<hdrhistogram::Histogram<u64>>,
    busy_nanos: AtomicU64,
}

/// Longest batch time the HDR histogram tells apart (longer ones count as
/// this): an hour, in nanoseconds.
const LATENCY_MAX_NANOS: u64 = 3_600 * 1_000_000_000;

impl Default for Latency {
    fn default() -> Self {
        Latency {
            buckets: crate::kit::histogram::Histogram::default(),
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
    type Target = crate::kit::histogram::Histogram;

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
pub(crate) fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
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

#[cfg(test)]
mod tests {
    use super::*;

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
