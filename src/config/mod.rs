//! The configuration: TOML schema, loading with `FILE:LINE:COL` diagnostics,
//! and validation of everything that can be checked before starting.
//!
//! Kind-specific settings live with their stage kind (`sources/`,
//! `transforms/`, `sinks/`); this module owns the common keys and the
//! `[pipeline]` table.

pub mod diagnostic;
pub mod dot;
pub mod graph;
mod keys;
mod load;

use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

pub use diagnostic::Diagnostic;
pub use load::{load_file, parse};

use crate::kit::limits;
use crate::sinks::SinkConfig;
use crate::sources::SourceConfig;
use crate::transforms::TransformConfig;

/// The embedded default configuration (`sluice run` with no file).
pub const DEFAULT_CONFIG: &str = include_str!("../../config/default.toml");

/// Default edge capacity, in events.
pub const DEFAULT_CAPACITY: usize = 1024;

/// A validated pipeline configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// File name used in messages.
    pub file: String,
    /// The `[pipeline]` table.
    pub pipeline: PipelineConfig,
    /// Every stage: sources, then transforms, then sinks, each in file order.
    pub stages: Vec<StageConfig>,
}

/// The `[pipeline]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Default capacity of every edge, in events.
    #[serde(default = "default_capacity")]
    pub capacity: usize,
    /// How long a SIGTERM drain may take before the exit is forced.
    #[serde(
        default = "default_grace",
        deserialize_with = "crate::kit::duration::deserialize"
    )]
    pub shutdown_grace: Duration,
    /// Seeds every random choice (sample, delay jitter, generate).
    #[serde(default)]
    pub seed: u64,
    /// Directory for checkpoints and other state.
    pub data_dir: Option<PathBuf>,
    /// Where to serve Prometheus metrics (`/metrics`) and the API
    /// (`/api/v1/…`); off when absent.
    pub metrics_address: Option<String>,
    /// `[pipeline.api]`: who may use the API, and whether taps are allowed.
    #[serde(default)]
    pub api: ApiConfig,
    /// How many unconsumed error events to log per second and stage; not a
    /// TOML key (`sluice filter` logs them all).
    #[serde(skip, default = "default_error_log_rate")]
    pub error_log_rate: Option<u32>,
}

fn default_capacity() -> usize {
    DEFAULT_CAPACITY
}

fn default_grace() -> Duration {
    Duration::from_secs(30)
}

fn default_error_log_rate() -> Option<u32> {
    Some(10)
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            capacity: DEFAULT_CAPACITY,
            shutdown_grace: default_grace(),
            seed: 0,
            data_dir: None,
            metrics_address: None,
            api: ApiConfig::default(),
            error_log_rate: default_error_log_rate(),
        }
    }
}

impl PipelineConfig {
    /// Values out of range, each with the key it is about.
    pub fn validate(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let max = limits::MAX_CAPACITY;
        if let Some(m) = limits::int_range("pipeline.capacity", self.capacity, 1, max) {
            out.push(("capacity", m));
        }
        // A zero grace would force every stop: nothing could drain.
        let min_grace = Duration::from_millis(1);
        let grace = self.shutdown_grace;
        if let Some(m) = limits::at_least("pipeline.shutdown_grace", grace, min_grace) {
            out.push(("shutdown_grace", m));
        }
        out
    }
}

/// `[pipeline.api]`: the API served next to `/metrics` on
/// `metrics_address`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// `auth = { bearer_token_env = "VAR" }` or `{ bearer_token_file =
    /// PATH }`: every `/api/` request then needs `Authorization: Bearer
    /// TOKEN`. Required when `metrics_address` is not a loopback address.
    pub auth: Option<crate::kit::http_auth::AuthConfig>,
    /// `false` refuses `/api/v1/tap` (403): the events themselves may be
    /// more sensitive than their counts.
    #[serde(default = "default_true")]
    pub tap: bool,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            auth: None,
            tap: true,
        }
    }
}

fn default_true() -> bool {
    true
}

/// True when `address` (`HOST:PORT` as [`crate::kit::net::parse_address`]
/// returns it) can only be reached from this machine: 127.0.0.0/8, `::1`
/// or `localhost`. Any other name or address may be reachable from the
/// network, so the API there needs a token.
pub fn is_loopback(address: &str) -> bool {
    let host = address
        .rsplit_once(':')
        .map_or(address, |(host, _)| host)
        .trim_start_matches('[')
        .trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether a stage reads from outside, transforms, or writes outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `[sources.*]`
    Source,
    /// `[transforms.*]`
    Transform,
    /// `[sinks.*]`
    Sink,
}

impl Role {
    /// `source`, `transform` or `sink`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Source => "source",
            Role::Transform => "transform",
            Role::Sink => "sink",
        }
    }

    /// The TOML table holding stages of this role.
    pub fn section(self) -> &'static str {
        match self {
            Role::Source => "sources",
            Role::Transform => "transforms",
            Role::Sink => "sinks",
        }
    }
}

/// One entry of a stage's `inputs`: `STAGE` or `STAGE.PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputRef {
    /// The upstream stage.
    pub stage: String,
    /// The port (`errors`, a route name, `_unmatched`); `None` is the main output.
    pub port: Option<String>,
    /// Where it is written in the config.
    pub span: Range<usize>,
}

impl InputRef {
    /// Parses `STAGE` or `STAGE.PORT`.
    pub fn parse(text: &str, span: Range<usize>) -> InputRef {
        match text.split_once('.') {
            Some((stage, port)) => InputRef {
                stage: stage.to_string(),
                port: Some(port.to_string()),
                span,
            },
            None => InputRef {
                stage: text.to_string(),
                port: None,
                span,
            },
        }
    }
}

impl std::fmt::Display for InputRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.port {
            Some(p) => write!(f, "{}.{p}", self.stage),
            None => f.write_str(&self.stage),
        }
    }
}

/// The kind-specific part of a stage.
#[derive(Debug, Clone)]
pub enum StageKind {
    /// A source's settings.
    Source(SourceConfig),
    /// A transform's settings.
    Transform(TransformConfig),
    /// A sink's settings.
    Sink(SinkConfig),
}

/// One stage, with the keys every stage shares resolved.
#[derive(Debug, Clone)]
pub struct StageConfig {
    /// The table name (`[transforms.NAME]`).
    pub name: String,
    /// Source, transform or sink.
    pub role: Role,
    /// The `type` key.
    pub type_name: String,
    /// Upstream outputs this stage reads (empty for sources).
    pub inputs: Vec<InputRef>,
    /// Worker tasks sharing the input edge (transforms; 1 otherwise).
    pub workers: usize,
    /// Capacity of this stage's input edge, in events.
    pub capacity: usize,
    /// Sinks: restore source order.
    pub ordered: bool,
    /// Kind-specific settings.
    pub kind: StageKind,
    /// Where the stage's table starts in the config.
    pub span: Range<usize>,
    /// The stage's table as written (every key, values without positions),
    /// so that a reload compares what a stage means, not where it stands.
    /// Empty for stages built in code rather than read from a file.
    pub settings: toml::Table,
}

impl StageConfig {
    /// Names of the regular output ports (`""` is the stage name itself);
    /// every stage also has `errors`.
    pub fn output_ports(&self) -> Vec<String> {
        match &self.kind {
            StageKind::Source(_) => vec![String::new()],
            StageKind::Transform(t) => t.output_ports(),
            StageKind::Sink(_) => Vec::new(),
        }
    }

    /// Whether a reload may keep this stage running as `other` configures
    /// it: same role, type and keys with the same values. Positions do not
    /// count, so a comment or an edit elsewhere in the file changes nothing.
    pub fn same_settings(&self, other: &StageConfig) -> bool {
        if self.settings.is_empty() && other.settings.is_empty() {
            // Built in code: no table to compare, fall back to every field.
            return format!("{self:?}") == format!("{other:?}");
        }
        self.role == other.role
            && self.type_name == other.type_name
            && self.settings == other.settings
    }

    /// A one-line description of the stage's work.
    pub fn describe(&self) -> String {
        match &self.kind {
            StageKind::Source(s) => s.describe(),
            StageKind::Transform(t) => t.describe(),
            StageKind::Sink(s) => s.describe(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> StageConfig {
        let config = parse("p.toml", text).unwrap_or_else(|d| panic!("{d:?}"));
        config.stages.into_iter().find(|s| s.name == "app").unwrap()
    }

    const REPLAY: &str = r#"
[sources.app]
type = "file"
path = "in.jsonl"
replay = { timestamp_field = "ts", speed = 2.0 }

[sinks.out]
type = "blackhole"
inputs = ["app"]
"#;

    #[test]
    fn loopback_addresses_are_told_apart() {
        for a in [
            "127.0.0.1:9598",
            "127.1.2.3:1",
            "[::1]:9598",
            "localhost:80",
        ] {
            assert!(is_loopback(a), "{a}");
        }
        for a in ["0.0.0.0:9598", "[::]:1", "10.0.0.1:9598", "myhost:9598"] {
            assert!(!is_loopback(a), "{a}");
        }
    }

    #[test]
    fn a_stage_moved_in_the_file_has_the_same_settings() {
        let a = source(REPLAY);
        let b = source(&format!("# a comment\n# and another\n{REPLAY}"));
        assert_ne!(
            format!("{:?}", a.kind),
            format!("{:?}", b.kind),
            "positions are part of the debug form"
        );
        assert!(a.same_settings(&b));
    }

    #[test]
    fn a_changed_key_changes_the_settings() {
        let a = source(REPLAY);
        let b = source(&REPLAY.replace("speed = 2.0", "speed = 3.0"));
        let c =
            source(&REPLAY.replace("path = \"in.jsonl\"", "path = \"in.jsonl\"\nfollow = false"));
        assert!(!a.same_settings(&b));
        assert!(
            !a.same_settings(&c),
            "a key written out at its default still counts"
        );
    }
}
