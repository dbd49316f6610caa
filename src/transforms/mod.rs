//! Transforms: stages between sources and sinks, run by N workers sharing one
//! input edge. One file per kind; [`TransformConfig`] is the registry.

pub mod delay;
pub mod filter;
pub mod jq;
pub mod parse_regex;
pub mod route;
pub mod sample;

use std::future::Future;
use std::pin::Pin;

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::de::DeserializeOwned;
use toml::Spanned;

use crate::kit::event::{Event, mix_origin, name_hash};

/// The configuration of one transform, by `type`.
#[derive(Debug, Clone)]
pub enum TransformConfig {
    /// `type = "filter"`
    Filter(filter::FilterConfig),
    /// `type = "jq"`
    Jq(jq::JqConfig),
    /// `type = "sample"`
    Sample(sample::SampleConfig),
    /// `type = "delay"`
    Delay(delay::DelayConfig),
    /// `type = "route"`
    Route(route::RouteConfig),
    /// `type = "parse_regex"`
    ParseRegex(parse_regex::ParseRegexConfig),
}

/// Every transform `type`, for messages.
pub const TYPES: &[&str] = &["filter", "jq", "sample", "delay", "route", "parse_regex"];

/// Parses the kind-specific keys of a `[transforms.NAME]` table of `type`.
/// `None` when the type is unknown.
pub fn parse(
    type_name: &str,
    table: toml::de::ValueDeserializer<'_>,
) -> Option<Result<TransformConfig, toml::de::Error>> {
    fn de<T: DeserializeOwned>(t: toml::de::ValueDeserializer<'_>) -> Result<T, toml::de::Error> {
        T::deserialize(t)
    }
    Some(match type_name {
        "filter" => de(table).map(TransformConfig::Filter),
        "jq" => de(table).map(TransformConfig::Jq),
        "sample" => de(table).map(TransformConfig::Sample),
        "delay" => de(table).map(TransformConfig::Delay),
        "route" => de(table).map(TransformConfig::Route),
        "parse_regex" => de(table).map(TransformConfig::ParseRegex),
        _ => return None,
    })
}

pub use crate::kit::limits::Problem;

impl TransformConfig {
    /// Problems in the settings that types alone do not catch (jq programs
    /// that do not compile, rates out of range, …).
    pub fn validate(&self, text: &str) -> Vec<Problem> {
        match self {
            TransformConfig::Filter(c) => check_program(text, &c.condition),
            TransformConfig::Jq(c) => check_program(text, &c.program),
            TransformConfig::Sample(c) => c.validate(),
            TransformConfig::Delay(c) => c.validate(),
            TransformConfig::Route(c) => c.validate(text),
            TransformConfig::ParseRegex(c) => c.validate(),
        }
    }

    /// Names of the regular output ports; `""` is the stage's own name.
    pub fn output_ports(&self) -> Vec<String> {
        match self {
            TransformConfig::Route(c) => c.port_names(),
            _ => vec![String::new()],
        }
    }

    /// Largest input batch this stage wants (`delay` works event by event, so
    /// its workers share small batches).
    pub fn batch_hint(&self) -> Option<usize> {
        match self {
            TransformConfig::Delay(_) => Some(1),
            _ => None,
        }
    }

    /// A fresh instance for one worker.
    pub fn build(&self) -> anyhow::Result<Transform> {
        Ok(match self {
            TransformConfig::Filter(c) => Transform::Sync(Box::new(c.build()?)),
            TransformConfig::Jq(c) => Transform::Sync(Box::new(c.build()?)),
            TransformConfig::Sample(c) => Transform::Sync(Box::new(c.build())),
            TransformConfig::Delay(c) => Transform::Async(Box::new(c.build())),
            TransformConfig::Route(c) => Transform::Sync(Box::new(c.build()?)),
            TransformConfig::ParseRegex(c) => Transform::Sync(Box::new(c.build()?)),
        })
    }

    /// A one-line description for the graph output.
    pub fn describe(&self) -> String {
        match self {
            TransformConfig::Filter(c) => format!("filter {}", c.condition.get_ref()),
            TransformConfig::Jq(c) => format!("jq {}", c.program.get_ref()),
            TransformConfig::Sample(c) => format!("sample {}", c.rate),
            TransformConfig::Delay(c) => format!("delay {:?}+{:?}", c.duration, c.jitter),
            TransformConfig::Route(c) => format!("route {}", c.port_names().join(", ")),
            TransformConfig::ParseRegex(c) => format!("parse_regex {}", c.pattern.get_ref()),
        }
    }
}

/// Where a batch came from, for transforms that need randomness or names.
pub struct BatchCtx<'a> {
    /// The stage's name (error events carry it).
    pub stage: &'a str,
    /// The batch's origin stream.
    pub origin: u64,
    /// The batch's sequence number in that stream.
    pub seq: u64,
    /// The pipeline seed.
    pub seed: u64,
}

impl BatchCtx<'_> {
    /// A random generator determined by the seed, the stage and the batch, so
    /// the same input gives the same choices whichever worker runs it.
    pub fn rng(&self) -> StdRng {
        let stream = mix_origin(self.origin ^ name_hash(self.stage), self.seq as u32);
        StdRng::seed_from_u64(self.seed ^ stream ^ self.seq.rotate_left(32))
    }
}

/// Per-port output buffers for one batch; the last port is `errors`.
pub type PortBuffers = Vec<Vec<Event>>;

/// Takes a port's output before its batch is done, so that a transform
/// whose output outgrows a batch (a jq program that expands) sends it on in
/// parts as it goes: the edge's bound holds and its backpressure reaches
/// the evaluation.
pub trait Spill {
    /// Largest number of events in one output batch.
    fn limit(&self) -> usize;
    /// Sends `events` on as the next part of `port`'s output (waits while
    /// the edge is full).
    fn spill(&mut self, port: usize, events: Vec<Event>);
}

impl dyn Spill + '_ {
    /// Spills `buf` (the buffer of `port`) once it holds a full batch.
    pub fn if_full(&mut self, port: usize, buf: &mut Vec<Event>) {
        if buf.len() >= self.limit() {
            self.spill(port, std::mem::take(buf));
        }
    }
}

/// A transform whose work is pure computation on a batch.
pub trait SyncTransform: Send {
    /// Maps the `input` batch into `out` (one buffer per port).
    fn process(&mut self, input: Vec<Event>, ctx: &BatchCtx<'_>, out: &mut PortBuffers);

    /// [`process`](Self::process), handing full buffers to `spill` on the
    /// way; only a transform that can emit more events than it received
    /// needs to do so.
    fn process_spilling(
        &mut self,
        input: Vec<Event>,
        ctx: &BatchCtx<'_>,
        out: &mut PortBuffers,
        spill: &mut dyn Spill,
    ) {
        let _ = spill;
        self.process(input, ctx, out);
    }
}

/// A transform that waits (simulated or real I/O) while it works.
pub trait AsyncTransform: Send {
    /// Maps the `input` batch into `out` (one buffer per port).
    fn process<'a>(
        &'a mut self,
        input: Vec<Event>,
        ctx: &'a BatchCtx<'a>,
        out: &'a mut PortBuffers,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
}

/// One worker's transform instance.
pub enum Transform {
    /// Runs inline on the worker task.
    Sync(Box<dyn SyncTransform>),
    /// Awaited on the worker task.
    Async(Box<dyn AsyncTransform>),
}

impl Transform {
    /// Processes one batch.
    pub async fn process(&mut self, input: Vec<Event>, ctx: &BatchCtx<'_>, out: &mut PortBuffers) {
        match self {
            Transform::Sync(t) => t.process(input, ctx, out),
            Transform::Async(t) => t.process(input, ctx, out).await,
        }
    }
}

/// Compiles a jq program from the config, reporting errors at their place in
/// the config text.
pub fn check_program(text: &str, program: &Spanned<String>) -> Vec<Problem> {
    // Before compiling: too deep a program would overflow the stack there.
    if let Err(message) = program_depth(program.get_ref()) {
        let offset = message.0;
        let at = program_offset(text, program, Some(offset));
        return vec![(Some(at..at), message.1)];
    }
    match crate::kit::jq::Program::compile(program.get_ref()) {
        Ok(_) => Vec::new(),
        Err(errs) => errs
            .into_iter()
            .map(|e| {
                let at = program_offset(text, program, e.offset);
                (Some(at..at), format!("invalid jq program: {}", e.message))
            })
            .collect(),
    }
}

/// `Err((offset, message))` when `program` nests deeper than jaq can
/// compile and run on a graph thread's stack (see `config::jq_depth`).
pub fn program_depth(program: &str) -> Result<(), (usize, String)> {
    use crate::kit::jq::depth::{MAX_PROGRAM_DEPTH, check};
    check(program, MAX_PROGRAM_DEPTH).map_err(|(offset, max)| {
        (
            offset,
            format!(
                "invalid jq program: nested or chained too deeply (more than {max} levels of brackets and operators); split it across several stages"
            ),
        )
    })
}

/// Byte offset in the config text of `offset` within a program string,
/// precise when the string is written without escapes.
fn program_offset(text: &str, program: &Spanned<String>, offset: Option<usize>) -> usize {
    let span = program.span();
    let raw = text.get(span.clone()).unwrap_or("");
    let mut start = span.start;
    for quote in ["'''", "\"\"\"", "'", "\""] {
        if raw.starts_with(quote) {
            start += quote.len();
            if quote.len() == 3 && text[start..].starts_with('\n') {
                start += 1;
            }
            break;
        }
    }
    let code = program.get_ref();
    match offset {
        Some(o) if text.get(start..start + code.len()) == Some(code.as_str()) => start + o,
        _ => span.start,
    }
}
