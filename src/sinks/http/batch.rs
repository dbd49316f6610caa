//! How an `http` sink's events become request bodies: the batch being
//! filled ([`Batcher`]), closed by count, by bytes or by age
//! (`batch = { max_events, max_bytes, timeout }`), and the closed batch
//! ([`Sealed`]) with its final body, NDJSON or a JSON array, gzipped or
//! not, and the events it holds until the peer answers.

use std::io::Write as _;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Deserialize;

use crate::kit::codec::Codec;
use crate::kit::duration;
use crate::kit::event::Event;
use crate::sinks::held::Held;

/// `batch = { max_events = 1000, max_bytes = "1MiB", timeout = "1s" }`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// A batch holding this many events is sent at once.
    #[serde(default = "default_max_events")]
    pub max_events: usize,
    /// A batch whose body (before compression) would grow past this many
    /// bytes is sent without the event that would overflow it; a single
    /// event larger than this goes alone.
    #[serde(
        default = "default_max_bytes",
        deserialize_with = "super::size::deserialize"
    )]
    pub max_bytes: usize,
    /// A batch is sent at the latest this long after its first event came,
    /// however small it is, so that a quiet input is not held back.
    #[serde(
        default = "default_timeout",
        deserialize_with = "duration::deserialize"
    )]
    pub timeout: Duration,
}

fn default_max_events() -> usize {
    1000
}

fn default_max_bytes() -> usize {
    1 << 20
}

fn default_timeout() -> Duration {
    Duration::from_secs(1)
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_events: default_max_events(),
            max_bytes: default_max_bytes(),
            timeout: default_timeout(),
        }
    }
}

/// `encoding`: how the events of a batch form the body.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// One compact JSON value per line (`application/x-ndjson`).
    #[default]
    Ndjson,
    /// One JSON array of the events (`application/json`).
    JsonArray,
}

impl Encoding {
    /// The `Content-Type` of a body in this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Ndjson => "application/x-ndjson",
            Encoding::JsonArray => "application/json",
        }
    }
}

/// `compression`: what is done to the body before it is sent.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// Sent as it is.
    #[default]
    None,
    /// gzip (flate2's default level 6), `Content-Encoding: gzip`.
    Gzip,
}

/// The batch being filled.
pub struct Batcher {
    limits: BatchConfig,
    encoding: Encoding,
    compression: Compression,
    /// The events in the body so far.
    events: Vec<Event>,
    /// The body so far, uncompressed (a JSON array without its `]`).
    body: Vec<u8>,
    /// When the first event came: the batch is due `timeout` later.
    opened: Option<Instant>,
    /// One event's encoding, before it is known to fit.
    scratch: Vec<u8>,
}

/// A batch closed for sending: the final body and the events it carries.
pub struct Sealed {
    /// The events, held until the peer answered: acknowledged on a 2xx,
    /// given to `errors` otherwise, failed if the sink stops before.
    pub events: Held,
    /// The body, uncompressed.
    pub body: Bytes,
    /// What [`Sealed::wire_body`] does to it.
    compression: Compression,
}

impl Sealed {
    /// The body as it goes on the wire. Compression runs off the sink's
    /// thread, on tokio's blocking pool, inside the request's future: the
    /// batches in flight compress in parallel and the sink goes on
    /// batching meanwhile (on the sink's thread, gzip was the bottleneck).
    pub async fn wire_body(&self) -> Bytes {
        match self.compression {
            Compression::None => self.body.clone(),
            Compression::Gzip => {
                let raw = self.body.clone();
                match tokio::task::spawn_blocking(move || gzip(&raw)).await {
                    Ok(z) => Bytes::from(z),
                    // The pool is shutting down: compress here.
                    Err(_) => Bytes::from(gzip(&self.body)),
                }
            }
        }
    }
}

impl Batcher {
    /// An empty batch under these settings.
    pub fn new(limits: BatchConfig, encoding: Encoding, compression: Compression) -> Batcher {
        Batcher {
            limits,
            encoding,
            compression,
            events: Vec::new(),
            body: Vec::new(),
            opened: None,
            scratch: Vec::new(),
        }
    }

    /// True when no event waits.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// When the batch must be sent however small it is (far in the future
    /// while it is empty).
    pub fn due(&self) -> Instant {
        match self.opened {
            Some(t) => t + self.limits.timeout,
            None => Instant::now() + crate::kit::limits::MAX_DURATION,
        }
    }

    /// Adds `event`; returns the batch closed by it: the batch before it
    /// when the event would take the body past `max_bytes` (the event then
    /// opens the next one), or the batch it completed to `max_events`.
    pub fn push(&mut self, event: Event) -> Option<Sealed> {
        self.scratch.clear();
        event.encode(Codec::Json, &mut self.scratch);
        self.scratch.pop(); // the newline: re-added below for NDJSON only
        let mut sealed = None;
        // `[` `,` or `\n` around each value; `]` at the end.
        if !self.events.is_empty()
            && self.body.len() + self.scratch.len() + 2 > self.limits.max_bytes
        {
            sealed = Some(self.seal());
        }
        match self.encoding {
            Encoding::Ndjson => {
                self.body.extend_from_slice(&self.scratch);
                self.body.push(b'\n');
            }
            Encoding::JsonArray => {
                self.body
                    .push(if self.events.is_empty() { b'[' } else { b',' });
                self.body.extend_from_slice(&self.scratch);
            }
        }
        self.events.push(event);
        self.opened.get_or_insert_with(Instant::now);
        if sealed.is_none() && self.events.len() >= self.limits.max_events {
            sealed = Some(self.seal());
        }
        sealed
    }

    /// Closes the batch (it must hold an event) and starts an empty one.
    pub fn seal(&mut self) -> Sealed {
        let mut body = std::mem::take(&mut self.body);
        if self.encoding == Encoding::JsonArray {
            body.push(b']');
        }
        self.opened = None;
        // The next body will be about as large: spare its regrowth.
        self.body.reserve(body.len().min(self.limits.max_bytes));
        let mut events = Held::default();
        events.extend(std::mem::take(&mut self.events));
        Sealed {
            events,
            body: Bytes::from(body),
            compression: self.compression,
        }
    }
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4 + 64),
        flate2::Compression::default(),
    );
    // Writing into a Vec cannot fail.
    let _ = z.write_all(body);
    z.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(i: usize) -> Event {
        Event::from_raw(Bytes::from(format!("{{\"id\":{i}}}")), 0)
    }

    fn limits(max_events: usize, max_bytes: usize) -> BatchConfig {
        BatchConfig {
            max_events,
            max_bytes,
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn ndjson_batches_close_at_max_events() {
        let mut b = Batcher::new(limits(2, 1 << 20), Encoding::Ndjson, Compression::None);
        assert!(b.push(event(1)).is_none());
        let s = b.push(event(2)).expect("two events close it");
        assert_eq!(&s.body[..], b"{\"id\":1}\n{\"id\":2}\n");
        assert_eq!(s.events.len(), 2);
        assert!(b.is_empty());
        let mut s = s;
        s.events.delivered();
    }

    #[test]
    fn json_arrays_close_before_max_bytes_and_a_big_event_goes_alone() {
        // `[{"id":1},{"id":2}]` is 19 bytes; a third would pass 25.
        let mut b = Batcher::new(limits(100, 25), Encoding::JsonArray, Compression::None);
        assert!(b.push(event(1)).is_none());
        assert!(b.push(event(2)).is_none());
        let mut s = b.push(event(3)).expect("the third would overflow");
        assert_eq!(&s.body[..], b"[{\"id\":1},{\"id\":2}]");
        s.events.delivered();
        let mut s = b.seal();
        assert_eq!(&s.body[..], b"[{\"id\":3}]");
        s.events.delivered();
        let mut tiny = Batcher::new(limits(100, 4), Encoding::Ndjson, Compression::None);
        assert!(tiny.push(event(1)).is_none(), "alone, however large");
        let mut s = tiny.push(event(2)).unwrap();
        assert_eq!(s.events.len(), 1);
        s.events.delivered();
        tiny.seal().events.delivered();
    }

    #[tokio::test]
    async fn gzip_bodies_inflate_to_the_batch() {
        use std::io::Read;
        let mut b = Batcher::new(limits(3, 1 << 20), Encoding::Ndjson, Compression::Gzip);
        b.push(event(1));
        b.push(event(2));
        let mut s = b.push(event(3)).unwrap();
        let wire = s.wire_body().await;
        assert!(wire.starts_with(&[0x1f, 0x8b]), "a gzip member");
        let mut text = String::new();
        flate2::read::GzDecoder::new(&wire[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n");
        s.events.delivered();
    }

    #[test]
    fn a_batch_is_due_its_timeout_after_its_first_event() {
        let mut b = Batcher::new(limits(10, 1 << 20), Encoding::Ndjson, Compression::None);
        assert!(b.due() > Instant::now() + Duration::from_secs(3600));
        let before = Instant::now();
        b.push(event(1));
        assert!(b.due() >= before + Duration::from_secs(1));
        assert!(b.due() <= Instant::now() + Duration::from_secs(1));
        b.seal().events.delivered();
    }
}
