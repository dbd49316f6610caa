//! The bounds every numeric setting must lie within, and the checks that
//! turn a value outside them into a message naming the allowed range.
//!
//! Each bound exists so that no value a config can hold makes sluice abort:
//! an allocation sized from a setting, a clock computation, a thread count.
//! They are generous for real pipelines; README's "Limits" section lists them.

use std::time::Duration;

/// Most worker threads one stage may have. Every worker of a computing
/// stage is an OS thread of its own (`top -H` shows it by stage name), so
/// this bounds what one config line can ask of the kernel; 1024 is far past
/// the point where more workers stop helping on any machine sluice runs on.
pub const MAX_WORKERS: usize = 1024;

/// Most worker threads a whole pipeline may have, summed over its
/// transforms (two stages at [`MAX_WORKERS`]).
/// A worker thread costs memory whether or not it is busy: measured 0.5 to
/// 1.3 MiB resident each (its stack and its allocator heap; 2048 workers
/// of two jq stages ran in 1.1 GiB), so 2048 keeps a config from eating a
/// small machine's memory, and stays far below the kernel's thread limits
/// (`ulimit -u`, `threads-max`).
pub const MAX_TOTAL_WORKERS: usize = 2048;

/// Largest edge capacity, in events (`pipeline.capacity` and a stage's
/// `capacity`). An edge preallocates one 64-byte slot per batch it can hold,
/// and in the worst case (a `delay` stage downstream) batches are one event
/// each: at most 64 MiB per edge up front, and a full edge of typical
/// events is a few hundred MiB. Past a million events an edge no longer
/// smooths bursts, it only hides a stuck sink.
pub const MAX_CAPACITY: usize = 1 << 20;

/// Longest duration any setting accepts. Deadlines are computed as "now +
/// duration"; far beyond this the clock arithmetic overflows, and no
/// timeout, delay or grace period needs more than a year.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// Largest `max_line_bytes`: a reader's buffer may grow to this size per
/// file or connection, so it must stay an allocation that can succeed.
pub const MAX_LINE_BYTES: usize = 1 << 30;

/// Largest `max_connections`: each connection holds a file descriptor, and
/// 2^20 is Linux's default ceiling on descriptors per process (`nr_open`).
pub const MAX_CONNECTIONS: usize = 1 << 20;

/// Slowest `rate` (events per second) of `generate` and `blackhole`: one
/// event a day. Slower rates put the next event's time past what clocks hold.
pub const MIN_RATE: f64 = 1.0 / 86_400.0;

/// Fastest `rate` (events per second): a billion, far above what one stage
/// moves; beyond it the pacing arithmetic loses its integer precision.
pub const MAX_RATE: f64 = 1e9;

/// Largest `batch_size` of a Redis stream read: one reply of that many
/// entries is held in memory at once.
pub const MAX_REDIS_BATCH: usize = 100_000;

/// `Some(message)` when `value` of `key` is outside `min..=max`.
pub fn int_range(key: &str, value: usize, min: usize, max: usize) -> Option<String> {
    (!(min..=max).contains(&value))
        .then(|| format!("`{key}` must be between {min} and {max}, got {value}"))
}

/// `Some(message)` when `max_line_bytes` is outside `1..=MAX_LINE_BYTES`.
pub fn line_bytes(value: usize) -> Option<String> {
    int_range("max_line_bytes", value, 1, MAX_LINE_BYTES)
}

/// `Some(message)` when `rate` of `key` is not a number of events per
/// second within `MIN_RATE..=MAX_RATE` (NaN and infinities included).
pub fn rate(key: &str, rate: f64) -> Option<String> {
    (!(MIN_RATE..=MAX_RATE).contains(&rate)).then(|| {
        format!(
            "`{key}` must be a number of events per second between {MIN_RATE:.3e} (one a day) and {MAX_RATE:.0e}, got {}",
            number(rate)
        )
    })
}

/// `rate` as written by a person: `1e-20`, not twenty zeros.
fn number(x: f64) -> String {
    if x != 0.0 && x.is_finite() && !(1e-3..1e9).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        x.to_string()
    }
}

/// `Some(message)` when duration `value` of `key` is shorter than `min`
/// (e.g. a zero timeout, which could never be met).
pub fn at_least(key: &str, value: Duration, min: Duration) -> Option<String> {
    (value < min).then(|| format!("`{key}` must be at least {min:?}, got {value:?}"))
}

/// A problem in a setting: where (a span in the config text, or the whole
/// stage when `None`) and what. Every stage kind's `validate` returns these.
pub type Problem = (Option<std::ops::Range<usize>>, String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_name_the_bounds() {
        assert_eq!(int_range("workers", 4, 1, MAX_WORKERS), None);
        let m = int_range("workers", 100_000, 1, MAX_WORKERS).unwrap();
        assert!(
            m.contains("between 1 and 1024") && m.contains("100000"),
            "{m}"
        );
    }

    #[test]
    fn rates_refuse_nan_infinity_and_extremes() {
        for bad in [0.0, -1.0, 1e-20, f64::NAN, f64::INFINITY, 1e300] {
            assert!(rate("rate", bad).is_some(), "{bad}");
        }
        for good in [MIN_RATE, 0.5, 1.0, 1e6, MAX_RATE] {
            assert_eq!(rate("rate", good), None, "{good}");
        }
        assert!(rate("rate", 1e-20).unwrap().ends_with("got 1e-20"));
        assert!(rate("rate", -5.0).unwrap().ends_with("got -5"));
    }
}
