//! The line-oriented output of the `stdout` and `file` sinks, plugged into
//! the shared [`sink_loop`] (which holds, batches and gives up).
//!
//! A chunk of lines is written whole, flushed when the input goes idle; a
//! failed write is retried with backoff from where it stopped; once the
//! retries are spent a file is cut back to its last good length. An output
//! closed by its reader (EPIPE) is gone for good: the sink stops with an
//! error (or, for `sluice filter`, quietly) and what it had not written
//! fails its batches. An ordered file sink marks each acknowledged source
//! batch with the file length its events end at (effectively-once output).

use std::fs::File;
use std::io::{self, Write};
use std::sync::atomic::Ordering::Relaxed;

use crate::kit::ack::Ack;
use crate::kit::codec::Codec;
use crate::kit::event::Event;
use crate::kit::retry::{Retries, RetryPolicy};
use crate::sinks::SinkContext;
use crate::sinks::sink_loop::{self, Chunk, Outcome, WRITE_CHUNK};

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

    /// Writes `buf` whole, retrying what is left after a failure.
    async fn write_retrying(
        &mut self,
        buf: &[u8],
        flush: bool,
        stage: &str,
        stats: &crate::kit::counters::StageStats,
    ) -> Written {
        let start_len = self.length();
        let mut done = 0;
        let mut retries = Retries::new(self.retry);
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
                    stats.retries.fetch_add(1, Relaxed);
                    let Some(wait) = retries.failed() else {
                        // Do not leave half a chunk behind: cut the file back.
                        if let Output::File { file, len, .. } = &mut self.out
                            && file.set_len(start_len).is_ok()
                        {
                            *len = start_len;
                        }
                        return Written::Failed(e);
                    };
                    tracing::warn!(
                        "sink `{stage}`: writing {} failed ({e}); retry {} in {wait:?}",
                        self.what,
                        retries.failures()
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// The file's length so far (0 for stdout).
    fn length(&self) -> u64 {
        match &self.out {
            Output::File { len, .. } => *len,
            Output::Stdout(_) => 0,
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

/// A [`LineWriter`] running: the lines not yet written and where each
/// source batch's events end among them.
struct Lines {
    /// The output.
    out: LineWriter,
    /// Encoded lines not yet written.
    buf: Vec<u8>,
    /// Where each source batch's events end in `buf`: a checkpoint records
    /// exactly that length with it.
    ends: Vec<(Ack, usize)>,
}

impl Chunk for Lines {
    fn encode(&mut self, event: &Event) {
        event.encode(self.out.codec, &mut self.buf);
        if let Some(a) = &event.ack {
            match self.ends.last_mut() {
                Some((last, end)) if last.same_batch(a) => *end = self.buf.len(),
                _ => self.ends.push((a.clone(), self.buf.len())),
            }
        }
    }

    fn is_full(&self) -> bool {
        self.buf.len() >= WRITE_CHUNK
    }

    fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    async fn write(&mut self, ctx: &SinkContext, idle: bool) -> Outcome {
        let start_len = self.out.length();
        let written = self
            .out
            .write_retrying(&self.buf, idle, &ctx.name, &ctx.stats)
            .await;
        match written {
            Written::Ok => {
                if let Output::File { marks: true, .. } = &self.out.out {
                    // The checkpoint counts lengths marked with this
                    // incarnation's key only.
                    for (ack, end) in &self.ends {
                        ack.mark(&ctx.mark_key, start_len + *end as u64);
                    }
                }
                self.ends.clear();
                Outcome::Written {
                    bytes: self.buf.len() as u64,
                }
            }
            Written::Closed => Outcome::Closed {
                quiet: self.out.quiet_close,
                what: self.out.what.clone(),
            },
            Written::Failed(e) => {
                self.ends.clear();
                Outcome::Failed {
                    log: format!(
                        "writing {} failed after {} attempts: {e}",
                        self.out.what, self.out.retry.attempts
                    ),
                    reason: format!("writing {} failed: {e}", self.out.what),
                }
            }
        }
    }

    fn clear(&mut self) {
        self.buf.clear();
    }
}

impl crate::sinks::RunSink for LineWriter {
    fn run(
        self: Box<Self>,
        ctx: SinkContext,
        handle: &tokio::runtime::Handle,
    ) -> anyhow::Result<()> {
        let lines = Lines {
            out: *self,
            buf: Vec::with_capacity(WRITE_CHUNK * 2),
            ends: Vec::new(),
        };
        handle.block_on(sink_loop::run(lines, ctx))
    }

    fn checkpoint_length(&self) -> Option<u64> {
        LineWriter::checkpoint_length(self)
    }

    fn resync_length(&mut self) -> io::Result<()> {
        LineWriter::resync_length(self)
    }
}
