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
//! A failed or panicked stage is reported by name. The reload itself lives
//! in [`reload`](super::reload).

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::task::{Id, JoinSet};

use crate::config::{Config, StageConfig, StageKind};
use crate::kit::checkpoint::Store;
use crate::kit::event::name_hash;
use crate::kit::failure;
use crate::kit::shutdown::{self, Trigger};
use crate::kit::source_outputs::SourceOutputs;
use crate::sinks::{SinkContext, SinkTask};
use crate::sources::{SourceContext, SourceTask};
use crate::stats::{Live, Report, RunStats};
use crate::topology::builder::{Pieces, SourcePiece, build};
use crate::topology::reload::{PendingReload, track_sinks};
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
pub(super) enum Task {
    /// A source task.
    Source(String),
    /// A transform worker or sink of graph generation `n`.
    Downstream(u32, String),
}

/// A source that runs, possibly across reloads.
pub(super) struct RunningSource {
    pub(super) stage: StageConfig,
    pub(super) outputs: SourceOutputs,
    /// Stops this source alone (it was removed or changed by a reload).
    pub(super) stop: Trigger,
}

/// The running graph.
pub struct Running {
    pub(super) config: Config,
    pub(super) stats: RunStats,
    pub(super) sources: Vec<RunningSource>,
    tasks: JoinSet<anyhow::Result<()>>,
    pub(super) kinds: HashMap<Id, Task>,
    /// Generation of the newest downstream graph, and live task counts.
    pub(super) generation: u32,
    pub(super) live: HashMap<u32, usize>,
    pub(super) pending: Option<PendingReload>,
    pub(super) failures: Vec<String>,
    pub(super) stopping: bool,
    /// The live view (the API, SIGUSR1/SIGQUIT), re-pointed after a reload.
    pub(super) live_view: Option<Arc<Live>>,
    /// The pipeline's checkpoints (`data_dir`).
    pub(super) store: Option<Arc<Store>>,
    /// How many of `stats.stages` have their edge occupancy sampled.
    pub(super) sampled: usize,
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
        let mut pieces = build(&config, &mut stats, false, snapshot.as_ref())?;
        if let Some(store) = &store {
            // An effectively-once sink's length is in the checkpoint before
            // its first write: a crash before the first commit then cuts the
            // output back to where this run started.
            track_sinks(store, &config, &mut pieces.sinks).context("writing the checkpoint")?;
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
            live_view: None,
            store: store.clone(),
            sampled: 0,
        };
        running.sample_new_stages();
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

    /// The configuration running now (the newest, once a reload completed).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Re-points `live` at the graph after each reload.
    pub fn attach_live(&mut self, live: Arc<Live>) {
        self.live_view = Some(live);
    }

    /// How many tasks of each stage are running now (stages whose tasks
    /// have all ended are absent), for SIGQUIT's stage states.
    pub fn running_tasks(&self) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for kind in self.kinds.values() {
            let (Task::Source(n) | Task::Downstream(_, n)) = kind;
            // Task names read "transform `NAME`".
            if let Some(name) = n.split('`').nth(1) {
                *out.entry(name.to_string()).or_insert(0) += 1;
            }
        }
        out
    }

    /// True while a reload waits for the old graph to drain.
    pub fn reloading(&self) -> bool {
        self.pending.is_some()
    }

    pub(super) fn spawn_downstream(
        &mut self,
        workers: Vec<Worker>,
        sinks: Vec<(SinkTask, SinkContext)>,
    ) {
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

    pub(super) fn spawn_source(&mut self, piece: SourcePiece, task: SourceTask) {
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
        crate::kit::ack::suspend();
        self.tasks.abort_all();
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
pub(super) fn open_source(stage: &StageConfig) -> anyhow::Result<SourceTask> {
    match &stage.kind {
        StageKind::Source(c) => c
            .build()
            .with_context(|| format!("source `{}`", stage.name)),
        _ => anyhow::bail!("`{}` is not a source", stage.name),
    }
}
