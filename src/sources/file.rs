//! `type = "file"`: reads files matched by paths or globs, in name order;
//! `.gz` files are decompressed transparently.
//!
//! With `follow = true` each file is tailed like `tail -F`: read as it
//! grows, reopened from the start when truncated, and when renamed away the
//! rest of the old file is read before the new one at the same path.
//!
//! With `replay = { ... }` the events are paced by their own timestamps,
//! kept within a time range, and several files merged in time order (see
//! [`replay`](super::replay)).
//!
//! With `pipeline.data_dir` set, every batch carries an acknowledgement;
//! once all of its events are delivered, its end position is committed to
//! the checkpoint (per file, with the file's identity). A restart resumes
//! from there, so nothing acknowledged is read twice and nothing unread is
//! skipped.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::kit::ack::AckToken;
use crate::kit::checkpoint::{FileId, FilePosition};
use crate::kit::codec::{Codec, DEFAULT_MAX_LINE_BYTES};
use crate::kit::counters::StageStats;
use crate::kit::progress;
use crate::kit::thread;
use crate::sources::lines::{Acker, Idle, Position, Stream};
use crate::sources::replay::{Replay, ReplayConfig};
use crate::sources::{SourceContext, lines};

/// Settings of a `file` source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// One path or glob, or a list of them.
    #[serde(deserialize_with = "one_or_many")]
    pub path: Vec<String>,
    /// `json` (default) or `text`.
    #[serde(default)]
    pub codec: Codec,
    /// Longest accepted line; longer ones become error events.
    #[serde(default = "default_max_line")]
    pub max_line_bytes: usize,
    /// Keep reading as the files grow, across rotation and truncation, like
    /// `tail -F`; the source then never ends by itself.
    #[serde(default)]
    pub follow: bool,
    /// Start from the beginning even if `data_dir` holds positions.
    #[serde(default)]
    pub ignore_checkpoints: bool,
    /// Pace events by their timestamps, keep a time range, merge files.
    #[serde(default)]
    pub replay: Option<ReplayConfig>,
}

fn default_max_line() -> usize {
    DEFAULT_MAX_LINE_BYTES
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    match OneOrMany::deserialize(d) {
        Ok(OneOrMany::One(s)) => Ok(vec![s]),
        Ok(OneOrMany::Many(v)) => Ok(v),
        Err(_) => Err(serde::de::Error::custom(
            "expected a path or glob string, or an array of them",
        )),
    }
}

impl FileConfig {
    /// Expands the globs now, so that a path matching nothing is an error
    /// before the pipeline starts.
    pub fn open(&self) -> anyhow::Result<OpenFiles> {
        let mut files = Vec::new();
        for pattern in &self.path {
            let mut matched: Vec<PathBuf> = glob::glob(pattern)
                .with_context(|| format!("invalid glob `{pattern}`"))?
                .filter_map(Result::ok)
                .filter(|p| p.is_file())
                .collect();
            if matched.is_empty() {
                anyhow::bail!("no file matches `{pattern}`");
            }
            matched.sort();
            files.extend(matched);
        }
        files.dedup();
        let replay = match &self.replay {
            Some(r) => Some(r.compile().map_err(|problems| {
                let texts: Vec<String> = problems.into_iter().map(|(_, p)| p).collect();
                anyhow::anyhow!(texts.join("; "))
            })?),
            None => None,
        };
        Ok(OpenFiles {
            files,
            codec: self.codec,
            max_line: self.max_line_bytes,
            follow: self.follow,
            ignore_checkpoints: self.ignore_checkpoints,
            replay,
        })
    }
}

/// The files a `file` source will read, in order.
#[derive(Debug)]
pub struct OpenFiles {
    pub(super) files: Vec<PathBuf>,
    pub(super) codec: Codec,
    pub(super) max_line: usize,
    follow: bool,
    ignore_checkpoints: bool,
    /// Set for a replay: pacing, time range, merge order.
    pub(super) replay: Option<Replay>,
}

/// How often a followed file that has nothing new is checked again (for
/// data, rotation and truncation).
const POLL: Duration = Duration::from_millis(100);

mod commit;
mod inputs;
use commit::commit;
pub(super) use inputs::Inputs;

impl OpenFiles {
    /// Reads the files on blocking threads: in turn, or each followed on its
    /// own. With `data_dir`, resumes from the checkpoint and commits every
    /// acknowledged batch; returns once everything read is acknowledged.
    pub async fn run(self, ctx: SourceContext) -> anyhow::Result<()> {
        let handle = tokio::runtime::Handle::current();
        let inputs: Inputs = Arc::default();
        let resume = match (&ctx.checkpoints, self.ignore_checkpoints) {
            (Some(store), false) => store
                .snapshot()
                .sources
                .get(&ctx.name)
                .cloned()
                .unwrap_or_default(),
            _ => Default::default(),
        };
        // Acknowledgements flow back to a committer task writing the checkpoint.
        let (ack_tx, committer) = match &ctx.checkpoints {
            Some(store) => {
                let (tx, rx) = mpsc::unbounded_channel();
                let task =
                    tokio::spawn(commit(rx, store.clone(), ctx.name.clone(), inputs.clone()));
                (Some(tx), Some(task))
            }
            None => (None, None),
        };
        let me = Arc::new(self);
        let started = std::time::Instant::now();
        let blocked = ctx.stats.blocked();
        let read = if me.follow {
            let mut threads = Vec::new();
            for (i, path) in me.files.iter().enumerate() {
                let (me, mut ctx, handle, inputs) =
                    (me.clone(), ctx.clone(), handle.clone(), inputs.clone());
                let (path, resume, tx) = (path.clone(), resume.clone(), ack_tx.clone());
                let origin = crate::kit::event::mix_origin(ctx.origin, i as u32);
                // One graph thread per followed file, `STAGE#INDEX`: they
                // last as long as the graph, so not the capped blocking pool.
                let name = format!("{}#{i}", ctx.name);
                threads.push(thread::spawn(name, move || {
                    me.follow_one(&path, origin, &resume, tx, &inputs, &mut ctx, &handle)
                })?);
            }
            let mut result = Ok(());
            for t in threads {
                result = result.and(t.join().await);
            }
            result
        } else {
            let (me, mut ctx, handle, inputs) =
                (me.clone(), ctx.clone(), handle.clone(), inputs.clone());
            let tx = ack_tx.clone();
            let name = ctx.name.clone();
            thread::run(name, move || match &me.replay {
                Some(replay) => {
                    super::replay::run(&me, replay, &resume, tx, &inputs, &mut ctx, &handle)
                }
                None => me.read_all(&resume, tx, &inputs, &mut ctx, &handle),
            })
            .await
        };
        // Busy: reading and decoding, not waiting on a full edge (a replay
        // also leaves out its pacing, and counts its own).
        if me.replay.is_none() {
            let waited = ctx.stats.blocked().saturating_sub(blocked);
            ctx.stats.add_busy(started.elapsed().saturating_sub(waited));
        }
        // Everything is sent: let the graph close, then wait until all of it
        // is acknowledged and committed.
        drop(ack_tx);
        ctx.outputs.close().await;
        if let Some(task) = committer {
            task.await?;
        }
        read
    }

    /// Reads every file in turn, as one stream in name order.
    fn read_all(
        &self,
        resume: &BTreeMap<String, FilePosition>,
        tx: Option<mpsc::UnboundedSender<AckToken>>,
        inputs: &Inputs,
        ctx: &mut SourceContext,
        handle: &tokio::runtime::Handle,
    ) -> anyhow::Result<()> {
        for path in &self.files {
            if ctx.shutdown.is_shutdown() {
                break;
            }
            let (reader, position, _) = self.open_at(path, resume, inputs, Some(&ctx.stats))?;
            let mut acker = tx.clone().map(|tx| Acker { tx, seq: 0 });
            let mut stream = Stream {
                origin: ctx.origin,
                position,
                acker: acker.as_mut(),
            };
            let sent = lines::pump(reader, self.codec, self.max_line, ctx, handle, &mut stream)
                .with_context(|| format!("reading {}", path.display()))?;
            let input = stream.position.file;
            inputs::lock(inputs).finish(input, acker.map(|a| a.seq));
            if sent.is_err() {
                break;
            }
        }
        Ok(())
    }

    /// Follows one path like `tail -F` until shutdown.
    #[allow(clippy::too_many_arguments)]
    fn follow_one(
        &self,
        path: &Path,
        origin: u64,
        resume: &BTreeMap<String, FilePosition>,
        tx: Option<mpsc::UnboundedSender<AckToken>>,
        inputs: &Inputs,
        ctx: &mut SourceContext,
        handle: &tokio::runtime::Handle,
    ) -> anyhow::Result<()> {
        let mut resume = Some(resume);
        loop {
            let (reader, position, id) =
                // A followed file has no end to show progress towards.
                match self.open_at(path, resume.take().unwrap_or(&BTreeMap::new()), inputs, None) {
                    Ok(r) => r,
                    // Between a rename and the new file's creation: wait for it.
                    Err(_) if wait(ctx, handle) => continue,
                    Err(_) => return Ok(()),
                };
            // Each opened input numbers its batches from 0: commits are
            // contiguous per input.
            let mut acker = tx.clone().map(|tx| Acker { tx, seq: 0 });
            let mut stream = Stream {
                origin,
                position,
                acker: acker.as_mut(),
            };
            let mut shutdown = ctx.shutdown.clone();
            let idle = |offset: u64| {
                let stop = handle.block_on(async {
                    tokio::select! {
                        () = tokio::time::sleep(POLL) => false,
                        () = shutdown.recv() => true,
                    }
                });
                if stop {
                    return Idle::Stop;
                }
                match std::fs::metadata(path) {
                    Ok(m) if (m.dev(), m.ino()) != (id.dev, id.ino) => Idle::Rotated,
                    Ok(m) if m.len() < offset => Idle::Truncated,
                    Ok(_) => Idle::Wait,
                    // Renamed away, successor not there yet.
                    Err(_) => Idle::Rotated,
                }
            };
            let (sent, why) = lines::follow(
                reader,
                self.codec,
                self.max_line,
                ctx,
                handle,
                &mut stream,
                idle,
            )
            .with_context(|| format!("reading {}", path.display()))?;
            // Done with this input (its successor, if any, is a new one).
            let input = stream.position.file;
            let mut list = inputs::lock(inputs);
            list.finish(input, acker.map(|a| a.seq));
            tracing::debug!("{}: {} inputs known", path.display(), list.len());
            drop(list);
            match (sent, why) {
                (Err(_), _) | (_, Idle::Stop) => return Ok(()),
                (_, Idle::Rotated) => {
                    tracing::info!("{}: rotated; reading the new file", path.display())
                }
                (_, Idle::Truncated) => {
                    tracing::info!("{}: truncated; reading from the start", path.display())
                }
                (_, Idle::Wait) => {}
            }
        }
    }

    /// Opens `path` where the checkpoint says (if it is the same file), as
    /// a new input; returns the reader, the position and the identity.
    /// With `bar` (the source's counters), the input gets a progress bar.
    pub(super) fn open_at(
        &self,
        path: &Path,
        resume: &BTreeMap<String, FilePosition>,
        inputs: &Inputs,
        bar: Option<&Arc<StageStats>>,
    ) -> anyhow::Result<(Box<dyn Read + Send>, Position, FileId)> {
        let id = FileId::of(path).with_context(|| format!("opening {}", path.display()))?;
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let key = path.display().to_string();
        let start = match resume.get(&key) {
            Some(p) if id.matches(p) => Some(p.clone()),
            Some(_) => {
                tracing::info!(
                    "{key}: not the file the checkpoint was taken on (rotated or rewritten); reading from the start"
                );
                None
            }
            None => None,
        };
        let (offset, line) = start.map_or((0, 0), |p| (p.offset, p.line));
        let reader = positioned(path, file, offset, bar)?;
        if offset > 0 {
            tracing::info!("{key}: resuming at byte {offset} (line {})", line + 1);
        }
        let position = Position {
            file: inputs::lock(inputs).add(path.to_path_buf(), id.clone()),
            offset,
            line,
        };
        Ok((reader, position, id))
    }

    /// Opens `path` again at `offset` (a merged replay closed it to keep
    /// few files open); an error if it is no longer the file `id` names.
    pub(super) fn reopen(
        &self,
        path: &Path,
        id: &FileId,
        offset: u64,
    ) -> anyhow::Result<Box<dyn Read + Send>> {
        let now = FileId::of(path).with_context(|| format!("reopening {}", path.display()))?;
        if !now.matches(&id.position(0, 0)) {
            anyhow::bail!("{} was replaced during the replay", path.display());
        }
        let file = File::open(path).with_context(|| format!("reopening {}", path.display()))?;
        positioned(path, file, offset, None)
    }
}

/// A reader of `file` from `offset` (of the decompressed stream for `.gz`),
/// with a progress bar when `bar` gives the source's counters.
fn positioned(
    path: &Path,
    mut file: File,
    offset: u64,
    bar: Option<&Arc<StageStats>>,
) -> anyhow::Result<Box<dyn Read + Send>> {
    let gz = path.extension().is_some_and(|e| e == "gz");
    if offset > 0 && !gz {
        file.seek(SeekFrom::Start(offset))?;
    }
    // The bar counts the file's own bytes (compressed ones for .gz).
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = bar.and_then(|stats| progress::input_bar(path, size, stats));
    let file = progress::Tracked::new(file, bar, if gz { 0 } else { offset });
    let mut reader: Box<dyn Read + Send> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(file)))
    } else {
        Box::new(file)
    };
    if offset > 0 && gz {
        // Offsets count decompressed bytes: skip that many.
        std::io::copy(&mut (&mut reader).take(offset), &mut std::io::sink())?;
    }
    Ok(reader)
}

/// Sleeps one poll interval; false on shutdown.
fn wait(ctx: &SourceContext, handle: &tokio::runtime::Handle) -> bool {
    let mut shutdown = ctx.shutdown.clone();
    handle.block_on(async {
        tokio::select! {
            () = tokio::time::sleep(POLL) => true,
            () = shutdown.recv() => false,
        }
    })
}

impl crate::sources::SourceKind for FileConfig {
    /// Checks that every pattern is a valid glob.
    fn validate(&self) -> Vec<crate::sources::Problem> {
        let mut out = Vec::new();
        if self.path.is_empty() {
            out.push((
                None,
                "`path` is empty: give at least one file or glob".to_string(),
            ));
        }
        for p in &self.path {
            if let Err(e) = glob::Pattern::new(p) {
                out.push((None, format!("invalid glob `{p}` in `path`: {e}")));
            }
        }
        out.extend(crate::kit::limits::line_bytes(self.max_line_bytes).map(|m| (None, m)));
        if let Some(replay) = &self.replay {
            out.extend(replay.validate());
            if self.follow {
                out.push((
                    None,
                    "`replay` reads recorded files to their end; it cannot be combined with `follow = true`"
                        .to_string(),
                ));
            }
        }
        out
    }

    fn build(&self) -> anyhow::Result<crate::sources::SourceTask> {
        Ok(Box::new(self.open()?))
    }

    /// A one-line description for the graph output.
    fn describe(&self) -> String {
        let paths = self.path.join(", ");
        match &self.replay {
            None => format!("file {paths}"),
            Some(r) => {
                let speed = r
                    .speed
                    .as_ref()
                    .map_or("unpaced".into(), |s| format!("speed {}", s.get_ref()));
                format!("file {paths} (replay by {}, {speed})", r.timestamp_field)
            }
        }
    }
}

impl crate::sources::RunSource for OpenFiles {
    fn run(self: Box<Self>, ctx: SourceContext) -> crate::sources::SourceRun {
        Box::pin(OpenFiles::run(*self, ctx))
    }
}
