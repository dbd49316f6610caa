//! Retrying a failed write or connection: exponential backoff with full
//! jitter and a bounded number of attempts ([`RetryPolicy`]), counted by
//! one helper ([`Retries`]) that every retry loop uses (the sinks' writes,
//! the tcp sink's reconnects, the redis source's reconnects and XACKs).
//! After the last attempt a sink sends the batch to its `errors` output:
//! nothing is acknowledged before it is written.

use std::time::Duration;

use rand::Rng;
use serde::Deserialize;

use crate::kit::duration;

/// `retry = { attempts = 5, initial = "100ms", max = "5s" }` on a sink.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Tries in all, the first included; after the last failure the batch
    /// goes to the sink's `errors` output.
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// Upper bound of the first wait.
    #[serde(
        default = "default_initial",
        deserialize_with = "duration::deserialize"
    )]
    pub initial: Duration,
    /// Largest wait between two tries.
    #[serde(default = "default_max", deserialize_with = "duration::deserialize")]
    pub max: Duration,
}

fn default_attempts() -> u32 {
    8
}

fn default_initial() -> Duration {
    Duration::from_millis(100)
}

fn default_max() -> Duration {
    Duration::from_secs(5)
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: default_attempts(),
            initial: default_initial(),
            max: default_max(),
        }
    }
}

/// Shortest wait, so that an unlucky draw never spins.
const FLOOR: Duration = Duration::from_millis(5);

impl RetryPolicy {
    /// Settings that cannot work: no try at all, or a cap below the first
    /// wait. The durations themselves are bounded when parsed.
    pub fn validate(&self) -> Vec<(Option<std::ops::Range<usize>>, String)> {
        let mut out = Vec::new();
        if self.attempts == 0 {
            out.push((
                None,
                "`retry.attempts` must be at least 1 (the first try counts)".to_string(),
            ));
        }
        if self.max < self.initial {
            out.push((
                None,
                format!(
                    "`retry.max` ({:?}) must be at least `retry.initial` ({:?})",
                    self.max, self.initial
                ),
            ));
        }
        out
    }

    /// The wait after failed try number `failures` (1-based): uniform in
    /// `[0, min(max, initial * 2^(failures-1))]` ("full jitter"), so many
    /// sinks do not hammer a recovering peer in lockstep.
    pub fn backoff(&self, failures: u32, rng: &mut impl Rng) -> Duration {
        let exp = self
            .initial
            .saturating_mul(1 << failures.saturating_sub(1).min(20));
        let cap = exp.min(self.max).max(FLOOR);
        cap.mul_f64(rng.random::<f64>()).max(FLOOR)
    }

    /// True when `failures` tries have failed and no try is left.
    pub fn exhausted(&self, failures: u32) -> bool {
        failures >= self.attempts.max(1)
    }
}

/// One run of consecutive failures against a [`RetryPolicy`]: counts them,
/// says how long to wait before the next try and when the budget is
/// spent. Callers sleep themselves (a sink on its thread, a source racing
/// its shutdown signal), so the same counting serves every retry loop.
#[derive(Debug, Clone)]
pub struct Retries {
    /// The budget and the backoff.
    policy: RetryPolicy,
    /// Failed tries since the last success.
    failures: u32,
}

impl Retries {
    /// A fresh run under `policy`.
    pub const fn new(policy: RetryPolicy) -> Retries {
        Retries {
            policy,
            failures: 0,
        }
    }

    /// Failed tries since the last success (the attempt number in logs).
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Forgets past failures (a try succeeded, or a new batch starts);
    /// returns how many there were, for a "after N failed attempts" log.
    pub fn reset(&mut self) -> u32 {
        std::mem::take(&mut self.failures)
    }

    /// Counts a failed try: `Some(wait)` before the next try, `None` when
    /// no try is left.
    pub fn failed(&mut self) -> Option<Duration> {
        self.failures = self.failures.saturating_add(1);
        if self.exhausted() {
            return None;
        }
        Some(self.policy.backoff(self.failures, &mut rand::rng()))
    }

    /// The wait after the current failure, budget or not (a source retries
    /// for as long as it runs).
    pub fn wait(&self) -> Duration {
        self.policy.backoff(self.failures, &mut rand::rng())
    }

    /// True when the budget is spent.
    pub fn exhausted(&self) -> bool {
        self.policy.exhausted(self.failures)
    }

    /// Whether this failure deserves a warning: the first of a run, then
    /// every tenth, so that a long outage does not flood the log.
    pub fn loud(&self) -> bool {
        self.failures == 1 || self.failures.is_multiple_of(10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_to_the_cap_and_stop_after_the_budget() {
        let p = RetryPolicy::default();
        let mut rng = rand::rng();
        for f in 1..=30 {
            let w = p.backoff(f, &mut rng);
            assert!(w >= FLOOR && w <= p.max, "{w:?}");
        }
        assert!(!p.exhausted(7));
        assert!(p.exhausted(8));
    }

    #[test]
    fn retries_count_a_run_of_failures_and_start_again_after_a_success() {
        let mut r = Retries::new(RetryPolicy {
            attempts: 3,
            ..RetryPolicy::default()
        });
        assert!(r.failed().is_some() && r.loud());
        assert!(r.failed().is_some() && !r.loud());
        assert_eq!(r.failed(), None, "the third failure spends the budget");
        assert_eq!(r.reset(), 3);
        assert_eq!(r.failures(), 0);
        assert!(r.failed().is_some());
    }
}
