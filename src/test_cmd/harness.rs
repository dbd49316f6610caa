//! Runs one test input through the pipeline's real transforms.
//!
//! The pipeline is rebuilt without its sources and sinks: a stand-in source
//! feeds the transform named by `insert_at`, and a stand-in ordered sink
//! collects each stage or port a test reads. Everything between is built by
//! the same builder as `sluice run` — same workers, seeds, capacities and
//! batch sizes — and runs on the same worker code; only the two ends are
//! the test's. Nothing opens a file or a socket.
//!
//! Each input runs on a graph of its own, one after another, so the events
//! of a test's second input come out after those of its first whatever the
//! workers' timing: same config, same result.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;

use crate::config::{Config, InputRef, Role, StageConfig, StageKind};
use crate::kit::codec::{self, Codec, Line};
use crate::kit::event::{Event, name_hash};
use crate::kit::source_outputs::SourceOutputs;
use crate::stats::RunStats;
use crate::test_cmd::spec::{InputData, TestInput};
use crate::topology::builder;

/// Name of the stand-in source (not a valid stage name in a config: no
/// clash is possible).
const INPUT: &str = "test input";

/// How long one input may take to pass through the graph: a hung stage
/// fails its test instead of hanging the command.
const DEADLINE: Duration = Duration::from_secs(60);

/// The events that came out of each target (`STAGE` or `STAGE.PORT`), in
/// order, as JSON lines.
pub type Captured = HashMap<String, Vec<Event>>;

/// Runs `input` through the transforms of `config` and returns what came
/// out of each of `targets`.
pub async fn run(
    config: &Config,
    input: &TestInput,
    targets: &[String],
) -> anyhow::Result<Captured> {
    let derived = derive(config, &input.insert_at, targets)?;
    let mut stats = RunStats::new();
    let pieces = builder::build(&derived, &mut stats, false, None)?;

    // The insert_at stage's own outputs: a line that is not JSON is refused
    // there, as its error output (see `send_lines`).
    let stage_outputs = pieces
        .workers
        .iter()
        .find(|w| w.name == input.insert_at)
        .map(|w| w.outputs.clone())
        .context("the stage a test inserts at is a transform")?;

    let mut collectors = Vec::new();
    for (task, ctx) in pieces.sinks {
        // The stand-in sink's own task (a blackhole) never runs: the test
        // drains the edge itself.
        drop(task);
        let target = sink_target(&derived, &ctx.name);
        let mut ctx = ctx;
        collectors.push(tokio::spawn(async move {
            let mut batches = Vec::new();
            while let Some(batch) = ctx.input.recv().await {
                batches.push((batch.lane, batch.origin, batch.events));
            }
            // The ordered edge keeps each stream in order; streams that
            // reach one target by several paths are put in a fixed order.
            batches.sort_by_key(|(lane, origin, _)| (*lane, *origin));
            let events: Vec<Event> = batches.into_iter().flat_map(|(_, _, e)| e).collect();
            (target, events)
        }));
    }
    let mut workers = Vec::new();
    for w in pieces.workers {
        let name = w.name.clone();
        workers.push((name, tokio::spawn(w.run())));
    }

    let source = pieces
        .sources
        .into_iter()
        .next()
        .context("the test graph has its stand-in source")?;
    let batch = source.batch_events.max(1);
    let outputs = SourceOutputs::new(source.outputs, source.window);
    let origin = name_hash(INPUT);
    let fed = async {
        match &input.data {
            InputData::Events(values) => {
                let events = values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| to_event(v, i as u64 + 1))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                send(&outputs, origin, events, batch).await;
            }
            InputData::Lines(lines, codec) => {
                send_lines(
                    &outputs,
                    stage_outputs,
                    &input.insert_at,
                    lines,
                    *codec,
                    batch,
                )
                .await;
            }
        }
        // The stand-in source ends: the close cascades through the graph.
        outputs.close().await;
        drop(outputs);
        anyhow::Ok(())
    };
    let finished = tokio::time::timeout(DEADLINE, async {
        fed.await?;
        for (name, handle) in workers {
            match handle.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => anyhow::bail!("transform `{name}` failed: {e:#}"),
                Err(e) => anyhow::bail!("transform `{name}` panicked: {e}"),
            }
        }
        let mut captured = Captured::new();
        for c in collectors {
            let (target, events) = c.await.context("a collector ended early")?;
            captured.entry(target).or_default().extend(events);
        }
        Ok(captured)
    })
    .await;
    match finished {
        Ok(r) => r,
        Err(_) => anyhow::bail!(
            "the input did not pass through the transforms within {}s",
            DEADLINE.as_secs()
        ),
    }
}

/// Sends `events` as the stand-in source would: in batches of the size the
/// builder chose for it.
async fn send(outputs: &SourceOutputs, origin: u64, events: Vec<Event>, batch: usize) {
    let mut events = events.into_iter().peekable();
    while events.peek().is_some() {
        let chunk: Vec<Event> = events.by_ref().take(batch).collect();
        // A closed graph means every consumer is gone: nothing more to do.
        if outputs.send(origin, vec![chunk, Vec::new()]).await.is_err() {
            return;
        }
    }
}

/// Decodes raw lines with `codec` and sends them. A line a source would
/// refuse (not JSON, bad UTF-8) becomes an error event of the insert_at
/// stage: it appears on `STAGE.errors` with its line number, where a test
/// can expect it.
async fn send_lines(
    outputs: &SourceOutputs,
    mut stage_outputs: crate::kit::fanout::Outputs,
    stage: &str,
    lines: &[String],
    codec: Codec,
    batch: usize,
) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let no = i as u64 + 1;
        match codec::decode(codec, stage, no, Line::Complete(line.as_bytes())) {
            Some(Ok(ev)) => good.push(ev),
            Some(Err(err)) => bad.push(err),
            None => {}
        }
    }
    if !bad.is_empty() {
        let mut per_port: Vec<Vec<Event>> = (0..stage_outputs.port_count())
            .map(|_| Vec::new())
            .collect();
        per_port[stage_outputs.errors_port()] = bad;
        let origin = name_hash("test input errors");
        let _ = stage_outputs.send(origin, 0, per_port).await;
    }
    drop(stage_outputs);
    send(outputs, name_hash(INPUT), good, batch).await;
}

/// A JSON value from a test file as an event read from line `line`.
fn to_event(v: &serde_json::Value, line: u64) -> anyhow::Result<Event> {
    let text = serde_json::to_vec(v)?;
    let value = jaq_json::read::parse_single(&text).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Event::with_line(value, line))
}

/// The event as one line of compact JSON (what a sink would write).
pub fn to_text(ev: &Event) -> String {
    let mut out = Vec::new();
    ev.encode(Codec::Json, &mut out);
    if out.last() == Some(&b'\n') {
        out.pop();
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The pipeline with its sources and sinks replaced by the test's ends.
fn derive(config: &Config, insert_at: &str, targets: &[String]) -> anyhow::Result<Config> {
    let (source_kind, sink_kind) = stand_ins()?;
    let mut stages = vec![StageConfig {
        name: INPUT.into(),
        role: Role::Source,
        type_name: "test".into(),
        inputs: Vec::new(),
        workers: 1,
        capacity: config.pipeline.capacity,
        ordered: false,
        kind: source_kind,
        settings: toml::Table::new(),
        span: 0..0,
    }];
    for s in &config.stages {
        if s.role != Role::Transform {
            continue;
        }
        let mut t = s.clone();
        // Only edges between transforms stay; the stand-in source feeds
        // the stage under test.
        t.inputs.retain(|i| {
            config
                .stages
                .iter()
                .any(|o| o.name == i.stage && o.role == Role::Transform)
        });
        if t.name == insert_at {
            t.inputs.push(InputRef::parse(INPUT, 0..0));
        }
        stages.push(t);
    }
    for (j, target) in targets.iter().enumerate() {
        stages.push(StageConfig {
            name: format!("test output {j}"),
            role: Role::Sink,
            type_name: "test".into(),
            inputs: vec![InputRef::parse(target, 0..0)],
            workers: 1,
            capacity: config.pipeline.capacity,
            ordered: true,
            kind: sink_kind.clone(),
            settings: toml::Table::new(),
            span: 0..0,
        });
    }
    Ok(Config {
        file: config.file.clone(),
        pipeline: config.pipeline.clone(),
        stages,
    })
}

/// The target a stand-in sink collects (its one input, as written).
fn sink_target(config: &Config, sink: &str) -> String {
    config
        .stages
        .iter()
        .find(|s| s.name == sink)
        .and_then(|s| s.inputs.first())
        .map(|i| i.to_string())
        .unwrap_or_default()
}

/// Settings for the stand-in ends. They are never opened or run: the
/// builder only needs a source's and a sink's place in the graph.
fn stand_ins() -> anyhow::Result<(StageKind, StageKind)> {
    const TEXT: &str = "[sources.i]\ntype = \"generate\"\ncount = 1\n\
                        [sinks.o]\ntype = \"blackhole\"\ninputs = [\"i\"]\n";
    let c = crate::config::parse("(test stand-ins)", TEXT).map_err(|d| {
        anyhow::anyhow!(
            "internal: the stand-in stages do not load: {}",
            d.first().map(|d| d.to_string()).unwrap_or_default()
        )
    })?;
    let mut kinds = c.stages.into_iter().map(|s| s.kind);
    match (kinds.next(), kinds.next()) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => anyhow::bail!("internal: the stand-in stages are missing"),
    }
}
