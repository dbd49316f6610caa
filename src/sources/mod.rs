//! Sources: where events enter the graph. One file per kind, implementing
//! [`SourceKind`] (settings) and [`RunSource`] (the opened task); [`KINDS`]
//! is the registry that maps a `type` to its kind.

pub mod file;
pub mod generate;
pub mod http_server;
pub mod lines;
pub mod net;
pub mod redis_stream;
pub mod replay;
pub mod stdin;
pub mod tcp;
pub mod udp;
pub mod unix;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use serde::de::DeserializeOwned;

use crate::kit::checkpoint::Store;
use crate::kit::counters::StageStats;
use crate::kit::edge::Closed;
use crate::kit::event::Event;
use crate::kit::shutdown::Shutdown;
use crate::kit::source_outputs::SourceOutputs;

/// Every source `type` and how to read its table: a new kind is one line
/// here and one file implementing [`SourceKind`].
pub const KINDS: &[(&str, Parse)] = &[
    ("stdin", parse_as::<stdin::StdinConfig>),
    ("file", parse_as::<file::FileConfig>),
    ("generate", parse_as::<generate::GenerateConfig>),
    ("tcp", parse_as::<tcp::TcpConfig>),
    ("udp", parse_as::<udp::UdpConfig>),
    ("unix", parse_as::<unix::UnixConfig>),
    ("redis_stream", parse_as::<redis_stream::RedisStreamConfig>),
    ("http_server", parse_as::<http_server::HttpServerConfig>),
];

/// A problem in a setting (see [`crate::kit::limits::Problem`]).
pub use crate::kit::limits::Problem;

/// Reads the kind-specific keys of a `[sources.NAME]` table (the kind's own
/// `deny_unknown_fields` struct, so a typo is reported at the typo).
pub type Parse = fn(toml::de::ValueDeserializer<'_>) -> Result<SourceConfig, toml::de::Error>;

fn parse_as<T: SourceKind + DeserializeOwned + Clone + 'static>(
    table: toml::de::ValueDeserializer<'_>,
) -> Result<SourceConfig, toml::de::Error> {
    T::deserialize(table).map(|c| Box::new(c) as SourceConfig)
}

/// The configuration of one source, whatever its `type`.
pub type SourceConfig = Box<dyn SourceKind>;

/// What every source kind's configuration does, so that the loader, the
/// builder and the graph output need not know the kinds.
pub trait SourceKind: std::fmt::Debug + Send + Sync + CloneSource {
    /// Problems in the settings that types alone do not catch.
    fn validate(&self) -> Vec<Problem>;

    /// Opens what the source reads, so that a missing file fails before
    /// anything starts; returns the task to run.
    fn build(&self) -> anyhow::Result<SourceTask>;

    /// A one-line description for the graph output.
    fn describe(&self) -> String;
}

/// Clones a boxed [`SourceKind`] (a [`Config`](crate::config::Config) is
/// cloned on reload); implemented for every `Clone` kind.
pub trait CloneSource {
    /// A boxed copy.
    fn clone_box(&self) -> SourceConfig;
}

impl<T: SourceKind + Clone + 'static> CloneSource for T {
    fn clone_box(&self) -> SourceConfig {
        Box::new(self.clone())
    }
}

impl Clone for SourceConfig {
    fn clone(&self) -> Self {
        (**self).clone_box()
    }
}

/// The future a source runs as.
pub type SourceRun = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// A source ready to run: what [`SourceKind::build`] opened.
pub trait RunSource: Send {
    /// Runs the source until its input ends, shutdown is requested, or
    /// nothing downstream is left.
    fn run(self: Box<Self>, ctx: SourceContext) -> SourceRun;
}

/// A built source, whatever its kind.
pub type SourceTask = Box<dyn RunSource>;

/// What a running source needs: its outputs, its counters and the stop signal.
#[derive(Clone)]
pub struct SourceContext {
    /// Stage name (used in error events).
    pub name: String,
    /// Port 0: events; port 1: `errors`. Shared by the source's tasks and
    /// switched to a new graph on reload.
    pub outputs: SourceOutputs,
    /// Set when the source must stop reading.
    pub shutdown: Shutdown,
    /// This stage's counters.
    pub stats: Arc<StageStats>,
    /// Largest batch to send.
    pub batch_events: usize,
    /// Origin id stamped on every batch (for ordering).
    pub origin: u64,
    /// The pipeline seed, for sources that draw random values.
    pub seed: u64,
    /// Where to record acknowledged positions (`pipeline.data_dir` set).
    pub checkpoints: Option<Arc<Store>>,
}

impl SourceContext {
    /// Sends one batch of decoded events and the error events met on the way.
    pub async fn emit(&mut self, good: Vec<Event>, bad: Vec<Event>) -> Result<(), Closed> {
        self.stats
            .events_in
            .fetch_add((good.len() + bad.len()) as u64, Relaxed);
        // Time spent here is time the graph made the source wait (the report's blocked_s).
        let started = std::time::Instant::now();
        let sent = self.outputs.send(self.origin, vec![good, bad]).await;
        self.stats.add_blocked(started.elapsed());
        sent
    }

    /// Sends one batch of stream `origin` (a source reading several inputs
    /// at once numbers each input as its own stream).
    pub async fn emit_on(
        &mut self,
        origin: u64,
        good: Vec<Event>,
        bad: Vec<Event>,
    ) -> Result<(), Closed> {
        self.stats
            .events_in
            .fetch_add((good.len() + bad.len()) as u64, Relaxed);
        let started = std::time::Instant::now();
        let sent = self.outputs.send(origin, vec![good, bad]).await;
        self.stats.add_blocked(started.elapsed());
        sent
    }

    /// Counts bytes read.
    pub fn add_bytes(&self, n: u64) {
        self.stats.bytes.fetch_add(n, Relaxed);
    }
}
