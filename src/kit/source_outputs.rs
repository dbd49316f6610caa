//! A source's outputs, shared by all of the source's tasks (one per
//! connection for network sources) and switched to a new graph on reload.
//!
//! A source feeding an ordered sink also takes one permit of its in-flight
//! budget per batch; the batch (and every copy and output derived from it)
//! carries the permit until an ordered sink has released it in order. That
//! bounds every reorder buffer downstream, and only the source ever waits
//! for a permit: no stage holding a batch the others wait for is blocked.
//!
//! The source keeps running across a reload: only what it sends into
//! changes. Replacing the outputs drops the old graph's senders, so the old
//! graph drains and closes exactly as if the source had ended. Batches are
//! numbered here, per stream, within the current graph: the new graph's
//! ordered sinks see sequences starting at 0 on fresh origin ids.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{Mutex, Semaphore};

use crate::kit::edge::Closed;
use crate::kit::event::{Event, Key, mix_origin};
use crate::kit::fanout::Outputs;

/// Batches a source feeding an ordered sink may have in flight, besides one
/// per worker: the bound of every reorder buffer downstream.
pub const REORDER_WINDOW: usize = 64;

/// The outputs of one source; clones share them.
#[derive(Clone)]
pub struct SourceOutputs {
    slot: Arc<Mutex<Slot>>,
    /// The in-flight budget (batches) when an ordered sink is downstream.
    budget: Arc<Semaphore>,
}

struct Slot {
    /// `None` once the source ended or was removed.
    outputs: Option<Outputs>,
    /// How many times the outputs were replaced; mixed into origin ids so a
    /// new graph never sees an old graph's sequence numbers.
    generation: u32,
    /// Next sequence number of each stream in the current graph.
    next_seq: HashMap<u64, u64>,
    /// Whether batches take a permit (an ordered sink is downstream).
    permits: bool,
}

impl SourceOutputs {
    /// Shared outputs starting with `outputs`; `window`: the in-flight
    /// budget in batches, when an ordered sink is downstream.
    pub fn new(outputs: Outputs, window: Option<usize>) -> Self {
        SourceOutputs {
            slot: Arc::new(Mutex::new(Slot {
                outputs: Some(outputs),
                generation: 0,
                next_seq: HashMap::new(),
                permits: window.is_some(),
            })),
            budget: Arc::new(Semaphore::new(window.unwrap_or(REORDER_WINDOW))),
        }
    }

    /// Sends one batch of stream `origin` (events on port 0, error events on
    /// the last port). Waits while the graph is full: that is backpressure.
    pub async fn send(&self, origin: u64, per_port: Vec<Vec<Event>>) -> Result<(), Closed> {
        self.send_batch(origin, per_port, false).await
    }

    /// Ends stream `origin` (a connection closed): an empty batch marked as
    /// the stream's end follows its last one, so that ordered sinks drop
    /// their state for it once everything before it has passed; and the
    /// numbering forgets it. Memory then does not grow with every
    /// connection a daemon ever had.
    pub async fn end_stream(&self, origin: u64) {
        let started = self.slot.lock().await.next_seq.contains_key(&origin);
        // A stream that never sent a batch left no state anywhere.
        if started {
            let ports = vec![Vec::new(), Vec::new()];
            // Err: the graph is gone, and its state with it.
            let _ = self.send_batch(origin, ports, true).await;
        }
        self.slot.lock().await.next_seq.remove(&origin);
    }

    async fn send_batch(
        &self,
        origin: u64,
        per_port: Vec<Vec<Event>>,
        end: bool,
    ) -> Result<(), Closed> {
        // The lock is held across the send so that a reload waits for a
        // batch in progress instead of splitting it between two graphs.
        let mut guard = self.slot.lock().await;
        let permit = match guard.permits {
            // Waits while the budget is spent: the batches holding it are
            // all downstream and on their way to the ordered sink.
            true => Some(Arc::new(
                self.budget
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| Closed)?,
            )),
            false => None,
        };
        let Slot {
            outputs,
            generation,
            next_seq,
            ..
        } = &mut *guard;
        let Some(outputs) = outputs.as_mut() else {
            return Err(Closed);
        };
        let counter = next_seq.entry(origin).or_insert(0);
        let seq = *counter;
        *counter += 1;
        let origin = match *generation {
            0 => origin,
            g => mix_origin(origin, g),
        };
        let key = Key {
            end,
            ..Key::new(origin, seq)
        };
        outputs.send_with(&key, per_port, permit).await
    }

    /// Switches to `outputs` (a reload; `ordered`: an ordered sink is
    /// downstream of them); returns `false`, dropping them, if the source
    /// has already ended.
    pub async fn replace(&self, outputs: Outputs, ordered: bool) -> bool {
        let mut slot = self.slot.lock().await;
        if slot.outputs.is_none() {
            return false;
        }
        slot.outputs = Some(outputs);
        slot.permits = ordered;
        slot.generation += 1;
        slot.next_seq.clear();
        true
    }

    /// Drops the outputs for good (the source ended): the graph downstream
    /// can close.
    pub async fn close(&self) {
        self.slot.lock().await.outputs = None;
    }
}
