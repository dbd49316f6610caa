//! A stage's outputs: each port fans out to every consumer that names it.
//!
//! Every consumer gets every batch (a cheap clone: events are shared
//! pointers). Sending waits on the slowest consumer, so a slow branch slows
//! the stage instead of letting another branch's buffer grow. Error events on
//! an `errors` port that nothing consumes are counted and logged here.
//!
//! Each port also has a tap point ([`PortTap`]): it counts the events sent
//! (the API's edge rates) and copies them to open taps, which costs one
//! atomic load while no tap is open (see `kit/tap.rs`).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::kit::counters::{InFlight, StageStats};
use crate::kit::edge::{Closed, EdgeSender};
use crate::kit::event::{Batch, Event, Key, Permit};
use crate::kit::tap::PortTap;
use crate::kit::turns::Turns;

/// Logs error events that no stage consumes, at most `per_second` of them a
/// second per stage, counting the rest.
pub struct ErrorLog {
    per_second: Option<u32>,
    state: Mutex<(Instant, u32, u64)>,
}

impl ErrorLog {
    /// A log allowing `per_second` messages a second (`None`: all of them).
    pub fn new(per_second: Option<u32>) -> Self {
        ErrorLog {
            per_second,
            state: Mutex::new((Instant::now(), 0, 0)),
        }
    }

    fn log(&self, stage: &str, event: &Event) {
        let reason = match event.parsed().unwrap_or(&jaq_json::Val::Null) {
            jaq_json::Val::Obj(map) => map
                .get(&jaq_json::Val::from("error".to_string()))
                .map(|v| match v {
                    jaq_json::Val::TStr(s) => String::from_utf8_lossy(s).into_owned(),
                    other => other.to_string(),
                })
                .unwrap_or_default(),
            other => other.to_string(),
        };
        if let Some(limit) = self.per_second {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if st.0.elapsed().as_secs() >= 1 {
                if st.2 > 0 {
                    tracing::warn!("{stage}: {} more errors not logged (rate limit)", st.2);
                }
                *st = (Instant::now(), 0, 0);
            }
            if st.1 >= limit {
                st.2 += 1;
                return;
            }
            st.1 += 1;
        }
        match event.line {
            0 => tracing::warn!("{stage}: {reason}"),
            line => tracing::warn!("{stage}: line {line}: {reason}"),
        }
    }
}

/// The output ports of one stage (one copy per worker).
#[derive(Clone)]
pub struct Outputs {
    stage: Arc<str>,
    /// Consumers of each port; the last port is `errors`.
    ports: Vec<Vec<EdgeSender>>,
    /// Whether any regular port had a consumer when the graph was built.
    had_consumers: bool,
    /// Per port: it had a consumer when the graph was built. Events for a
    /// port whose consumers have all gone since are lost, not discarded.
    had: Vec<bool>,
    stats: Arc<StageStats>,
    in_flight: Arc<InFlight>,
    error_log: Arc<ErrorLog>,
    /// Shared by the stage's workers when an ordered sink is downstream.
    turns: Option<Arc<Turns>>,
    /// Per port (same order as `ports`): its event count and taps.
    taps: Vec<Arc<PortTap>>,
}

impl Outputs {
    /// Outputs for `stage` with `ports` (the last one being `errors`).
    pub fn new(
        stage: &str,
        ports: Vec<Vec<EdgeSender>>,
        stats: Arc<StageStats>,
        in_flight: Arc<InFlight>,
        error_log: Arc<ErrorLog>,
    ) -> Self {
        let regular = &ports[..ports.len().saturating_sub(1)];
        let had_consumers = regular.iter().any(|p| !p.is_empty());
        let had = ports.iter().map(|p| !p.is_empty()).collect();
        let ordered = ports.iter().flatten().any(EdgeSender::carries_empty);
        let taps = ports.iter().map(|_| Arc::default()).collect();
        Outputs {
            stage: stage.into(),
            ports,
            had_consumers,
            had,
            stats,
            in_flight,
            error_log,
            turns: ordered.then(Arc::default),
            taps,
        }
    }

    /// Attaches the run's tap points, one per port in port order (the
    /// last is `errors`); without them the ports count and tap into
    /// points of their own that nothing reads.
    pub fn with_taps(mut self, taps: Vec<Arc<PortTap>>) -> Self {
        debug_assert_eq!(taps.len(), self.ports.len());
        if taps.len() == self.ports.len() {
            self.taps = taps;
        }
        self
    }

    /// The turns of the stage's workers, when an ordered sink is
    /// downstream (see `worker/turns.rs`).
    pub fn turns(&self) -> Option<&Arc<Turns>> {
        self.turns.as_ref()
    }

    /// Number of ports, `errors` included.
    pub fn port_count(&self) -> usize {
        self.ports.len()
    }

    /// Index of the `errors` port.
    pub fn errors_port(&self) -> usize {
        self.ports.len() - 1
    }

    /// True while `port` has a consumer: what is sent there is delivered
    /// by that consumer, not just counted.
    pub fn consumed(&self, port: usize) -> bool {
        !self.ports[port].is_empty()
    }

    /// The stage's name.
    pub fn stage(&self) -> &str {
        &self.stage
    }

    /// Sends, for one input batch at (`origin`, `seq`), the events produced
    /// on every port. Returns `Err(Closed)` once no consumer is left at all.
    pub async fn send(
        &mut self,
        origin: u64,
        seq: u64,
        per_port: Vec<Vec<Event>>,
    ) -> Result<(), Closed> {
        self.send_with(&Key::new(origin, seq), per_port, None).await
    }

    /// [`send`](Self::send) for the input batch at `key`, the batches
    /// carrying `permit` (the input batch's share of its source's in-flight
    /// budget).
    pub async fn send_with(
        &mut self,
        key: &Key,
        mut per_port: Vec<Vec<Event>>,
        permit: Option<Permit>,
    ) -> Result<(), Closed> {
        for (port, events) in per_port.iter_mut().enumerate() {
            self.send_part(port, key, std::mem::take(events), permit.clone())
                .await;
        }
        self.check_open()
    }

    /// Sends `events` on `port` alone as the batch at `key` (one part of a
    /// split output, see [`crate::kit::event::Part`]).
    pub async fn send_part(
        &mut self,
        port: usize,
        key: &Key,
        events: Vec<Event>,
        permit: Option<Permit>,
    ) {
        let n = events.len() as u64;
        let tap = &self.taps[port];
        tap.count(n);
        tap.offer(&events);
        // Events for a port whose consumers have all gone are lost, not
        // discarded on purpose: they must not count as delivered.
        let lost = self.ports[port].is_empty() && self.had[port];
        if lost {
            crate::kit::event::fail_events(&events);
        }
        if port == self.errors_port() {
            self.stats.errors.fetch_add(n, Relaxed);
            if self.ports[port].is_empty() {
                self.stats.errors_unconsumed.fetch_add(n, Relaxed);
                for e in &events {
                    self.error_log.log(&self.stage, e);
                }
                return;
            }
        } else {
            self.stats.events_out.fetch_add(n, Relaxed);
            if self.ports[port].is_empty() {
                self.stats.discarded.fetch_add(n, Relaxed);
                return;
            }
        }
        let mut batch = key.batch(events);
        batch.permit = permit;
        self.send_port(port, batch).await;
    }

    /// `Err(Closed)` once every regular port lost all its consumers.
    pub fn check_open(&self) -> Result<(), Closed> {
        let regular = &self.ports[..self.errors_port()];
        if self.had_consumers && regular.iter().all(|p| p.is_empty()) {
            return Err(Closed);
        }
        Ok(())
    }

    async fn send_port(&mut self, port: usize, mut batch: Batch) {
        let senders = &mut self.ports[port];
        let n = batch.len() as u64;
        self.in_flight.add(n * senders.len() as u64);
        let mut closed = Vec::new();
        let last = senders.len() - 1;
        for (i, s) in senders.iter().enumerate() {
            // The last consumer takes the batch itself, the others a copy.
            let b = if i == last {
                std::mem::take(&mut batch)
            } else {
                batch.clone()
            };
            if s.send(b).await.is_err() {
                // That consumer is gone (a sink that failed or hit a closed
                // pipe); its copy leaves the graph here.
                self.in_flight.sub(n);
                closed.push(i);
            }
        }
        for i in closed.into_iter().rev() {
            senders.remove(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::ack::{Ack, AckData};
    use crate::kit::edge::edge;
    use tokio::sync::mpsc;

    #[tokio::test]
    async fn events_for_a_consumer_that_is_gone_fail_and_unconsumed_errors_do_not() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let event = |seq| {
            let mut e = Event::new(jaq_json::Val::from(1isize));
            e.ack = Some(Ack::new(seq, AckData::Ids(vec![]), &tx));
            e
        };
        let (send, recv) = edge(4, false);
        let mut outputs = Outputs::new(
            "t",
            vec![vec![send], vec![]],
            Arc::default(),
            Arc::default(),
            Arc::new(ErrorLog::new(None)),
        );
        // An error event on an `errors` port nothing ever consumed: counted,
        // logged and delivered.
        let _ = outputs.send(1, 0, vec![vec![], vec![event(0)]]).await;
        assert!(!rx.try_recv().unwrap().failed);
        drop(recv);
        // Refused by the closed edge, then sent to a port left empty.
        assert!(
            outputs
                .send(1, 1, vec![vec![event(1)], vec![]])
                .await
                .is_err()
        );
        assert!(
            outputs
                .send(1, 2, vec![vec![event(2)], vec![]])
                .await
                .is_err()
        );
        for _ in 1..=2 {
            assert!(rx.try_recv().unwrap().failed);
        }
    }
}
