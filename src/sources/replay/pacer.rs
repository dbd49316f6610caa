//! Pacing by event time: the [`Pacer`] cuts the replayed events into
//! batches and sends each when it is due.
//!
//! The first event fixes the origin, and every later event is due at
//! `start + (its time - first time) / speed`. The source sleeps until a
//! *batch* is due, never per event: a batch takes the events whose time
//! lies within [`PACE_QUANTUM`] × `speed` of its first event (and at most
//! the batch size). So events go out at most one quantum early, and a
//! dense stretch of events costs one sleep per batch, not per event.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use super::config::Replay;
use super::input::{Item, Taken};
use super::time::Nanos;
use crate::kit::ack::{Ack, AckData, AckToken};
use crate::kit::event::Event;
use crate::kit::progress::ReplayBar;
use crate::sources::SourceContext;
use crate::sources::lines::Position;

/// Longest stretch of wall time one paced batch spans: events are sent at
/// most this much before their due time. 5 ms is below what a person or a
/// rate-sensitive consumer notices, and long enough that a busy replay
/// sleeps at most 200 times a second.
pub const PACE_QUANTUM: Duration = Duration::from_millis(5);

/// Cuts the replayed events into batches and sends each when it is due.
pub(super) struct Pacer<'a> {
    /// How to read times, what to keep, how fast.
    pub(super) replay: &'a Replay,
    /// The source's outputs, shutdown and counters.
    pub(super) ctx: &'a mut SourceContext,
    /// The runtime the blocking reader sleeps and sends on.
    handle: &'a tokio::runtime::Handle,
    /// Where acknowledgements go, when deliveries are tracked.
    tx: Option<UnboundedSender<AckToken>>,
    /// Next batch number of each input (by its index in the source's
    /// inputs): commits are contiguous per input.
    next_seq: HashMap<usize, u64>,
    /// Event-time span of one paced batch: the quantum at this speed.
    span: Nanos,
    /// Most events in one batch.
    batch_events: usize,
    /// The first event's time and the moment it was taken.
    origin: Option<(Nanos, Instant)>,
    /// The batch's events, and its error events.
    good: Vec<Event>,
    bad: Vec<Event>,
    /// The input of each event in `good`, then in `bad`.
    good_from: Vec<usize>,
    bad_from: Vec<usize>,
    /// Per input in the batch: how far the batch takes it.
    ends: Vec<Position>,
    /// Time of the batch's first timed event.
    first: Option<Nanos>,
    /// Time of the batch's last timed event.
    last: Option<Nanos>,
    /// The source's bar in event time, when the window has an end and bars
    /// are on: told of the origin, each wait and each batch sent.
    bar: Option<ReplayBar>,
    /// Set once shutdown is asked or nothing downstream is left.
    halted: bool,
    /// Events left out by `from`/`to`, for the counters.
    pub(super) skipped: u64,
    /// Time slept until batches were due (not busy).
    pub(super) waited_on_clock: Duration,
    /// Time waited on the graph to accept batches (backpressure, not busy).
    pub(super) waited_on_graph: Duration,
}

impl<'a> Pacer<'a> {
    /// A pacer with an empty batch, its origin set by the first event.
    pub(super) fn new(
        replay: &'a Replay,
        tx: Option<UnboundedSender<AckToken>>,
        ctx: &'a mut SourceContext,
        handle: &'a tokio::runtime::Handle,
        bar: Option<ReplayBar>,
    ) -> Pacer<'a> {
        let span = replay
            .speed
            .map_or(0, |s| (PACE_QUANTUM.as_nanos() as f64 * s) as Nanos);
        Pacer {
            replay,
            batch_events: ctx.batch_events.max(1),
            ctx,
            handle,
            tx,
            next_seq: HashMap::new(),
            span,
            origin: None,
            good: Vec::new(),
            bad: Vec::new(),
            good_from: Vec::new(),
            bad_from: Vec::new(),
            ends: Vec::new(),
            first: None,
            last: None,
            bar,
            halted: false,
            skipped: 0,
            waited_on_clock: Duration::ZERO,
            waited_on_graph: Duration::ZERO,
        }
    }

    /// True once reading should stop.
    pub(super) fn halted(&self) -> bool {
        self.halted || self.ctx.shutdown.is_shutdown()
    }

    /// Adds one item to the batch, sending the batch first when the item
    /// lies beyond it, and after when it is full.
    pub(super) fn push(&mut self, taken: Taken) {
        let Taken { item, position } = taken;
        match item {
            Item::Error(e) => {
                self.bad.push(e);
                self.bad_from.push(position.file);
            }
            Item::Timed(t, e) => {
                if !self.replay.keeps(t) {
                    // Committed with the next batch from its input.
                    self.skipped += 1;
                    return;
                }
                // A paced batch ends where the next event is more than one
                // quantum after its first: a rule on the data alone, so the
                // batches are the same on every run.
                if let Some(first) = self.first
                    && self.replay.speed.is_some()
                    && t - first > self.span
                {
                    self.flush();
                }
                if self.origin.is_none() {
                    let now = Instant::now();
                    self.origin = Some((t, now));
                    if let Some(bar) = &self.bar {
                        bar.update(|c| c.origin(t, now));
                    }
                }
                self.first.get_or_insert(t);
                self.last = Some(t);
                self.good.push(e);
                self.good_from.push(position.file);
            }
        }
        match self.ends.iter_mut().find(|p| p.file == position.file) {
            Some(end) => *end = position,
            None => self.ends.push(position),
        }
        if self.good.len() + self.bad.len() >= self.batch_events {
            self.flush();
        }
    }

    /// Sends the batch once it is due.
    pub(super) fn flush(&mut self) {
        if self.halted || (self.good.is_empty() && self.bad.is_empty()) {
            return;
        }
        if let (Some(speed), Some((t0, w0)), Some(first)) =
            (self.replay.speed, self.origin, self.first)
        {
            let ahead_nanos = (first - t0).max(0) as f64 / speed;
            let due = w0 + Duration::from_secs_f64((ahead_nanos / 1e9).min(1e12));
            let now = Instant::now();
            if due > now {
                if let Some(bar) = &self.bar {
                    bar.update(|c| c.waiting_for(first));
                }
                let mut shutdown = self.ctx.shutdown.clone();
                self.handle.block_on(async {
                    tokio::select! {
                        () = tokio::time::sleep_until(tokio::time::Instant::from_std(due)) => {}
                        () = shutdown.recv() => {}
                    }
                });
                self.waited_on_clock += now.elapsed();
            }
        }
        if self.ctx.shutdown.is_shutdown() {
            // Not due yet and not accepted into the graph: left unread (a
            // checkpoint resumes before it).
            self.halted = true;
            return;
        }
        self.first = None;
        let last = self.last.take();
        let mut good = std::mem::replace(&mut self.good, Vec::with_capacity(self.batch_events));
        let mut bad = std::mem::take(&mut self.bad);
        self.acknowledge(&mut good, &mut bad);
        let sending = Instant::now();
        let sent = self.handle.block_on(self.ctx.emit(good, bad));
        self.waited_on_graph += sending.elapsed();
        self.halted = sent.is_err();
        if let (Some(bar), Some(t), false) = (&self.bar, last, self.halted) {
            bar.update(|c| c.sent(t));
        }
    }

    /// Gives every event of the batch the handle of its input's part of
    /// the batch, which commits that input up to where the batch took it.
    fn acknowledge(&mut self, good: &mut [Event], bad: &mut [Event]) {
        let ends = std::mem::take(&mut self.ends);
        let (good_from, bad_from) = (
            std::mem::take(&mut self.good_from),
            std::mem::take(&mut self.bad_from),
        );
        let Some(tx) = &self.tx else { return };
        let acks: Vec<(usize, Ack)> = ends
            .iter()
            .map(|p| {
                let seq = self.next_seq.entry(p.file).or_insert(0);
                let data = AckData::Offset {
                    file: p.file,
                    end: p.offset,
                    line: p.line,
                };
                let ack = Ack::new(*seq, data, tx);
                *seq += 1;
                (p.file, ack)
            })
            .collect();
        let events = good
            .iter_mut()
            .zip(good_from)
            .chain(bad.iter_mut().zip(bad_from));
        for (event, file) in events {
            event.ack = acks
                .iter()
                .find(|(f, _)| *f == file)
                .map(|(_, a)| a.clone());
        }
    }
}
