//! `type = "redis_stream"`: appends each event to a Redis stream as one
//! entry whose field `field` (`data`) holds the event's compact JSON.
//!
//! Events are written with `XADD` in pipelined batches (up to the sink's
//! capacity per round trip, and whatever is there when the input goes
//! idle), with `MAXLEN ~ maxlen` approximate trimming when `maxlen` is set.
//! The events are held until Redis answered for the whole pipeline: only
//! then are they acknowledged to their sources. A failed batch (connection
//! lost, Redis restarting, an error reply) is retried whole on a new
//! connection with exponential backoff and full jitter (`retry`); once the
//! retries are spent it goes to the sink's `errors` output.
//!
//! Delivery is at least once: a pipeline cut by a lost connection may have
//! been partly applied, and is written again whole.

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use serde::Deserialize;

use crate::codec::Codec;
use crate::redact::SecretUrl;
use crate::sinks::SinkContext;
use crate::sinks::retry::RetryPolicy;

/// Settings of a `redis_stream` sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisStreamSinkConfig {
    /// `redis://[:password@]host:port[/db]`; printed only redacted.
    pub url: SecretUrl,
    /// The stream key.
    pub stream: String,
    /// The entry field that holds the event's JSON.
    #[serde(default = "default_field")]
    pub field: String,
    /// Trim the stream to about this many entries (`MAXLEN ~`).
    #[serde(default)]
    pub maxlen: Option<u64>,
    /// How a failed batch is retried before it goes to `errors`.
    #[serde(default)]
    pub retry: RetryPolicy,
}

fn default_field() -> String {
    "data".into()
}

impl RedisStreamSinkConfig {
    /// Checks the URL's form (the server may well be down at start).
    pub fn validate(&self) -> Vec<(Option<std::ops::Range<usize>>, String)> {
        let mut out = Vec::new();
        if let Err(e) = self.url.redis_client() {
            out.push((None, e));
        }
        if self.stream.is_empty() {
            out.push((None, "`stream` must not be empty".into()));
        }
        if self.maxlen == Some(0) {
            out.push((None, "`maxlen` must be at least 1".into()));
        }
        out.extend(self.retry.validate());
        out
    }

    /// Drains the input into the stream until the input closes.
    pub async fn run(self, mut ctx: SinkContext) -> anyhow::Result<()> {
        let client = self.url.redis_client().map_err(anyhow::Error::msg)?;
        let mut conn: Option<MultiplexedConnection> = None;
        let mut held = crate::sinks::held::Held::default();
        let mut lines: Vec<Vec<u8>> = Vec::new();
        let mut bytes = 0usize;
        loop {
            let next = ctx.input.recv().await;
            let last = next.is_none();
            if let Some(batch) = next {
                let started = Instant::now();
                ctx.stats.events_in.fetch_add(batch.len() as u64, Relaxed);
                for e in &batch.events {
                    let mut line = Vec::new();
                    e.encode(Codec::Json, &mut line);
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    bytes += line.len();
                    lines.push(line);
                }
                held.extend(batch.events);
                ctx.stats.latency.record(started.elapsed());
            }
            let full = held.len() >= ctx.capacity;
            let idle = last || ctx.input.is_idle();
            if held.is_empty() || !(full || idle) {
                if last {
                    break;
                }
                continue;
            }
            let n = held.len() as u64;
            match self.write_retrying(&client, &mut conn, &lines, &ctx).await {
                Ok(()) => {
                    ctx.stats.bytes.fetch_add(bytes as u64, Relaxed);
                    ctx.stats.events_out.fetch_add(n, Relaxed);
                    // Confirmed by Redis: dropping the events acknowledges them.
                    held.delivered();
                }
                Err(e) => {
                    let e = self.url.scrub(&e.to_string());
                    tracing::error!(
                        "sink `{}`: XADD to `{}` failed after {} attempts: {e}; {n} events go to `{}.errors`",
                        ctx.name,
                        self.stream,
                        self.retry.attempts,
                        ctx.name
                    );
                    let reason = format!("XADD to redis stream `{}` failed: {e}", self.stream);
                    ctx.give_up(held.take(), &reason).await;
                }
            }
            ctx.in_flight.sub(n);
            lines.clear();
            bytes = 0;
            if last {
                break;
            }
        }
        Ok(())
    }

    /// Writes `lines` as one pipeline, retrying whole on a new connection.
    async fn write_retrying(
        &self,
        client: &redis::Client,
        conn: &mut Option<MultiplexedConnection>,
        lines: &[Vec<u8>],
        ctx: &SinkContext,
    ) -> Result<(), redis::RedisError> {
        let stage = ctx.name.as_str();
        let mut pipe = redis::pipe();
        for line in lines {
            let cmd = pipe.cmd("XADD").arg(&self.stream);
            if let Some(max) = self.maxlen {
                cmd.arg("MAXLEN").arg("~").arg(max);
            }
            cmd.arg("*").arg(&self.field).arg(line.as_slice()).ignore();
        }
        let mut failures = 0u32;
        loop {
            let result = match conn.as_mut() {
                Some(c) => pipe.query_async::<()>(c).await,
                None => {
                    match crate::sources::redis_stream::connect(client, Duration::from_secs(30))
                        .await
                    {
                        Ok(mut c) => {
                            let r = pipe.query_async::<()>(&mut c).await;
                            *conn = Some(c);
                            r
                        }
                        Err(e) => Err(e),
                    }
                }
            };
            match result {
                Ok(()) => {
                    if failures > 0 {
                        tracing::info!(
                            "sink `{stage}`: wrote to redis after {failures} failed attempts"
                        );
                    }
                    return Ok(());
                }
                Err(e) => {
                    *conn = None;
                    failures += 1;
                    ctx.stats.retries.fetch_add(1, Relaxed);
                    if self.retry.exhausted(failures) {
                        return Err(e);
                    }
                    let wait = self.retry.backoff(failures, &mut rand::rng());
                    tracing::warn!(
                        "sink `{stage}`: XADD to `{}` failed ({}); retry {failures} in {wait:?}",
                        self.stream,
                        self.url.scrub(&e.to_string())
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

impl crate::sinks::SinkKind for RedisStreamSinkConfig {
    fn validate(&self) -> Vec<crate::sinks::Problem> {
        RedisStreamSinkConfig::validate(self)
    }

    fn build(
        &self,
        _opening: &crate::sinks::Opening<'_>,
    ) -> anyhow::Result<crate::sinks::SinkTask> {
        use crate::sinks::SinkTask;
        Ok(SinkTask(Box::new(self.clone())))
    }

    fn describe(&self) -> String {
        format!("redis_stream {}", self.stream)
    }
}

impl crate::sinks::RunSink for RedisStreamSinkConfig {
    fn run(
        self: Box<Self>,
        ctx: SinkContext,
        handle: &tokio::runtime::Handle,
    ) -> anyhow::Result<()> {
        handle.block_on(RedisStreamSinkConfig::run(*self, ctx))
    }
}
