//! Sends one input batch's output on in parts of at most a batch each.
//!
//! An output of up to a batch per port goes on whole, with the input's key.
//! A larger one (a jq program that expands, handed over while it runs
//! through [`Spill`]) goes on as parts: the input's key extended by one
//! level, indices dense from 0, the final one marked `last` (and carrying
//! the end of the stream, if the input did). Every part carries the input's
//! permit and its events their acknowledgement handles, so ordered sinks
//! and acknowledgements work on parts as on whole batches.

use std::sync::Arc;

use crate::kit::edge::Closed;
use crate::kit::event::{Event, Key, Permit};
use crate::kit::fanout::Outputs;
use crate::kit::turns::Turns;
use crate::transforms::Spill;

/// The parts sent so far for one input batch.
pub struct Parts {
    key: Key,
    permit: Option<Permit>,
    limit: usize,
    /// Per port: how many parts went on already.
    sent: Vec<u32>,
    /// The stage's turns, for a worker on its own thread (may block).
    turns: Option<Arc<Turns>>,
    /// Set once this input's turn came (or was not needed).
    turn_taken: bool,
    /// Parts sent before the turn came.
    ahead: usize,
}

/// Parts a worker may send for a later input before its turn: enough that
/// a program expanding a few times over (`.items[]`) keeps every worker
/// busy, few enough that an ordered sink's reorder buffer stays small
/// (at most this many batches per waiting worker).
pub const AHEAD: usize = 16;

impl Parts {
    /// Nothing sent yet for the input at `key`; parts hold at most `limit`
    /// events. With `turns`, parts wait for the input's turn.
    pub fn new(
        key: &Key,
        permit: Option<Permit>,
        limit: usize,
        outputs: &Outputs,
        turns: Option<Arc<Turns>>,
    ) -> Self {
        Parts {
            key: key.clone(),
            permit,
            limit: limit.max(1),
            sent: vec![0; outputs.port_count()],
            turns,
            turn_taken: false,
            ahead: 0,
        }
    }

    /// Sends `events` on `port` as a part that is not the last.
    pub async fn send(&mut self, outputs: &mut Outputs, port: usize, events: Vec<Event>) {
        if !self.turn_taken
            && let Some(turns) = &self.turns
        {
            if self.ahead < AHEAD {
                self.ahead += 1;
            } else {
                turns.wait(&self.key);
                self.turn_taken = true;
            }
        }
        let key = self.key.part(self.sent[port], false);
        self.sent[port] += 1;
        outputs
            .send_part(port, &key, events, self.permit.clone())
            .await;
    }

    /// Sends what is left on every port: whole when nothing of the port
    /// went on yet and it fits a batch, else as the remaining parts.
    pub async fn finish(
        &mut self,
        outputs: &mut Outputs,
        per_port: Vec<Vec<Event>>,
    ) -> Result<(), Closed> {
        for (port, events) in per_port.into_iter().enumerate() {
            if self.sent[port] == 0 && events.len() <= self.limit {
                outputs
                    .send_part(port, &self.key, events, self.permit.clone())
                    .await;
                continue;
            }
            let mut left = events.len();
            let mut events = events.into_iter();
            while left > self.limit {
                let part = events.by_ref().take(self.limit).collect();
                self.send(outputs, port, part).await;
                left -= self.limit;
            }
            let key = self.key.part(self.sent[port], true);
            outputs
                .send_part(port, &key, events.collect(), self.permit.clone())
                .await;
        }
        if let Some(turns) = &self.turns {
            turns.done(&self.key);
        }
        outputs.check_open()
    }
}

/// The [`Spill`] of a worker on its own thread: waits for the edge there.
pub struct BlockingSpill<'a> {
    /// The parts of the input batch being processed.
    pub parts: &'a mut Parts,
    /// The worker's outputs.
    pub outputs: &'a mut Outputs,
    /// The runtime to wait on for a full edge.
    pub handle: &'a tokio::runtime::Handle,
}

impl Spill for BlockingSpill<'_> {
    fn limit(&self) -> usize {
        self.parts.limit
    }

    fn spill(&mut self, port: usize, events: Vec<Event>) {
        self.handle
            .block_on(self.parts.send(self.outputs, port, events));
    }
}
