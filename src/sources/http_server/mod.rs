//! `type = "http_server"`: events POSTed (or PUT) to one path, as JSON
//! lines, one JSON array, or text lines, on the kit's HTTP server stack
//! ([`crate::kit::http_server`]: TLS, the connection bound, graceful stop).
//!
//! The settings and the opening (the socket bound, the TLS files and the
//! token read, so that each fails the start) live here; [`body`] reads and
//! decodes a request body; [`handler`] answers a request and [`feed`]
//! moves decoded events into the graph and keeps the source's promises:
//! with `ack = "delivered"` a `200` means every event of the request was
//! written by every sink that takes it; a request that cannot get into a
//! backed-up graph, or be delivered, within `timeout` is answered `503`
//! with `Retry-After`, and so is every request that arrives while the
//! source stops.

pub mod body;
mod feed;
mod handler;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde::{Deserialize, Deserializer};

use crate::kit::codec::Codec;
use crate::kit::http_auth::AuthConfig;
use crate::kit::http_server::{self, ServeOptions, TlsFiles};
use crate::sources::SourceContext;
use crate::sources::net;

/// Default `max_body_bytes`: 10 MiB, a large batch from any log shipper;
/// with `max_connections` it bounds what requests hold in memory.
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 << 20;

/// Largest `max_body_bytes`: a body is held whole while it is decoded.
pub const MAX_BODY_BYTES: usize = 1 << 30;

/// Default `timeout`: how long a request may wait for room in the graph
/// and for its delivery before it is answered 503.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// When the response is sent.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AckMode {
    /// Once every event of the request is written by every sink that takes
    /// it (or dropped on purpose by a filter).
    #[default]
    Delivered,
    /// Once the events are in the graph's first edge.
    Accepted,
}

impl AckMode {
    fn name(self) -> &'static str {
        match self {
            AckMode::Delivered => "delivered",
            AckMode::Accepted => "accepted",
        }
    }
}

/// Settings of an `http_server` source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpServerConfig {
    /// `HOST:PORT` to listen on (port 0 picks one; the log says which).
    pub address: String,
    /// The one path events are sent to; every other path is 404.
    #[serde(default = "default_path")]
    pub path: String,
    /// `json` (JSON lines or one JSON array) or `text` (each line a string).
    #[serde(default)]
    pub codec: Codec,
    /// Largest body, before and after inflating gzip; over it: 413.
    #[serde(default = "default_max_body", deserialize_with = "deserialize_bytes")]
    pub max_body_bytes: usize,
    /// Connections served at once; more wait in the accept backlog.
    #[serde(default = "net::default_max_connections")]
    pub max_connections: usize,
    /// Bearer-token authentication (401 without the token).
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// Serve HTTPS with this certificate and key.
    #[serde(default)]
    pub tls: Option<TlsFiles>,
    /// When the response is sent: after delivery (default) or acceptance.
    #[serde(default)]
    pub ack: AckMode,
    /// How long a request may wait on a backed-up graph or for delivery.
    #[serde(
        default = "default_timeout",
        deserialize_with = "crate::kit::duration::deserialize"
    )]
    pub timeout: Duration,
}

fn default_path() -> String {
    "/".to_string()
}

fn default_max_body() -> usize {
    DEFAULT_MAX_BODY_BYTES
}

fn default_timeout() -> Duration {
    DEFAULT_TIMEOUT
}

/// A byte count: an integer, or a string with a unit (`"10MiB"`, `"512KiB"`,
/// `"1GiB"`, `"100B"`; `KB`/`MB`/`GB` are powers of 1000).
fn deserialize_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Int(u64),
        Text(String),
    }
    let text = match Size::deserialize(d) {
        Ok(Size::Int(n)) => return usize::try_from(n).map_err(serde::de::Error::custom),
        Ok(Size::Text(s)) => s,
        Err(_) => {
            return Err(serde::de::Error::custom(
                "expected a number of bytes, or a string such as \"10MiB\"",
            ));
        }
    };
    parse_bytes(&text).map_err(serde::de::Error::custom)
}

/// Parses `"10MiB"` and the like (see [`deserialize_bytes`]).
pub fn parse_bytes(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid size `{s}`: expected a number such as \"10MiB\""))?;
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "invalid size unit `{other}` in `{s}`: expected B, KiB, MiB, GiB, KB, MB or GB"
            ));
        }
    };
    n.checked_mul(scale)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| format!("size `{s}` is too large"))
}

impl HttpServerConfig {
    /// Binds the socket and reads the TLS files and the token now, so that
    /// a port in use, a missing file or an unset variable fails the start.
    pub fn open(&self) -> anyhow::Result<HttpServerSource> {
        let addr = net::resolve(&self.address)?;
        let tls = self.tls.as_ref().map(TlsFiles::load).transpose()?;
        let token = self.auth.as_ref().map(AuthConfig::load).transpose()?;
        let listener = net::listen_tcp(addr).with_context(|| format!("cannot listen on {addr}"))?;
        Ok(HttpServerSource {
            listener,
            tls,
            token,
            config: self.clone(),
        })
    }
}

/// An opened `http_server` source.
pub struct HttpServerSource {
    listener: std::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    token: Option<crate::kit::http_auth::Token>,
    config: HttpServerConfig,
}

impl HttpServerSource {
    /// Serves until shutdown: then answers 503 to new requests, lets the
    /// requests in progress finish (and their events be delivered), and
    /// returns once every event taken is in the graph.
    pub async fn run(self, ctx: SourceContext) -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::from_std(self.listener)?;
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        tracing::info!(
            "source `{}`: listening on {scheme} {} (path {}, ack {}, max_connections {})",
            ctx.name,
            listener.local_addr()?,
            self.config.path,
            self.config.ack.name(),
            self.config.max_connections
        );
        let options = ServeOptions {
            max_connections: self.config.max_connections,
            tls: self.tls,
            ..ServeOptions::default()
        };
        let (queue, gate, feeder) = feed::start(ctx.clone());
        let settings = handler::Settings {
            path: self.config.path.clone(),
            codec: self.config.codec,
            max_body: self.config.max_body_bytes,
            timeout: self.config.timeout,
            ack: self.config.ack,
            token: self.token,
            batch_events: ctx.batch_events.max(1),
        };
        let router = handler::router(settings, &ctx, queue, gate.clone());
        let mut shutdown = ctx.shutdown.clone();
        let stop = async move {
            tokio::select! {
                () = shutdown.recv() => {}
                // Nothing downstream is left: nothing more can be taken.
                () = gate.closed() => {}
            }
            // From here new requests are answered 503; the server stops
            // (closing the listener) once the requests taken have been
            // answered.
            gate.close();
            gate.drained().await;
        };
        let server = http_server::serve(listener, router, options, stop)?;
        server.task.await.context("the HTTP server task failed")?;
        // Every request is answered and its handler gone: the feeder sends
        // what is still queued, then ends.
        feeder.await.context("the feeder task failed")?;
        tracing::debug!("source `{}`: stopped", ctx.name);
        Ok(())
    }
}

impl crate::sources::SourceKind for HttpServerConfig {
    /// Checks the address's form, the path and the limits.
    fn validate(&self) -> Vec<crate::sources::Problem> {
        use crate::kit::limits::{MAX_CONNECTIONS, at_least, int_range};
        let mut out = Vec::new();
        if let Err(e) = crate::kit::net::check_address(&self.address) {
            out.push((None, e));
        }
        // Compared with the request's path exactly (no query, no fragment).
        let odd = |c: char| c.is_control() || c == '?' || c == '#' || c == ' ';
        if !self.path.starts_with('/') || self.path.chars().any(odd) {
            out.push((
                None,
                format!(
                    "`path` must start with `/` and hold no spaces, `?`, `#` or control characters, got {:?}",
                    self.path
                ),
            ));
        }
        let limits = [
            int_range("max_body_bytes", self.max_body_bytes, 1, MAX_BODY_BYTES),
            int_range("max_connections", self.max_connections, 1, MAX_CONNECTIONS),
            at_least("timeout", self.timeout, Duration::from_millis(1)),
            self.auth.as_ref().and_then(AuthConfig::validate),
        ];
        out.extend(limits.into_iter().flatten().map(|m| (None, m)));
        out
    }

    fn build(&self) -> anyhow::Result<crate::sources::SourceTask> {
        Ok(Box::new(self.open()?))
    }

    fn describe(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("http_server {scheme}://{}{}", self.address, self.path)
    }
}

impl crate::sources::RunSource for HttpServerSource {
    fn run(self: Box<Self>, ctx: SourceContext) -> crate::sources::SourceRun {
        Box::pin(HttpServerSource::run(*self, ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> HttpServerConfig {
        toml::from_str(&format!("address = \"127.0.0.1:0\"\n{extra}")).unwrap()
    }

    #[test]
    fn defaults_and_problems() {
        use crate::sources::SourceKind as _;
        let c = config("");
        assert_eq!(
            (c.path.as_str(), c.max_body_bytes, c.ack),
            ("/", 10 << 20, AckMode::Delivered)
        );
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);
        assert!(c.validate().is_empty());
        assert_eq!(config("max_body_bytes = \"1KiB\"").max_body_bytes, 1024);
        let problems = |extra: &str| -> String {
            config(extra)
                .validate()
                .into_iter()
                .map(|(_, m)| m)
                .collect::<Vec<_>>()
                .join("; ")
        };
        assert!(problems("path = \"ingest\"").contains("`path` must start with `/`"));
        assert!(problems("path = \"/a?b=1\"").contains("`path`"));
        assert!(problems("max_body_bytes = 0").contains("max_body_bytes"));
        assert!(problems("timeout = \"0s\"").contains("timeout"));
        let both = "auth = { bearer_token_env = \"A\", bearer_token_file = \"/f\" }";
        assert!(problems(both).contains("not both"));
        assert!(
            toml::from_str::<HttpServerConfig>("address = \"x:1\"\nack = \"eventually\"").is_err()
        );
    }

    #[test]
    fn sizes_with_units() {
        assert_eq!(parse_bytes("10MiB"), Ok(10 << 20));
        assert_eq!(parse_bytes("512 KiB"), Ok(512 << 10));
        assert_eq!(parse_bytes("100"), Ok(100));
        assert_eq!(parse_bytes("2MB"), Ok(2_000_000));
        assert!(parse_bytes("10 parsecs").unwrap_err().contains("unit"));
        assert!(parse_bytes("MiB").is_err());
        assert!(parse_bytes("99999999999999999GiB").is_err());
    }
}
