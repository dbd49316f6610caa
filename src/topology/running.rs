//! Runs the graph: spawns the built pieces, waits for the close cascade
//! (sources end or are told to stop, their edges close, workers drain and
//! exit, sinks flush), and switches to a new graph on reload.
//!
//! A reload keeps every source whose settings did not change running: it
//! is only pointed at the new graph's edges, which drops its senders into
//! the old graph. The old transforms and sinks then drain everything in
//! flight and exit; only then do the new ones start (so a file sink never
//! has two writers), followed by sources that are new or changed. Nothing
//! is dropped and nothing is read twice.
//!
//! A failed or panicked stage is reported by name.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::task::{Id, JoinSet};

use crate::checkpoint::Store;
use crate::config::{Config, StageConfig, StageKind};
use crate::event::name_hash;
use crate::metrics::Metrics;
use crate::sinks::{SinkContext, SinkTask};
use crate::sources::{SourceContext, SourceTask};
use crate::stats::{Report, RunStats};
use crate::topology::builder::{Pieces, SourcePiece, build};
use crate::topology::failure;
use crate::topology::shutdown::{self, Trigger};
use crate::topology::source_outputs::SourceOutputs;
use crate::topology::worker::Worker;

/// How the run ended.
pub struct Outcome {
    /// Counters at the end.
    pub report: Report,
    /// Stages that failed, with the reason.
    pub failures: Vec<String>,
}

/// What a task is, for bookkeeping when it ends.
#[derive(Clone)]
enum Task {
    /// A source task.
    Source(String),
    /// A transform worker or sink of graph generation `n`.
    Downstream(u32, String),
}

/// A source that runs, possibly across reloads.
struct RunningSource {
    stage: StageConfig,
    outputs: SourceOutputs,
    /// Stops this source alone (it was removed or changed by a reload).
    stop: Trigger,
}

/// A reload waiting for the old graph to drain.
struct PendingReload {
    config: Config,
    workers: Vec<Worker>,
    sinks: Vec<(SinkTask, SinkContext)>,
    /// Sources that are new or changed: opened once the old ones are gone.
    start: Vec<SourcePiece>,
}

/// The running graph.
pub struct Running {
    config: Config,
    stats: RunStats,
    sources: Vec<RunningSource>,
    tasks: JoinSet<anyhow::Result<()>>,
    kinds: HashMap<Id, Task>,
    /// Generation of the newest downstream graph, and live task counts.
    generation: u32,
    live: HashMap<u32, usize>,
    pending: Option<PendingReload>,
    failures: Vec<String>,
    stopping: bool,
    /// Where the metrics endpoint reads, re-pointed after a reload.
    metrics: Option<Arc<Metrics>>,
    /// The pipeline's checkpoints (`data_dir`).
    store: Option<Arc<Store>>,
}

/// How often acknowledged positions are written to `data_dir`: a crash
/// replays at most this much (and truncates what it had written of it).
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

impl Running {
    /// Builds `config` and starts it; any error leaves nothing running.
    pub fn start(config: Config, stats: RunStats) -> anyhow::Result<Running> {
        let mut stats = stats;
        // Sources first: a missing input fails before any output is created.
        let mut tasks = HashMap::new();
        for stage in config
            .stages
            .iter()
            .filter(|s| matches!(s.kind, StageKind::Source(_)))
        {
            tasks.insert(stage.name.clone(), open_source(stage)?);
        }
        let store = match &config.pipeline.data_dir {
            Some(dir) => Some(Arc::new(Store::open(dir)?)),
            None => None,
        };
        let snapshot = store.as_ref().map(|s| s.snapshot());
        let pieces = build(&config, &mut stats, false, snapshot.as_ref())?;
        if let Some(store) = &store {
            // An effectively-once sink's length is in the checkpoint before
            // its first write: a crash before the first commit then cuts the
            // output back to where this run started.
            store.update(|cp| {
                for (task, ctx) in &pieces.sinks {
                    if let Some(len) = task.checkpoint_length() {
                        cp.sinks.entry(ctx.name.clone()).or_insert(len);
                    }
                }
            });
            store.flush().context("writing the checkpoint")?;
        }
        let mut opened = Vec::new();
        let Pieces {
            sources,
            workers,
            sinks,
        } = pieces;
        for piece in sources {
            let task = tasks
                .remove(&piece.stage.name)
                .context("every source was opened above")?;
            opened.push((piece, task));
        }
        let mut running = Running {
            config,
            stats,
            sources: Vec::new(),
            tasks: JoinSet::new(),
            kinds: HashMap::new(),
            generation: 0,
            live: HashMap::new(),
            pending: None,
            failures: Vec::new(),
            stopping: false,
            metrics: None,
            store: store.clone(),
        };
        if let Some(store) = store {
            // Checkpoints reach the disk every 100 ms, and at the end.
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
                loop {
                    tick.tick().await;
                    // fsync blocks: keep it off the runtime's threads.
                    let s = store.clone();
                    if let Ok(Err(e)) = tokio::task::spawn_blocking(move || s.flush()).await {
                        tracing::error!("writing the checkpoint {}: {e}", store.path().display());
                    }
                }
            });
        }
        running.spawn_downstream(workers, sinks);
        for (piece, task) in opened {
            running.spawn_source(piece, task);
        }
        Ok(running)
    }

    /// The counters (shared with the tasks).
    pub fn stats(&self) -> &RunStats {
        &self.stats
    }

    /// Re-points `metrics` at the graph after each reload.
    pub fn attach_metrics(&mut self, metrics: Arc<Metrics>) {
        self.metrics = Some(metrics);
    }

    /// True while a reload waits for the old graph to drain.
    pub fn reloading(&self) -> bool {
        self.pending.is_some()
    }

    fn spawn_downstream(&mut self, workers: Vec<Worker>, sinks: Vec<(SinkTask, SinkContext)>) {
        let g = self.generation;
        for (task, ctx) in sinks {
            let name = format!("sink `{}`", ctx.name);
            let h = self.tasks.spawn(failure::guard(task.run(ctx)));
            self.kinds.insert(h.id(), Task::Downstream(g, name));
            *self.live.entry(g).or_insert(0) += 1;
        }
        for w in workers {
            let name = format!("transform `{}`", w.name);
            let (input, in_flight) = (w.input.clone(), w.in_flight.clone());
            let h = self
                .tasks
                .spawn(failure::guard_consumer(w.run(), input, in_flight));
            self.kinds.insert(h.id(), Task::Downstream(g, name));
            *self.live.entry(g).or_insert(0) += 1;
        }
    }

    fn spawn_source(&mut self, piece: SourcePiece, task: SourceTask) {
        let (stop, listener) = shutdown::channel();
        let name = piece.stage.name.clone();
        let outputs = SourceOutputs::new(piece.outputs, piece.window);
        let ctx = SourceContext {
            name: name.clone(),
            outputs: outputs.clone(),
            shutdown: listener,
            stats: piece.stats,
            batch_events: piece.batch_events,
            origin: name_hash(&name),
            seed: self.config.pipeline.seed,
            checkpoints: self.store.clone(),
        };
        let closing = outputs.clone();
        let h = self.tasks.spawn(async move {
            let result = task.run(ctx).await;
            // The source is done: let the graph it feeds close.
            closing.close().await;
            result
        });
        self.kinds
            .insert(h.id(), Task::Source(format!("source `{name}`")));
        if self.stopping {
            stop.trigger();
        }
        self.sources.push(RunningSource {
            stage: piece.stage,
            outputs,
            stop,
        });
    }

    /// Asks every source to stop reading; what was read drains to the sinks.
    pub fn stop(&mut self) {
        self.stopping = true;
        for s in &self.sources {
            s.stop.trigger();
        }
    }

    /// Abandons every task (a forced stop). Events dropped from here on
    /// are not deliveries: nothing more is acknowledged.
    pub fn abort(&mut self) {
        crate::ack::suspend();
        self.tasks.abort_all();
    }

    /// Switches to `config`. On error the old graph keeps running untouched.
    /// The switch completes in [`next`](Self::next) once the old graph has
    /// drained.
    pub fn reload(&mut self, config: Config) -> anyhow::Result<()> {
        anyhow::ensure!(self.pending.is_none(), "a reload is still in progress");
        anyhow::ensure!(!self.stopping, "shutting down");
        let Pieces {
            sources,
            workers,
            sinks,
        } = build(&config, &mut self.stats, true, None)?;
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
        let mut i = 0;
        self.sources.retain(|s| {
            let keep = kept[i];
            i += 1;
            if !keep {
                tracing::info!("reload: stopping source `{}`", s.stage.name);
                s.stop.trigger();
            }
            keep
        });
        self.pending = Some(PendingReload {
            config,
            workers,
            sinks,
            start,
        });
        self.finish_reload_if_drained();
        Ok(())
    }

    fn finish_reload_if_drained(&mut self) {
        if self.live.get(&self.generation).copied().unwrap_or(0) > 0 {
            return;
        }
        let Some(p) = self.pending.take() else { return };
        self.generation += 1;
        self.config = p.config;
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
        if let Some(m) = &self.metrics {
            m.replace(&self.stats);
        }
        tracing::info!(
            "reload complete: {} stages running",
            self.config.stages.len()
        );
        crate::notify::ready(&crate::notify::status_line(&self.stats));
    }

    /// Waits for the next task to end. Returns `false` once every task has.
    pub async fn next(&mut self) -> bool {
        let Some(joined) = self.tasks.join_next_with_id().await else {
            return false;
        };
        let (id, result) = match joined {
            Ok((id, r)) => (id, r.map_err(|e| format!("failed: {e:#}"))),
            Err(e) => {
                let what = if e.is_panic() {
                    "panicked"
                } else {
                    "was cancelled"
                };
                (e.id(), Err(what.to_string()))
            }
        };
        let kind = self.kinds.remove(&id);
        let name = match &kind {
            Some(Task::Source(n)) | Some(Task::Downstream(_, n)) => n.clone(),
            None => "a stage task".to_string(),
        };
        if let Err(e) = result {
            tracing::error!("{name} {e}");
            self.failures.push(format!("{name} {e}"));
            // A transform or sink lost for good: stop reading into it.
            if matches!(kind, Some(Task::Downstream(..))) && !self.stopping {
                tracing::info!("stopping the sources: {name} cannot deliver any more");
                self.stop();
            }
        }
        if let Some(Task::Downstream(g, _)) = kind
            && let Some(n) = self.live.get_mut(&g)
        {
            *n -= 1;
            if *n == 0 {
                self.live.remove(&g);
            }
        }
        if self.pending.is_some() {
            self.finish_reload_if_drained();
        }
        true
    }

    /// Counters and failures at the end.
    pub fn finish(self, forced: Option<String>) -> Outcome {
        let mut failures = self.failures;
        if forced.is_none()
            && let Some(store) = &self.store
            && let Err(e) = store.flush()
        {
            failures.push(format!(
                "writing the checkpoint {}: {e}",
                store.path().display()
            ));
        }
        failures.extend(forced);
        Outcome {
            report: self.stats.report(self.stats.started.elapsed()),
            failures,
        }
    }
}

/// Opens what a source reads (a missing file is an error here).
fn open_source(stage: &StageConfig) -> anyhow::Result<SourceTask> {
    match &stage.kind {
        StageKind::Source(c) => c
            .build()
            .with_context(|| format!("source `{}`", stage.name)),
        _ => anyhow::bail!("`{}` is not a source", stage.name),
    }
}

/// Whether a reload leaves a source as it is: same type, same settings
/// (compared through their full debug form, which lists every field).
fn same_source(a: &StageConfig, b: &StageConfig) -> bool {
    a.type_name == b.type_name && format!("{:?}", a.kind) == format!("{:?}", b.kind)
}
