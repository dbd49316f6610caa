//! One worker of a transform stage: receive a batch from the shared input
//! edge, transform it, send the results on. N workers share one receiver, so
//! whichever is free takes the next batch.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use async_channel::Receiver;

use crate::event::{Batch, mix_origin};
use crate::stats::{InFlight, StageStats};
use crate::topology::fanout::Outputs;
use crate::transforms::{BatchCtx, Transform};

/// Everything one worker task owns.
pub struct Worker {
    /// Stage name.
    pub name: String,
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
}

impl Worker {
    /// Runs until the input edge is closed and drained, or nothing
    /// downstream is left. Dropping `self` at the end drops this worker's
    /// senders: the last worker to finish closes the stage's outputs.
    pub async fn run(mut self) -> anyhow::Result<()> {
        let ports = self.outputs.port_count();
        while let Ok(batch) = self.input.recv().await {
            let n = batch.len() as u64;
            self.stats.events_in.fetch_add(n, Relaxed);
            let origin = if self.fan_in {
                mix_origin(batch.origin, batch.lane)
            } else {
                batch.origin
            };
            let ctx = BatchCtx {
                stage: &self.name,
                origin,
                seq: batch.seq,
                seed: self.seed,
            };
            let mut out: Vec<Vec<_>> = (0..ports).map(|_| Vec::new()).collect();
            // The outputs inherit the input's in-flight permit.
            let permit = batch.permit;
            let started = std::time::Instant::now();
            self.transform.process(batch.events, &ctx, &mut out).await;
            self.stats.latency.record(started.elapsed());
            let sent = self.outputs.send_with(origin, ctx.seq, out, permit).await;
            self.in_flight.sub(n);
            if sent.is_err() {
                tracing::debug!(stage = %self.name, "no consumer left; worker stops");
                break;
            }
        }
        Ok(())
    }
}
