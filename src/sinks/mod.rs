//! Sinks: where events leave the graph. One file per kind; [`SinkConfig`] is
//! the registry. A sink runs on its own blocking thread: it drains its input
//! edge until every upstream sender is gone, then flushes and returns.
//!
//! A sink acknowledges only what it wrote: it keeps unwritten events in a
//! [`held::Held`], and a sink that stops early (its [`SinkContext`] dropped
//! with its input still open) fails whatever is still queued for it.

pub mod blackhole;
pub mod file;
pub mod held;
pub mod redis_stream;
pub mod stdout;
pub mod tcp;
mod writer;

use std::ops::Range;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::kit::checkpoint::Checkpoint;
use crate::kit::counters::{InFlight, StageStats};
use crate::kit::edge::EdgeReceiver;
use crate::kit::event::Event;
use crate::kit::fanout::Outputs;

/// The configuration of one sink, by `type`.
#[derive(Debug, Clone)]
pub enum SinkConfig {
    /// `type = "stdout"`
    Stdout(stdout::StdoutConfig),
    /// `type = "file"`
    File(file::FileSinkConfig),
    /// `type = "blackhole"`
    Blackhole(blackhole::BlackholeConfig),
    /// `type = "tcp"`
    Tcp(tcp::TcpSinkConfig),
    /// `type = "redis_stream"`
    RedisStream(redis_stream::RedisStreamSinkConfig),
}

/// Every sink `type`, for messages.
pub const TYPES: &[&str] = &["stdout", "file", "blackhole", "tcp", "redis_stream"];

/// Parses the kind-specific keys of a `[sinks.NAME]` table of `type`.
/// `None` when the type is unknown.
pub fn parse(
    type_name: &str,
    table: toml::de::ValueDeserializer<'_>,
) -> Option<Result<SinkConfig, toml::de::Error>> {
    fn de<T: DeserializeOwned>(t: toml::de::ValueDeserializer<'_>) -> Result<T, toml::de::Error> {
        T::deserialize(t)
    }
    Some(match type_name {
        "stdout" => de(table).map(SinkConfig::Stdout),
        "file" => de(table).map(SinkConfig::File),
        "blackhole" => de(table).map(SinkConfig::Blackhole),
        "tcp" => de(table).map(SinkConfig::Tcp),
        "redis_stream" => de(table).map(SinkConfig::RedisStream),
        _ => return None,
    })
}

impl SinkConfig {
    /// Problems in the settings that types alone do not catch.
    pub fn validate(&self) -> Vec<(Option<Range<usize>>, String)> {
        match self {
            SinkConfig::Blackhole(b) => b.validate(),
            SinkConfig::Tcp(c) => c.validate(),
            SinkConfig::RedisStream(c) => c.validate(),
            SinkConfig::File(c) => c.retry.validate(),
            SinkConfig::Stdout(_) => Vec::new(),
        }
    }

    /// Opens the output (so that an unwritable path fails before anything
    /// starts) and returns the task to run.
    ///
    /// On a reload (`reloading`), a file sink always appends: truncating
    /// would erase what the previous graph wrote. With `checkpoint` (the
    /// pipeline has a `data_dir`) an ordered file sink records its length
    /// with every acknowledged batch and, at start, cuts back to the length
    /// the last checkpoint recorded (effectively-once output).
    pub fn build(
        &self,
        name: &str,
        ordered: bool,
        reloading: bool,
        checkpoint: Option<&Checkpoint>,
    ) -> anyhow::Result<SinkTask> {
        let marks = ordered && checkpoint.is_some();
        let resume_at = match (reloading, checkpoint, self) {
            (false, Some(c), SinkConfig::File(f)) if marks => c.sink_length(name, &f.path),
            _ => None,
        };
        Ok(match self {
            SinkConfig::Stdout(c) => SinkTask::Writer(c.open()),
            SinkConfig::File(c) => SinkTask::Writer(c.open(reloading, marks, resume_at)?),
            SinkConfig::Blackhole(c) => SinkTask::Blackhole(c.clone()),
            SinkConfig::Tcp(c) => SinkTask::Tcp(c.clone()),
            SinkConfig::RedisStream(c) => SinkTask::RedisStream(c.clone()),
        })
    }

    /// A one-line description for the graph output.
    pub fn describe(&self) -> String {
        match self {
            SinkConfig::Stdout(_) => "stdout".into(),
            SinkConfig::File(f) => format!("file {}", f.path.display()),
            SinkConfig::Blackhole(_) => "blackhole".into(),
            SinkConfig::Tcp(c) => format!("tcp {}", c.address),
            SinkConfig::RedisStream(c) => format!("redis_stream {}", c.stream),
        }
    }
}

impl SinkTask {
    /// For an effectively-once file sink: its length now (what the
    /// checkpoint must hold before anything is written).
    pub fn checkpoint_length(&self) -> Option<u64> {
        match self {
            SinkTask::Writer(w) => w.checkpoint_length(),
            _ => None,
        }
    }

    /// Re-reads a file sink's length (see [`writer::LineWriter::resync_length`]).
    pub fn resync_length(&mut self) -> std::io::Result<()> {
        match self {
            SinkTask::Writer(w) => w.resync_length(),
            _ => Ok(()),
        }
    }
}

/// A sink ready to run.
pub enum SinkTask {
    /// Encodes events as lines into a writer.
    Writer(writer::LineWriter),
    /// Counts and discards.
    Blackhole(blackhole::BlackholeConfig),
    /// Writes lines to a TCP peer (an async task: it waits on the network).
    Tcp(tcp::TcpSinkConfig),
    /// Appends to a Redis stream (an async task: it waits on the network).
    RedisStream(redis_stream::RedisStreamSinkConfig),
}

/// What a running sink needs.
pub struct SinkContext {
    /// Stage name.
    pub name: String,
    /// The merged input edge.
    pub input: EdgeReceiver,
    /// This stage's counters.
    pub stats: Arc<StageStats>,
    /// The pipeline's in-flight gauge (a sink retires what it writes).
    pub in_flight: Arc<InFlight>,
    /// The sink's input capacity in events: it holds no more than this
    /// many unwritten events, so capacities bound the whole graph.
    pub capacity: usize,
    /// The sink's `errors` output: where batches go that could not be
    /// written after every retry.
    pub errors: Outputs,
    /// Batches sent to `errors` so far (their sequence numbers).
    pub error_batches: u64,
    /// The stage name, one allocation per incarnation: the key its lengths
    /// are marked with, which the checkpoint tells apart by pointer.
    pub mark_key: Arc<str>,
}

impl SinkContext {
    /// Sends `events` that could not be written, after every retry, to the
    /// sink's `errors` output as error events with `reason`. They keep their
    /// acknowledgements: a dead letter written is a delivery. When nothing
    /// consumes `errors`, they are counted and logged there, but their
    /// batches fail: the bytes were not written anywhere.
    pub async fn give_up(&mut self, events: Vec<Event>, reason: &str) {
        if !self.errors.consumed(self.errors.errors_port()) {
            crate::kit::event::fail_events(&events);
        }
        let errors: Vec<Event> = events
            .into_iter()
            .map(|e| e.into_error(&self.name, reason))
            .collect();
        let mut per_port: Vec<Vec<Event>> =
            (0..self.errors.port_count()).map(|_| Vec::new()).collect();
        per_port[self.errors.errors_port()] = errors;
        let origin = crate::kit::event::name_hash(&self.name);
        let _ = self.errors.send(origin, self.error_batches, per_port).await;
        self.error_batches += 1;
    }
}

impl Drop for SinkContext {
    fn drop(&mut self) {
        // After a normal end the input is closed and empty; otherwise the
        // sink stopped early and what is still queued for it is lost.
        let lost = held::drain_failed(&mut self.input, &self.in_flight);
        if lost > 0 {
            tracing::warn!(
                "sink `{}` stopped: {lost} queued events were not written (not acknowledged)",
                self.name
            );
        }
    }
}

impl SinkTask {
    /// Runs the sink on a thread of its own, named after the stage, until
    /// its input closes (a graph thread, not tokio's capped blocking pool:
    /// see `topology::thread`).
    pub async fn run(self, ctx: SinkContext) -> anyhow::Result<()> {
        let handle = tokio::runtime::Handle::current();
        let name = ctx.name.clone();
        crate::kit::thread::run(name, move || match self {
            SinkTask::Writer(w) => w.run(ctx, &handle),
            SinkTask::Blackhole(b) => b.run(ctx, &handle),
            SinkTask::Tcp(t) => handle.block_on(t.run(ctx)),
            SinkTask::RedisStream(t) => handle.block_on(t.run(ctx)),
        })
        .await
    }
}
