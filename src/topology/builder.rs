//! Turns a validated configuration into inert pieces: edges, per-worker
//! transforms, opened outputs, and for each source the outputs it will send
//! into. Nothing runs until [`Running`](super::running::Running) spawns
//! them, so a file that cannot be opened fails the start (or the reload),
//! not the middle of a run. Sources themselves are opened by `Running`,
//! which keeps unchanged ones running across a reload.

use std::sync::Arc;

use anyhow::Context as _;

use crate::config::graph;
use crate::config::{Config, Role, StageConfig, StageKind};
use crate::kit::checkpoint::Checkpoint;
use crate::kit::counters::StageStats;
use crate::kit::edge::{EdgeReceiver, EdgeSender, edge};
use crate::kit::fanout::{ErrorLog, Outputs};
use crate::kit::gauge::EdgeGauge;
use crate::sinks::{SinkContext, SinkTask};
use crate::stats::RunStats;
use crate::topology::worker::Worker;

/// Largest batch sent along an edge, in events: big enough that channel
/// costs vanish per event, small enough to keep latency and memory low.
pub const MAX_BATCH: usize = 256;

/// The graph, ready to spawn.
pub struct Pieces {
    /// What each source needs to join the graph.
    pub sources: Vec<SourcePiece>,
    /// Transform workers.
    pub workers: Vec<Worker>,
    /// Sink tasks with their contexts.
    pub sinks: Vec<(SinkTask, SinkContext)>,
}

/// A source's place in a built graph.
pub struct SourcePiece {
    /// The source's configuration.
    pub stage: StageConfig,
    /// The outputs it sends into.
    pub outputs: Outputs,
    /// Largest batch it should send.
    pub batch_events: usize,
    /// Its counters.
    pub stats: Arc<StageStats>,
    /// Its in-flight budget in batches, when an ordered sink is downstream.
    pub window: Option<usize>,
}

/// For each stage: whether it is, or feeds (through any path), an ordered
/// sink. Edges into such stages must carry empty batches too, or the sink
/// would wait forever for a sequence number that was never forwarded.
fn feeds_ordered_sink(stages: &[StageConfig], edges: &[graph::Edge]) -> Vec<bool> {
    let mut feeds: Vec<bool> = stages
        .iter()
        .map(|s| s.role == Role::Sink && s.ordered)
        .collect();
    // Propagate upstream until nothing changes (the graph is acyclic, so at
    // most one pass per stage).
    for _ in 0..stages.len() {
        let mut changed = false;
        for e in edges {
            if feeds[e.to] && !feeds[e.from] {
                feeds[e.from] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    feeds
}

/// Builds every piece of `config`, registering counters in `stats` (a
/// stage keeps its counters across reloads). `reloading`: a previous graph
/// ran, so outputs must not be truncated.
pub fn build(
    config: &Config,
    stats: &mut RunStats,
    reloading: bool,
    checkpoint: Option<&Checkpoint>,
) -> anyhow::Result<Pieces> {
    let stages = &config.stages;
    let stage_stats: Vec<_> = stages
        .iter()
        .map(|s| stats.register(&s.name, s.role.as_str(), &s.type_name))
        .collect();
    let error_log = Arc::new(ErrorLog::new(config.pipeline.error_log_rate));

    // Open and compile everything first: any failure here leaves nothing running.
    enum Built {
        Source,
        Transform(Vec<crate::transforms::Transform>),
        Sink(SinkTask),
    }
    let mut built = Vec::with_capacity(stages.len());
    for (s, stage_stats) in stages.iter().zip(&stage_stats) {
        let b = match &s.kind {
            StageKind::Source(_) => Ok(Built::Source),
            StageKind::Transform(c) => {
                let ctx = crate::transforms::StageCtx {
                    name: &s.name,
                    stats: stage_stats,
                };
                c.build_stage(&ctx, s.workers).map(Built::Transform)
            }
            StageKind::Sink(c) => c
                .build(&crate::sinks::Opening {
                    name: &s.name,
                    ordered: s.ordered,
                    reloading,
                    checkpoint,
                })
                .map(Built::Sink),
        };
        built.push(b.with_context(|| format!("{} `{}`", s.role.as_str(), s.name))?);
    }

    // Batches are capped by the smallest edge, so that "capacity" holds in events.
    let batch_events = stages
        .iter()
        .filter(|s| s.role != Role::Source)
        .map(|s| s.capacity)
        .chain([MAX_BATCH])
        .min()
        .unwrap_or(MAX_BATCH)
        .max(1);

    let edges = graph::edges(stages);
    // Smallest batch any stage downstream of each source wants: a `delay`
    // stage two hops away still needs small batches to share among workers.
    let source_batch = |i: usize| {
        let mut seen = vec![false; stages.len()];
        let mut todo = vec![i];
        let mut batch = batch_events;
        while let Some(n) = todo.pop() {
            for e in edges.iter().filter(|e| e.from == n) {
                if std::mem::replace(&mut seen[e.to], true) {
                    continue;
                }
                if let StageKind::Transform(t) = &stages[e.to].kind {
                    batch = batch.min(t.batch_hint().unwrap_or(batch));
                }
                todo.push(e.to);
            }
        }
        batch
    };

    // The largest batch that can reach each stage: an edge holds
    // capacity / that many batches, so it holds `capacity` events even when
    // its sources send small batches (e.g. for a `delay` stage).
    let mut incoming = vec![0usize; stages.len()];
    for (i, s) in stages.iter().enumerate() {
        if s.role == Role::Source {
            incoming[i] = source_batch(i);
        }
    }
    for _ in 0..stages.len() {
        let mut changed = false;
        for e in &edges {
            if incoming[e.from] > incoming[e.to] {
                incoming[e.to] = incoming[e.from];
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }

    // One input edge per consuming stage.
    let mut inputs: Vec<Option<(EdgeSender, EdgeReceiver)>> = stages
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (s.role != Role::Source).then(|| {
                let batches = (s.capacity / incoming[i].max(1)).max(1);
                edge(batches, s.role == Role::Sink && s.ordered)
            })
        })
        .collect();

    // Wire every output port to the consumers that name it.
    let mut ports: Vec<Vec<Vec<EdgeSender>>> = stages
        .iter()
        .map(|s| vec![Vec::new(); s.output_ports().len() + 1])
        .collect();
    let feeds_ordered = feeds_ordered_sink(stages, &edges);
    for e in &edges {
        let (tx, _) = inputs[e.to]
            .as_ref()
            .context("a consumer always has an input edge")?;
        let mut sender = tx.for_lane(e.lane as u32);
        if feeds_ordered[e.to] {
            sender = sender.carrying_empty();
        }
        ports[e.from][e.port].push(sender);
    }
    // How many batches a source feeding an ordered sink may have in flight:
    // enough to keep every worker busy, and the bound of each reorder buffer.
    let window = crate::kit::source_outputs::REORDER_WINDOW
        + stages.iter().map(|s| s.workers).sum::<usize>();
    let mut pieces = Pieces {
        sources: Vec::new(),
        workers: Vec::new(),
        sinks: Vec::new(),
    };
    let in_flight = stats.in_flight.clone();
    for (i, (b, s)) in built.into_iter().zip(stages).enumerate() {
        let outputs = Outputs::new(
            &s.name,
            std::mem::take(&mut ports[i]),
            stage_stats[i].clone(),
            in_flight.clone(),
            error_log.clone(),
        )
        .with_taps(
            s.output_ports()
                .iter()
                .map(String::as_str)
                .chain(["errors"])
                .map(|port| stats.taps.port(&s.name, port))
                .collect(),
        );
        // Drop this stage's own sender: from now on only upstream stages hold
        // senders to it, so its input closes exactly when they all finish.
        let receiver = inputs[i].take().map(|(_, rx)| rx);
        // Edge occupancy for the metrics, through a weak handle that never
        // keeps the edge open.
        if let Some(rx) = receiver.as_ref() {
            stage_stats[i].set_input_edge(EdgeGauge::new(rx.channel()));
        }
        match b {
            Built::Source => pieces.sources.push(SourcePiece {
                stage: s.clone(),
                outputs,
                batch_events: source_batch(i),
                stats: stage_stats[i].clone(),
                window: feeds_ordered[i].then_some(window),
            }),
            Built::Transform(instances) => {
                let rx = receiver
                    .and_then(|r| r.share())
                    .context("a transform's input edge is never ordered")?;
                for (index, transform) in instances.into_iter().enumerate() {
                    pieces.workers.push(Worker {
                        name: s.name.clone(),
                        index,
                        transform,
                        input: rx.clone(),
                        outputs: outputs.clone(),
                        stats: stage_stats[i].clone(),
                        in_flight: in_flight.clone(),
                        seed: config.pipeline.seed,
                        fan_in: s.inputs.len() > 1,
                        batch: incoming[i].max(1),
                    });
                }
            }
            Built::Sink(task) => {
                let ctx = SinkContext {
                    name: s.name.clone(),
                    input: receiver.context("a sink always has an input edge")?,
                    stats: stage_stats[i].clone(),
                    in_flight: in_flight.clone(),
                    capacity: s.capacity,
                    errors: outputs,
                    error_batches: 0,
                    mark_key: s.name.as_str().into(),
                };
                pieces.sinks.push((task, ctx));
            }
        }
    }
    Ok(pieces)
}
