//! `type = "generate"`: synthetic log events drawn from the pipeline seed, for
//! demos, tests and benchmarks. The same seed always gives the same events.

use std::time::Duration;

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;

use crate::kit::event::{Event, name_hash};
use crate::kit::limits;
use crate::sources::SourceContext;

/// Settings of a `generate` source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateConfig {
    /// How many events to produce; endless when absent.
    pub count: Option<u64>,
    /// Events per second; as fast as the graph accepts when absent.
    pub rate: Option<f64>,
}

const HOSTS: &[&str] = &["web-1", "web-2", "web-3", "db-1", "cache-1"];
const LEVELS: &[(&str, u32)] = &[("debug", 10), ("info", 60), ("warn", 20), ("error", 10)];
const PATHS: &[&str] = &[
    "/",
    "/login",
    "/api/orders",
    "/api/users",
    "/static/app.js",
    "/health",
];
const MESSAGES: &[&str] = &[
    "request served",
    "upstream timed out",
    "cache miss",
    "connection reset by peer",
    "slow query",
    "user logged in",
];

/// Epoch milliseconds of the first generated event (2026-01-01T00:00:00Z).
const BASE_TS_MS: i64 = 1_767_225_600_000;

impl GenerateConfig {
    /// Produces the events, paced by `rate` when set.
    pub async fn run(self, mut ctx: SourceContext) -> anyhow::Result<()> {
        let mut rng = StdRng::seed_from_u64(ctx.seed ^ name_hash(&ctx.name));
        let total = self.count.unwrap_or(u64::MAX);
        let started = tokio::time::Instant::now();
        let mut made = 0u64;
        while made < total && !ctx.shutdown.is_shutdown() {
            let mut n = (ctx.batch_events as u64).min(total - made);
            if let Some(rate) = self.rate {
                // Emit what is due by now; if nothing is, sleep until the next one.
                // `as` saturates, and `rate` is bounded at `check`, so
                // neither the count nor the instant can overflow.
                let due = ((started.elapsed().as_secs_f64() * rate) as u64).saturating_add(1);
                if due <= made {
                    let wait = Duration::try_from_secs_f64(made as f64 / rate)
                        .unwrap_or(limits::MAX_DURATION);
                    let at = started + wait.min(limits::MAX_DURATION);
                    tokio::select! {
                        _ = tokio::time::sleep_until(at) => {}
                        _ = ctx.shutdown.recv() => break,
                    }
                    continue;
                }
                n = n.min(due - made);
            }
            // One buffer per batch; each event is a slice of it (canonical
            // JSON text: nothing is parsed unless a stage needs the value).
            // n is at most batch_events, itself at most the edge capacity.
            let mut text = Vec::with_capacity(n as usize * 160);
            let mut ends = Vec::with_capacity(n as usize);
            for i in made..made + n {
                event(i, &mut rng, &mut text);
                ends.push(text.len());
            }
            let text = Bytes::from(text);
            let mut start = 0;
            let events = ends
                .into_iter()
                .map(|end| {
                    let e = Event::from_raw(text.slice(start..end), 0);
                    start = end;
                    e
                })
                .collect();
            made += n;
            if ctx.emit(events, Vec::new()).await.is_err() {
                break;
            }
        }
        Ok(())
    }
}

/// Appends event `seq` as canonical JSON text to `out`.
fn event(seq: u64, rng: &mut StdRng, out: &mut Vec<u8>) {
    let total: u32 = LEVELS.iter().map(|l| l.1).sum();
    let mut pick = rng.random_range(0..total);
    let level = LEVELS
        .iter()
        .find(|(_, w)| {
            if pick < *w {
                true
            } else {
                pick -= w;
                false
            }
        })
        .map_or("info", |l| l.0);
    let status: u64 = match level {
        "error" => 500 + rng.random_range(0..4),
        "warn" => [404, 429, 499][rng.random_range(0..3)],
        _ => 200,
    };
    let host = HOSTS[rng.random_range(0..HOSTS.len())];
    let path = PATHS[rng.random_range(0..PATHS.len())];
    let latency: u64 = rng.random_range(1..500);
    let message = MESSAGES[rng.random_range(0..MESSAGES.len())];
    out.extend_from_slice(b"{\"seq\":");
    int(seq, out);
    out.extend_from_slice(b",\"ts\":");
    int(
        (BASE_TS_MS as u64).saturating_add(seq.saturating_mul(10)),
        out,
    );
    for (key, value) in [("host", host), ("level", level), ("path", path)] {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":\"");
        out.extend_from_slice(value.as_bytes());
        out.push(b'"');
    }
    out.extend_from_slice(b",\"status\":");
    int(status, out);
    out.extend_from_slice(b",\"latency_ms\":");
    int(latency, out);
    out.extend_from_slice(b",\"message\":\"");
    out.extend_from_slice(message.as_bytes());
    out.extend_from_slice(b"\"}");
}

/// Appends `n` in decimal.
fn int(mut n: u64, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

impl crate::sources::SourceKind for GenerateConfig {
    /// Checks `rate`: the pacing divides by it and turns the quotient into
    /// a duration, which must stay within what clocks hold.
    fn validate(&self) -> Vec<crate::sources::Problem> {
        self.rate
            .and_then(|r| limits::rate("rate", r))
            .map(|m| (None, m))
            .into_iter()
            .collect()
    }

    fn build(&self) -> anyhow::Result<crate::sources::SourceTask> {
        Ok(Box::new(self.clone()))
    }

    fn describe(&self) -> String {
        match self.count {
            Some(n) => format!("generate {n}"),
            None => "generate".into(),
        }
    }
}

impl crate::sources::RunSource for GenerateConfig {
    fn run(self: Box<Self>, ctx: SourceContext) -> crate::sources::SourceRun {
        Box::pin(GenerateConfig::run(*self, ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_canonical_json_and_deterministic() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        let (mut r1, mut r2) = (StdRng::seed_from_u64(7), StdRng::seed_from_u64(7));
        for i in [0, 9, 10, 1_000_000] {
            let start = a.len();
            event(i, &mut r1, &mut a);
            event(i, &mut r2, &mut b);
            assert!(
                crate::kit::json::is_canonical(&a[start..]),
                "{}",
                String::from_utf8_lossy(&a[start..])
            );
        }
        assert_eq!(a, b);
    }
}
