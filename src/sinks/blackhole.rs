//! `type = "blackhole"`: counts and discards; with `rate`, consumes at most
//! that many events per second (a deliberately slow sink, for testing
//! backpressure and benchmarking).

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::sinks::SinkContext;

/// Settings of a `blackhole` sink.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlackholeConfig {
    /// Events per second to accept at most; unlimited when absent.
    pub rate: Option<f64>,
}

impl BlackholeConfig {
    /// Drains the input, pacing itself to `rate`.
    pub fn run(self, mut ctx: SinkContext, handle: &tokio::runtime::Handle) -> anyhow::Result<()> {
        let started = Instant::now();
        let mut consumed = 0u64;
        while let Some(batch) = handle.block_on(ctx.input.recv()) {
            let batch_started = Instant::now();
            let n = batch.len() as u64;
            ctx.stats.events_in.fetch_add(n, Relaxed);
            if let Some(rate) = self.rate {
                // Event k may be consumed no earlier than k / rate seconds in.
                // `rate` is bounded at `check`; a quotient past what a
                // Duration holds still waits no longer than the limit.
                let due = Duration::try_from_secs_f64((consumed + n) as f64 / rate)
                    .unwrap_or(crate::kit::limits::MAX_DURATION);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
            consumed += n;
            ctx.stats.events_out.fetch_add(n, Relaxed);
            ctx.in_flight.sub(n);
            ctx.stats.latency.record(batch_started.elapsed());
        }
        Ok(())
    }
}

impl crate::sinks::SinkKind for BlackholeConfig {
    /// Checks `rate`.
    fn validate(&self) -> Vec<crate::sinks::Problem> {
        self.rate
            .and_then(|r| crate::kit::limits::rate("rate", r))
            .map(|m| (None, m))
            .into_iter()
            .collect()
    }

    fn build(
        &self,
        _opening: &crate::sinks::Opening<'_>,
    ) -> anyhow::Result<crate::sinks::SinkTask> {
        use crate::sinks::SinkTask;
        Ok(SinkTask(Box::new(self.clone())))
    }

    fn describe(&self) -> String {
        "blackhole".into()
    }
}

impl crate::sinks::RunSink for BlackholeConfig {
    fn run(
        self: Box<Self>,
        ctx: SinkContext,
        handle: &tokio::runtime::Handle,
    ) -> anyhow::Result<()> {
        BlackholeConfig::run(*self, ctx, handle)
    }
}
