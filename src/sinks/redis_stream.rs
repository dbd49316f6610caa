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
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use serde::Deserialize;

use crate::kit::codec::Codec;
use crate::kit::event::Event;
use crate::kit::redact::SecretUrl;
use crate::kit::retry::{Retries, RetryPolicy};
use crate::sinks::SinkContext;
use crate::sinks::sink_loop::{self, Chunk, Outcome};

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
    /// Drains the input into the stream until the input closes.
    pub async fn run(self, ctx: SinkContext) -> anyhow::Result<()> {
        let client = self.url.redis_client().map_err(anyhow::Error::msg)?;
        let entries = Entries {
            config: self,
            client,
            conn: None,
            lines: Vec::new(),
            bytes: 0,
        };
        sink_loop::run(entries, ctx).await
    }
}

/// The connection to Redis, remade on demand, and the entries not yet
/// appended.
struct Entries {
    /// The sink's settings.
    config: RedisStreamSinkConfig,
    /// Makes connections.
    client: redis::Client,
    /// The live connection, if any.
    conn: Option<MultiplexedConnection>,
    /// One compact JSON line per held event, without its newline.
    lines: Vec<Vec<u8>>,
    /// Their total length (what the metrics count as bytes).
    bytes: usize,
}

impl Chunk for Entries {
    fn encode(&mut self, event: &Event) {
        let mut line = Vec::new();
        event.encode(Codec::Json, &mut line);
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        self.bytes += line.len();
        self.lines.push(line);
    }

    /// One pipeline holds up to the sink's capacity: no byte bound.
    fn is_full(&self) -> bool {
        false
    }

    fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    async fn write(&mut self, ctx: &SinkContext, _idle: bool) -> Outcome {
        match self.write_retrying(ctx).await {
            // Confirmed by Redis: the loop acknowledges the events now.
            Ok(()) => Outcome::Written {
                bytes: self.bytes as u64,
            },
            Err(e) => {
                let c = &self.config;
                let e = c.url.scrub(&e.to_string());
                Outcome::Failed {
                    log: format!(
                        "XADD to `{}` failed after {} attempts: {e}",
                        c.stream, c.retry.attempts
                    ),
                    reason: format!("XADD to redis stream `{}` failed: {e}", c.stream),
                }
            }
        }
    }

    fn clear(&mut self) {
        self.lines.clear();
        self.bytes = 0;
    }
}

impl Entries {
    /// Writes the lines as one pipeline, retrying whole on a new connection.
    async fn write_retrying(&mut self, ctx: &SinkContext) -> Result<(), redis::RedisError> {
        let c = &self.config;
        let stage = ctx.name.as_str();
        let mut pipe = redis::pipe();
        for line in &self.lines {
            let cmd = pipe.cmd("XADD").arg(&c.stream);
            if let Some(max) = c.maxlen {
                cmd.arg("MAXLEN").arg("~").arg(max);
            }
            cmd.arg("*").arg(&c.field).arg(line.as_slice()).ignore();
        }
        let mut retries = Retries::new(c.retry);
        loop {
            let result = match self.conn.as_mut() {
                Some(conn) => pipe.query_async::<()>(conn).await,
                None => {
                    match crate::kit::net::redis_connect(&self.client, Duration::from_secs(30))
                        .await
                    {
                        Ok(mut conn) => {
                            let r = pipe.query_async::<()>(&mut conn).await;
                            self.conn = Some(conn);
                            r
                        }
                        Err(e) => Err(e),
                    }
                }
            };
            match result {
                Ok(()) => {
                    let failures = retries.failures();
                    if failures > 0 {
                        tracing::info!(
                            "sink `{stage}`: wrote to redis after {failures} failed attempts"
                        );
                    }
                    return Ok(());
                }
                Err(e) => {
                    self.conn = None;
                    ctx.stats.retries.fetch_add(1, Relaxed);
                    let Some(wait) = retries.failed() else {
                        return Err(e);
                    };
                    tracing::warn!(
                        "sink `{stage}`: XADD to `{}` failed ({}); retry {} in {wait:?}",
                        c.stream,
                        c.url.scrub(&e.to_string()),
                        retries.failures()
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

impl crate::sinks::SinkKind for RedisStreamSinkConfig {
    /// Checks the URL's form (the server may well be down at start).
    fn validate(&self) -> Vec<crate::sinks::Problem> {
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
