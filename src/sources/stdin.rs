//! `type = "stdin"`: newline-delimited events from standard input.
//!
//! A read from a terminal or an idle pipe can block forever, and a blocked
//! read cannot be interrupted. So a detached thread does the raw reads and
//! hands chunks over a small channel; the framing side waits on that channel
//! *or* the shutdown signal, and treats shutdown as end of input.

use std::io::{self, Read};

use serde::Deserialize;

use crate::kit::codec::{Codec, DEFAULT_MAX_LINE_BYTES};
use crate::kit::shutdown::Shutdown;
use crate::kit::thread;
use crate::sources::{SourceContext, lines};

/// Size of one raw read from stdin.
const CHUNK: usize = 256 * 1024;

/// Settings of a `stdin` source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdinConfig {
    /// `json` (default) or `text`.
    #[serde(default)]
    pub codec: Codec,
    /// Longest accepted line; longer ones become error events.
    #[serde(default = "default_max_line")]
    pub max_line_bytes: usize,
}

fn default_max_line() -> usize {
    DEFAULT_MAX_LINE_BYTES
}

impl StdinConfig {
    /// Reads stdin until EOF or shutdown.
    pub async fn run(self, mut ctx: SourceContext) -> anyhow::Result<()> {
        // Two chunks in the hand-over: enough to keep the reader busy while
        // a chunk is framed, bounded so a stalled graph stops the reading.
        // Read buffers come back once framed: a fresh 256 KiB buffer per
        // read is a page-faulting memset of every byte read.
        let (tx, rx) = async_channel::bounded::<io::Result<(Vec<u8>, usize)>>(2);
        let (spent, reuse) = std::sync::mpsc::sync_channel::<Vec<u8>>(3);
        // Detached, not awaited: a read that never returns must not hold up
        // the end of the graph (the framing side ends on shutdown instead).
        thread::builder(&format!("{}-read", ctx.name)).spawn(move || {
            let mut stdin = io::stdin().lock();
            loop {
                let mut buf = reuse.try_recv().unwrap_or_else(|_| vec![0u8; CHUNK]);
                let r = match stdin.read(&mut buf) {
                    Ok(n) => Ok((buf, n)),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => Err(e),
                };
                let end = !matches!(&r, Ok((_, n)) if *n > 0);
                if tx.send_blocking(r).is_err() || end {
                    return;
                }
            }
        })?;
        let handle = tokio::runtime::Handle::current();
        // The pump lasts as long as the input: a graph thread, not the
        // runtime's capped blocking pool (see `topology::thread`).
        let name = ctx.name.clone();
        thread::run(name, move || {
            let input = Chunks {
                rx,
                spent,
                shutdown: ctx.shutdown.clone(),
                handle: handle.clone(),
                current: Vec::new(),
                len: 0,
                pos: 0,
            };
            let mut stream = lines::Stream {
                origin: ctx.origin,
                position: lines::Position::default(),
                acker: None,
            };
            lines::pump(
                input,
                self.codec,
                self.max_line_bytes,
                &mut ctx,
                &handle,
                &mut stream,
            )
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!("reading stdin: {e}"))
        })
        .await
    }
}

/// `Read` over the chunks the reader thread sends; shutdown reads as EOF.
struct Chunks {
    rx: async_channel::Receiver<io::Result<(Vec<u8>, usize)>>,
    /// Framed buffers going back to the reader thread.
    spent: std::sync::mpsc::SyncSender<Vec<u8>>,
    shutdown: Shutdown,
    handle: tokio::runtime::Handle,
    current: Vec<u8>,
    /// Bytes of `current` that were read.
    len: usize,
    pos: usize,
}

impl Read for Chunks {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.len {
            let mut shutdown = self.shutdown.clone();
            let next = self.handle.block_on(async {
                tokio::select! {
                    chunk = self.rx.recv() => chunk.ok(),
                    () = shutdown.recv() => None,
                }
            });
            match next {
                None => return Ok(0),
                Some(chunk) => {
                    let (buf, len) = chunk?;
                    let done = std::mem::replace(&mut self.current, buf);
                    if !done.is_empty() {
                        // Full: the reader allocates a new one.
                        let _ = self.spent.try_send(done);
                    }
                    (self.len, self.pos) = (len, 0);
                }
            }
        }
        let n = out.len().min(self.len - self.pos);
        out[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl crate::sources::SourceKind for StdinConfig {
    /// Checks `max_line_bytes`: the reader's buffer may grow to it.
    fn validate(&self) -> Vec<crate::sources::Problem> {
        crate::kit::limits::line_bytes(self.max_line_bytes)
            .map(|m| (None, m))
            .into_iter()
            .collect()
    }

    fn build(&self) -> anyhow::Result<crate::sources::SourceTask> {
        Ok(Box::new(self.clone()))
    }

    fn describe(&self) -> String {
        "stdin".into()
    }
}

impl crate::sources::RunSource for StdinConfig {
    fn run(self: Box<Self>, ctx: SourceContext) -> crate::sources::SourceRun {
        Box::pin(StdinConfig::run(*self, ctx))
    }
}
