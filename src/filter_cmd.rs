//! `sluice filter`: the jq-like shell filter is an ordinary pipeline built in
//! code: stdin → jq (N workers) → stdout, ordered unless `--unordered`.

use std::path::PathBuf;

use clap::Args;

use crate::config::{Config, InputRef, PipelineConfig, Role, StageConfig, StageKind};
use crate::kit::codec::{Codec, DEFAULT_MAX_LINE_BYTES};
use crate::sinks::stdout::StdoutConfig;
use crate::sources::stdin::StdinConfig;
use crate::transforms::jq::JqConfig;

/// Options of `sluice filter`.
#[derive(Debug, Args, Clone)]
pub struct FilterArgs {
    /// The jq program (jaq dialect), e.g. 'select(.level == "error")'.
    pub program: String,
    /// Worker threads running the program (default: number of CPUs).
    #[arg(short, long, value_name = "N")]
    pub workers: Option<usize>,
    /// Capacity of each edge, in events.
    #[arg(long, value_name = "N", default_value_t = crate::config::DEFAULT_CAPACITY)]
    pub capacity: usize,
    /// Write outputs as they are ready instead of in input order.
    #[arg(long)]
    pub unordered: bool,
    /// Read each line as a JSON string instead of parsing it (like jq -R).
    #[arg(short = 'R', long)]
    pub raw_input: bool,
    /// Write strings without quotes (like jq -r).
    #[arg(short = 'r', long)]
    pub raw_output: bool,
    /// Exit non-zero at the end if any line was malformed or failed.
    #[arg(long)]
    pub strict: bool,
    /// Write a JSON report to FILE at exit.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// The pipeline for `args`, or why it cannot be built.
pub fn config(args: &FilterArgs) -> Result<Config, String> {
    crate::transforms::program_depth(&args.program).map_err(|(_, message)| message)?;
    if let Err(errs) = crate::kit::jq::Program::compile(&args.program) {
        let list: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        return Err(format!("invalid jq program: {}", list.join("; ")));
    }
    use crate::kit::limits::{MAX_CAPACITY, MAX_WORKERS};
    let workers = match args.workers {
        Some(n) if !(1..=MAX_WORKERS).contains(&n) => {
            return Err(format!(
                "--workers must be between 1 and {MAX_WORKERS}, got {n}"
            ));
        }
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(2, |n| n.get().min(MAX_WORKERS)),
    };
    if !(1..=MAX_CAPACITY).contains(&args.capacity) {
        return Err(format!(
            "--capacity must be between 1 and {MAX_CAPACITY}, got {}",
            args.capacity
        ));
    }
    let pipeline = PipelineConfig {
        capacity: args.capacity,
        error_log_rate: None,
        ..PipelineConfig::default()
    };
    let stage = |name: &str, role, type_name: &str, input: Option<&str>, kind| StageConfig {
        name: name.into(),
        role,
        type_name: type_name.into(),
        inputs: input
            .map(|i| InputRef::parse(i, 0..0))
            .into_iter()
            .collect(),
        workers: 1,
        capacity: args.capacity,
        ordered: false,
        kind,
        span: 0..0,
        settings: Default::default(),
    };
    let source = stage(
        "stdin",
        Role::Source,
        "stdin",
        None,
        StageKind::Source(Box::new(StdinConfig {
            codec: if args.raw_input {
                Codec::Text
            } else {
                Codec::Json
            },
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
        })),
    );
    let mut jq = stage(
        "jq",
        Role::Transform,
        "jq",
        Some("stdin"),
        StageKind::Transform(Box::new(JqConfig {
            program: toml::Spanned::new(0..0, args.program.clone()),
        })),
    );
    jq.workers = workers;
    let mut sink = stage(
        "stdout",
        Role::Sink,
        "stdout",
        Some("jq"),
        StageKind::Sink(Box::new(StdoutConfig {
            codec: if args.raw_output {
                Codec::Text
            } else {
                Codec::Json
            },
            // `sluice filter | head` is a normal end, as with jq.
            quiet_close: true,
        })),
    );
    sink.ordered = !args.unordered;
    Ok(Config {
        file: "<filter>".into(),
        pipeline,
        stages: vec![source, jq, sink],
    })
}
