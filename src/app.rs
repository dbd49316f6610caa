//! What each command does, from loaded config to exit code. Exit codes:
//! 0 success, 1 runtime failure (or `--strict` errors), 2 invalid config.

use std::path::Path;

use clap::{Args, ValueEnum};

use crate::config::graph;
use crate::config::{self, Config, DEFAULT_CONFIG, Diagnostic};
use crate::filter_cmd::FilterArgs;
use crate::stats::Report;
use crate::{daemon, filter_cmd};

/// Exit status for success.
pub const EXIT_OK: u8 = 0;
/// Exit status for a runtime failure.
pub const EXIT_FAILURE: u8 = 1;
/// Exit status for an invalid configuration or invocation.
pub const EXIT_CONFIG: u8 = 2;

/// Options every command takes.
#[derive(Debug, Args, Clone)]
pub struct Common {
    /// Log format on stderr (logs never go to stdout).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log level (overridden by RUST_LOG when set).
    #[arg(long, global = true, default_value = "info")]
    pub log_level: String,
    /// Print nothing on stderr but warnings and errors; no summary.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for journald and log collectors.
    Json,
}

/// Sets up tracing on stderr.
pub fn init_logging(common: &Common, filter_mode: bool) {
    use tracing_subscriber::EnvFilter;
    let level = if common.quiet {
        "warn"
    } else {
        common.log_level.as_str()
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    let _ = match (common.log_format, filter_mode) {
        (LogFormat::Json, _) => builder.json().try_init(),
        (LogFormat::Text, true) => builder.without_time().try_init(),
        (LogFormat::Text, false) => builder.try_init(),
    };
}

fn load(path: Option<&Path>) -> Result<Config, Vec<Diagnostic>> {
    match path {
        Some(p) => config::load_file(p),
        None => config::parse("config/default.toml (embedded)", DEFAULT_CONFIG),
    }
}

fn print_diagnostics(diags: &[Diagnostic]) {
    for d in diags {
        eprintln!("{d}");
    }
    eprintln!(
        "error: invalid configuration ({} problem{})",
        diags.len(),
        if diags.len() == 1 { "" } else { "s" }
    );
}

/// `sluice check CONFIG`
pub fn check(path: &Path) -> u8 {
    match config::load_file(path) {
        Ok(c) => {
            let count = |r| c.stages.iter().filter(|s| s.role == r).count();
            println!(
                "{}: ok: {} stages ({} sources, {} transforms, {} sinks), {} edges",
                path.display(),
                c.stages.len(),
                count(config::Role::Source),
                count(config::Role::Transform),
                count(config::Role::Sink),
                graph::edge_count(&c)
            );
            EXIT_OK
        }
        Err(diags) => {
            print_diagnostics(&diags);
            EXIT_CONFIG
        }
    }
}

/// `sluice graph CONFIG`
pub fn graph(path: &Path) -> u8 {
    match config::load_file(path) {
        Ok(c) => {
            print!("{}", graph::dot(&c));
            EXIT_OK
        }
        Err(diags) => {
            print_diagnostics(&diags);
            EXIT_CONFIG
        }
    }
}

/// `sluice run [CONFIG]`
pub fn run(path: Option<&Path>, report: Option<&Path>, common: &Common) -> u8 {
    match load(path) {
        Ok(c) => execute(&c, path, report, common.quiet, true).0,
        Err(diags) => {
            print_diagnostics(&diags);
            EXIT_CONFIG
        }
    }
}

/// `sluice filter PROGRAM` (see `filter_cmd`: it reads the command line,
/// runs what cannot be parallel itself, and tells the status).
pub fn filter(args: &FilterArgs, _common: &Common) -> u8 {
    match filter_cmd::plan(args) {
        filter_cmd::Plan::Done(code) => code,
        filter_cmd::Plan::Graph(g) => {
            let (code, _report) = execute(&g.config, None, g.report.as_deref(), true, false);
            g.finish(code)
        }
    }
}

/// Builds and runs `config` on a fresh runtime; prints the summary unless
/// `quiet`; writes the report when asked.
fn execute(
    config: &Config,
    config_path: Option<&Path>,
    report_path: Option<&Path>,
    quiet: bool,
    summary: bool,
) -> (u8, Option<Report>) {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return (EXIT_FAILURE, None);
        }
    };
    // The report names the configuration by the hash of its text: the file,
    // or for `run` without one the embedded default (`filter` has none).
    let config_text = match config_path {
        Some(p) => std::fs::read(p).ok(),
        None => summary.then(|| DEFAULT_CONFIG.as_bytes().to_vec()),
    };
    crate::kit::progress::enable(!quiet);
    let outcome = runtime.block_on(daemon::run(config.clone(), config_path));
    // Blocking readers (stdin) may still be parked in a read; do not wait for them.
    runtime.shutdown_background();
    let mut outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e:#}");
            return (EXIT_FAILURE, None);
        }
    };
    outcome.report.annotate(config, config_text.as_deref());
    if summary && !quiet {
        eprintln!("{}", outcome.report.summary());
    }
    if let Some(path) = report_path {
        let written = serde_json::to_vec_pretty(&outcome.report)
            .map_err(std::io::Error::other)
            .and_then(|json| std::fs::write(path, json));
        if let Err(e) = written {
            eprintln!("error: cannot write the report to {}: {e}", path.display());
            return (EXIT_FAILURE, Some(outcome.report));
        }
    }
    if outcome.failures.is_empty() {
        (EXIT_OK, Some(outcome.report))
    } else {
        for f in &outcome.failures {
            eprintln!("error: {f}");
        }
        (EXIT_FAILURE, Some(outcome.report))
    }
}
