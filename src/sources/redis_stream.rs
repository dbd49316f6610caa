//! `type = "redis_stream"`: reads a Redis stream as one consumer of a
//! consumer group, so that several daemons share the entries.
//!
//! - Entries are read with `XREADGROUP ... >` in batches of `batch_size`,
//!   blocking at most `block` when the stream is drained. The group is
//!   created (with `MKSTREAM`) when missing, from `start_id`.
//! - Each entry becomes the JSON value held in its field `field` (`data`);
//!   an entry without that field becomes an object of all its fields as
//!   strings; a `field` that is not JSON becomes an error event.
//! - Every batch carries an acknowledgement: its entry ids are `XACK`ed only
//!   once every event derived from them was delivered (written by the
//!   sinks, dropped on purpose, or written to an error output). A consumer
//!   that dies leaves its entries pending in the group.
//! - Every `claim_idle / 2` the source runs `XAUTOCLAIM` for entries pending
//!   longer than `claim_idle` (a dead consumer's, or its own that a lost
//!   reply left behind) and delivers them again. An entry whose delivery
//!   count goes over `max_deliveries` goes to the error output instead, so
//!   a poison entry does not loop forever.
//! - Connection loss (Redis restarting) is retried with exponential backoff
//!   and full jitter; after reconnecting the source first re-reads its own
//!   pending entries (`XREADGROUP ... 0`) that it is not already delivering,
//!   so an entry whose reply was lost with the connection is not stranded.
//! - Shutdown: the source stops reading (within `block`), closes its
//!   outputs, and returns once every batch it read is acknowledged and
//!   `XACK`ed.
//!
//! Delivery is at least once: an entry claimed from a consumer that was
//! still alive but slow, or re-read after a crash, can be delivered twice.
//!
//! One file per job: `config.rs` (settings, validation), `reader.rs` (the
//! read and claim loop, and emitting batches), `acker.rs` (the `XACK`
//! task), `reply.rs` (RESP replies into entries); this file wires them.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::kit::retry::RetryPolicy;
use crate::sources::SourceContext;

mod acker;
mod config;
mod reader;
mod reply;
use acker::acknowledge;
pub use config::RedisStreamConfig;

/// Reconnect waits: full jitter from 100 ms up to 5 s, never giving up.
const RECONNECT: RetryPolicy = RetryPolicy {
    attempts: u32::MAX,
    initial: Duration::from_millis(100),
    max: Duration::from_secs(5),
};

/// A `redis_stream` source ready to run.
#[derive(Debug)]
pub struct RedisStreamSource {
    /// The server, connected to (again) by the reader and the acker.
    client: redis::Client,
    /// This source's consumer name in the group.
    consumer: String,
    /// The settings, `batch_size` capped to the graph's batches at start.
    config: RedisStreamConfig,
}

/// Entry ids read and not yet `XACK`ed: a claim skips them (they are on
/// their way through this very pipeline).
type InFlight = Arc<Mutex<HashSet<String>>>;

impl RedisStreamSource {
    /// Reads until shutdown (or until nothing downstream is left), then
    /// waits until everything read is acknowledged and `XACK`ed.
    pub async fn run(mut self, mut ctx: SourceContext) -> anyhow::Result<()> {
        // A batch never exceeds what the graph's edges are sized for (a
        // `delay` stage downstream asks for small batches).
        self.config.batch_size = self.config.batch_size.min(ctx.batch_events).max(1);
        let c = &self.config;
        tracing::info!(
            "source `{}`: reading redis stream `{}` as consumer `{}` of group `{}`",
            ctx.name,
            c.stream,
            self.consumer,
            c.group
        );
        let in_flight: InFlight = Arc::default();
        let (ack_tx, ack_rx) = mpsc::unbounded_channel();
        let acker = tokio::spawn(acknowledge(
            self.client.clone(),
            c.stream.clone(),
            c.group.clone(),
            ctx.name.clone(),
            ack_rx,
            in_flight.clone(),
        ));
        self.read(&mut ctx, &ack_tx, &in_flight).await;
        // Everything read is sent: let the graph close, then wait until all
        // of it is acknowledged and XACKed.
        drop(ack_tx);
        ctx.outputs.close().await;
        acker.await?;
        tracing::debug!("source `{}`: every batch read is acknowledged", ctx.name);
        Ok(())
    }
}

impl crate::sources::SourceKind for RedisStreamConfig {
    fn validate(&self) -> Vec<crate::sources::Problem> {
        RedisStreamConfig::validate(self)
    }

    fn build(&self) -> anyhow::Result<crate::sources::SourceTask> {
        Ok(Box::new(self.open()?))
    }

    fn describe(&self) -> String {
        format!("redis_stream {} group {}", self.stream, self.group)
    }
}

impl crate::sources::RunSource for RedisStreamSource {
    fn run(self: Box<Self>, ctx: SourceContext) -> crate::sources::SourceRun {
        Box::pin(RedisStreamSource::run(*self, ctx))
    }
}
