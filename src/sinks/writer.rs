//! The write loop shared by line-oriented sinks (`stdout`, `file`): encode
//! batches into one buffer and write it once it holds `capacity` events or
//! 256 KiB, or the input goes idle (then flush too), so a quiet stream is
//! never held back and the sink never hides more events than its edge would.

use std::io::{self, Write};
use std::sync::atomic::Ordering::Relaxed;

use crate::codec::Codec;
use crate::sinks::SinkContext;

/// Buffered output is written once it exceeds this many bytes.
const WRITE_CHUNK: usize = 256 * 1024;

/// A line-oriented output.
pub struct LineWriter {
    /// Where the lines go.
    pub out: Box<dyn Write + Send>,
    /// How events become lines.
    pub codec: Codec,
    /// What to call the output in error messages.
    pub what: String,
}

impl LineWriter {
    /// Drains the input into the output; a closed pipe ends the sink quietly.
    pub fn run(
        mut self,
        mut ctx: SinkContext,
        handle: &tokio::runtime::Handle,
    ) -> anyhow::Result<()> {
        let mut buf: Vec<u8> = Vec::with_capacity(WRITE_CHUNK * 2);
        let mut pending_events = 0u64;
        loop {
            let next = handle.block_on(ctx.input.recv());
            let Some(batch) = next else { break };
            let started = std::time::Instant::now();
            let n = batch.len() as u64;
            ctx.stats.events_in.fetch_add(n, Relaxed);
            for e in &batch.events {
                e.encode(self.codec, &mut buf);
            }
            pending_events += n;
            drop(batch);
            let full = pending_events as usize >= ctx.capacity || buf.len() >= WRITE_CHUNK;
            if full || ctx.input.is_idle() {
                let flush = ctx.input.is_idle();
                match self.write(&buf, flush) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                        tracing::debug!(stage = %ctx.name, "output closed by the reader");
                        ctx.in_flight.sub(pending_events);
                        return Ok(());
                    }
                    Err(e) => return Err(anyhow::anyhow!("writing {}: {e}", self.what)),
                }
                ctx.stats.bytes.fetch_add(buf.len() as u64, Relaxed);
                ctx.stats.events_out.fetch_add(pending_events, Relaxed);
                ctx.in_flight.sub(pending_events);
                buf.clear();
                pending_events = 0;
            }
            ctx.stats.latency.record(started.elapsed());
        }
        match self.write(&buf, true) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(anyhow::anyhow!("writing {}: {e}", self.what)),
        }
        ctx.stats.bytes.fetch_add(buf.len() as u64, Relaxed);
        ctx.stats.events_out.fetch_add(pending_events, Relaxed);
        ctx.in_flight.sub(pending_events);
        Ok(())
    }

    fn write(&mut self, buf: &[u8], flush: bool) -> io::Result<()> {
        self.out.write_all(buf)?;
        if flush {
            self.out.flush()?;
        }
        Ok(())
    }
}
