//! `sluice top [--address HOST:PORT] [--once]`: a live view of a running
//! daemon, read once a second from its API (`GET /api/v1/graph`).
//!
//! On a terminal: a ratatui screen, one row per stage in graph order (its
//! inputs, events/s in and out, errors/s, busy %, input-edge fill, p99),
//! the bottleneck's row red and flagged `!`, the status line
//! `bottleneck: STAGE (reason)`; `s` cycles the sort column, `r`
//! reverses, arrows or `j`/`k` select, Enter opens a stage's detail (its
//! edges, counters, p50/p99), Esc goes back, `q`, Esc or Ctrl-C quit
//! (SIGTERM too), the terminal restored; SIGHUP (the terminal closed)
//! exits with 129. When
//! stdout is not a terminal: the same table as plain text, one per
//! refresh; `--once` prints one and exits.
//!
//! A daemon that does not answer the *first* request ends `top` at once
//! with status 1 and the reason (a wrong `--address` should not leave a
//! blank screen waiting); once it has answered, a daemon that stops
//! answering (a restart) is retried every second, the last figures staying
//! on screen under a red line saying since when.
//!
//! | file | job |
//! |---|---|
//! | [`client`] | the polling thread, on the API clients' [`Client`] |
//! | [`model`] | columns, figures as text, sort orders, status line |
//! | [`columns`] | which columns fit a width |
//! | [`state`] | the screen's state and what each key does |
//! | [`render`], [`detail`] | drawing the table and a stage's detail |
//! | [`tui`] | the terminal loop |
//! | [`plain`] | plain text for pipes and `--once` |

pub mod client;
pub mod columns;
pub mod detail;
pub mod model;
pub mod plain;
pub mod render;
pub mod state;
pub mod tui;

use std::io::IsTerminal as _;
use std::time::Duration;

use clap::Args;

use client::Poller;

use crate::client::{ApiArgs, Client};

use crate::stats::view::GraphView;

/// How often the screen asks the daemon: the API's rates are averaged
/// over seconds, so faster would show nothing new.
pub const REFRESH: Duration = Duration::from_secs(1);

/// `sluice top` options.
#[derive(Debug, Args, Clone)]
pub struct TopArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Print the table once as plain text and exit (for scripts and
    /// tests). Without it, plain text is printed once a second when stdout
    /// is not a terminal.
    #[arg(long)]
    pub once: bool,
}

/// Runs `sluice top`; returns the exit status (0, or 1 with the reason on
/// stderr).
pub fn main(args: &TopArgs) -> u8 {
    match run(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

fn run(args: &TopArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.api)?;
    // Checked by `Client::new`: HOST:PORT, a bare port on 127.0.0.1.
    let address = crate::kit::net::parse_address(&args.api.address).unwrap_or_default();
    let poller = Poller::start(client, REFRESH)?;
    let first = poller
        .results
        .recv()
        .map_err(|_| anyhow::anyhow!("the poller thread ended"))?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if args.once {
        plain::print(&plain::table(&first, &address), false);
        return Ok(());
    }
    if !std::io::stdout().is_terminal() {
        return plain_loop(&address, &poller, first);
    }
    tui::run(&address, &poller, first)
}

/// One table per answer until stdout's reader goes away; a daemon that
/// stops answering is said once on stderr per outage, and retried.
fn plain_loop(address: &str, poller: &Poller, first: GraphView) -> anyhow::Result<()> {
    if !plain::print(&plain::table(&first, address), true) {
        return Ok(());
    }
    let mut down = false;
    for fetched in poller.results.iter() {
        match fetched {
            Ok(view) => {
                down = false;
                if !plain::print(&plain::table(&view, address), true) {
                    return Ok(());
                }
            }
            Err(e) if !down => {
                down = true;
                eprintln!("top: {e} (retrying every second)");
            }
            Err(_) => {}
        }
    }
    Ok(())
}
