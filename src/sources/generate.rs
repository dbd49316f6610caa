//! `type = "generate"`: synthetic log events drawn from the pipeline seed, for
//! demos, tests and benchmarks. The same seed always gives the same events.

use std::ops::Range;
use std::time::Duration;

use jaq_json::Val;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;

use crate::event::{Event, name_hash};
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
    /// Checks `rate`.
    pub fn validate(&self) -> Vec<(Option<Range<usize>>, String)> {
        match self.rate {
            Some(r) if !(r > 0.0 && r.is_finite()) => {
                vec![(
                    None,
                    format!("`rate` must be a positive number of events per second, got {r}"),
                )]
            }
            _ => Vec::new(),
        }
    }

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
                let due = (started.elapsed().as_secs_f64() * rate) as u64 + 1;
                if due <= made {
                    let at = started + Duration::from_secs_f64(made as f64 / rate);
                    tokio::select! {
                        _ = tokio::time::sleep_until(at) => {}
                        _ = ctx.shutdown.recv() => break,
                    }
                    continue;
                }
                n = n.min(due - made);
            }
            let events = (made..made + n)
                .map(|i| Event::new(event(i, &mut rng)))
                .collect();
            made += n;
            if ctx.emit(events, Vec::new()).await.is_err() {
                break;
            }
        }
        Ok(())
    }
}

fn event(seq: u64, rng: &mut StdRng) -> Val {
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
    let status = match level {
        "error" => 500 + rng.random_range(0..4) as isize,
        "warn" => [404, 429, 499][rng.random_range(0..3)],
        _ => 200,
    };
    let mut m = jaq_json::Map::default();
    let mut put = |k: &str, v: Val| {
        m.insert(Val::from(k.to_string()), v);
    };
    put("seq", Val::from(seq as isize));
    put("ts", Val::from((BASE_TS_MS + seq as i64 * 10) as isize));
    put(
        "host",
        Val::from(HOSTS[rng.random_range(0..HOSTS.len())].to_string()),
    );
    put("level", Val::from(level.to_string()));
    put(
        "path",
        Val::from(PATHS[rng.random_range(0..PATHS.len())].to_string()),
    );
    put("status", Val::from(status));
    put("latency_ms", Val::from(rng.random_range(1..500) as isize));
    put(
        "message",
        Val::from(MESSAGES[rng.random_range(0..MESSAGES.len())].to_string()),
    );
    Val::obj(m)
}
