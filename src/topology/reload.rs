//! A reload of the running graph (SIGHUP), and what it promises.
//!
//! Sources whose settings did not change keep running and are pointed at
//! the new graph's edges, which drops their senders into the old graph.
//! The old transforms and sinks drain everything in flight and exit; the
//! sources the reload stopped (removed or changed) finish committing what
//! they read. Only then does the switch happen: the new sinks take over
//! their files (so a file never has two writers), the checkpoint starts
//! counting the new sinks' lengths and is written to disk before any of
//! them writes, and sources that are new or changed open, resuming from a
//! checkpoint nobody else updates any more. Nothing is dropped, nothing
//! read twice, and an ordered file sink stays effectively-once across a
//! later `kill -9`.

use std::sync::Arc;

use crate::config::{Config, StageConfig, StageKind};
use crate::kit::checkpoint::{Store, TrackedSink};
use crate::sinks::{SinkContext, SinkTask};
use crate::topology::builder::{Pieces, SourcePiece, build};
use crate::topology::running::{Running, Task, open_source};
use crate::topology::worker::Worker;

/// A reload waiting for the old graph to drain.
pub(super) struct PendingReload {
    config: Config,
    workers: Vec<Worker>,
    sinks: Vec<(SinkTask, SinkContext)>,
    /// Sources that are new or changed: opened once the old ones are gone.
    start: Vec<SourcePiece>,
    /// Task names of the sources this reload stopped: a changed source's
    /// new instance reads the checkpoint only once the old one has
    /// committed its last batch.
    stopped: Vec<String>,
}

impl Running {
    /// Switches to `config`. On error the old graph keeps running untouched.
    /// The switch completes in [`next`](Self::next) once the old graph has
    /// drained.
    pub fn reload(&mut self, config: Config) -> anyhow::Result<()> {
        anyhow::ensure!(self.pending.is_none(), "a reload is still in progress");
        anyhow::ensure!(!self.stopping, "shutting down");
        if config.pipeline.data_dir != self.config.pipeline.data_dir {
            tracing::warn!("reload: a changed `pipeline.data_dir` takes effect at the next start");
        }
        // With checkpoints, the new ordered file sinks record their lengths
        // too (without the checkpoint they would not, and a restart would
        // cut their files back to a length older than the sources' offsets).
        let snapshot = self.store.as_ref().map(|s| s.snapshot());
        let Pieces {
            sources,
            workers,
            sinks,
        } = build(&config, &mut self.stats, true, snapshot.as_ref())?;
        let mut start = Vec::new();
        let mut kept = vec![false; self.sources.len()];
        for piece in sources {
            let same = self.sources.iter().position(|s| {
                s.stage.name == piece.stage.name && same_source(&s.stage, &piece.stage)
            });
            match same {
                Some(i) => {
                    kept[i] = true;
                    // Pointing the source at the new edges drops its senders
                    // into the old graph. Done in a task: a send in progress
                    // holds the switch until the old graph takes the batch.
                    let outputs = self.sources[i].outputs.clone();
                    let ordered = piece.window.is_some();
                    tokio::spawn(async move { outputs.replace(piece.outputs, ordered).await });
                    self.sources[i].stage = piece.stage;
                }
                None => start.push(piece),
            }
        }
        let mut stopped = Vec::new();
        let mut i = 0;
        self.sources.retain(|s| {
            let keep = kept[i];
            i += 1;
            if !keep {
                tracing::info!("reload: stopping source `{}`", s.stage.name);
                s.stop.trigger();
                stopped.push(format!("source `{}`", s.stage.name));
            }
            keep
        });
        self.pending = Some(PendingReload {
            config,
            workers,
            sinks,
            start,
            stopped,
        });
        self.finish_reload_if_drained();
        Ok(())
    }

    /// Completes the pending reload once the old graph has drained and the
    /// sources it stopped have ended.
    pub(super) fn finish_reload_if_drained(&mut self) {
        if self.live.get(&self.generation).copied().unwrap_or(0) > 0 {
            return;
        }
        let Some(p) = self.pending.as_ref() else {
            return;
        };
        let stopping = |n: &String| {
            self.kinds
                .values()
                .any(|k| matches!(k, Task::Source(name) if name == n))
        };
        if p.stopped.iter().any(stopping) {
            return;
        }
        let Some(mut p) = self.pending.take() else {
            return;
        };
        self.generation += 1;
        self.config = p.config;
        if let Some(store) = &self.store
            && let Err(e) = track_sinks(store, &self.config, &mut p.sinks)
        {
            // The lengths are in memory and the periodic flush retries; a
            // kill before then restarts from the previous checkpoint, whose
            // lengths name the files they were taken on.
            tracing::error!(
                "reload: writing the checkpoint {}: {e}",
                store.path().display()
            );
        }
        self.spawn_downstream(p.workers, p.sinks);
        for piece in p.start {
            if self.stopping {
                continue; // dropping the piece lets the new graph close
            }
            match open_source(&piece.stage) {
                Ok(task) => self.spawn_source(piece, task),
                Err(e) => {
                    tracing::error!("reload: {e:#}");
                    self.failures.push(format!("{e:#}"));
                }
            }
        }
        self.sample_new_stages();
        if let Some(live) = &self.live_view {
            live.replace(&self.config, &self.stats);
        }
        tracing::info!(
            "reload complete: {} stages running",
            self.config.stages.len()
        );
        crate::notify::ready(&crate::notify::status_line(&self.stats));
    }

    /// Samples the edge occupancy of stages registered since the last call
    /// (all of them at start, those a reload added afterwards), for the
    /// report: a stage keeps its counters across reloads, so each is
    /// sampled by exactly one task.
    pub(super) fn sample_new_stages(&mut self) {
        let new = self.stats.stages[self.sampled..]
            .iter()
            .map(|s| Arc::downgrade(&s.3))
            .collect();
        self.sampled = self.stats.stages.len();
        crate::kit::sampler::sample_edges(new);
    }
}

/// Tells the checkpoint which sinks of the graph about to run record their
/// lengths, from each file's length now (before any of them writes: the
/// previous graph has drained), and writes the checkpoint to disk, so that
/// a kill from here on finds the lengths of the files this graph writes.
pub(super) fn track_sinks(
    store: &Store,
    config: &Config,
    sinks: &mut [(SinkTask, SinkContext)],
) -> std::io::Result<()> {
    let mut tracked = Vec::new();
    for (task, ctx) in sinks.iter_mut() {
        // Opened while the previous graph was still appending to the file.
        if let Err(e) = task.resync_length() {
            // Left untracked: its lengths are ignored, the sources still
            // commit (at-least-once for this sink).
            tracing::error!("sink `{}`: reading the length of its file: {e}", ctx.name);
            continue;
        }
        let Some(length) = task.checkpoint_length() else {
            continue;
        };
        let path = config.stages.iter().find_map(|s| match &s.kind {
            StageKind::Sink(c) if s.name == ctx.name => {
                c.checkpointed_path().map(|p| p.display().to_string())
            }
            _ => None,
        });
        let Some(path) = path else { continue };
        tracked.push(TrackedSink {
            key: ctx.mark_key.clone(),
            path,
            length,
        });
    }
    store.track_sinks(&tracked);
    store.flush()
}

/// Whether a reload leaves a source as it is: same type, same keys with
/// the same values, wherever the table stands in the file.
fn same_source(a: &StageConfig, b: &StageConfig) -> bool {
    a.same_settings(b)
}
