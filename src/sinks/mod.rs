//! Sinks: where events leave the graph. One file per kind, implementing
//! [`SinkKind`] (settings) and [`RunSink`] (the opened task); [`KINDS`] is
//! the registry that maps a `type` to its kind. A sink runs on its own
//! blocking thread: it drains its input edge until every upstream sender is
//! gone, then flushes and returns.
//!
//! The writing sinks (file, stdout, tcp, redis_stream) share one loop,
//! `sink_loop.rs` (hold, write when full or idle, give up to `errors`), and
//! one retry helper, [`retry::Retries`]. A sink acknowledges only what it
//! wrote: it keeps unwritten events in a [`held::Held`], and a sink that
//! stops early (its [`SinkContext`] dropped with its input still open)
//! fails whatever is still queued for it.

pub mod blackhole;
pub mod file;
pub mod held;
pub mod http;
pub mod redis_stream;
mod sink_loop;
pub mod stdout;
pub mod tcp;
mod writer;

use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::kit::checkpoint::Checkpoint;
use crate::kit::counters::{InFlight, StageStats};
use crate::kit::edge::EdgeReceiver;
use crate::kit::event::Event;
use crate::kit::fanout::Outputs;

/// Every sink `type` and how to read its table: a new kind is one line
/// here and one file implementing [`SinkKind`].
pub const KINDS: &[(&str, Parse)] = &[
    ("stdout", parse_as::<stdout::StdoutConfig>),
    ("file", parse_as::<file::FileSinkConfig>),
    ("blackhole", parse_as::<blackhole::BlackholeConfig>),
    ("tcp", parse_as::<tcp::TcpSinkConfig>),
    (
        "redis_stream",
        parse_as::<redis_stream::RedisStreamSinkConfig>,
    ),
    ("http", parse_as::<http::HttpSinkConfig>),
];

/// Reads the kind-specific keys of a `[sinks.NAME]` table (the kind's own
/// `deny_unknown_fields` struct, so a typo is reported at the typo).
pub type Parse = fn(toml::de::ValueDeserializer<'_>) -> Result<SinkConfig, toml::de::Error>;

fn parse_as<T: SinkKind + DeserializeOwned + Clone + 'static>(
    table: toml::de::ValueDeserializer<'_>,
) -> Result<SinkConfig, toml::de::Error> {
    T::deserialize(table).map(|c| Box::new(c) as SinkConfig)
}

/// A problem in a setting (see [`crate::kit::limits::Problem`]).
pub use crate::kit::limits::Problem;

/// The configuration of one sink, whatever its `type`.
pub type SinkConfig = Box<dyn SinkKind>;

/// How a sink is being opened: what [`SinkKind::build`] may need besides
/// its own settings.
pub struct Opening<'a> {
    /// The stage name (the key of its checkpointed length).
    pub name: &'a str,
    /// The sink restores source order (`ordered = true`).
    pub ordered: bool,
    /// Built by a reload, while the previous graph may still write.
    pub reloading: bool,
    /// The last checkpoint, when the pipeline has a `data_dir`.
    pub checkpoint: Option<&'a Checkpoint>,
}

/// What every sink kind's configuration does, so that the loader, the
/// builder and the graph output need not know the kinds.
pub trait SinkKind: std::fmt::Debug + Send + Sync + CloneSink {
    /// Problems in the settings that types alone do not catch.
    fn validate(&self) -> Vec<Problem> {
        Vec::new()
    }

    /// Opens the output (so that an unwritable path fails before anything
    /// starts) and returns the task to run.
    ///
    /// On a reload, a file sink always appends: truncating would erase
    /// what the previous graph wrote. With a checkpoint (the pipeline has a
    /// `data_dir`) an ordered file sink records its length with every
    /// acknowledged batch and, at start, cuts back to the length the last
    /// checkpoint recorded (effectively-once output).
    fn build(&self, opening: &Opening<'_>) -> anyhow::Result<SinkTask>;

    /// A one-line description for the graph output.
    fn describe(&self) -> String;

    /// The file whose length an effectively-once sink records in the
    /// checkpoint (`None`: the sink keeps no length).
    fn checkpointed_path(&self) -> Option<&std::path::Path> {
        None
    }
}

/// Clones a boxed [`SinkKind`] (a [`Config`](crate::config::Config) is
/// cloned on reload); implemented for every `Clone` kind.
pub trait CloneSink {
    /// A boxed copy.
    fn clone_box(&self) -> SinkConfig;
}

impl<T: SinkKind + Clone + 'static> CloneSink for T {
    fn clone_box(&self) -> SinkConfig {
        Box::new(self.clone())
    }
}

impl Clone for SinkConfig {
    fn clone(&self) -> Self {
        (**self).clone_box()
    }
}

/// A sink ready to run: what [`SinkKind::build`] opened.
pub trait RunSink: Send {
    /// Drains `ctx.input` until it closes, on the sink's own thread
    /// (`handle` runs what must wait on the network).
    fn run(
        self: Box<Self>,
        ctx: SinkContext,
        handle: &tokio::runtime::Handle,
    ) -> anyhow::Result<()>;

    /// For an effectively-once file sink: its length now (what the
    /// checkpoint must hold before anything is written).
    fn checkpoint_length(&self) -> Option<u64> {
        None
    }

    /// Re-reads a file sink's length (see [`writer::LineWriter::resync_length`]).
    fn resync_length(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A built sink, whatever its kind.
pub struct SinkTask(pub Box<dyn RunSink>);

impl SinkTask {
    /// For an effectively-once file sink: its length now (what the
    /// checkpoint must hold before anything is written).
    pub fn checkpoint_length(&self) -> Option<u64> {
        self.0.checkpoint_length()
    }

    /// Re-reads a file sink's length (see [`writer::LineWriter::resync_length`]).
    pub fn resync_length(&mut self) -> std::io::Result<()> {
        self.0.resync_length()
    }
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
        crate::kit::thread::run(name, move || self.0.run(ctx, &handle)).await
    }
}
