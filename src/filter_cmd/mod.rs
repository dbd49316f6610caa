//! `sluice filter`: jq's command line over sluice's parallel, ordered
//! pipeline. The line-by-line case is an ordinary graph built in code —
//! input (stdin or files) → the program on N workers → stdout, with the
//! error outputs going to a stderr reporter — run by `app`; `-n`, `-s` and
//! programs that read lines themselves (`input`, `inputs`) run jq's
//! sequential model instead (`sequential.rs`).
//!
//! `args.rs` reads the command line, `inputs.rs` the files, `worker.rs` runs
//! the program, `output.rs` writes jq's formats and the error lines.

mod args;
mod inputs;
mod output;
mod sequential;
mod worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use clap::Args;

use crate::config::{Config, InputRef, PipelineConfig, Role, StageConfig, StageKind};
use crate::kit::codec::{Codec, DEFAULT_MAX_LINE_BYTES};
use crate::kit::jq::Program;
use crate::sources::stdin::StdinConfig;

pub use args::Options;

/// Exit status when `-e` saw no output (jq's).
const EXIT_NO_OUTPUT: u8 = 4;
/// Exit status when `-e` saw runtime errors (jq's).
const EXIT_ERRORS: u8 = 5;
/// Exit status for a bad command line or program (jq's and sluice's).
const EXIT_USAGE: u8 = 2;

/// Options of `sluice filter`: jq's command line, read by `args.rs`
/// (`sluice filter --help` lists them).
#[derive(Debug, Args, Clone)]
#[command(disable_help_flag = true)]
pub struct FilterArgs {
    /// jq's options, the program, then input files (see `sluice filter --help`).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        num_args = 0..,
        value_name = "ARGS"
    )]
    pub args: Vec<String>,
}

/// What a run saw, for the exit status.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    /// Lines that were not valid input.
    pub bad_lines: u64,
    /// Runtime errors of the program.
    pub failed: u64,
    /// `None`: no output; `Some(true)`: the last output was false or null.
    pub last: Option<bool>,
}

/// What the command asks `app` to do.
pub enum Plan {
    /// Nothing more: exit with this status.
    Done(u8),
    /// Run this graph, then ask [`Graph::finish`] for the status.
    Graph(Box<Graph>),
}

/// A filter graph to run.
pub struct Graph {
    /// The pipeline.
    pub config: Config,
    /// `--report FILE`.
    pub report: Option<PathBuf>,
    options: Options,
    last: Arc<output::Last>,
    counts: Arc<output::Counts>,
}

impl Graph {
    /// The exit status once the graph ran with status `code`.
    pub fn finish(&self, code: u8) -> u8 {
        if code != 0 {
            return code;
        }
        let outcome = Outcome {
            bad_lines: self.counts.bad_lines.load(Relaxed),
            failed: self.counts.failed.load(Relaxed),
            last: self.last.get(),
        };
        status(&self.options, &outcome)
    }
}

/// jq's `-e` statuses and sluice's `--strict`.
fn status(o: &Options, outcome: &Outcome) -> u8 {
    if o.exit_status {
        return if outcome.failed > 0 {
            EXIT_ERRORS
        } else {
            match outcome.last {
                None => EXIT_NO_OUTPUT,
                Some(true) => 1,
                Some(false) => 0,
            }
        };
    }
    let errors = outcome.bad_lines + outcome.failed;
    if o.strict && errors > 0 {
        eprintln!("error: {errors} input lines were malformed or failed (--strict)");
        return 1;
    }
    0
}

/// Reads the command line and decides how to run it.
pub fn plan(args: &FilterArgs) -> Plan {
    let options = match args::parse(&args.args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return Plan::Done(EXIT_USAGE);
        }
    };
    if options.help {
        print!("{}", args::HELP);
        return Plan::Done(0);
    }
    let program = match compile(&options) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return Plan::Done(EXIT_USAGE);
        }
    };
    let uses = program.uses();
    let sequential = options.null_input || options.slurp || uses.input;
    if sequential {
        if uses.input
            && !options.null_input
            && !options.slurp
            && options.workers.is_some_and(|w| w > 1)
        {
            eprintln!(
                "error: `input`/`inputs` read the next input line, which parallel workers \
                 cannot share: use -n (the program runs once and `inputs` yields every line), \
                 -s (once, on the array of all lines), or -w 1"
            );
            return Plan::Done(EXIT_USAGE);
        }
        return Plan::Done(match sequential::run(&options, &program) {
            Ok(outcome) => status(&options, &outcome),
            Err(e) => {
                eprintln!("error: {e:#}");
                1
            }
        });
    }
    match graph(options, uses.position) {
        Ok(g) => Plan::Graph(Box::new(g)),
        Err(e) => {
            eprintln!("error: {e}");
            Plan::Done(EXIT_USAGE)
        }
    }
}

/// The program, checked for depth and compiled with its variables.
fn compile(o: &Options) -> Result<Program, String> {
    crate::transforms::program_depth(&o.program).map_err(|(_, message)| message)?;
    Program::compile_with(&o.program, o.globals()).map_err(|errs| {
        let list: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        format!("invalid jq program: {}", list.join("; "))
    })
}

/// The parallel graph for `o`.
fn graph(o: Options, position: bool) -> Result<Graph, String> {
    use crate::kit::limits::{MAX_CAPACITY, MAX_WORKERS};
    let workers = match o.workers {
        Some(n) if !(1..=MAX_WORKERS).contains(&n) => {
            return Err(format!(
                "--workers must be between 1 and {MAX_WORKERS}, got {n}"
            ));
        }
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(2, |n| n.get().min(MAX_WORKERS)),
    };
    let capacity = o.capacity.unwrap_or(crate::config::DEFAULT_CAPACITY);
    if !(1..=MAX_CAPACITY).contains(&capacity) {
        return Err(format!(
            "--capacity must be between 1 and {MAX_CAPACITY}, got {capacity}"
        ));
    }
    let pipeline = PipelineConfig {
        capacity,
        error_log_rate: None,
        ..PipelineConfig::default()
    };
    let stage = |name: &str, role, type_name: &str, inputs: &[&str], kind| StageConfig {
        name: name.into(),
        role,
        type_name: type_name.into(),
        inputs: inputs.iter().map(|i| InputRef::parse(i, 0..0)).collect(),
        workers: 1,
        capacity,
        ordered: false,
        kind,
        span: 0..0,
        settings: Default::default(),
    };
    let codec = if o.raw_input {
        Codec::Text
    } else {
        Codec::Json
    };
    let table = Arc::new(inputs::FileTable::default());
    let source_kind: StageKind = if o.files.is_empty() {
        table.push(1, None);
        StageKind::Source(Box::new(StdinConfig {
            codec,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
        }))
    } else {
        StageKind::Source(Box::new(inputs::FilesSource {
            files: o.files.clone(),
            codec,
            table: table.clone(),
        }))
    };
    let source = stage("input", Role::Source, "input", &[], source_kind);
    let mut jq = stage(
        "jq",
        Role::Transform,
        "jq",
        &["input"],
        StageKind::Transform(Box::new(worker::ProgramStage {
            code: o.program.clone(),
            globals: o.globals(),
            position,
            table: table.clone(),
        })),
    );
    jq.workers = workers;
    let last = Arc::new(output::Last::default());
    let counts = Arc::new(output::Counts::default());
    let mut out = stage(
        "stdout",
        Role::Sink,
        "stdout",
        &["jq"],
        StageKind::Sink(Box::new(output::StdoutPrinter {
            printer: output::Printer {
                output: o.output.clone(),
            },
            last: last.clone(),
        })),
    );
    out.ordered = !o.unordered;
    let mut errs = stage(
        "stderr",
        Role::Sink,
        "stderr",
        &["input.errors", "jq.errors"],
        StageKind::Sink(Box::new(output::StderrReporter {
            table,
            program_stage: "jq".into(),
            counts: counts.clone(),
        })),
    );
    // Unordered on purpose: an ordered consumer makes every batch send an
    // (almost always empty) errors batch along, which cost `filter .` half
    // its speed. Error lines may then come in worker order.
    errs.ordered = false;
    Ok(Graph {
        config: Config {
            file: "<filter>".into(),
            pipeline,
            stages: vec![source, jq, out, errs],
        },
        report: o.report.clone(),
        options: o,
        last,
        counts,
    })
}
