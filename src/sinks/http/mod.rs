//! `type = "http"`: batches of events sent to an HTTP endpoint (a
//! collector, Elasticsearch's bulk API, Loki, Splunk HEC, a SaaS intake).
//!
//! - `batch.rs`: events into bodies, NDJSON or a JSON array, gzip; a batch
//!   closes at `max_events`, before `max_bytes`, or `timeout` after its
//!   first event.
//! - `send.rs`: the loop keeping `concurrency` requests in flight, each
//!   through `kit::http_client::call` (408, 429, 5xx, resets and timeouts
//!   retried with backoff and full jitter, honouring `Retry-After`): 2xx
//!   acknowledges the batch's events, anything else ends in `SINK.errors`.
//! - `headers.rs`: `headers = { NAME = "value" }` with `${VAR}` read from
//!   the environment at build, values never printed.
//! - `size.rs`: `"1MiB"`.
//!
//! This file holds the settings, their checks and the build.

mod batch;
mod headers;
mod send;
mod size;

use std::time::Duration;

use anyhow::Context as _;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderValue};
use serde::Deserialize;

use crate::kit::duration;
use crate::kit::limits::{self, MAX_CAPACITY};
use crate::kit::redact::SecretUrl;
use crate::kit::retry::RetryPolicy;
use crate::sinks::{Opening, Problem, SinkContext, SinkTask};

pub use batch::{BatchConfig, Compression, Encoding};
pub use headers::HeaderTemplates;

/// Most requests one sink may have in flight: each holds a body of up to
/// `batch.max_bytes` and a connection, and past a few dozen a single
/// endpoint gains nothing but contention.
pub const MAX_CONCURRENCY: usize = 1024;

/// Settings of an `http` sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSinkConfig {
    /// `http://` or `https://` endpoint; printed only with its password
    /// masked.
    pub url: SecretUrl,
    /// `post` (default) or `put`.
    #[serde(default)]
    pub method: Method,
    /// `ndjson` (default) or `json_array`.
    #[serde(default)]
    pub encoding: Encoding,
    /// `none` (default) or `gzip`.
    #[serde(default)]
    pub compression: Compression,
    /// Extra request headers; `${VAR}` is read from the environment.
    #[serde(default)]
    pub headers: HeaderTemplates,
    /// When a batch is sent.
    #[serde(default)]
    pub batch: BatchConfig,
    /// Requests in flight at most.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Longest one try may take (connect, send, the whole answer).
    #[serde(
        default = "default_timeout",
        deserialize_with = "duration::deserialize"
    )]
    pub timeout: Duration,
    /// How a failed try is retried before the batch goes to `errors`.
    #[serde(default)]
    pub retry: RetryPolicy,
}

/// `method`: the verbs an intake endpoint takes a body with.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// `POST` (default).
    #[default]
    Post,
    /// `PUT`.
    Put,
}

impl Method {
    fn verb(self) -> reqwest::Method {
        match self {
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
        }
    }
}

fn default_concurrency() -> usize {
    4
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

impl HttpSinkConfig {
    /// The URL, parsed; the error shows it redacted.
    fn parsed_url(&self) -> Result<reqwest::Url, String> {
        let url = reqwest::Url::parse(self.url.expose())
            .map_err(|e| format!("`url` {:?} is not a URL: {e}", self.url))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(format!(
                "`url` {:?} must be an http:// or https:// URL with a host",
                self.url
            ));
        }
        Ok(url)
    }
}

impl crate::sinks::SinkKind for HttpSinkConfig {
    fn validate(&self) -> Vec<Problem> {
        let mut out: Vec<Problem> = self.retry.validate();
        let mut push = |m: Option<String>| out.extend(m.map(|m| (None, m)));
        push(self.parsed_url().err());
        push(limits::int_range(
            "concurrency",
            self.concurrency,
            1,
            MAX_CONCURRENCY,
        ));
        push(limits::int_range(
            "batch.max_events",
            self.batch.max_events,
            1,
            MAX_CAPACITY,
        ));
        push(limits::int_range(
            "batch.max_bytes",
            self.batch.max_bytes,
            1,
            size::MAX_BYTES,
        ));
        push(limits::at_least(
            "batch.timeout",
            self.batch.timeout,
            Duration::from_millis(1),
        ));
        push(limits::at_least(
            "timeout",
            self.timeout,
            Duration::from_millis(1),
        ));
        out.extend(self.headers.validate().into_iter().map(|m| (None, m)));
        out
    }

    /// Reads the headers' variables and makes the client: an unset
    /// variable fails the start (or the reload) with its name.
    fn build(&self, opening: &Opening<'_>) -> anyhow::Result<SinkTask> {
        if opening.ordered && self.concurrency > 1 {
            anyhow::bail!(
                "`ordered = true` needs `concurrency = 1`: requests in flight together may be answered in any order"
            );
        }
        let url = self.parsed_url().map_err(anyhow::Error::msg)?;
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(self.encoding.content_type()),
        );
        if self.compression == Compression::Gzip {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        // The configured headers come last: they may override the type.
        let configured = self
            .headers
            .resolve(|var| std::env::var(var).ok())
            .map_err(anyhow::Error::msg)?;
        for (name, value) in &configured {
            headers.insert(name.clone(), value.clone());
        }
        let client = crate::kit::http_client::client(self.timeout, self.concurrency)
            .context("building the http sink's client")?;
        Ok(SinkTask(Box::new(HttpSink {
            target: send::Target {
                client,
                method: self.method.verb(),
                url,
                headers,
                timeout: self.timeout,
                retry: self.retry,
                concurrency: self.concurrency,
            },
            batch: self.batch,
            encoding: self.encoding,
            compression: self.compression,
        })))
    }

    fn describe(&self) -> String {
        let verb = self.method.verb();
        format!("http {verb} {}", self.url)
    }
}

/// A built `http` sink: its client, resolved headers and batch settings.
struct HttpSink {
    target: send::Target,
    batch: BatchConfig,
    encoding: Encoding,
    compression: Compression,
}

impl crate::sinks::RunSink for HttpSink {
    fn run(
        self: Box<Self>,
        ctx: SinkContext,
        handle: &tokio::runtime::Handle,
    ) -> anyhow::Result<()> {
        let HttpSink {
            target,
            batch,
            encoding,
            compression,
        } = *self;
        let batcher = batch::Batcher::new(batch, encoding, compression);
        handle.block_on(send::run(target, batcher, ctx))
    }
}
