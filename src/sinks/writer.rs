//! The write loop shared by line-oriented sinks (`stdout`, `file`).
//!
//! Batches are encoded into one buffer, written once it holds `capacity`
//! events or 256 KiB, or when the input goes idle (then flushed too), so a
//! quiet stream is never held back and the sink never hides more events
//! than its edge would. The events stay held until their bytes are written:
//! only then are they acknowledged to their sources. A failed write is
//! retried with backoff; once the retries are spent the events go to the
//! sink's `errors` output (and a file is cut back to its last good length).
//! An output closed by its reader (EPIPE) is gone for good: the sink stops
//! with an error (or, for `sluice filter`, quietly) and what it had not
//! written fails its batches.

use std::fs::File;
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use crate::ack::Ack;
use crate::codec::Codec;
use crate::sinks::SinkContext;
use crate::sinks::held::Held;
use crate::sinks::retry::RetryPolicy;

/// Buffered output is written once it exceeds this many bytes.
const WRITE_CHUNK: usize = 256 * 1024;

/// Where the lines go.
pub enum Output {
    /// Standard output.
    Stdout(io::Stdout),
    /// A file, and its length so far (for effectively-once checkpoints).
    File {
        /// The open file (append mode).
        file: File,
        /// Its current length in bytes.
        len: u64,
        /// Record the length with each acknowledged batch (an ordered sink:
        /// the recorded length is exactly the output of the committed input).
        marks: bool,
    },
}

/// A line-oriented output.
pub struct LineWriter {
    /// Where the lines go.
    pub out: Output,
    /// How events become lines.
    pub codec: Codec,
    /// What to call the output in error messages.
    pub what: String,
    /// How failed writes are retried.
    pub retry: RetryPolicy,
    /// A reader closing the output is a normal end, not a failure (`sluice
    /// filter`, like `jq ... | head`).
    pub quiet_close: bool,
}

/// What happened to a chunk.
enum Written {
    Ok,
    /// The reader went away (a closed pipe): end quietly.
    Closed,
    /// Every retry failed.
    Failed(io::Error),
}

impl LineWriter {
    /// The length to record before the first write, for a sink that marks
    /// its length with acknowledged batches.
    pub fn checkpoint_length(&self) -> Option<u64> {
        match &self.out {
            Output::File {
                len, marks: true, ..
            } => Some(*len),
            _ => None,
        }
    }

    /// Re-reads the file's length: a sink built by a reload opened its file
    /// while the previous graph was still appending to it.
    pub fn resync_length(&mut self) -> io::Result<()> {
        if let Output::File { file, len, .. } = &mut self.out {
            *len = file.metadata()?.len();
        }
        Ok(())
    }

    /// Drains the input into the output.
    pub fn run(
        mut self,
        mut ctx: SinkContext,
        handle: &tokio::runtime::Handle,
    ) -> anyhow::Result<()> {
        // The checkpoint counts lengths marked with this incarnation's key only.
        let name: Arc<str> = ctx.mark_key.clone();
        let mut buf: Vec<u8> = Vec::with_capacity(WRITE_CHUNK * 2);
        let mut held = Held::default();
        let mut ends: Vec<(Ack, usize)> = Vec::new();
        loop {
            let next = handle.block_on(ctx.input.recv());
            let last = next.is_none();
            if let Some(batch) = next {
                let started = std::time::Instant::now();
                ctx.stats.events_in.fetch_add(batch.len() as u64, Relaxed);
                for e in &batch.events {
                    e.encode(self.codec, &mut buf);
                    // Where each source batch's events end in the output:
                    // a checkpoint records exactly that length with it.
                    if let Some(a) = &e.ack {
                        match ends.last_mut() {
                            Some((last, end)) if last.same_batch(a) => *end = buf.len(),
                            _ => ends.push((a.clone(), buf.len())),
                        }
                    }
                }
                held.extend(batch.events);
                ctx.stats.latency.record(started.elapsed());
            }
            let full = held.len() >= ctx.capacity || buf.len() >= WRITE_CHUNK;
            let idle = last || ctx.input.is_idle();
            if !(full || idle) || (held.is_empty() && buf.is_empty()) {
                if last {
                    break;
                }
                continue;
            }
            let n = held.len() as u64;
            let start_len = match &self.out {
                Output::File { len, .. } => *len,
                Output::Stdout(_) => 0,
            };
            match self.write_retrying(&buf, idle, &ctx.name, handle, &ctx.stats) {
                Written::Ok => {
                    ctx.stats.bytes.fetch_add(buf.len() as u64, Relaxed);
                    ctx.stats.events_out.fetch_add(n, Relaxed);
                    if let Output::File { marks: true, .. } = &self.out {
                        for (ack, end) in &ends {
                            ack.mark(&name, start_len + *end as u64);
                        }
                    }
                    // Written: dropping the events and handles acknowledges them.
                    ends.clear();
                    held.delivered();
                }
                Written::Closed => {
                    // Dropping `held` fails what it holds; dropping `ctx`
                    // fails what is still queued and stops the upstream.
                    ctx.in_flight.sub(n);
                    if self.quiet_close {
                        // What is queued fails here, without the warning
                        // dropping `ctx` would log: a normal end.
                        let queued =
                            crate::sinks::held::drain_failed(&mut ctx.input, &ctx.in_flight);
                        tracing::debug!(stage = %ctx.name, queued, "output closed by the reader");
                        return Ok(());
                    }
                    anyhow::bail!(
                        "{} was closed by its reader (broken pipe); unwritten events: {n}",
                        self.what
                    );
                }
                Written::Failed(e) => {
                    tracing::error!(
                        "sink `{}`: writing {} failed after {} attempts: {e}; {n} events go to `{}.errors`",
                        ctx.name,
                        self.what,
                        self.retry.attempts,
                        ctx.name
                    );
                    ends.clear();
                    let reason = format!("writing {} failed: {e}", self.what);
                    handle.block_on(ctx.give_up(held.take(), &reason));
                }
            }
            ctx.in_flight.sub(n);
            buf.clear();
            if last {
                break;
            }
        }
        Ok(())
    }

    /// Writes `buf` whole, retrying what is left after a failure.
    fn write_retrying(
        &mut self,
        buf: &[u8],
        flush: bool,
        stage: &str,
        handle: &tokio::runtime::Handle,
        stats: &crate::stats::StageStats,
    ) -> Written {
        let start_len = match &self.out {
            Output::File { len, .. } => *len,
            Output::Stdout(_) => 0,
        };
        let mut done = 0;
        let mut failures = 0;
        loop {
            match self.write_some(&buf[done..], flush) {
                Ok(()) => {
                    if let Output::File { len, .. } = &mut self.out {
                        *len = start_len + buf.len() as u64;
                    }
                    return Written::Ok;
                }
                Err((_, e)) if e.kind() == io::ErrorKind::BrokenPipe => return Written::Closed,
                Err((wrote, e)) => {
                    done += wrote;
                    failures += 1;
                    stats.retries.fetch_add(1, Relaxed);
                    if self.retry.exhausted(failures) {
                        // Do not leave half a chunk behind: cut the file back.
                        if let Output::File { file, len, .. } = &mut self.out
                            && file.set_len(start_len).is_ok()
                        {
                            *len = start_len;
                        }
                        return Written::Failed(e);
                    }
                    let wait = self.retry.backoff(failures, &mut rand::rng());
                    tracing::warn!(
                        "sink `{stage}`: writing {} failed ({e}); retry {failures} in {wait:?}",
                        self.what
                    );
                    handle.block_on(tokio::time::sleep(wait));
                }
            }
        }
    }

    /// Writes all of `buf`; on error, returns how much was written first.
    fn write_some(&mut self, buf: &[u8], flush: bool) -> Result<(), (usize, io::Error)> {
        let w: &mut dyn Write = match &mut self.out {
            Output::Stdout(s) => s,
            Output::File { file, .. } => file,
        };
        let mut done = 0;
        while done < buf.len() {
            match w.write(&buf[done..]) {
                Ok(0) => {
                    return Err((
                        done,
                        io::Error::new(io::ErrorKind::WriteZero, "wrote nothing"),
                    ));
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err((done, e)),
            }
        }
        if flush {
            w.flush().map_err(|e| (done, e))?;
        }
        Ok(())
    }
}

impl crate::sinks::RunSink for LineWriter {
    fn run(
        self: Box<Self>,
        ctx: SinkContext,
        handle: &tokio::runtime::Handle,
    ) -> anyhow::Result<()> {
        LineWriter::run(*self, ctx, handle)
    }

    fn checkpoint_length(&self) -> Option<u64> {
        LineWriter::checkpoint_length(self)
    }

    fn resync_length(&mut self) -> io::Result<()> {
        LineWriter::resync_length(self)
    }
}
