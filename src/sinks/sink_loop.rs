//! The loop every writing sink runs (file, stdout, tcp, redis_stream): hold
//! the events received, write them when the sink holds a full chunk or its
//! input goes idle, and hand what could not be written after every retry
//! to the sink's `errors` output.
//!
//! The part that differs, how events become bytes and how those reach the
//! outside, is a [`Chunk`]; retries within one write use
//! [`Retries`](crate::kit::retry::Retries). The events stay held
//! ([`Held`]) until their chunk is written: only then are they
//! acknowledged to their sources.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use crate::kit::event::Event;
use crate::sinks::SinkContext;
use crate::sinks::held::{Held, drain_failed};

/// Buffered output is written once it exceeds this many bytes (a bound on
/// a sink's memory besides its event capacity).
pub const WRITE_CHUNK: usize = 256 * 1024;

/// What became of one write.
pub enum Outcome {
    /// Every byte reached the output: `bytes` is what the metrics count.
    Written {
        /// Bytes written.
        bytes: u64,
    },
    /// The reader closed the output (a broken pipe): the sink ends.
    Closed {
        /// A normal end (`sluice filter | head`), not an error.
        quiet: bool,
        /// The output, for the error message.
        what: String,
    },
    /// Every retry failed.
    Failed {
        /// What failed after how many attempts, for the log.
        log: String,
        /// The reason the error events carry.
        reason: String,
    },
}

/// The events a sink holds, encoded for its output, and how to write them.
/// Used by static dispatch only ([`run`] is generic) on the sink's own
/// thread, so its futures need no `Send` bound.
#[allow(async_fn_in_trait)]
pub trait Chunk {
    /// The stage's busy time (latency) counts the write too, not only the
    /// encoding (the tcp sink's measure).
    const BUSY_INCLUDES_WRITE: bool = false;

    /// Adds `event` to the pending chunk.
    fn encode(&mut self, event: &Event);

    /// The pending chunk is as big as one write should be.
    fn is_full(&self) -> bool;

    /// Nothing is pending.
    fn is_empty(&self) -> bool;

    /// Writes the pending chunk whole (flushing it when `idle`), retrying
    /// under the sink's policy; on success, records what its checkpoint
    /// needs before the events are acknowledged.
    async fn write(&mut self, ctx: &SinkContext, idle: bool) -> Outcome;

    /// Forgets the pending chunk (written or given up).
    fn clear(&mut self);

    /// The input closed and everything was handled: ends the output
    /// cleanly (a tcp peer sees end of stream).
    async fn finish(&mut self) {}
}

/// Drains `ctx.input` into `chunk` until the input closes.
pub async fn run<C: Chunk>(mut chunk: C, mut ctx: SinkContext) -> anyhow::Result<()> {
    let mut held = Held::default();
    loop {
        let next = ctx.input.recv().await;
        let started = Instant::now();
        let last = next.is_none();
        if let Some(batch) = &next {
            ctx.stats.events_in.fetch_add(batch.len() as u64, Relaxed);
            for e in &batch.events {
                chunk.encode(e);
            }
        }
        let received = next.is_some();
        if let Some(batch) = next {
            held.extend(batch.events);
            if !C::BUSY_INCLUDES_WRITE {
                ctx.stats.latency.record(started.elapsed());
            }
        }
        // Never hold more unwritten events than the input edge would.
        let full = held.len() >= ctx.capacity || chunk.is_full();
        let idle = last || ctx.input.is_idle();
        if (full || idle) && !(held.is_empty() && chunk.is_empty()) {
            let n = held.len() as u64;
            match chunk.write(&ctx, idle).await {
                Outcome::Written { bytes } => {
                    ctx.stats.bytes.fetch_add(bytes, Relaxed);
                    ctx.stats.events_out.fetch_add(n, Relaxed);
                    // Written: dropping the events and handles acknowledges them.
                    held.delivered();
                }
                Outcome::Closed { quiet, what } => {
                    // Dropping `held` fails what it holds; dropping `ctx`
                    // fails what is still queued and stops the upstream.
                    ctx.in_flight.sub(n);
                    if quiet {
                        // What is queued fails here, without the warning
                        // dropping `ctx` would log: a normal end.
                        let queued = drain_failed(&mut ctx.input, &ctx.in_flight);
                        tracing::debug!(stage = %ctx.name, queued, "output closed by the reader");
                        return Ok(());
                    }
                    anyhow::bail!(
                        "{what} was closed by its reader (broken pipe); unwritten events: {n}"
                    );
                }
                Outcome::Failed { log, reason } => {
                    tracing::error!(
                        "sink `{}`: {log}; {n} events go to `{}.errors`",
                        ctx.name,
                        ctx.name
                    );
                    ctx.give_up(held.take(), &reason).await;
                }
            }
            ctx.in_flight.sub(n);
            chunk.clear();
        }
        if last {
            break;
        }
        if C::BUSY_INCLUDES_WRITE && received {
            ctx.stats.latency.record(started.elapsed());
        }
    }
    chunk.finish().await;
    Ok(())
}
