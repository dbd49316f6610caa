//! `type = "unix"`: newline-delimited events from Unix stream socket
//! connections, one task per connection, at most `max_connections` at once
//! (see [`super::net`]).

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;
use socket2::{Domain, SockAddr, Socket, Type};

use crate::kit::codec::Codec;
use crate::sources::SourceContext;
use crate::sources::net::{self, Framing, LISTEN_BACKLOG, Listener};

/// Settings of a `unix` source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnixConfig {
    /// The socket file to create (a stale one left by a crash is replaced).
    pub path: PathBuf,
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

impl UnixConfig {
    /// Creates and binds the socket file now, so that a bad path fails the start.
    pub fn bind(&self) -> anyhow::Result<UnixSource> {
        let path = &self.path;
        remove_stale(path)?;
        let listener =
            listen(path).with_context(|| format!("cannot listen on {}", path.display()))?;
        Ok(UnixSource {
            listener,
            config: self.clone(),
        })
    }
}

/// Removes a socket file nobody listens on (left by a crash); refuses to
/// touch one in use, or a file that is not a socket.
fn remove_stale(path: &Path) -> anyhow::Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !meta.file_type().is_socket() {
        anyhow::bail!("{} exists and is not a socket", path.display());
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        anyhow::bail!("{} is in use by another process", path.display());
    }
    std::fs::remove_file(path).with_context(|| format!("removing stale {}", path.display()))
}

fn listen(path: &Path) -> std::io::Result<std::os::unix::net::UnixListener> {
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.bind(&SockAddr::unix(path)?)?;
    socket.listen(LISTEN_BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// A bound `unix` source.
#[derive(Debug)]
pub struct UnixSource {
    listener: std::os::unix::net::UnixListener,
    config: UnixConfig,
}

impl UnixSource {
    /// Accepts and reads connections until shutdown, then removes the socket file.
    pub async fn run(self, ctx: SourceContext) -> anyhow::Result<()> {
        let listener = tokio::net::UnixListener::from_std(self.listener)?;
        let path = self.config.path.clone();
        tracing::info!(
            "source `{}`: listening on unix {} (max_connections {})",
            ctx.name,
            path.display(),
            self.config.max_connections
        );
        let framing = Framing {
            codec: self.config.codec,
            max_line: self.config.max_line_bytes,
        };
        let served = net::serve(
            Listener::Unix(listener),
            framing,
            self.config.max_connections,
            ctx,
        )
        .await;
        let _ = std::fs::remove_file(&path);
        served
    }
}

impl crate::sources::SourceKind for UnixConfig {
    /// Checks the limits.
    fn validate(&self) -> Vec<crate::sources::Problem> {
        let mut out = Vec::new();
        if self.path.as_os_str().is_empty() {
            out.push((None, "`path` is empty".to_string()));
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
        format!("unix {}", self.path.display())
    }
}

impl crate::sources::RunSource for UnixSource {
    fn run(self: Box<Self>, ctx: SourceContext) -> crate::sources::SourceRun {
        Box::pin(UnixSource::run(*self, ctx))
    }
}
