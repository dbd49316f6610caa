//! The read loop shared by line-oriented sources (`stdin`, `file`): frame
//! and batch here, decode and send in `decoder.rs`. It runs on a blocking
//! thread and blocks on the hand-over, so a full edge stops the reading.
//!
//! With acknowledgements, every batch carries an [`Ack`] recording where in
//! the input it ends (byte offset and line count), so the source can commit
//! exactly what was delivered.

use std::io::Read;

use tokio::sync::mpsc::UnboundedSender;

use crate::kit::ack::{Ack, AckData, AckToken};
use crate::kit::codec::{Codec, Line, LineReader};
use crate::kit::edge::Closed;
use crate::sources::SourceContext;

mod decoder;
use decoder::{Decoder, RawBatch};

/// Where a reader stands in one input.
#[derive(Debug, Clone, Copy, Default)]
pub struct Position {
    /// Index of the input in the source's list.
    pub file: usize,
    /// Byte offset of the next line.
    pub offset: u64,
    /// Lines before `offset`.
    pub line: u64,
}

/// Numbers a source's batches of one input and hands out their handles.
pub struct Acker {
    /// Where acknowledgements go (the source's committer).
    pub tx: UnboundedSender<AckToken>,
    /// Next batch number for this input.
    pub seq: u64,
}

/// One input being read: its stream id, position and optional acker.
pub struct Stream<'a> {
    /// Origin id of its batches (ordering key).
    pub origin: u64,
    /// Where reading stands.
    pub position: Position,
    /// Present when deliveries are acknowledged.
    pub acker: Option<&'a mut Acker>,
}

/// The batch being framed, and the decoder it goes to.
struct Pending<'s, 'a> {
    raw: RawBatch,
    stream: &'s mut Stream<'a>,
    decoder: Decoder,
    /// Largest batch.
    capacity: usize,
    /// Nothing downstream is left: further lines are ignored.
    closed: bool,
}

impl<'s, 'a> Pending<'s, 'a> {
    fn new(
        ctx: &SourceContext,
        codec: Codec,
        handle: &tokio::runtime::Handle,
        stream: &'s mut Stream<'a>,
    ) -> Self {
        Pending {
            raw: RawBatch::default(),
            stream,
            decoder: Decoder::new(ctx, codec, handle),
            capacity: ctx.batch_events,
            closed: false,
        }
    }

    /// Takes one framed line; hands the batch on once it is full.
    fn take(&mut self, no: u64, line: Line<'_>) {
        if self.closed {
            return;
        }
        let len = match line {
            Line::Complete(b) => b.len() as u64 + 1,
            Line::Last(b) => b.len() as u64,
            Line::TooLong { len, .. } => len as u64 + 1,
        };
        self.raw.push(no, line);
        self.stream.position.offset += len;
        self.stream.position.line = no;
        if self.raw.len() >= self.capacity {
            self.flush();
        }
    }

    /// Hands on what is pending; false once nothing downstream is left.
    fn flush(&mut self) -> bool {
        if !self.closed && !self.raw.is_empty() {
            self.closed = self.send().is_err();
        }
        !self.closed
    }

    /// Hands the pending batch to the decoder with its acknowledgement
    /// handle, which records where in the input the batch ends.
    fn send(&mut self) -> Result<(), Closed> {
        let next = RawBatch::sized_like(&self.raw);
        let raw = std::mem::replace(&mut self.raw, next);
        let ack = self.stream.acker.as_deref_mut().map(|acker| {
            let p = self.stream.position;
            let ack = Ack::new(
                acker.seq,
                AckData::Offset {
                    file: p.file,
                    end: p.offset,
                    line: p.line,
                },
                &acker.tx,
            );
            acker.seq += 1;
            ack
        });
        self.decoder.dispatch(self.stream.origin, raw, ack)
    }

    /// Hands on what is pending and waits until all of it was sent.
    fn finish(&mut self) -> Result<(), Closed> {
        let flushed = self.flush();
        let sent = self.decoder.finish();
        if flushed { sent } else { Err(Closed) }
    }
}

/// Reads `input` to its end (or until shutdown), sending batches of at most
/// `ctx.batch_events` events as soon as they fill, and whatever a read
/// produced at the end of each read: it never waits to fill a batch.
pub fn pump(
    input: impl Read,
    codec: Codec,
    max_line: usize,
    ctx: &mut SourceContext,
    handle: &tokio::runtime::Handle,
    stream: &mut Stream<'_>,
) -> std::io::Result<Result<(), Closed>> {
    let mut reader = LineReader::new(input, max_line);
    reader.set_next_line(stream.position.line + 1);
    let mut pending = Pending::new(ctx, codec, handle, stream);
    let mut last_bytes = 0;
    loop {
        let more = reader.read_chunk(|no, line| pending.take(no, line))?;
        ctx.add_bytes(reader.bytes_read - last_bytes);
        last_bytes = reader.bytes_read;
        if !pending.flush() {
            return Ok(pending.finish());
        }
        if !more || ctx.shutdown.is_shutdown() {
            return Ok(pending.finish());
        }
    }
}

/// What [`follow`] should do when the input has nothing new.
pub enum Idle {
    /// Keep waiting for more in the same input.
    Wait,
    /// The input was rotated away: finish it, then stop.
    Rotated,
    /// The input was truncated: stop (the caller reopens it from the start).
    Truncated,
    /// Shutdown: stop.
    Stop,
}

/// Reads a growing input like `tail -F`: at its end, asks `idle` what to do
/// (it sleeps, checks for rotation and truncation). A partial last line is
/// kept until its newline arrives, or emitted when the file is rotated.
pub fn follow(
    input: impl Read,
    codec: Codec,
    max_line: usize,
    ctx: &mut SourceContext,
    handle: &tokio::runtime::Handle,
    stream: &mut Stream<'_>,
    mut idle: impl FnMut(u64) -> Idle,
) -> std::io::Result<(Result<(), Closed>, Idle)> {
    let mut reader = LineReader::new(input, max_line);
    reader.set_next_line(stream.position.line + 1);
    let mut pending = Pending::new(ctx, codec, handle, stream);
    loop {
        let n = reader.read_more(|no, line| pending.take(no, line))?;
        ctx.add_bytes(n as u64);
        if !pending.flush() {
            return Ok((pending.finish(), Idle::Stop));
        }
        if n > 0 {
            // A file that grows faster than it is read never reaches its
            // end: without this, a stop (SIGTERM, a reload) would wait
            // for the writer to pause.
            if ctx.shutdown.is_shutdown() {
                return Ok((pending.finish(), Idle::Stop));
            }
            continue;
        }
        // What was handed on is sent meanwhile, by the decoder's sender.
        match idle(pending.stream.position.offset) {
            Idle::Wait => {}
            Idle::Rotated => {
                // Whatever reached the old file before it was renamed away
                // is still read, then its unterminated last line.
                loop {
                    let n = reader.read_more(|no, line| pending.take(no, line))?;
                    if n == 0 {
                        break;
                    }
                    ctx.add_bytes(n as u64);
                }
                reader.finish(|no, line| pending.take(no, line));
                return Ok((pending.finish(), Idle::Rotated));
            }
            other => return Ok((pending.finish(), other)),
        }
    }
}
