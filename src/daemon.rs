//! The run loop of `sluice run` and `sluice filter`: signals and reloads.
//!
//! - SIGTERM/SIGINT: the sources stop reading, everything read drains to
//!   the sinks, and the run ends. A second signal, or `shutdown_grace`
//!   running out, forces the exit and counts what was not delivered.
//! - SIGHUP (only with a config file): re-read and validate it; if invalid,
//!   log why (with line and column) and keep running; if valid, switch to
//!   it without losing or duplicating an event (see `topology::running`).
//! - systemd is told READY/RELOADING/STOPPING along the way (`notify`).

use std::path::Path;

use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::config::{self, Config};
use crate::kit::shutdown;
use crate::metrics;
use crate::notify;
use crate::stats::RunStats;
use crate::topology::running::{Outcome, Running};

enum Event {
    /// A task ended; `false` once all have.
    Task(bool),
    /// A stop signal, by name.
    Stop(&'static str),
    /// SIGHUP.
    Reload,
    /// `shutdown_grace` ran out.
    Deadline,
}

/// Runs `config` until it ends or is stopped. With `path`, SIGHUP reloads
/// the configuration from it.
pub async fn run(config: Config, path: Option<&Path>) -> anyhow::Result<Outcome> {
    let grace = config.pipeline.shutdown_grace;
    let metrics_address = config.pipeline.metrics_address.clone();
    let mut running = Running::start(config, RunStats::new())?;
    if let Some(address) = &metrics_address {
        let m = metrics::Metrics::new(running.stats());
        metrics::serve(address, m.clone()).await?;
        running.attach_metrics(m);
    }
    let (mut term, mut int) = (
        signal(SignalKind::terminate())?,
        signal(SignalKind::interrupt())?,
    );
    // Only a run with a config file to re-read handles SIGHUP; elsewhere it
    // keeps its default meaning (the terminal went away: exit).
    let mut hup: Option<Signal> = match path {
        Some(_) => Some(signal(SignalKind::hangup())?),
        None => None,
    };
    // Edge occupancy over time is sampled by `Running`, for every stage of
    // every graph it runs.
    let stats = running.stats().clone();
    let (stopping, stopping_listener) = shutdown::channel();
    let main = async move {
        let mut deadline: Option<tokio::time::Instant> = None;
        let forced = loop {
            let event = tokio::select! {
                more = running.next() => Event::Task(more),
                _ = term.recv() => Event::Stop("SIGTERM"),
                _ = int.recv() => Event::Stop("SIGINT"),
                Some(()) = async { match hup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => Event::Reload,
                () = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => Event::Deadline,
            };
            match event {
                Event::Task(true) => {}
                Event::Task(false) => break None,
                Event::Stop(name) if deadline.is_some() => {
                    let lost = running.stats().in_flight.current();
                    tracing::warn!(
                        "second {name}: forcing exit; {lost} events in flight not delivered"
                    );
                    running.abort();
                    break Some(format!(
                        "forced stop ({name}): {lost} events in flight were not delivered"
                    ));
                }
                Event::Stop(name) => {
                    tracing::info!("{name}: draining (grace {grace:?})");
                    running.stop();
                    stopping.trigger();
                    deadline = Some(tokio::time::Instant::now() + grace);
                }
                Event::Deadline => {
                    let lost = running.stats().in_flight.current();
                    tracing::warn!(
                        "shutdown_grace of {grace:?} exceeded: forcing exit; {lost} events in flight not delivered"
                    );
                    running.abort();
                    break Some(format!(
                        "forced stop (shutdown_grace {grace:?} exceeded): {lost} events in flight were not delivered"
                    ));
                }
                Event::Reload => reload(&mut running, path, deadline.is_some()),
            }
        };
        running.finish(forced)
    };
    Ok(notify::supervise(main, &stats, stopping_listener).await)
}

/// Handles one SIGHUP.
fn reload(running: &mut Running, path: Option<&Path>, stopping: bool) {
    let Some(path) = path else { return };
    if stopping {
        tracing::warn!("SIGHUP ignored: shutting down");
        return;
    }
    if running.reloading() {
        tracing::warn!(
            "SIGHUP ignored: the previous reload is still draining; send it again once it completes"
        );
        return;
    }
    notify::reloading();
    tracing::info!("SIGHUP: reloading {}", path.display());
    let result = match config::load_file(path) {
        Ok(config) => running.reload(config).map_err(|e| format!("{e:#}")),
        Err(diags) => {
            for d in &diags {
                tracing::error!("reload rejected: {d}");
            }
            Err(format!("{} problem(s) in the configuration", diags.len()))
        }
    };
    if let Err(e) = result {
        tracing::error!("reload rejected, the running pipeline is unchanged: {e}");
        notify::ready(&notify::status_line(running.stats()));
    }
}
