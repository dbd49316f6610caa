//! `type = "tcp"`: newline-delimited events from TCP connections, one task
//! per connection, at most `max_connections` at once (see [`super::net`]).

use anyhow::Context as _;
use serde::Deserialize;

use crate::kit::codec::Codec;
use crate::sources::SourceContext;
use crate::sources::net::{self, Framing, Listener};

/// Settings of a `tcp` source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpConfig {
    /// `HOST:PORT` to listen on (`127.0.0.1:0` picks a free port; the log says which).
    pub address: String,
    /// `json` (default) or `text`.
    #[serde(default)]
    pub codec: Codec,
    /// Longest accepted line; longer ones become error events.
    #[serde(default = "net::default_max_line")]
    pub max_line_bytes: usize,
    /// Connections read at once; more wait in the accept backlog.
    #[serde(default = "net::default_max_connections")]
    pub max_connections: usize,
}

impl TcpConfig {
    /// Binds the listening socket now, so that a port in use fails the start.
    pub fn bind(&self) -> anyhow::Result<TcpSource> {
        let addr = net::resolve(&self.address)?;
        let listener = net::listen_tcp(addr).with_context(|| format!("cannot listen on {addr}"))?;
        Ok(TcpSource {
            listener,
            config: self.clone(),
        })
    }
}

/// A bound `tcp` source.
#[derive(Debug)]
pub struct TcpSource {
    listener: std::net::TcpListener,
    config: TcpConfig,
}

impl TcpSource {
    /// Accepts and reads connections until shutdown.
    pub async fn run(self, ctx: SourceContext) -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::from_std(self.listener)?;
        tracing::info!(
            "source `{}`: listening on tcp {} (max_connections {})",
            ctx.name,
            listener.local_addr()?,
            self.config.max_connections
        );
        let framing = Framing {
            codec: self.config.codec,
            max_line: self.config.max_line_bytes,
        };
        net::serve(
            Listener::Tcp(listener),
            framing,
            self.config.max_connections,
            ctx,
        )
        .await
    }
}

impl crate::sources::SourceKind for TcpConfig {
    /// Checks the address's form and the limits.
    fn validate(&self) -> Vec<crate::sources::Problem> {
        let mut out = Vec::new();
        if let Err(e) = crate::kit::net::check_address(&self.address) {
            out.push((None, e));
        }
        // Bounded: the connection limit is a semaphore (which refuses
        // huge counts) and each connection's buffer may grow to a line.
        let max_connections = crate::kit::limits::MAX_CONNECTIONS;
        out.extend(
            crate::kit::limits::int_range(
                "max_connections",
                self.max_connections,
                1,
                max_connections,
            )
            .map(|m| (None, m)),
        );
        out.extend(crate::kit::limits::line_bytes(self.max_line_bytes).map(|m| (None, m)));
        out
    }

    fn build(&self) -> anyhow::Result<crate::sources::SourceTask> {
        Ok(Box::new(self.bind()?))
    }

    fn describe(&self) -> String {
        format!("tcp {}", self.address)
    }
}

impl crate::sources::RunSource for TcpSource {
    fn run(self: Box<Self>, ctx: SourceContext) -> crate::sources::SourceRun {
        Box::pin(TcpSource::run(*self, ctx))
    }
}
