//! `type = "tcp"`: one line per event to a TCP peer, reconnecting on failure.
//!
//! A batch is written whole or retried whole: while the peer is down the sink
//! keeps its unwritten lines and reconnects with exponential backoff and full
//! jitter (`retry = { attempts, initial, max }`, see `retry.rs`), so a crowd
//! of sinks does not hammer a recovering peer in lockstep. Meanwhile its
//! input edge fills and backpressure slows the graph. Once the attempts are
//! spent, the batch goes to the sink's `errors` output: nothing vanishes, and
//! nothing is acknowledged to its source before it is written.
//! Delivery is at least once: lines the kernel accepted for a peer that died
//! before reading them are lost with that peer (TCP acknowledges to the
//! kernel, not to the application), and a batch interrupted by a broken
//! connection is sent again whole on the next one.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::kit::codec::Codec;
use crate::kit::event::Event;
use crate::kit::retry::{Retries, RetryPolicy};
use crate::sinks::SinkContext;
use crate::sinks::sink_loop::{self, Chunk, Outcome, WRITE_CHUNK};
/// A connection attempt that takes longer than this is abandoned and retried.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings of a `tcp` sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpSinkConfig {
    /// `HOST:PORT` of the peer.
    pub address: String,
    /// `json` (default): compact JSON; `text`: strings raw, like `jq -r`.
    #[serde(default)]
    pub codec: Codec,
    /// How a failed connect or write is retried before the batch goes to
    /// `errors`.
    #[serde(default)]
    pub retry: RetryPolicy,
}

impl TcpSinkConfig {
    /// Drains the input to the peer until the input closes.
    pub async fn run(self, ctx: SinkContext) -> anyhow::Result<()> {
        let peer = Peer {
            address: self.address.clone(),
            stage: ctx.name.clone(),
            conn: None,
            retries: Retries::new(self.retry),
            attempts: self.retry.attempts,
            stats: ctx.stats.clone(),
            codec: self.codec,
            buf: Vec::with_capacity(WRITE_CHUNK * 2),
        };
        sink_loop::run(peer, ctx).await
    }
}

/// The connection to the peer, made and remade on demand, and the lines
/// not yet written to it.
struct Peer {
    address: String,
    stage: String,
    conn: Option<TcpStream>,
    /// Consecutive failed attempts (connects or writes) against the budget.
    retries: Retries,
    /// The budget, for the give-up message.
    attempts: u32,
    /// Where retries are counted (visible in /metrics).
    stats: std::sync::Arc<crate::kit::counters::StageStats>,
    /// How events become lines.
    codec: Codec,
    /// Encoded lines not yet written.
    buf: Vec<u8>,
}

impl Chunk for Peer {
    // The tcp sink's busy time has always included its waits on the peer.
    const BUSY_INCLUDES_WRITE: bool = true;

    fn encode(&mut self, event: &Event) {
        event.encode(self.codec, &mut self.buf);
    }

    fn is_full(&self) -> bool {
        self.buf.len() >= WRITE_CHUNK
    }

    fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    async fn write(&mut self, _ctx: &SinkContext, _idle: bool) -> Outcome {
        let buf = std::mem::take(&mut self.buf);
        let written = self.write_all(&buf).await;
        self.buf = buf;
        match written {
            Ok(()) => Outcome::Written {
                bytes: self.buf.len() as u64,
            },
            Err(e) => Outcome::Failed {
                log: format!("giving up after {} attempts: {e}", self.attempts),
                reason: e,
            },
        }
    }

    fn clear(&mut self) {
        self.buf.clear();
    }

    async fn finish(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            // A clean end of stream for the peer.
            let _ = conn.shutdown().await;
        }
    }
}

impl Peer {
    /// Writes `buf` whole, reconnecting as needed, until the retry budget
    /// is spent; a batch cut by a broken connection is sent again whole.
    async fn write_all(&mut self, buf: &[u8]) -> Result<(), String> {
        self.retries.reset();
        loop {
            if self.retries.exhausted() {
                return Err(format!("cannot deliver to {}", self.address));
            }
            if self.conn.as_ref().is_some_and(peer_closed) {
                tracing::warn!(
                    "sink `{}`: {} closed the connection",
                    self.stage,
                    self.address
                );
                self.conn = None;
            }
            if self.conn.is_none() {
                match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&self.address)).await
                {
                    Ok(Ok(conn)) => {
                        let _ = conn.set_nodelay(true);
                        if self.retries.failures() > 0 {
                            tracing::info!(
                                "sink `{}`: connected to {} after {} failed attempts",
                                self.stage,
                                self.address,
                                self.retries.failures()
                            );
                        }
                        self.conn = Some(conn);
                    }
                    Ok(Err(e)) => {
                        self.fail(&format!("cannot connect to {}: {e}", self.address))
                            .await;
                        continue;
                    }
                    Err(_) => {
                        self.fail(&format!("connecting to {} timed out", self.address))
                            .await;
                        continue;
                    }
                }
            }
            let conn = self.conn.as_mut().expect("connected just above");
            match conn.write_all(buf).await {
                Ok(()) => {
                    self.retries.reset();
                    return Ok(());
                }
                Err(e) => {
                    self.conn = None;
                    self.fail(&format!("writing to {}: {e}", self.address))
                        .await;
                }
            }
        }
    }

    /// Logs a failure (the first of a run loudly, then every tenth) and waits
    /// the backoff.
    async fn fail(&mut self, what: &str) {
        self.stats.retries.fetch_add(1, Relaxed);
        let Some(wait) = self.retries.failed() else {
            tracing::warn!(
                "sink `{}`: {what} (attempt {}); no retry left",
                self.stage,
                self.retries.failures()
            );
            return;
        };
        if self.retries.loud() {
            tracing::warn!(
                "sink `{}`: {what} (attempt {}); retrying in {wait:?}",
                self.stage,
                self.retries.failures()
            );
        } else {
            tracing::debug!("sink `{}`: {what}; retrying in {wait:?}", self.stage);
        }
        tokio::time::sleep(wait).await;
    }
}

/// True when the peer has closed its end (a read sees end of stream): then
/// the connection is remade before writing into a socket nobody reads.
fn peer_closed(conn: &TcpStream) -> bool {
    let mut probe = [0u8; 64];
    loop {
        match conn.try_read(&mut probe) {
            Ok(0) => return true,
            // The peer talks back; we have nothing to say to it.
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

impl crate::sinks::SinkKind for TcpSinkConfig {
    /// Checks the address's form (the peer may well be down at start).
    fn validate(&self) -> Vec<crate::sinks::Problem> {
        let mut out = self.retry.validate();
        if let Err(e) = crate::kit::net::check_address(&self.address) {
            out.push((None, e));
        }
        out
    }

    fn build(
        &self,
        _opening: &crate::sinks::Opening<'_>,
    ) -> anyhow::Result<crate::sinks::SinkTask> {
        use crate::sinks::SinkTask;
        Ok(SinkTask(Box::new(self.clone())))
    }

    fn describe(&self) -> String {
        format!("tcp {}", self.address)
    }
}

impl crate::sinks::RunSink for TcpSinkConfig {
    fn run(
        self: Box<Self>,
        ctx: SinkContext,
        handle: &tokio::runtime::Handle,
    ) -> anyhow::Result<()> {
        handle.block_on(TcpSinkConfig::run(*self, ctx))
    }
}
