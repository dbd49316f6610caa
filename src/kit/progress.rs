//! Progress bars for file inputs, on stderr, only when stderr is a terminal
//! and `--quiet` is not given: one bar per input file with the bytes read of
//! its size, the events its source produced per second, and an ETA.
//!
//! A plain read's bar follows the reads: [`Tracked`] wraps the file (before
//! any gzip decoder, so a `.gz` bar counts compressed bytes of the file's
//! size). A replay reads ahead of its pace, so its bar ([`InputBar`])
//! follows the lines it has taken instead, in content bytes. A replay
//! bounded by `replay.to` has one bar per source in event time instead
//! ([`window`]): its window done and left, and an ETA from its speed,
//! which bytes cannot give. An update costs one atomic store in
//! indicatif. The events figure is read from the source's own counter
//! when the bar is drawn (a steady tick redraws it while a paced replay
//! waits), so the hot path pays nothing.

use std::io::{self, IsTerminal as _, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use indicatif::{HumanCount, MultiProgress, ProgressBar, ProgressState, ProgressStyle};

use crate::kit::counters::StageStats;

pub mod window;
pub use window::ReplayBar;

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

/// True when bars are drawn.
fn enabled() -> bool {
    ENABLED.load(Relaxed)
}

/// The bars of the process, drawn together.
fn bars() -> &'static MultiProgress {
    BARS.get_or_init(MultiProgress::new)
}

/// The `{events}` key: events counted in `stats` since now, and their
/// rate, read from the counter at each draw.
fn events_key(
    stats: &Arc<StageStats>,
) -> impl Fn(&ProgressState, &mut dyn std::fmt::Write) + Send + Sync + Clone + 'static {
    let (stats, start, started) = (stats.clone(), stats.events_in.load(Relaxed), Instant::now());
    move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
        let n = stats.events_in.load(Relaxed).saturating_sub(start);
        let per_s = n as f64 / started.elapsed().as_secs_f64().max(1e-3);
        let _ = write!(
            w,
            "{} events, {}/s",
            HumanCount(n),
            HumanCount(per_s as u64)
        );
    }
}

/// A bar for `path`, `total` bytes long, showing the events counted in
/// `stats` since now; `None` when bars are off.
pub fn input_bar(path: &Path, total: u64, stats: &Arc<StageStats>) -> Option<ProgressBar> {
    if !enabled() {
        return None;
    }
    let events = events_key(stats);
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
    let bar = bars().add(bar);
    bar.enable_steady_tick(REDRAW);
    Some(bar)
}

/// A bar moved by hand, cleared when dropped.
pub struct InputBar(ProgressBar);

impl InputBar {
    /// A bar for `path`, whose content (uncompressed) is [`content_size`]
    /// bytes; `None` when bars are off.
    pub fn start(path: &Path, stats: &Arc<StageStats>) -> Option<InputBar> {
        input_bar(path, content_size(path), stats).map(InputBar)
    }

    /// Moves the bar to `pos` bytes of content.
    pub fn set_position(&self, pos: u64) {
        self.0.set_position(pos);
    }
}

impl Drop for InputBar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

/// Bytes of content in `path`: its size, or for a `.gz` file the
/// uncompressed size its trailer records (ISIZE, exact below 4 GiB for a
/// single-member file; taken only if at least the compressed size).
pub fn content_size(path: &Path) -> u64 {
    use std::io::{Seek, SeekFrom};
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    if path.extension().is_none_or(|e| e != "gz") || size < 18 {
        return size;
    }
    let trailer = std::fs::File::open(path).and_then(|mut f| {
        f.seek(SeekFrom::End(-4))?;
        let mut b = [0u8; 4];
        f.read_exact(&mut b)?;
        Ok(u64::from(u32::from_le_bytes(b)))
    });
    trailer.map_or(size, |n| n.max(size))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_size_reads_the_gzip_trailer() {
        use std::io::Write as _;
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.jsonl");
        std::fs::write(&plain, "{}\n".repeat(1000)).unwrap();
        assert_eq!(content_size(&plain), 3000);
        let gz = dir.path().join("a.jsonl.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all("{}\n".repeat(1000).as_bytes()).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        assert!(std::fs::metadata(&gz).unwrap().len() < 3000);
        assert_eq!(content_size(&gz), 3000);
    }
}
