//! Decoding off the reading thread, in order.
//!
//! A line-oriented source used to read, frame *and* decode on one thread,
//! and that thread capped the whole pipeline: checking that a line is
//! canonical JSON costs several times what finding its newline does. Now
//! the reader only frames lines into a [`RawBatch`] (their bytes copied
//! one after another into one buffer) and hands it here: it is decoded on
//! the shared [`pool`](crate::kit::pool), several batches at once, and a sender task
//! emits the decoded batches strictly in the order they were handed
//! over, so sequence numbers, acknowledgements and ordered sinks see
//! exactly what a serial reader would have sent. Events keep their text
//! as slices of the batch's shared buffer: no allocation per line.
//!
//! At most [`in_flight`] batches wait to be sent: the reader blocks when
//! they are all taken, which is the source's backpressure.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::kit::ack::Ack;
use crate::kit::codec::{Codec, Line, decode_shared};
use crate::kit::edge::Closed;
use crate::kit::event::Event;
use crate::kit::pool;
use crate::sources::SourceContext;

/// Batches of fewer lines are decoded on the reading thread: a trickle (a
/// terminal, a slowly growing file) gains nothing from a hop to another
/// thread, and keeps its latency.
const INLINE_LINES: usize = 32;

/// Batches handed over and not yet sent: enough to keep every core
/// decoding, few enough that memory stays a small multiple of one batch.
fn in_flight() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8)) + 1
}

/// One framed line of a [`RawBatch`]: its number, where its bytes are,
/// and for a line over the limit, its full length (only a prefix is kept).
struct RawLine {
    no: u64,
    range: Range<usize>,
    too_long: Option<usize>,
}

/// Framed lines not yet decoded, their bytes one after another in one buffer.
#[derive(Default)]
pub struct RawBatch {
    buf: Vec<u8>,
    lines: Vec<RawLine>,
}

/// Decoded events and error events of one batch.
type Decoded = (Vec<Event>, Vec<Event>);

impl RawBatch {
    /// An empty batch sized like `prev` (batches of one input look alike).
    pub fn sized_like(prev: &RawBatch) -> RawBatch {
        RawBatch {
            buf: Vec::with_capacity(prev.buf.capacity()),
            lines: Vec::with_capacity(prev.lines.capacity()),
        }
    }

    /// Adds one framed line.
    pub fn push(&mut self, no: u64, line: Line<'_>) {
        let (bytes, too_long) = match line {
            Line::Complete(b) | Line::Last(b) => (b, None),
            Line::TooLong { prefix, len } => (prefix, Some(len)),
        };
        let start = self.buf.len();
        self.buf.extend_from_slice(bytes);
        self.lines.push(RawLine {
            no,
            range: start..self.buf.len(),
            too_long,
        });
    }

    /// Lines in the batch.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether the batch holds no line.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Decodes every line; every event gets `ack`.
    fn decode(self, codec: Codec, stage: &str, ack: Option<&Ack>) -> Decoded {
        let buf = Bytes::from(self.buf);
        let mut good = Vec::with_capacity(self.lines.len());
        let mut bad = Vec::new();
        for l in &self.lines {
            let bytes = &buf[l.range.clone()];
            let line = match l.too_long {
                Some(len) => Line::TooLong { prefix: bytes, len },
                None => Line::Complete(bytes),
            };
            match decode_shared(codec, stage, l.no, line, &buf) {
                Some(Ok(e)) => good.push(e),
                Some(Err(e)) => bad.push(e),
                None => {}
            }
        }
        if let Some(ack) = ack {
            for e in good.iter_mut().chain(bad.iter_mut()) {
                e.ack = Some(ack.clone());
            }
        }
        (good, bad)
    }
}

/// A batch on its way: decoded already, or being decoded.
enum Job {
    Ready(u64, Decoded),
    Later(u64, oneshot::Receiver<pool::Outcome<Decoded>>),
}

/// Decodes batches in parallel and sends them in order (see the module doc).
pub struct Decoder {
    codec: Codec,
    stage: Arc<str>,
    handle: Handle,
    queue: Option<mpsc::Sender<Job>>,
    sender: Option<JoinHandle<Result<(), Closed>>>,
}

impl Decoder {
    /// A decoder sending into `ctx`'s outputs.
    pub fn new(ctx: &SourceContext, codec: Codec, handle: &Handle) -> Decoder {
        let (queue, mut jobs) = mpsc::channel::<Job>(in_flight());
        let mut out = ctx.clone();
        let sender = handle.spawn(async move {
            while let Some(job) = jobs.recv().await {
                let (origin, (good, bad)) = match job {
                    Job::Ready(origin, decoded) => (origin, decoded),
                    Job::Later(origin, decoding) => match decoding.await {
                        Ok(Ok(decoded)) => (origin, decoded),
                        // A bug in decoding: the reader's thread re-raises
                        // it (see `finish`), where panics are reported.
                        Ok(Err(panic)) => std::panic::resume_unwind(panic),
                        Err(_) => return Err(Closed),
                    },
                };
                out.emit_on(origin, good, bad).await?;
            }
            Ok(())
        });
        Decoder {
            codec,
            stage: ctx.name.as_str().into(),
            handle: handle.clone(),
            queue: Some(queue),
            sender: Some(sender),
        }
    }

    /// Queues `raw` of stream `origin` to be decoded and sent after
    /// everything queued before; waits while [`in_flight`] batches are
    /// queued. `Err` once nothing downstream is left.
    pub fn dispatch(&mut self, origin: u64, raw: RawBatch, ack: Option<Ack>) -> Result<(), Closed> {
        let Some(queue) = self.queue.as_ref() else {
            return Err(Closed);
        };
        let job = if raw.len() < INLINE_LINES {
            Job::Ready(origin, raw.decode(self.codec, &self.stage, ack.as_ref()))
        } else {
            let (codec, stage) = (self.codec, self.stage.clone());
            let decoding = pool::submit(move || raw.decode(codec, &stage, ack.as_ref()));
            Job::Later(origin, decoding)
        };
        self.handle.block_on(queue.send(job)).map_err(|_| Closed)
    }

    /// Waits until everything queued was sent; `Err` if downstream went
    /// away first.
    pub fn finish(&mut self) -> Result<(), Closed> {
        self.queue = None;
        match self.sender.take() {
            None => Ok(()),
            Some(sender) => match self.handle.block_on(sender) {
                Ok(sent) => sent,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => Err(Closed),
            },
        }
    }
}
