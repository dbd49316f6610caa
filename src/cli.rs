//! The command line: `run`, `check`, `graph`, `filter`, `test`, `tap` and
//! `top`, their options, and the mapping from outcomes to exit codes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::{self, Common};
use crate::filter_cmd::FilterArgs;

/// sluice: a streaming pipeline of bounded stages — sources, jq transforms
/// and sinks declared in TOML — and a parallel, ordered jq for the shell.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the pipeline in CONFIG (default: the embedded demo) until every
    /// source has ended and every sink has flushed, or until SIGTERM/SIGINT.
    Run {
        /// The pipeline configuration (TOML).
        config: Option<PathBuf>,
        /// Write a JSON report (per-stage counts, elapsed) to FILE at exit.
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
    },
    /// Validate CONFIG without starting anything.
    Check {
        /// The pipeline configuration (TOML).
        config: PathBuf,
    },
    /// Print the stage graph of CONFIG in Graphviz DOT; with --live, the
    /// graph a running daemon runs, edges labelled with events/s and fill,
    /// the bottleneck in red (`sluice graph --live | dot -Tsvg > now.svg`).
    Graph {
        /// The pipeline configuration (TOML).
        #[arg(required_unless_present = "live", conflicts_with = "live")]
        config: Option<PathBuf>,
        /// Ask the running daemon at --address for its live graph.
        #[arg(long)]
        live: bool,
        #[command(flatten)]
        api: crate::client::ApiArgs,
    },
    /// Print the events leaving STAGE (or STAGE.PORT) in a running daemon,
    /// as JSON lines, live. A slow reader loses lines (counted by the
    /// daemon as `tap_dropped`), never slows the pipeline. Ctrl-C exits
    /// with 130.
    Tap(crate::client::tap::TapArgs),
    /// Filter JSON lines from stdin to stdout with a jq program, in parallel,
    /// keeping input order.
    Filter(FilterArgs),
    /// A live view of a running daemon, from its API: per stage events/s,
    /// errors, busy %, input-edge fill, p99, and the bottleneck. `q`
    /// quits. Plain text when stdout is not a terminal.
    Top(crate::top::TopArgs),
    /// Run the unit tests of CONFIG (`[[tests]]` tables in it or in TESTS
    /// files): events go into a transform, what comes out is checked. No
    /// source or sink runs.
    Test {
        /// The pipeline configuration (TOML).
        config: PathBuf,
        /// More files holding `[[tests]]` tables.
        tests: Vec<PathBuf>,
        /// How to print the results.
        #[arg(long, value_enum, default_value_t = crate::test_cmd::Format::Text)]
        format: crate::test_cmd::Format,
    },
}

/// Parses the command line and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter_mode = matches!(cli.command, Command::Filter(_));
    app::init_logging(&cli.common, filter_mode);
    let code = match cli.command {
        Command::Run { config, report } => {
            app::run(config.as_deref(), report.as_deref(), &cli.common)
        }
        Command::Check { config } => app::check(&config),
        Command::Graph {
            config: Some(config),
            live: false,
            ..
        } => app::graph(&config),
        Command::Graph { api, .. } => crate::client::graph_live::main(&api),
        Command::Tap(args) => crate::client::tap::main(&args),
        Command::Filter(args) => app::filter(&args, &cli.common),
        Command::Top(args) => crate::top::main(&args),
        Command::Test {
            config,
            tests,
            format,
        } => crate::test_cmd::main(&config, &tests, format),
    };
    ExitCode::from(code)
}

/// Where a path came from, for messages.
pub fn display(path: Option<&Path>) -> String {
    path.map_or_else(
        || "config/default.toml (embedded)".into(),
        |p| p.display().to_string(),
    )
}
