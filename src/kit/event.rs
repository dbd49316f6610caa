//! The unit of data that flows through the graph: [`Event`]s travel in [`Batch`]es.
//!
//! An event is a jq value (the `jaq_json::Val` type, shared-pointer based, so a
//! fan-out copy is a reference-count bump, not a deep clone) plus the line it
//! came from. Batches carry the ordering key: the `origin` they descend from and
//! a dense per-origin sequence number `seq`, which ordered sinks use to restore
//! source order after N workers have shuffled them.

use bytes::Bytes;
use jaq_json::Val;

use crate::kit::ack::Ack;

/// One event: a JSON value, its raw text when known, and the input line it
/// was read from.
///
/// A source that reads a line already in canonical compact form keeps only
/// the text: the value is parsed the first time a stage asks for it, and a
/// sink writes the text as it is. A stage that changes the value drops the
/// text. At least one of the two is always present.
#[derive(Clone, Debug)]
pub struct Event {
    /// The JSON text of the value, exactly as a sink would write it.
    raw: Option<Bytes>,
    /// The parsed value.
    value: Option<Val>,
    /// 1-based input line number, or 0 when the event did not come from a line.
    pub line: u64,
    /// The acknowledgement handle of the source batch this event derives
    /// from, when its source wants to know it was delivered.
    pub ack: Option<Ack>,
}

impl Event {
    /// An event that did not come from an input line.
    pub fn new(value: Val) -> Self {
        Self::with_line(value, 0)
    }

    /// An event holding `value`, read from line `line`.
    pub fn with_line(value: Val, line: u64) -> Self {
        Event {
            raw: None,
            value: Some(value),
            line,
            ack: None,
        }
    }

    /// An event known only by its canonical JSON text (see
    /// [`crate::kit::json::is_canonical`]).
    pub fn from_raw(raw: Bytes, line: u64) -> Self {
        Event {
            raw: Some(raw),
            value: None,
            line,
            ack: None,
        }
    }

    /// A new event from canonical text, derived from this one (same line,
    /// same acknowledgement).
    pub fn derive_raw(&self, raw: Bytes) -> Event {
        Event {
            raw: Some(raw),
            value: None,
            line: self.line,
            ack: self.ack.clone(),
        }
    }

    /// A copy without the acknowledgement handle (a tap's copy): whatever
    /// becomes of it, it never holds back or fails the original's delivery.
    pub fn detached(&self) -> Event {
        Event {
            raw: self.raw.clone(),
            value: self.value.clone(),
            line: self.line,
            ack: None,
        }
    }

    /// This event turned into an error event for `stage` (it keeps the
    /// acknowledgement: the error output is a delivery like any other).
    pub fn into_error(self, stage: &str, reason: &str) -> Event {
        let (line, ack) = (self.line, self.ack.clone());
        let mut e = error_event(stage, reason, self.into_value(), line);
        e.ack = ack;
        e
    }

    /// The value if it is already parsed.
    pub fn parsed(&self) -> Option<&Val> {
        self.value.as_ref()
    }

    /// The canonical JSON text, when the value has not been changed since it
    /// was read.
    pub fn raw(&self) -> Option<&[u8]> {
        self.raw.as_deref()
    }

    /// The value, parsed from the text on first use.
    pub fn value(&mut self) -> Result<&Val, String> {
        if self.value.is_none() {
            self.value = Some(self.parse()?);
        }
        Ok(self.value.as_ref().expect("set just above"))
    }

    /// The value (a cheap clone: values share their contents).
    pub fn to_value(&mut self) -> Result<Val, String> {
        self.value().cloned()
    }

    /// The value, for building an error event: the raw text as a string if it
    /// cannot be parsed (which a canonical text always can).
    pub fn into_value(mut self) -> Val {
        match self.value.take() {
            Some(v) => v,
            None => self.parse().unwrap_or_else(|_| {
                Val::from(
                    String::from_utf8_lossy(self.raw.as_deref().unwrap_or_default()).into_owned(),
                )
            }),
        }
    }

    /// True when `v` is this event's own value, unchanged (the same shared
    /// object or array, or an equal scalar); then the raw text still holds.
    pub fn is_same_value(&self, v: &Val) -> bool {
        match (&self.value, v) {
            (Some(Val::Obj(a)), Val::Obj(b)) => jaq_json::Rc::ptr_eq(a, b),
            (Some(Val::Arr(a)), Val::Arr(b)) => jaq_json::Rc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// Keeps the raw text with a value known to be this event's own.
    pub fn derived(&self, value: Val) -> Event {
        let raw = if self.is_same_value(&value) {
            self.raw.clone()
        } else {
            None
        };
        Event {
            raw,
            value: Some(value),
            line: self.line,
            ack: self.ack.clone(),
        }
    }

    fn parse(&self) -> Result<Val, String> {
        let raw = self.raw.as_deref().unwrap_or_default();
        // Raw text passed `is_canonical`, which bounds its depth already;
        // the check is cheap next to the parse and keeps the bound local.
        crate::kit::json::parse_limited(raw)
    }
}

/// A chunk of events moving along one edge.
///
/// Every stage forwards, for each batch it receives, one batch per port with
/// the same `origin`, `seq` and `parts`, even when the batch became empty;
/// or, when its output is larger than a batch, several parts that extend
/// `parts` by one level, the final one marked `last`. That keeps sequences
/// dense on every edge, so an ordered sink knows which batch comes next.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// Identifies the stream the sequence numbers count: a source, or a source
    /// seen through one input of a fan-in stage.
    pub origin: u64,
    /// Dense, 0-based position of this batch in its origin's stream.
    pub seq: u64,
    /// Index of the input (in the consuming stage's `inputs`) this batch came
    /// through; stamped by the edge when it is sent.
    pub lane: u32,
    /// Where this batch sits within the output of the batch at `seq`: one
    /// level per stage that split its output into parts; empty when whole.
    pub parts: Vec<Part>,
    /// The origin's stream ends with this batch (a connection closed): an
    /// ordered sink that released it forgets the origin. Only ever set on a
    /// final part.
    pub end: bool,
    /// The events, in source order.
    pub events: Vec<Event>,
    /// For a batch on its way to an ordered sink: one of its source's
    /// in-flight permits, returned when the last copy of the batch is gone
    /// (this bounds every reorder buffer, see `topology::source_outputs`).
    pub permit: Option<Permit>,
}

/// One level of a batch's position within a split output: the `index` of
/// the part, and whether it is the `last` part at that level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    /// 0-based, dense among the parts of one output.
    pub index: u32,
    /// No part with a higher index follows at this level.
    pub last: bool,
}

/// The ordering key of an input batch, which every batch a stage forwards
/// for it inherits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Key {
    /// The batch's origin (after fan-in mixing).
    pub origin: u64,
    /// Its sequence number.
    pub seq: u64,
    /// Its position within a split output.
    pub parts: Vec<Part>,
    /// Its origin's stream ends with it.
    pub end: bool,
}

impl Key {
    /// The key of a whole batch at `seq` of `origin`.
    pub fn new(origin: u64, seq: u64) -> Self {
        Key {
            origin,
            seq,
            parts: Vec::new(),
            end: false,
        }
    }

    /// A batch of `events` with this key.
    pub fn batch(&self, events: Vec<Event>) -> Batch {
        Batch {
            parts: self.parts.clone(),
            end: self.end,
            ..Batch::new(self.origin, self.seq, events)
        }
    }

    /// The key of part `index` of an output split at this key; only the
    /// last part keeps the end of the stream.
    pub fn part(&self, index: u32, last: bool) -> Key {
        let mut parts = self.parts.clone();
        parts.push(Part { index, last });
        Key {
            origin: self.origin,
            seq: self.seq,
            parts,
            end: self.end && last,
        }
    }
}

/// A share of a source's in-flight budget, held by a batch and its copies.
pub type Permit = std::sync::Arc<tokio::sync::OwnedSemaphorePermit>;

impl Batch {
    /// A batch of `events` at position `seq` of stream `origin`.
    pub fn new(origin: u64, seq: u64, events: Vec<Event>) -> Self {
        Batch {
            origin,
            seq,
            lane: 0,
            parts: Vec::new(),
            end: false,
            events,
            permit: None,
        }
    }

    /// True when no later part of this batch's `seq` follows it.
    pub fn is_final_part(&self) -> bool {
        self.parts.iter().all(|p| p.last)
    }

    /// Number of events in the batch.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True when the batch holds no event (it still carries its place in the order).
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

/// Mixes two identifiers into one origin id (FNV-style, stable across runs).
pub fn mix_origin(origin: u64, lane: u32) -> u64 {
    let mut h = origin ^ 0xcbf2_9ce4_8422_2325;
    h = h.wrapping_mul(0x0100_0000_01b3) ^ u64::from(lane);
    h.wrapping_mul(0x0100_0000_01b3)
}

/// Stable 64-bit hash of a stage name, used as the origin id of a source.
pub fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Builds the error event that the spec fixes:
/// `{"error": reason, "stage": name, "input": original, "line": N}`.
pub fn error_event(stage: &str, reason: &str, input: Val, line: u64) -> Event {
    let mut map = jaq_json::Map::default();
    map.insert(
        Val::from(String::from("error")),
        Val::from(reason.to_string()),
    );
    map.insert(
        Val::from(String::from("stage")),
        Val::from(stage.to_string()),
    );
    map.insert(Val::from(String::from("input")), input);
    if line > 0 {
        map.insert(Val::from(String::from("line")), Val::from(line as isize));
    }
    Event::with_line(Val::obj(map), line)
}

/// Marks the batches of `events` failed: they were not written (see
/// [`Ack::fail`]).
pub fn fail_events(events: &[Event]) {
    for a in events.iter().filter_map(|e| e.ack.as_ref()) {
        a.fail();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::ack::AckData;
    use tokio::sync::mpsc;

    #[test]
    fn fail_events_marks_every_batch_involved() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut events = Vec::new();
        for seq in 0..2 {
            let mut e = Event::new(Val::from(1isize));
            e.ack = Some(Ack::new(seq, AckData::Ids(vec![seq.to_string()]), &tx));
            events.push(e);
        }
        fail_events(&events);
        drop(events);
        assert!(rx.try_recv().unwrap().failed);
        assert!(rx.try_recv().unwrap().failed);
    }
}
