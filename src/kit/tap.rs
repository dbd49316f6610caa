//! Taps: live copies of the events leaving a stage's output port, for
//! `sluice tap` (`/api/v1/tap`), and the per-port event counts the API
//! turns into edge rates.
//!
//! [`Taps`] is the run's registry: one [`PortTap`] per stage and port name,
//! kept across reloads (a stage that keeps its name keeps its taps). Each
//! stage's [`Outputs`](crate::kit::fanout::Outputs) holds the `PortTap` of
//! every port and calls [`PortTap::offer`] as a batch leaves.
//!
//! A tap never slows the graph:
//! - with no tap open, `offer` reads one atomic flag and returns (13 ns a
//!   256-event batch in `benches/hot_path.rs`; no difference in throughput
//!   in `benches/tap.sh`);
//! - with one open, the events are copied (a reference-count bump each,
//!   without their acknowledgement handle, see
//!   [`Event::detached`](crate::kit::event::Event::detached)) into the
//!   tap's own bounded buffer of [`TAP_BUFFER`] batches, one `try_send` per
//!   batch: when the reader is slow the buffer is full, and the copies are
//!   not made but counted ([`Taps::dropped`], `tap_dropped` in the API and
//!   `sluice_tap_dropped_total` in `/metrics`). The pipeline never waits
//!   on a tap, and a tap never delays an acknowledgement.
//!
//! The events are turned into JSON text by the reader (the HTTP response
//! task), not on the stage's send path.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::kit::event::Event;
use crate::kit::sync::lock;

/// Batches a tap holds for its reader (each at most one edge batch, 256
/// events): enough to ride out a short stall of the HTTP connection,
/// small enough that many idle taps cost little (the events are shared
/// with the graph, not deep copies). Copies go in one batch per batch
/// sent, so a tap that keeps up costs one channel send per batch, not per
/// event.
pub const TAP_BUFFER: usize = 4;

/// `sample = 1.0` in the fixed-point steps a tap counts in.
const SAMPLE_ONE: u64 = 1_000_000;

/// What a tap asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TapOptions {
    /// End after this many events (`None`: until the daemon stops).
    pub limit: Option<u64>,
    /// Share of the events to copy, 0 < sample <= 1: every 1/sample-th
    /// event, counted deterministically (no random draw on the send path).
    pub sample: f64,
}

impl Default for TapOptions {
    fn default() -> Self {
        TapOptions {
            limit: None,
            sample: 1.0,
        }
    }
}

/// Every tappable port of the run, by (stage, port); port `""` is a
/// stage's main output.
#[derive(Debug, Default)]
pub struct Taps {
    ports: Mutex<HashMap<(String, String), Arc<PortTap>>>,
    /// Copies dropped because a reader was slow, over the run.
    dropped: Arc<AtomicU64>,
}

impl Taps {
    /// The tap point of `stage`'s `port`, made on first use.
    pub fn port(&self, stage: &str, port: &str) -> Arc<PortTap> {
        lock(&self.ports)
            .entry((stage.to_string(), port.to_string()))
            .or_insert_with(|| {
                Arc::new(PortTap {
                    dropped: self.dropped.clone(),
                    ..PortTap::default()
                })
            })
            .clone()
    }

    /// The tap point of `stage`'s `port` if the graph has built it.
    pub fn existing(&self, stage: &str, port: &str) -> Option<Arc<PortTap>> {
        lock(&self.ports)
            .get(&(stage.to_string(), port.to_string()))
            .cloned()
    }

    /// Opens a tap on `stage`'s `port`: the events leaving it from now on
    /// arrive on the receiver, which ends after `limit` events or once the
    /// tap is closed ([`close_all`](Self::close_all)).
    pub fn open(&self, stage: &str, port: &str, options: TapOptions) -> TapReceiver {
        self.port(stage, port).open(options)
    }

    /// Copies dropped so far because a reader was slow.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Relaxed)
    }

    /// Taps open now.
    pub fn open_count(&self) -> usize {
        lock(&self.ports)
            .values()
            .map(|p| {
                lock(&p.readers)
                    .iter()
                    .filter(|r| !r.tx.is_closed())
                    .count()
            })
            .sum()
    }

    /// Ends every tap (the daemon stops): each reader gets what its buffer
    /// holds, then the end of its stream.
    pub fn close_all(&self) {
        self.close_unless(|_, _| false);
    }

    /// Ends the taps of every port for which `keep(stage, port)` is false
    /// (a reload removed the stage or the port).
    pub fn close_unless(&self, keep: impl Fn(&str, &str) -> bool) {
        for ((stage, port), tap) in lock(&self.ports).iter() {
            if !keep(stage, port) {
                tap.close();
            }
        }
    }
}

/// One output port's tap point: its event count and the taps open on it.
#[derive(Debug, Default)]
pub struct PortTap {
    /// Events sent on the port: what the API turns into edge rates.
    sent: AtomicU64,
    /// True while a tap is open: the only thing the send path reads when
    /// none is.
    active: AtomicBool,
    readers: Mutex<Vec<Reader>>,
    dropped: Arc<AtomicU64>,
}

/// What a tap's reader receives: the copies taken from each batch.
pub type TapReceiver = mpsc::Receiver<Vec<Event>>;

#[derive(Debug)]
struct Reader {
    tx: mpsc::Sender<Vec<Event>>,
    /// `sample` in millionths.
    step: u64,
    /// Accumulated steps; an event is copied each time this reaches
    /// [`SAMPLE_ONE`].
    credit: u64,
    /// Events still to copy before the tap ends (`None`: no limit).
    left: Option<u64>,
}

impl PortTap {
    /// Counts `n` events sent on the port.
    #[inline]
    pub fn count(&self, n: u64) {
        if n > 0 {
            self.sent.fetch_add(n, Relaxed);
        }
    }

    /// Events sent on the port so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Relaxed)
    }

    /// Copies `events` to the port's taps, if any is open. Never waits.
    #[inline]
    pub fn offer(&self, events: &[Event]) {
        if self.active.load(Relaxed) && !events.is_empty() {
            self.copy(events);
        }
    }

    #[cold]
    fn copy(&self, events: &[Event]) {
        let mut readers = lock(&self.readers);
        let mut dropped = 0;
        readers.retain_mut(|r| {
            if r.tx.is_closed() {
                return false;
            }
            // A full buffer (a reader that does not read) costs a count,
            // not copies made to be thrown away.
            let room = r.tx.capacity() > 0;
            if !room {
                // The events this reader would have taken, without looking
                // at each: the sampling steps they add up to.
                let total = r.credit + r.step * events.len() as u64;
                let wanted = (total / SAMPLE_ONE).min(r.left.unwrap_or(u64::MAX));
                r.credit = (total - wanted * SAMPLE_ONE) % SAMPLE_ONE;
                dropped += wanted;
                return true;
            }
            let mut copies = Vec::new();
            let mut wanted = 0u64;
            for e in events {
                if r.left.is_some_and(|left| wanted >= left) {
                    break;
                }
                r.credit += r.step;
                if r.credit < SAMPLE_ONE {
                    continue;
                }
                r.credit -= SAMPLE_ONE;
                wanted += 1;
                copies.push(e.detached());
            }
            if wanted == 0 {
                return true;
            }
            match r.tx.try_send(copies) {
                Ok(()) => match r.left.as_mut() {
                    Some(left) => {
                        *left -= wanted;
                        // Dropping the sender ends the reader's stream
                        // after what it holds.
                        *left > 0
                    }
                    None => true,
                },
                Err(mpsc::error::TrySendError::Full(_)) => {
                    dropped += wanted;
                    true
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
        if dropped > 0 {
            self.dropped.fetch_add(dropped, Relaxed);
        }
        if readers.is_empty() {
            self.active.store(false, Relaxed);
        }
    }

    /// Opens a tap on this port (see [`Taps::open`]).
    pub fn open(&self, options: TapOptions) -> TapReceiver {
        let (tx, rx) = mpsc::channel(TAP_BUFFER);
        let step = (options.sample.clamp(0.0, 1.0) * SAMPLE_ONE as f64).round() as u64;
        let mut readers = lock(&self.readers);
        // Readers that went away while nothing flowed are forgotten here,
        // so taps opened and abandoned on an idle port do not pile up.
        readers.retain(|r| !r.tx.is_closed());
        if options.limit != Some(0) {
            readers.push(Reader {
                tx,
                step: step.max(1),
                credit: 0,
                left: options.limit,
            });
        }
        self.active.store(!readers.is_empty(), Relaxed);
        rx
    }

    /// Ends every tap on this port.
    fn close(&self) {
        let mut readers = lock(&self.readers);
        readers.clear();
        self.active.store(false, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(n: usize) -> Vec<Event> {
        (0..n)
            .map(|i| Event::new(jaq_json::Val::from(i as isize)))
            .collect()
    }

    fn drain(rx: &mut TapReceiver) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(batch) = rx.try_recv() {
            for e in batch {
                out.push(e.parsed().map(|v| v.to_string()).unwrap_or_default());
            }
        }
        out
    }

    #[test]
    fn no_tap_no_copy_and_the_count_goes_on() {
        let taps = Taps::default();
        let port = taps.port("s", "");
        port.count(3);
        port.offer(&events(3));
        assert_eq!(port.sent(), 3);
        assert!(!port.active.load(Relaxed));
        assert_eq!(taps.open_count(), 0);
    }

    #[test]
    fn a_limited_tap_ends_after_its_events() {
        let taps = Taps::default();
        let options = TapOptions {
            limit: Some(3),
            sample: 1.0,
        };
        let mut rx = taps.open("s", "", options);
        let port = taps.port("s", "");
        port.offer(&events(2));
        port.offer(&events(5));
        assert_eq!(drain(&mut rx), ["0", "1", "0"]);
        assert!(rx.is_closed(), "the stream ends after the limit");
        assert!(!port.active.load(Relaxed), "and the port is untapped again");
    }

    #[test]
    fn sampling_copies_every_nth_event() {
        let taps = Taps::default();
        let options = TapOptions {
            limit: None,
            sample: 0.1,
        };
        let mut rx = taps.open("s", "", options);
        taps.port("s", "").offer(&events(100));
        let got = drain(&mut rx);
        assert_eq!(got.len(), 10);
        assert_eq!(got[0], "9", "every tenth: the 10th, 20th, ...");
    }

    #[test]
    fn a_slow_reader_loses_copies_and_they_are_counted() {
        let taps = Taps::default();
        let mut rx = taps.open("s", "errors", TapOptions::default());
        let port = taps.port("s", "errors");
        for _ in 0..TAP_BUFFER + 2 {
            port.offer(&events(10));
        }
        assert_eq!(taps.dropped(), 20);
        assert_eq!(drain(&mut rx).len(), TAP_BUFFER * 10);
    }

    #[test]
    fn a_copy_holds_no_acknowledgement() {
        use crate::kit::ack::{Ack, AckData};
        let (tx, mut acks) = mpsc::unbounded_channel();
        let taps = Taps::default();
        let mut rx = taps.open("s", "", TapOptions::default());
        let mut e = Event::new(jaq_json::Val::from(1isize));
        e.ack = Some(Ack::new(0, AckData::Ids(vec![]), &tx));
        taps.port("s", "").offer(std::slice::from_ref(&e));
        drop(e);
        assert!(
            !acks.try_recv().unwrap().failed,
            "delivered while the tap still holds its copy"
        );
        assert_eq!(drain(&mut rx), ["1"]);
    }

    #[test]
    fn closing_ends_the_streams_and_a_gone_reader_is_forgotten() {
        let taps = Taps::default();
        let mut a = taps.open("s", "", TapOptions::default());
        let b = taps.open("t", "", TapOptions::default());
        drop(b);
        assert_eq!(taps.open_count(), 1);
        taps.close_unless(|stage, _| stage == "t");
        taps.port("s", "").offer(&events(1));
        assert!(a.try_recv().is_err());
        assert!(a.is_closed());
        let _c = taps.open("t", "", TapOptions::default());
        assert_eq!(lock(&taps.port("t", "").readers).len(), 1);
        taps.close_all();
        assert_eq!(taps.open_count(), 0);
    }
}
