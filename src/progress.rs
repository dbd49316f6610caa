//! Progress bars for file inputs, on stderr, only when stderr is a terminal
//! and `--quiet` is not given: one bar per input file with the bytes read of
//! its size, the events its source produced per second, and an ETA.
//!
//! A bar follows the reads: [`Tracked`] wraps the file (before any gzip
//! decoder, so a `.gz` bar counts compressed bytes of the file's size), and
//! a read costs one atomic store in indicatif. The events figure is read
//! from the source's own counter when the bar is drawn (a steady tick
//! redraws it while a paced replay waits), so the hot path pays nothing.

use std::io::{self, IsTerminal as _, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use indicatif::{HumanCount, MultiProgress, ProgressBar, ProgressState, ProgressStyle};

use crate::stats::StageStats;

/// Set by `sluice run` when stderr is a terminal and not `--quiet`.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Every bar of the process, drawn together so that several inputs (a
/// merged replay) do not overwrite each other's line.
static BARS: OnceLock<MultiProgress> = OnceLock::new();

/// How often a bar is redrawn even when no byte was read (a paced replay
/// waiting for its next event still shows its events/s and ETA move).
const REDRAW: Duration = Duration::from_millis(200);

/// Turns progress bars on when `wanted` and stderr is a terminal.
pub fn enable(wanted: bool) {
    ENABLED.store(wanted && io::stderr().is_terminal(), Relaxed);
}

/// A bar for `path`, `total` bytes long, showing the events counted in
/// `stats` since now; `None` when bars are off.
pub fn input_bar(path: &Path, total: u64, stats: &Arc<StageStats>) -> Option<ProgressBar> {
    if !ENABLED.load(Relaxed) {
        return None;
    }
    let (stats, start, started) = (stats.clone(), stats.events_in.load(Relaxed), Instant::now());
    let events = move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
        let n = stats.events_in.load(Relaxed).saturating_sub(start);
        let per_s = n as f64 / started.elapsed().as_secs_f64().max(1e-3);
        let _ = write!(
            w,
            "{} events, {}/s",
            HumanCount(n),
            HumanCount(per_s as u64)
        );
    };
    let style = ProgressStyle::with_template(
        "{prefix} [{bar:25}] {binary_bytes}/{binary_total_bytes} {events} ETA {eta}",
    )
    .ok()?
    .with_key("events", events)
    .progress_chars("=> ");
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    );
    let bar = ProgressBar::new(total).with_style(style).with_prefix(name);
    let bar = BARS.get_or_init(MultiProgress::new).add(bar);
    bar.enable_steady_tick(REDRAW);
    Some(bar)
}

/// A reader that moves its input's bar as bytes are read, and clears the
/// bar when dropped (the input is done, or failed).
pub struct Tracked<R> {
    inner: R,
    bar: Option<ProgressBar>,
    read: u64,
}

impl<R: Read> Tracked<R> {
    /// Tracks `inner` on `bar` (if any), starting at byte `start`.
    pub fn new(inner: R, bar: Option<ProgressBar>, start: u64) -> Self {
        if let Some(b) = &bar {
            b.set_position(start);
        }
        Tracked {
            inner,
            bar,
            read: start,
        }
    }
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(bar) = &self.bar {
            self.read += n as u64;
            bar.set_position(self.read);
        }
        Ok(n)
    }
}

impl<R> Drop for Tracked<R> {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
