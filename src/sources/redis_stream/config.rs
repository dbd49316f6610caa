//! The settings of a `redis_stream` source ([`RedisStreamConfig`]), their
//! defaults and validation, and opening the source from them.

use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;

use super::RedisStreamSource;
use crate::kit::duration;

/// Settings of a `redis_stream` source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisStreamConfig {
    /// `redis://[:password@]host:port[/db]`; printed only redacted.
    pub url: crate::kit::redact::SecretUrl,
    /// The stream key.
    pub stream: String,
    /// The consumer group (created when missing).
    pub group: String,
    /// This daemon's consumer name in the group (default: `HOSTNAME-PID`).
    #[serde(default)]
    pub consumer: Option<String>,
    /// The entry field holding the event's JSON text.
    #[serde(default = "default_field")]
    pub field: String,
    /// Entries per `XREADGROUP` (and per batch sent downstream).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// How long one read waits for new entries (also bounds how long a
    /// shutdown waits for the read in progress).
    #[serde(default = "default_block", deserialize_with = "duration::deserialize")]
    pub block: Duration,
    /// Entries pending (read, not acknowledged) longer than this are claimed
    /// from their consumer and delivered again. Must exceed the longest time
    /// a batch takes to get through the pipeline.
    #[serde(
        default = "default_claim_idle",
        deserialize_with = "duration::deserialize"
    )]
    pub claim_idle: Duration,
    /// An entry delivered more often than this goes to the error output.
    #[serde(default = "default_max_deliveries")]
    pub max_deliveries: u64,
    /// Where a newly created group starts: `"0"` (default: the whole
    /// stream) or `"$"` (only entries added from now on).
    #[serde(default = "default_start_id")]
    pub start_id: String,
}

fn default_field() -> String {
    "data".into()
}
fn default_batch_size() -> usize {
    500
}
fn default_block() -> Duration {
    Duration::from_secs(1)
}
fn default_claim_idle() -> Duration {
    Duration::from_secs(30)
}
fn default_max_deliveries() -> u64 {
    5
}
fn default_start_id() -> String {
    "0".into()
}

impl RedisStreamConfig {
    /// Checks the URL's form and the limits.
    pub fn validate(&self) -> Vec<(Option<Range<usize>>, String)> {
        let mut out = Vec::new();
        if let Err(e) = self.url.redis_client() {
            out.push((None, e));
        }
        if self.stream.is_empty() {
            out.push((None, "`stream` must not be empty".into()));
        }
        if self.group.is_empty() {
            out.push((None, "`group` must not be empty".into()));
        }
        if self.consumer.as_deref() == Some("") {
            out.push((None, "`consumer` must not be empty".into()));
        }
        // One reply of `batch_size` entries is held in memory at once.
        let max_batch = crate::kit::limits::MAX_REDIS_BATCH;
        out.extend(
            crate::kit::limits::int_range("batch_size", self.batch_size, 1, max_batch)
                .map(|m| (None, m)),
        );
        if self.block < Duration::from_millis(1) {
            out.push((
                None,
                "`block` must be at least 1ms (0 would wait forever)".into(),
            ));
        }
        if self.claim_idle < Duration::from_millis(1) {
            out.push((None, "`claim_idle` must be at least 1ms".into()));
        }
        if self.max_deliveries == 0 {
            out.push((None, "`max_deliveries` must be at least 1".into()));
        }
        out
    }

    /// Checks the URL (the server may well be down at start: the source
    /// then retries until it is up).
    pub fn open(&self) -> anyhow::Result<RedisStreamSource> {
        let client = self.url.redis_client().map_err(anyhow::Error::msg)?;
        let consumer = self.consumer.clone().unwrap_or_else(default_consumer);
        Ok(RedisStreamSource {
            client,
            consumer,
            config: self.clone(),
        })
    }
}

/// `HOSTNAME-PID`: unique per process on a host, so that a restarted
/// daemon is a new consumer and its predecessor's entries are claimed.
fn default_consumer() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "sluice".into());
    format!("{host}-{}", std::process::id())
}
