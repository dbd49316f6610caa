//! The read loop shared by line-oriented sources (`stdin`, `file`): frame,
//! decode, batch, send. It runs on a blocking thread and blocks on the send,
//! so a full edge stops the reading.

use std::io::Read;

use crate::codec::{Codec, LineReader, decode};
use crate::event::Event;
use crate::sources::SourceContext;
use crate::topology::edge::Closed;

/// Reads `input` to its end (or until shutdown), sending batches of at most
/// `ctx.batch_events` events as soon as they fill, and whatever a read
/// produced at the end of each read: it never waits to fill a batch.
pub fn pump(
    input: impl Read,
    codec: Codec,
    max_line: usize,
    ctx: &mut SourceContext,
    handle: &tokio::runtime::Handle,
) -> std::io::Result<Result<(), Closed>> {
    let mut reader = LineReader::new(input, max_line);
    let mut good: Vec<Event> = Vec::with_capacity(ctx.batch_events);
    let mut bad: Vec<Event> = Vec::new();
    let mut closed = false;
    let mut last_bytes = 0;
    loop {
        let batch_events = ctx.batch_events;
        let more = reader.read_chunk(|no, line| {
            if closed {
                return;
            }
            match decode(codec, &ctx.name, no, line) {
                Some(Ok(e)) => good.push(e),
                Some(Err(e)) => bad.push(e),
                None => {}
            }
            if good.len() + bad.len() >= batch_events {
                let g = std::mem::replace(&mut good, Vec::with_capacity(batch_events));
                closed = handle
                    .block_on(ctx.emit(g, std::mem::take(&mut bad)))
                    .is_err();
            }
        })?;
        ctx.add_bytes(reader.bytes_read - last_bytes);
        last_bytes = reader.bytes_read;
        if !closed && (!good.is_empty() || !bad.is_empty()) {
            let g = std::mem::replace(&mut good, Vec::with_capacity(batch_events));
            closed = handle
                .block_on(ctx.emit(g, std::mem::take(&mut bad)))
                .is_err();
        }
        if closed {
            return Ok(Err(Closed));
        }
        if !more || ctx.shutdown.is_shutdown() {
            return Ok(Ok(()));
        }
    }
}
