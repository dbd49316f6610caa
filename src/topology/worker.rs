//! One worker of a transform stage: receive a batch from the shared input
//! edge, transform it, send the results on (in parts of at most a batch, see
//! `parts.rs`). N workers share one receiver, so whichever is free takes the
//! next batch.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use async_channel::Receiver;

use crate::kit::counters::{InFlight, StageStats};
use crate::kit::event::{Batch, Event, Key, Permit, mix_origin};
use crate::kit::fanout::Outputs;
use crate::kit::thread;
use crate::transforms::{BatchCtx, Transform};

mod parts;
use parts::{BlockingSpill, Parts};

/// Everything one worker task owns.
pub struct Worker {
    /// Stage name.
    pub name: String,
    /// Which of the stage's workers this is: with the name, it names the
    /// worker's thread (`top -H`, panic messages).
    pub index: usize,
    /// This worker's instance of the transform.
    pub transform: Transform,
    /// The stage's input edge, shared with the other workers.
    pub input: Receiver<Batch>,
    /// This worker's copy of the stage's outputs.
    pub outputs: Outputs,
    /// The stage's counters.
    pub stats: Arc<StageStats>,
    /// The pipeline's in-flight gauge.
    pub in_flight: Arc<InFlight>,
    /// The pipeline seed.
    pub seed: u64,
    /// True when the stage has several inputs: their sequences are kept
    /// apart by mixing the lane into the origin.
    pub fan_in: bool,
    /// Largest output batch, in events: the batch size edges are sized by,
    /// so that an edge's capacity in events holds whatever a stage emits.
    pub batch: usize,
}

impl Worker {
    /// Runs until the input edge is closed and drained, or nothing
    /// downstream is left. Dropping `self` at the end drops this worker's
    /// senders: the last worker to finish closes the stage's outputs.
    ///
    /// A transform that computes (jq, filter, route, parse_regex, sample)
    /// runs on a thread of its own, `STAGE#INDEX`: a CPU-bound batch on the
    /// async runtime would hold a runtime thread, and the runtime's
    /// scheduler may keep a stage's workers on one thread (measured: 2
    /// workers ran no faster than 1). Not tokio's blocking pool: its cap
    /// would make workers past it wait forever (see [`thread`]). A
    /// transform that waits (delay) runs as a task.
    pub async fn run(self) -> anyhow::Result<()> {
        match self.transform {
            Transform::Sync(_) => {
                let handle = tokio::runtime::Handle::current();
                let name = format!("{}#{}", self.name, self.index);
                thread::run(name, move || self.run_blocking(&handle)).await
            }
            Transform::Async(_) => self.run_async().await,
        }
    }

    async fn run_async(mut self) -> anyhow::Result<()> {
        while let Ok(batch) = self.input.recv().await {
            let (key, n, permit) = begin(&self.stats, self.fan_in, &batch);
            let ctx = BatchCtx {
                stage: &self.name,
                origin: key.origin,
                seq: key.seq,
                seed: self.seed,
            };
            let mut out = port_buffers(&self.outputs);
            let started = std::time::Instant::now();
            self.transform.process(batch.events, &ctx, &mut out).await;
            self.stats.latency.record(started.elapsed());
            let mut parts = Parts::new(&key, permit, self.batch, &self.outputs, None);
            let sent = parts.finish(&mut self.outputs, out).await;
            if !end(&self.name, &self.in_flight, n, sent.is_ok()) {
                break;
            }
        }
        Ok(())
    }

    fn run_blocking(mut self, handle: &tokio::runtime::Handle) -> anyhow::Result<()> {
        let Transform::Sync(transform) = &mut self.transform else {
            anyhow::bail!("run_blocking is only for computing transforms");
        };
        let _seat = self.outputs.turns().map(|t| t.seat());
        while let Ok(batch) = self.input.recv_blocking() {
            let (key, n, permit) = begin(&self.stats, self.fan_in, &batch);
            let ctx = BatchCtx {
                stage: &self.name,
                origin: key.origin,
                seq: key.seq,
                seed: self.seed,
            };
            let mut out = port_buffers(&self.outputs);
            let started = std::time::Instant::now();
            let turns = self.outputs.turns().cloned();
            let mut parts = Parts::new(&key, permit, self.batch, &self.outputs, turns);
            let mut spill = BlockingSpill {
                parts: &mut parts,
                outputs: &mut self.outputs,
                handle,
            };
            transform.process_spilling(batch.events, &ctx, &mut out, &mut spill);
            self.stats.latency.record(started.elapsed());
            let sent = handle.block_on(parts.finish(&mut self.outputs, out));
            if !end(&self.name, &self.in_flight, n, sent.is_ok()) {
                break;
            }
        }
        Ok(())
    }
}

/// Counts a received batch; returns its ordering key, size and permit.
fn begin(stats: &StageStats, fan_in: bool, batch: &Batch) -> (Key, u64, Option<Permit>) {
    let n = batch.len() as u64;
    stats.events_in.fetch_add(n, Relaxed);
    let origin = if fan_in {
        mix_origin(batch.origin, batch.lane)
    } else {
        batch.origin
    };
    let key = Key {
        origin,
        seq: batch.seq,
        parts: batch.parts.clone(),
        end: batch.end,
    };
    // The outputs inherit the input's in-flight permit.
    (key, n, batch.permit.clone())
}

/// One empty buffer per output port.
fn port_buffers(outputs: &Outputs) -> Vec<Vec<Event>> {
    (0..outputs.port_count()).map(|_| Vec::new()).collect()
}

/// Finishes a batch; false when nothing downstream is left.
fn end(stage: &str, in_flight: &InFlight, n: u64, sent: bool) -> bool {
    in_flight.sub(n);
    if !sent {
        tracing::debug!(stage, "no consumer left; worker stops");
    }
    sent
}
