//! The read loop shared by line-oriented sources (`stdin`, `file`): frame,
//! decode, batch, send. It runs on a blocking thread and blocks on the send,
//! so a full edge stops the reading.
//!
//! With acknowledgements, every batch carries an [`Ack`] recording where in
//! the input it ends (byte offset and line count), so the source can commit
//! exactly what was delivered.

use std::io::Read;

use tokio::sync::mpsc::UnboundedSender;

use crate::kit::ack::{Ack, AckData, AckToken};
use crate::kit::codec::{Codec, Line, LineReader, decode};
use crate::kit::edge::Closed;
use crate::kit::event::Event;
use crate::sources::SourceContext;

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

/// The batch being filled, and how lines become events.
struct Pending<'s, 'a> {
    good: Vec<Event>,
    bad: Vec<Event>,
    stream: &'s mut Stream<'a>,
    codec: Codec,
    name: String,
    /// Largest batch.
    capacity: usize,
    /// Nothing downstream is left: further lines are ignored.
    closed: bool,
}

impl<'s, 'a> Pending<'s, 'a> {
    fn new(ctx: &SourceContext, codec: Codec, stream: &'s mut Stream<'a>) -> Self {
        Pending {
            good: Vec::with_capacity(ctx.batch_events),
            bad: Vec::new(),
            stream,
            codec,
            name: ctx.name.clone(),
            capacity: ctx.batch_events,
            closed: false,
        }
    }

    /// Takes one framed line; sends the batch once it is full.
    fn take(
        &mut self,
        no: u64,
        line: Line<'_>,
        ctx: &mut SourceContext,
        handle: &tokio::runtime::Handle,
    ) {
        if self.closed {
            return;
        }
        self.push(no, line);
        if self.len() >= self.capacity {
            self.flush(ctx, handle);
        }
    }

    /// Sends what is pending; false once nothing downstream is left.
    fn flush(&mut self, ctx: &mut SourceContext, handle: &tokio::runtime::Handle) -> bool {
        if !self.closed {
            self.closed = self.send(ctx, handle).is_err();
        }
        !self.closed
    }

    fn push(&mut self, no: u64, line: Line<'_>) {
        let len = match line {
            Line::Complete(b) => b.len() as u64 + 1,
            Line::Last(b) => b.len() as u64,
            Line::TooLong { len, .. } => len as u64 + 1,
        };
        match decode(self.codec, &self.name, no, line) {
            Some(Ok(e)) => self.good.push(e),
            Some(Err(e)) => self.bad.push(e),
            None => {}
        }
        self.stream.position.offset += len;
        self.stream.position.line = no;
    }

    fn len(&self) -> usize {
        self.good.len() + self.bad.len()
    }

    /// Sends what is pending, if anything, with its acknowledgement handle.
    fn send(
        &mut self,
        ctx: &mut SourceContext,
        handle: &tokio::runtime::Handle,
    ) -> Result<(), Closed> {
        if self.good.is_empty() && self.bad.is_empty() {
            return Ok(());
        }
        let mut good = std::mem::replace(&mut self.good, Vec::with_capacity(self.capacity));
        let mut bad = std::mem::take(&mut self.bad);
        if let Some(acker) = self.stream.acker.as_deref_mut() {
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
            for e in good.iter_mut().chain(bad.iter_mut()) {
                e.ack = Some(ack.clone());
            }
        }
        handle.block_on(ctx.emit_on(self.stream.origin, good, bad))
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
    let mut pending = Pending::new(ctx, codec, stream);
    let mut last_bytes = 0;
    loop {
        let more = reader.read_chunk(|no, line| pending.take(no, line, ctx, handle))?;
        ctx.add_bytes(reader.bytes_read - last_bytes);
        last_bytes = reader.bytes_read;
        if !pending.flush(ctx, handle) {
            return Ok(Err(Closed));
        }
        if !more || ctx.shutdown.is_shutdown() {
            return Ok(Ok(()));
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
    let mut pending = Pending::new(ctx, codec, stream);
    loop {
        let n = reader.read_more(|no, line| pending.take(no, line, ctx, handle))?;
        ctx.add_bytes(n as u64);
        if !pending.flush(ctx, handle) {
            return Ok((Err(Closed), Idle::Stop));
        }
        if n > 0 {
            // A file that grows faster than it is read never reaches its
            // end: without this, a stop (SIGTERM, a reload) would wait
            // for the writer to pause.
            if ctx.shutdown.is_shutdown() {
                return Ok((Ok(()), Idle::Stop));
            }
            continue;
        }
        match idle(pending.stream.position.offset) {
            Idle::Wait => {}
            Idle::Rotated => {
                // Whatever reached the old file before it was renamed away
                // is still read, then its unterminated last line.
                loop {
                    let n = reader.read_more(|no, line| pending.take(no, line, ctx, handle))?;
                    if n == 0 {
                        break;
                    }
                    ctx.add_bytes(n as u64);
                }
                reader.finish(|no, line| pending.take(no, line, ctx, handle));
                let sent = if pending.flush(ctx, handle) {
                    Ok(())
                } else {
                    Err(Closed)
                };
                return Ok((sent, Idle::Rotated));
            }
            other => return Ok((Ok(()), other)),
        }
    }
}
