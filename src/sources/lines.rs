//! The read loop shared by line-oriented sources (`stdin`, `file`): frame,
//! decode, batch, send. It runs on a blocking thread and blocks on the send,
//! so a full edge stops the reading.

use std::io::Read;

use crate::codec::{Codec, LineReader, decode};
use crate::event::Event;
use crate::sources::SourceContext;
use crate::topology::edge::Closed;

/// Reads `input` to its end (or until shutdown), sending batches of at most
/// `ctx.batch_events` events; never waits to fill a batch.
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
    let mut full: Vec<(Vec<Event>, Vec<Event>)> = Vec::new();
    let mut last_bytes = 0;
    loop {
        let batch_events = ctx.batch_events;
        let more = reader.read_chunk(|no, line| {
            match decode(codec, &ctx.name, no, line) {
                Some(Ok(e)) => good.push(e),
                Some(Err(e)) => bad.push(e),
                None => {}
            }
            if good.len() + bad.len() >= batch_events {
                full.push((
                    std::mem::replace(&mut good, Vec::with_capacity(batch_events)),
                    std::mem::take(&mut bad),
                ));
            }
        })?;
        ctx.add_bytes(reader.bytes_read - last_bytes);
        last_bytes = reader.bytes_read;
        if !good.is_empty() || !bad.is_empty() {
            full.push((std::mem::take(&mut good), std::mem::take(&mut bad)));
        }
        for (g, b) in full.drain(..) {
            if let Err(closed) = handle.block_on(ctx.emit(g, b)) {
                return Ok(Err(closed));
            }
        }
        if !more || ctx.shutdown.is_shutdown() {
            return Ok(Ok(()));
        }
    }
}
