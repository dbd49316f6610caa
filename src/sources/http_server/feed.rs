//! Between the requests and the graph: the [`Gate`] that counts the
//! requests being served (and turns new ones away once the source stops),
//! and the feeder task, the one writer of the source's outputs.
//!
//! Why one feeder instead of each request sending itself: a send into the
//! graph is not cancel-safe (a batch numbered but never sent leaves a hole
//! an ordered sink waits on forever; a fan-out half done is a partial
//! delivery), yet a request must be able to give up when the graph stays
//! backed up past its `timeout`. So requests hand their chunks to a small
//! bounded queue — waiting for a place there *is* cancel-safe — and the
//! feeder sends each chunk whole, in order. The queue is the only buffer
//! between the requests and the first edge, and it is
//! [`QUEUE_CHUNKS`] batches long.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::kit::ack::Ack;
use crate::kit::event::Event;
use crate::sources::SourceContext;

/// Chunks (batches of at most the source's batch size) waiting for the
/// feeder: enough to keep it busy while requests decode, small enough that
/// a backed-up graph stops the requests, not this queue.
pub const QUEUE_CHUNKS: usize = 16;

/// One batch of a request on its way into the graph.
pub struct Chunk {
    /// Events for the regular output.
    pub good: Vec<Event>,
    /// Error events (bad lines) for `STAGE.errors`.
    pub bad: Vec<Event>,
    /// The request's acknowledgement (`ack = "delivered"`): failed by the
    /// feeder if the graph is gone, so the request is not answered 200.
    pub ack: Option<Ack>,
    /// Told once the chunk is in the graph (the last chunk of an
    /// `ack = "accepted"` request); dropped unsent if it never gets there.
    pub sent: Option<oneshot::Sender<()>>,
}

/// Starts the feeder for `ctx`: the queue requests send to, the gate, and
/// the task (it ends once every queue sender is gone and the queue is
/// drained).
pub fn start(ctx: SourceContext) -> (mpsc::Sender<Chunk>, Gate, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(QUEUE_CHUNKS);
    let gate = Gate::new();
    let task = tokio::spawn(feed(rx, ctx, gate.clone()));
    (tx, gate, task)
}

/// Sends every queued chunk into the graph, in queue order.
async fn feed(mut rx: mpsc::Receiver<Chunk>, mut ctx: SourceContext, gate: Gate) {
    while let Some(chunk) = rx.recv().await {
        let Chunk {
            good,
            bad,
            ack,
            sent,
        } = chunk;
        match ctx.emit(good, bad).await {
            Ok(()) => {
                if let Some(sent) = sent {
                    let _ = sent.send(());
                }
            }
            Err(_closed) => {
                // Nothing downstream is left: this chunk and every later
                // one are lost, so their requests must not hear 200.
                tracing::warn!(
                    "source `{}`: nothing downstream takes events any more; refusing requests",
                    ctx.name
                );
                fail(ack);
                gate.close();
                rx.close();
                while let Some(chunk) = rx.recv().await {
                    fail(chunk.ack);
                }
                return;
            }
        }
    }
}

fn fail(ack: Option<Ack>) {
    if let Some(ack) = ack {
        ack.fail();
    }
}

/// Who may start a request: open until the source stops, counting the
/// requests inside so that the stop can wait for them.
#[derive(Clone)]
pub struct Gate(Arc<watch::Sender<GateState>>);

#[derive(Debug, Clone, Copy)]
pub struct GateState {
    open: bool,
    inside: usize,
}

/// A request inside the gate; leaving (drop) lets the stop go on.
pub struct Pass(Arc<watch::Sender<GateState>>);

impl Drop for Pass {
    fn drop(&mut self) {
        self.0.send_modify(|s| s.inside -= 1);
    }
}

impl Gate {
    fn new() -> Gate {
        let (tx, _) = watch::channel(GateState {
            open: true,
            inside: 0,
        });
        Gate(Arc::new(tx))
    }

    /// A pass while the gate is open. Checking and counting is one step
    /// under the channel's lock, so no request slips in after
    /// [`drained`](Self::drained) has seen the last one leave.
    pub fn enter(&self) -> Option<Pass> {
        let admitted = self.0.send_if_modified(|s| {
            if s.open {
                s.inside += 1;
            }
            s.open
        });
        admitted.then(|| Pass(self.0.clone()))
    }

    /// Turns every later request away.
    pub fn close(&self) {
        self.0.send_modify(|s| s.open = false);
    }

    /// Completes once the gate is closed (by [`close`](Self::close)).
    pub async fn closed(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|s| !s.open).await;
    }

    /// Completes once the gate is closed and every pass has left.
    pub async fn drained(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|s| !s.open && s.inside == 0).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_gate_waits_for_the_requests_inside_and_admits_no_more() {
        let gate = Gate::new();
        let pass = gate.enter().expect("open");
        gate.close();
        assert!(gate.enter().is_none(), "closed");
        let drained = tokio::spawn({
            let gate = gate.clone();
            async move { gate.drained().await }
        });
        tokio::task::yield_now().await;
        assert!(!drained.is_finished(), "a request is still inside");
        drop(pass);
        tokio::time::timeout(std::time::Duration::from_secs(5), drained)
            .await
            .expect("drained once the last pass left")
            .unwrap();
    }
}
