//! systemd's readiness protocol (`sd_notify`), for `Type=notify` services.
//!
//! Every function is a no-op when `NOTIFY_SOCKET` is not set, so the same
//! binary runs under systemd, in a shell or in a test. The messages:
//! - `READY=1` once every stage is spawned ([`supervise`]);
//! - `STOPPING=1` when a stop is requested or the graph ends by itself;
//! - `WATCHDOG=1` every `WATCHDOG_USEC / 2`, from a task on the graph's own
//!   runtime: if the runtime stalls, the pings stop and systemd restarts us;
//! - `STATUS=` with live counts every [`STATUS_EVERY`];
//! - [`reloading`] then [`ready`] around a configuration reload.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sd_notify::NotifyState;

use crate::kit::shutdown::Shutdown;
use crate::stats::RunStats;

/// How often `STATUS=` is refreshed: often enough for `systemctl status`,
/// rare enough to cost nothing.
pub const STATUS_EVERY: Duration = Duration::from_secs(5);

/// True when a service manager listens (`NOTIFY_SOCKET` is set).
pub fn enabled() -> bool {
    std::env::var_os("NOTIFY_SOCKET").is_some()
}

fn send(states: &[NotifyState<'_>]) {
    if !enabled() {
        return;
    }
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!("sd_notify failed: {e}");
    }
}

/// `READY=1` with a status line.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// `RELOADING=1` with `MONOTONIC_USEC` (what `Type=notify-reload` expects);
/// call [`ready`] once the new graph runs, or the old one is kept.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[
            NotifyState::Reloading,
            now,
            NotifyState::Status("reloading"),
        ]),
        Err(_) => send(&[NotifyState::Reloading, NotifyState::Status("reloading")]),
    }
}

/// `STOPPING=1` with a status line.
pub fn stopping(status: &str) {
    send(&[NotifyState::Stopping, NotifyState::Status(status)]);
}

/// `STATUS=` with free text.
pub fn status(text: &str) {
    send(&[NotifyState::Status(text)]);
}

/// The live counts shown in `STATUS=`.
pub fn status_line(stats: &RunStats) -> String {
    let r = stats.report(stats.started.elapsed());
    format!(
        "running: {} events read, {} written, {} errors, {} in flight",
        r.events_read,
        r.events_written,
        r.errors,
        stats.in_flight.current()
    )
}

/// The interval of `WATCHDOG=1` pings: half of `WATCHDOG_USEC`, when set
/// for this process.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled()
        .filter(|d| !d.is_zero())
        .map(|d| d / 2)
}

/// Runs `graph` (the future that runs the topology) and tells systemd about
/// it: `READY=1` right after its first poll, which spawns every stage;
/// `STOPPING=1` as soon as `shutdown` fires or the graph ends; watchdog
/// pings and `STATUS=` while it runs.
pub async fn supervise<F: Future>(graph: F, stats: &RunStats, mut shutdown: Shutdown) -> F::Output {
    let stopping_sent = Arc::new(AtomicBool::new(false));
    let mut helpers = tokio::task::JoinSet::new();
    if let Some(every) = watchdog_interval() {
        tracing::debug!("systemd watchdog: pinging every {every:?}");
        helpers.spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                send(&[NotifyState::Watchdog]);
            }
        });
    }
    if enabled() {
        let counts = stats.clone();
        let sent = stopping_sent.clone();
        helpers.spawn(async move {
            let mut tick = tokio::time::interval(STATUS_EVERY);
            tick.tick().await; // the first tick is immediate; READY carries a status
            loop {
                tick.tick().await;
                if !sent.load(Ordering::Relaxed) {
                    status(&status_line(&counts));
                }
            }
        });
        let counts = stats.clone();
        let sent = stopping_sent.clone();
        helpers.spawn(async move {
            shutdown.recv().await;
            if !sent.swap(true, Ordering::Relaxed) {
                stopping(&format!("draining: {}", status_line(&counts)));
            }
        });
    }
    let mut graph = std::pin::pin!(graph);
    let mut first_poll = true;
    let stages = stats.stages.len();
    let output = std::future::poll_fn(|cx| {
        let polled = graph.as_mut().poll(cx);
        if std::mem::take(&mut first_poll) {
            // The first poll of the topology's run spawned every stage task.
            ready(&format!("running: {stages} stages"));
        }
        polled
    })
    .await;
    if !stopping_sent.swap(true, Ordering::Relaxed) {
        stopping(&format!("stopped: {}", status_line(stats)));
    }
    // The helper that saw the stop request may be between claiming the
    // STOPPING message and sending it, on another thread: wait for it, or
    // the process could exit with the message unsent (seen under load).
    helpers.abort_all();
    while helpers.join_next().await.is_some() {}
    output
}
