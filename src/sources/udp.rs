//! `type = "udp"`: events from UDP datagrams; one datagram holds one or more
//! newline-separated lines (a final newline is optional).
//!
//! UDP has no backpressure: while the graph is full, datagrams wait in the
//! kernel's receive buffer and, once it is full, the kernel drops them. Use
//! `tcp` when every line matters.

use anyhow::Context as _;
use serde::Deserialize;

use crate::kit::codec::{Codec, Line, LineFramer, decode};
use crate::kit::event::Event;
use crate::kit::net::check_address;
use crate::sources::SourceContext;
use crate::sources::net;

/// Settings of a `udp` source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UdpConfig {
    /// `HOST:PORT` to receive on.
    pub address: String,
    /// `json` (default) or `text`.
    #[serde(default)]
    pub codec: Codec,
    /// Longest accepted line; longer ones become error events.
    #[serde(default = "net::default_max_line")]
    pub max_line_bytes: usize,
}

impl UdpConfig {
    /// Binds the socket now, so that a port in use fails the start.
    pub fn bind(&self) -> anyhow::Result<UdpSource> {
        let addr = net::resolve(&self.address)?;
        let socket =
            std::net::UdpSocket::bind(addr).with_context(|| format!("cannot bind udp {addr}"))?;
        socket.set_nonblocking(true)?;
        Ok(UdpSource {
            socket,
            config: self.clone(),
        })
    }
}

/// A bound `udp` source.
#[derive(Debug)]
pub struct UdpSource {
    socket: std::net::UdpSocket,
    config: UdpConfig,
}

impl UdpSource {
    /// Receives datagrams until shutdown. Each wake-up takes what is queued
    /// (up to a batch) and sends it: a batch is never waited for.
    pub async fn run(self, mut ctx: SourceContext) -> anyhow::Result<()> {
        let socket = tokio::net::UdpSocket::from_std(self.socket)?;
        tracing::info!(
            "source `{}`: listening on udp {}",
            ctx.name,
            socket.local_addr()?
        );
        let (codec, name) = (self.config.codec, ctx.name.clone());
        // One framer for the socket: line numbers run on across datagrams,
        // and the end of a datagram ends its last line.
        // Its buffer (256 KiB) always has room for a whole datagram.
        let mut framer = LineFramer::new(self.config.max_line_bytes);
        let mut shutdown = ctx.shutdown.clone();
        let mut good: Vec<Event> = Vec::new();
        let mut bad: Vec<Event> = Vec::new();
        loop {
            tokio::select! {
                biased;
                () = shutdown.recv() => break,
                ready = socket.readable() => ready?,
            }
            while good.len() + bad.len() < ctx.batch_events {
                let n = match socket.try_recv(framer.spare()) {
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        // e.g. ICMP errors reported on the socket: not ours to fail on.
                        tracing::debug!("source `{name}`: udp receive: {e}");
                        break;
                    }
                };
                ctx.add_bytes(n as u64);
                let mut on_line = |no: u64, line: Line<'_>| match decode(codec, &name, no, line) {
                    Some(Ok(e)) => good.push(e),
                    Some(Err(e)) => bad.push(e),
                    None => {}
                };
                framer.filled(n, &mut on_line);
                framer.finish(&mut on_line);
            }
            if (!good.is_empty() || !bad.is_empty())
                && ctx
                    .emit(std::mem::take(&mut good), std::mem::take(&mut bad))
                    .await
                    .is_err()
            {
                break;
            }
        }
        Ok(())
    }
}

impl crate::sources::SourceKind for UdpConfig {
    /// Checks the address's form.
    fn validate(&self) -> Vec<crate::sources::Problem> {
        let mut out = Vec::new();
        if let Err(e) = check_address(&self.address) {
            out.push((None, e));
        }
        out.extend(crate::kit::limits::line_bytes(self.max_line_bytes).map(|m| (None, m)));
        out
    }

    fn build(&self) -> anyhow::Result<crate::sources::SourceTask> {
        Ok(Box::new(self.bind()?))
    }

    fn describe(&self) -> String {
        format!("udp {}", self.address)
    }
}

impl crate::sources::RunSource for UdpSource {
    fn run(self: Box<Self>, ctx: SourceContext) -> crate::sources::SourceRun {
        Box::pin(UdpSource::run(*self, ctx))
    }
}
