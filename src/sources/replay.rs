//! Replays on the `file` source (`replay = { ... }`): events paced by their
//! own timestamps, bounded by `from`/`to`, and several files merged in
//! timestamp order. One file per job:
//!
//! - `config.rs`: the settings and their validation, compiled into a
//!   [`Replay`];
//! - `time.rs`: reading an event's timestamp, and the bounds;
//! - `input.rs`: one replayed file, read a chunk at a time;
//! - `merge.rs`: several files merged by timestamp, a bounded number open;
//! - `pacer.rs`: batches cut and sent by event time;
//! - this file: [`run`], which wires them.
//!
//! **Determinism**: batch boundaries depend only on the data and the config
//! (never on the clock), and seeded stages draw their randomness per batch,
//! so a replay through ordered sinks gives the same bytes on every run.

use std::collections::BTreeMap;
use std::time::Instant;

use tokio::sync::mpsc::UnboundedSender;

use crate::kit::ack::AckToken;
use crate::kit::checkpoint::FilePosition;
use crate::kit::progress::ReplayBar;
use crate::sources::SourceContext;
use crate::sources::file::{Inputs, OpenFiles};

mod config;
mod input;
mod merge;
mod pacer;
mod time;
pub use config::{Bound, Merge, Replay, ReplayConfig};
use input::Opener;
pub use merge::MAX_OPEN;
use merge::merged;
pub use pacer::PACE_QUANTUM;
use pacer::Pacer;
pub use time::{MILLIS_FROM, Nanos};

/// Reads the files of `files` as a replay on the current (blocking) thread,
/// sending batches through `ctx`: from the checkpoint in `resume` when there
/// is one, with acknowledgements to `tx` when deliveries are tracked.
/// Returns once the input ends, shutdown is asked, or nothing downstream is
/// left.
pub fn run(
    files: &OpenFiles,
    replay: &Replay,
    resume: &BTreeMap<String, FilePosition>,
    tx: Option<UnboundedSender<AckToken>>,
    inputs: &Inputs,
    ctx: &mut SourceContext,
    handle: &tokio::runtime::Handle,
) -> anyhow::Result<()> {
    let started = Instant::now();
    // A window with an end gets one bar in event time; otherwise each file
    // gets a bar of its bytes.
    let bar = replay
        .to
        .and_then(|to| ReplayBar::start(&ctx.name, replay.from, to, replay.speed, &ctx.stats));
    let opener = Opener {
        files,
        resume,
        inputs,
        byte_bars: bar.is_none(),
    };
    let mut pacer = Pacer::new(replay, tx, ctx, handle, bar);
    let read = match replay.merge {
        Merge::Name => by_name(&opener, &mut pacer),
        Merge::Timestamp => merged(&opener, &mut pacer),
    };
    if read.is_ok() {
        pacer.flush();
    }
    // Busy: the time spent reading and decoding, not waiting on the graph
    // (backpressure) or on the clock (pacing).
    let busy = started
        .elapsed()
        .saturating_sub(pacer.waited_on_clock + pacer.waited_on_graph);
    let skipped = pacer.skipped;
    ctx.stats.add_busy(busy);
    if skipped > 0 {
        ctx.stats
            .skipped
            .fetch_add(skipped, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(
            "{}: {skipped} events outside replay.from/to were left out",
            ctx.name
        );
    }
    read
}

/// Files one after the other, in the order given (name order).
fn by_name(opener: &Opener<'_>, pacer: &mut Pacer) -> anyhow::Result<()> {
    for path in &opener.files.files {
        if pacer.halted() {
            break;
        }
        let mut input = opener.open(path, pacer.ctx)?;
        while let Some(item) = input.next(pacer.replay, pacer.ctx)? {
            pacer.push(item);
            if pacer.halted() {
                break;
            }
        }
    }
    Ok(())
}
