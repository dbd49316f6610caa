//! Sources: where events enter the graph. One file per kind; [`SourceConfig`]
//! is the registry that maps a `type` to its configuration and task.

pub mod file;
pub mod generate;
pub mod lines;
pub mod net;
pub mod redis_stream;
pub mod replay;
pub mod stdin;
pub mod tcp;
pub mod udp;
pub mod unix;

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use serde::de::DeserializeOwned;

use crate::kit::checkpoint::Store;
use crate::kit::counters::StageStats;
use crate::kit::edge::Closed;
use crate::kit::event::Event;
use crate::kit::shutdown::Shutdown;
use crate::kit::source_outputs::SourceOutputs;

/// The configuration of one source, by `type`.
#[derive(Debug, Clone)]
pub enum SourceConfig {
    /// `type = "stdin"`
    Stdin(stdin::StdinConfig),
    /// `type = "file"`
    File(file::FileConfig),
    /// `type = "generate"`
    Generate(generate::GenerateConfig),
    /// `type = "tcp"`
    Tcp(tcp::TcpConfig),
    /// `type = "udp"`
    Udp(udp::UdpConfig),
    /// `type = "unix"`
    Unix(unix::UnixConfig),
    /// `type = "redis_stream"`
    RedisStream(redis_stream::RedisStreamConfig),
}

/// Every source `type`, for messages.
pub const TYPES: &[&str] = &[
    "stdin",
    "file",
    "generate",
    "tcp",
    "udp",
    "unix",
    "redis_stream",
];

/// Parses the kind-specific keys of a `[sources.NAME]` table of `type`.
/// `None` when the type is unknown.
pub fn parse(
    type_name: &str,
    table: toml::de::ValueDeserializer<'_>,
) -> Option<Result<SourceConfig, toml::de::Error>> {
    fn de<T: DeserializeOwned>(t: toml::de::ValueDeserializer<'_>) -> Result<T, toml::de::Error> {
        T::deserialize(t)
    }
    Some(match type_name {
        "stdin" => de(table).map(SourceConfig::Stdin),
        "file" => de(table).map(SourceConfig::File),
        "generate" => de(table).map(SourceConfig::Generate),
        "tcp" => de(table).map(SourceConfig::Tcp),
        "udp" => de(table).map(SourceConfig::Udp),
        "unix" => de(table).map(SourceConfig::Unix),
        "redis_stream" => de(table).map(SourceConfig::RedisStream),
        _ => return None,
    })
}

impl SourceConfig {
    /// Problems in the settings that types alone do not catch.
    pub fn validate(&self) -> Vec<(Option<Range<usize>>, String)> {
        match self {
            SourceConfig::Generate(g) => g.validate(),
            SourceConfig::File(f) => f.validate(),
            SourceConfig::Stdin(c) => c.validate(),
            SourceConfig::Tcp(c) => c.validate(),
            SourceConfig::Udp(c) => c.validate(),
            SourceConfig::Unix(c) => c.validate(),
            SourceConfig::RedisStream(c) => c.validate(),
        }
    }

    /// Opens what the source reads, so that a missing file fails before
    /// anything starts; returns the task to run.
    pub fn build(&self) -> anyhow::Result<SourceTask> {
        Ok(match self {
            SourceConfig::Stdin(c) => SourceTask::Stdin(c.clone()),
            SourceConfig::File(c) => SourceTask::File(c.open()?),
            SourceConfig::Generate(c) => SourceTask::Generate(c.clone()),
            SourceConfig::Tcp(c) => SourceTask::Tcp(c.bind()?),
            SourceConfig::Udp(c) => SourceTask::Udp(c.bind()?),
            SourceConfig::Unix(c) => SourceTask::Unix(c.bind()?),
            SourceConfig::RedisStream(c) => SourceTask::RedisStream(Box::new(c.open()?)),
        })
    }

    /// Largest batch this source should send (`None`: the pipeline default).
    pub fn describe(&self) -> String {
        match self {
            SourceConfig::Stdin(_) => "stdin".into(),
            SourceConfig::File(f) => f.describe(),
            SourceConfig::Generate(g) => match g.count {
                Some(n) => format!("generate {n}"),
                None => "generate".into(),
            },
            SourceConfig::Tcp(c) => format!("tcp {}", c.address),
            SourceConfig::Udp(c) => format!("udp {}", c.address),
            SourceConfig::Unix(c) => format!("unix {}", c.path.display()),
            SourceConfig::RedisStream(c) => format!("redis_stream {} group {}", c.stream, c.group),
        }
    }
}

/// A source ready to run.
pub enum SourceTask {
    /// Reads standard input.
    Stdin(stdin::StdinConfig),
    /// Reads the files it matched at build time.
    File(file::OpenFiles),
    /// Synthesises events.
    Generate(generate::GenerateConfig),
    /// Accepts TCP connections on its bound socket.
    Tcp(tcp::TcpSource),
    /// Receives datagrams on its bound socket.
    Udp(udp::UdpSource),
    /// Accepts connections on its Unix socket.
    Unix(unix::UnixSource),
    /// Reads a Redis stream as a consumer of a group.
    RedisStream(Box<redis_stream::RedisStreamSource>),
}

impl SourceTask {
    /// Runs the source until its input ends, shutdown is requested, or
    /// nothing downstream is left.
    pub async fn run(self, ctx: SourceContext) -> anyhow::Result<()> {
        match self {
            SourceTask::Stdin(c) => c.run(ctx).await,
            SourceTask::File(f) => f.run(ctx).await,
            SourceTask::Generate(g) => g.run(ctx).await,
            SourceTask::Tcp(s) => s.run(ctx).await,
            SourceTask::Udp(s) => s.run(ctx).await,
            SourceTask::Unix(s) => s.run(ctx).await,
            SourceTask::RedisStream(s) => s.run(ctx).await,
        }
    }
}

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
