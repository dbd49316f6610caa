//! The run loop of `sluice run` and `sluice filter`: one loop over the
//! tasks, the shutdown deadline and the signals, read as one stream
//! (`signal_hook_tokio::Signals`):
//!
//! - SIGTERM/SIGINT: the sources stop reading, everything read drains to
//!   the sinks, and the run ends. A second signal, or `shutdown_grace`
//!   running out, forces the exit and counts what was not delivered.
//! - SIGHUP (only with a config file): re-read and validate it; if invalid,
//!   log why (with line and column) and keep running; if valid, switch to
//!   it without losing or duplicating an event (see `topology::running`).
//!   Without a config file SIGHUP keeps its default meaning (exit).
//! - SIGUSR1: log one status line per stage (counts, rates, busy, fill,
//!   p99 over the last seconds); nothing stops.
//! - SIGQUIT: log the current bottleneck judgement and every stage's state
//!   (tasks running, fill, busy); nothing stops (no core dump either).
//! - systemd is told READY/RELOADING/STOPPING along the way (`notify`).
//!
//! The live view ([`Live`]) samples the counters for SIGUSR1/SIGQUIT and,
//! with `pipeline.metrics_address`, for the API ([`crate::api`]), which
//! stops (ending every tap stream) once the graph has ended.

mod status;

use std::path::Path;

use futures::StreamExt as _;
use signal_hook_tokio::Signals;
use tokio::signal::unix::SignalKind;

use crate::config::{self, Config};
use crate::kit::shutdown;
use crate::notify;
use crate::stats::{Live, RunStats};
use crate::topology::running::{Outcome, Running};

enum Event {
    /// A task ended; `false` once all have.
    Task(bool),
    /// A stop signal, by name.
    Stop(&'static str),
    /// SIGHUP.
    Reload,
    /// SIGUSR1.
    Status,
    /// SIGQUIT.
    Judge,
    /// `shutdown_grace` ran out.
    Deadline,
    /// A signal this loop did not ask for (none expected).
    Other,
}

/// Runs `config` until it ends or is stopped. With `path`, SIGHUP reloads
/// the configuration from it.
pub async fn run(config: Config, path: Option<&Path>) -> anyhow::Result<Outcome> {
    let grace = config.pipeline.shutdown_grace;
    let metrics_address = config.pipeline.metrics_address.clone();
    let api_config = config.pipeline.api.clone();
    let (term, int, hup, usr1, quit) = (
        SignalKind::terminate().as_raw_value(),
        SignalKind::interrupt().as_raw_value(),
        SignalKind::hangup().as_raw_value(),
        SignalKind::user_defined1().as_raw_value(),
        SignalKind::quit().as_raw_value(),
    );
    let mut wanted = vec![term, int, usr1, quit];
    // Only a run with a config file to re-read handles SIGHUP; elsewhere it
    // keeps its default meaning (the terminal went away: exit).
    if path.is_some() {
        wanted.push(hup);
    }
    // Before anything starts: a client that saw a source's "listening" log
    // line may signal at once, and must not meet the default disposition
    // (death by SIGTERM, exit status 143 instead of a drain).
    let mut signals = Signals::new(&wanted)?;
    let signals_handle = signals.handle();
    let mut running = Running::start(config, RunStats::new())?;
    let live = Live::new(running.config(), running.stats());
    live.spawn_sampler();
    running.attach_live(live.clone());
    // After the handlers: a client that saw the API's address may signal.
    let server = match &metrics_address {
        Some(address) => Some(crate::api::start(address, &api_config, live.clone()).await?),
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
                Some(signal) = signals.next() => match signal {
                    s if s == term => Event::Stop("SIGTERM"),
                    s if s == int => Event::Stop("SIGINT"),
                    s if s == hup => Event::Reload,
                    s if s == usr1 => Event::Status,
                    s if s == quit => Event::Judge,
                    _ => Event::Other,
                },
                () = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => Event::Deadline,
            };
            match event {
                Event::Task(true) | Event::Other => {}
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
                Event::Status => status::log_status(&live.view()),
                Event::Judge => status::log_judgement(&live.view(), &running.running_tasks()),
            }
        };
        signals_handle.close();
        if let Some(server) = server {
            server.stop().await;
        }
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
        Ok(config) => {
            if config.pipeline.metrics_address != running.config().pipeline.metrics_address
                || config.pipeline.api != running.config().pipeline.api
            {
                tracing::warn!(
                    "reload: changes to `pipeline.metrics_address` and `[pipeline.api]` take effect at the next start"
                );
            }
            running.reload(config).map_err(|e| format!("{e:#}"))
        }
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
