//! Transforms: stages between sources and sinks, run by N workers sharing one
//! input edge. One file per kind, implementing [`TransformKind`]; [`KINDS`]
//! is the registry that maps a `type` to its kind.

pub mod delay;
pub mod filter;
pub mod http_enrich;
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

/// Every transform `type` and how to read its table: a new kind is one
/// line here and one file implementing [`TransformKind`].
pub const KINDS: &[(&str, Parse)] = &[
    ("filter", parse_as::<filter::FilterConfig>),
    ("jq", parse_as::<jq::JqConfig>),
    ("sample", parse_as::<sample::SampleConfig>),
    ("delay", parse_as::<delay::DelayConfig>),
    ("route", parse_as::<route::RouteConfig>),
    ("parse_regex", parse_as::<parse_regex::ParseRegexConfig>),
    ("http_enrich", parse_as::<http_enrich::HttpEnrichConfig>),
];

/// Reads the kind-specific keys of a `[transforms.NAME]` table (the kind's
/// own `deny_unknown_fields` struct, so a typo is reported at the typo).
pub type Parse = fn(toml::de::ValueDeserializer<'_>) -> Result<TransformConfig, toml::de::Error>;

fn parse_as<T: TransformKind + DeserializeOwned + Clone + 'static>(
    table: toml::de::ValueDeserializer<'_>,
) -> Result<TransformConfig, toml::de::Error> {
    T::deserialize(table).map(|c| Box::new(c) as TransformConfig)
}

pub use crate::kit::limits::Problem;

/// The configuration of one transform, whatever its `type`.
pub type TransformConfig = Box<dyn TransformKind>;

/// What every transform kind's configuration does, so that the loader, the
/// builder and the graph output need not know the kinds.
pub trait TransformKind: std::fmt::Debug + Send + Sync + CloneTransform {
    /// Problems in the settings that types alone do not catch (jq programs
    /// that do not compile, rates out of range, …); `text` is the config,
    /// for positions inside a program string.
    fn validate(&self, text: &str) -> Vec<Problem>;

    /// Names of the regular output ports; `""` is the stage's own name.
    fn output_ports(&self) -> Vec<String> {
        vec![String::new()]
    }

    /// Largest input batch this stage wants (`None`: the pipeline's).
    fn batch_hint(&self) -> Option<usize> {
        None
    }

    /// A fresh instance for one worker.
    fn build(&self) -> anyhow::Result<Transform>;

    /// The instances of a stage's `workers`. By default each is built on its
    /// own; a kind whose workers share something stage-wide (a limit on
    /// requests in flight, a cache) or keeps counters of its own
    /// ([`StageStats::extra`](crate::kit::counters::StageStats::extra))
    /// builds them together here.
    fn build_stage(&self, stage: &StageCtx<'_>, workers: usize) -> anyhow::Result<Vec<Transform>> {
        let _ = stage;
        (0..workers).map(|_| self.build()).collect()
    }

    /// A one-line description for the graph output.
    fn describe(&self) -> String;
}

/// The stage a transform's workers are built for.
pub struct StageCtx<'a> {
    /// The stage's name.
    pub name: &'a str,
    /// The stage's counters (kept across reloads).
    pub stats: &'a std::sync::Arc<crate::kit::counters::StageStats>,
}

/// Clones a boxed [`TransformKind`] (a [`Config`](crate::config::Config) is
/// cloned on reload); implemented for every `Clone` kind.
pub trait CloneTransform {
    /// A boxed copy.
    fn clone_box(&self) -> TransformConfig;
}

impl<T: TransformKind + Clone + 'static> CloneTransform for T {
    fn clone_box(&self) -> TransformConfig {
        Box::new(self.clone())
    }
}

impl Clone for TransformConfig {
    fn clone(&self) -> Self {
        (**self).clone_box()
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

/// A spill that is never full, for callers of `process_spilling` that
/// take every output at once ([`SyncTransform::process`]).
pub struct NoSpill;

impl Spill for NoSpill {
    fn limit(&self) -> usize {
        usize::MAX
    }
    fn spill(&mut self, _: usize, _: Vec<Event>) {}
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
