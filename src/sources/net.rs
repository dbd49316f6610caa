//! What the network sources share: resolving and binding their address
//! (`tcp`, `udp`, `http_server`), the accept loop with its connection limit
//! and the read loop of one connection (`tcp`, `unix`).
//!
//! Each connection is its own task and its own ordered stream: it gets an
//! origin id of its own and numbers its batches from 0, so the per-origin
//! sequences stay dense however connections interleave. Line numbers (in
//! error events) count per connection. A peer that sends garbage or an
//! over-long line gets error events; one that disconnects mid-line has its
//! last bytes decoded as a last line (like a file without a final newline).
//! None of that touches the other connections.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::kit::codec::{Codec, DEFAULT_MAX_LINE_BYTES, LineFramer, decode};
use crate::kit::counters::StageStats;
use crate::kit::edge::Closed;
use crate::kit::event::{Event, mix_origin};
use crate::kit::shutdown::Shutdown;
use crate::kit::source_outputs::SourceOutputs;
use crate::sources::SourceContext;

/// Default `max_connections`: plenty for log shippers, and with a 1 MiB
/// line limit a bound on what connections can hold in memory. Raise it
/// together with the process's open-file limit (`LimitNOFILE=`).
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

/// Connections waiting to be accepted that the kernel queues for us; the
/// connections over `max_connections` wait there.
pub const LISTEN_BACKLOG: i32 = 1024;

/// The first socket address `address` (`HOST:PORT`) resolves to.
pub fn resolve(address: &str) -> anyhow::Result<std::net::SocketAddr> {
    use anyhow::Context as _;
    use std::net::ToSocketAddrs as _;
    address
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve `{address}`"))?
        .next()
        .with_context(|| format!("`{address}` resolves to no address"))
}

/// A listening TCP socket with [`LISTEN_BACKLOG`] and `SO_REUSEADDR` (a
/// restart, or a reload that changed other settings, must not wait for
/// old connections in TIME_WAIT), non-blocking for tokio.
pub fn listen_tcp(addr: std::net::SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Pause after a failed accept (out of file descriptors, say), so that a
/// persistent failure is retried, not spun on.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

pub fn default_max_line() -> usize {
    DEFAULT_MAX_LINE_BYTES
}

pub fn default_max_connections() -> usize {
    DEFAULT_MAX_CONNECTIONS
}

/// How a connection's bytes become events.
#[derive(Debug, Clone, Copy)]
pub struct Framing {
    /// `json` or `text`.
    pub codec: Codec,
    /// Longest accepted line.
    pub max_line: usize,
}

/// A bound listener of either kind.
pub enum Listener {
    /// `tcp`
    Tcp(tokio::net::TcpListener),
    /// `unix`
    Unix(tokio::net::UnixListener),
}

/// An accepted connection of either kind.
enum Stream {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

impl Listener {
    async fn accept(&self) -> std::io::Result<(Stream, String)> {
        match self {
            Listener::Tcp(l) => {
                let (s, peer) = l.accept().await?;
                Ok((Stream::Tcp(s), peer.to_string()))
            }
            Listener::Unix(l) => {
                let (s, _) = l.accept().await?;
                Ok((Stream::Unix(s), "a unix peer".to_string()))
            }
        }
    }
}

/// Sends the batches of one connection: its own origin, its own dense
/// sequence, the source's outputs and counters.
pub struct StreamSender {
    outputs: SourceOutputs,
    stats: Arc<StageStats>,
    origin: u64,
}

impl StreamSender {
    /// A sender for stream `id` of the source behind `ctx`.
    pub fn new(ctx: &SourceContext, id: u64) -> Self {
        StreamSender {
            outputs: ctx.outputs.clone(),
            stats: ctx.stats.clone(),
            origin: mix_origin(mix_origin(ctx.origin, (id >> 32) as u32), id as u32),
        }
    }

    /// Sends one batch of events and the error events met on the way.
    pub async fn emit(&mut self, good: Vec<Event>, bad: Vec<Event>) -> Result<(), Closed> {
        self.stats
            .events_in
            .fetch_add((good.len() + bad.len()) as u64, Relaxed);
        self.outputs.send(self.origin, vec![good, bad]).await
    }

    /// The stream ended (its connection closed).
    pub async fn end(&self) {
        self.outputs.end_stream(self.origin).await;
    }
}

/// Accepts connections until shutdown (or until nothing downstream is
/// left), each read by its own task; then waits for those tasks to finish.
///
/// The permit for a connection is taken *before* accepting it and lives with
/// its task: over `max_connections`, new connections wait in the kernel's
/// accept backlog instead of piling up here.
pub async fn serve(
    listener: Listener,
    framing: Framing,
    max_connections: usize,
    ctx: SourceContext,
) -> anyhow::Result<()> {
    let limit = Arc::new(Semaphore::new(max_connections.max(1)));
    // Set by a connection that found no consumer left: stop accepting.
    let closed = Arc::new(Notify::new());
    let mut connections = JoinSet::new();
    let mut shutdown = ctx.shutdown.clone();
    let mut next_id = 0u64;
    'accept: loop {
        let permit = tokio::select! {
            biased;
            () = shutdown.recv() => break,
            () = closed.notified() => break,
            p = limit.clone().acquire_owned() => p.expect("the semaphore is never closed"),
        };
        let (stream, peer) = loop {
            tokio::select! {
                biased;
                () = shutdown.recv() => break 'accept,
                () = closed.notified() => break 'accept,
                accepted = listener.accept() => match accepted {
                    Ok(s) => break s,
                    Err(e) => {
                        tracing::warn!("source `{}`: accept failed: {e}; retrying", ctx.name);
                        tokio::time::sleep(ACCEPT_RETRY).await;
                    }
                },
            }
        };
        // Reap finished connections so the set holds only live ones.
        while connections.try_join_next().is_some() {}
        let conn = Connection {
            name: ctx.name.clone(),
            peer,
            framing,
            batch_events: ctx.batch_events,
            sender: StreamSender::new(&ctx, next_id),
            shutdown: ctx.shutdown.clone(),
            closed: closed.clone(),
            _permit: permit,
        };
        next_id += 1;
        connections.spawn(async move {
            match stream {
                Stream::Tcp(s) => conn.run(s).await,
                Stream::Unix(s) => conn.run(s).await,
            }
        });
    }
    // Stop accepting: the listening socket closes here.
    drop(listener);
    tracing::debug!(
        "source `{}`: waiting for {} connections",
        ctx.name,
        connections.len()
    );
    while let Some(done) = connections.join_next().await {
        if let Err(e) = done {
            tracing::error!("source `{}`: a connection task failed: {e}", ctx.name);
        }
    }
    Ok(())
}

/// One connection's task.
struct Connection {
    name: String,
    peer: String,
    framing: Framing,
    batch_events: usize,
    sender: StreamSender,
    shutdown: Shutdown,
    closed: Arc<Notify>,
    /// Frees a place under `max_connections` when the connection ends.
    _permit: OwnedSemaphorePermit,
}

impl Connection {
    /// Reads until the peer closes, shutdown, or no consumer is left;
    /// sends what each read produced without waiting to fill a batch.
    async fn run(mut self, mut stream: impl AsyncRead + Unpin) {
        let stats = self.sender.stats.clone();
        stats.connections.fetch_add(1, Relaxed);
        tracing::debug!("source `{}`: connection from {}", self.name, self.peer);
        // Connections start small: most carry short lines, and there may be many.
        let mut framer = LineFramer::with_buffer(self.framing.max_line, 16 * 1024);
        let mut good: Vec<Event> = Vec::new();
        let mut bad: Vec<Event> = Vec::new();
        let mut shutdown = self.shutdown.clone();
        let end = loop {
            let read = tokio::select! {
                biased;
                // Stop reading; a partial line in the framer is dropped with the connection.
                () = shutdown.recv() => break "shutdown",
                r = stream.read(framer.spare()) => r,
            };
            let n = match read {
                Ok(0) => {
                    framer.finish(|no, line| push(&self, no, line, &mut good, &mut bad));
                    let _ = self.flush(&mut good, &mut bad).await;
                    break "closed by the peer";
                }
                Ok(n) => n,
                Err(e) => {
                    tracing::debug!("source `{}`: reading from {}: {e}", self.name, self.peer);
                    break "read error";
                }
            };
            stats.bytes.fetch_add(n as u64, Relaxed);
            let mut full = Vec::new();
            framer.filled(n, |no, line| {
                push(&self, no, line, &mut good, &mut bad);
                if good.len() + bad.len() >= self.batch_events {
                    full.push((std::mem::take(&mut good), std::mem::take(&mut bad)));
                }
            });
            let mut sent = Ok(());
            for (g, b) in full {
                sent = sent.and(self.sender.emit(g, b).await);
            }
            if sent.is_err() || self.flush(&mut good, &mut bad).await.is_err() {
                self.closed.notify_one();
                break "no consumer left";
            }
        };
        self.sender.end().await;
        stats.connections.fetch_sub(1, Relaxed);
        tracing::debug!("source `{}`: {} ({end})", self.name, self.peer);
    }

    async fn flush(&mut self, good: &mut Vec<Event>, bad: &mut Vec<Event>) -> Result<(), Closed> {
        if good.is_empty() && bad.is_empty() {
            return Ok(());
        }
        self.sender
            .emit(std::mem::take(good), std::mem::take(bad))
            .await
    }
}

fn push(
    conn: &Connection,
    no: u64,
    line: crate::kit::codec::Line<'_>,
    good: &mut Vec<Event>,
    bad: &mut Vec<Event>,
) {
    match decode(conn.framing.codec, &conn.name, no, line) {
        Some(Ok(e)) => good.push(e),
        Some(Err(e)) => bad.push(e),
        None => {}
    }
}
