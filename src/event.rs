//! The unit of data that flows through the graph: [`Event`]s travel in [`Batch`]es.
//!
//! An event is a jq value (the `jaq_json::Val` type, shared-pointer based, so a
//! fan-out copy is a reference-count bump, not a deep clone) plus the line it
//! came from. Batches carry the ordering key: the `origin` they descend from and
//! a dense per-origin sequence number `seq`, which ordered sinks use to restore
//! source order after N workers have shuffled them.

use jaq_json::Val;

/// One event: a JSON value and, when known, the input line it was read from.
#[derive(Clone, Debug)]
pub struct Event {
    /// The payload, parsed once at the source and serialised once at the sink.
    pub value: Val,
    /// 1-based input line number, or 0 when the event did not come from a line.
    pub line: u64,
}

impl Event {
    /// An event that did not come from an input line.
    pub fn new(value: Val) -> Self {
        Event { value, line: 0 }
    }
}

/// A chunk of events moving along one edge.
///
/// Every stage forwards exactly one batch per port for each batch it receives,
/// with the same `origin` and `seq`, even when the batch became empty. That keeps
/// sequences dense on every edge, so an ordered sink knows which batch comes next.
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
    /// The events, in source order.
    pub events: Vec<Event>,
}

impl Batch {
    /// A batch of `events` at position `seq` of stream `origin`.
    pub fn new(origin: u64, seq: u64, events: Vec<Event>) -> Self {
        Batch {
            origin,
            seq,
            lane: 0,
            events,
        }
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
    Event {
        value: Val::obj(map),
        line,
    }
}
