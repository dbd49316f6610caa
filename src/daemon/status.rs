//! What SIGUSR1 and SIGQUIT log: one status line per stage, and the
//! bottleneck judgement with every stage's state, from the live view
//! (figures over its last few seconds).

use std::collections::HashMap;

use crate::stats::view::{GraphView, StageView};

/// SIGUSR1: one line per stage, in graph order.
pub(super) fn log_status(view: &GraphView) {
    tracing::info!(
        "SIGUSR1: {} stages, rates over the last {:.1}s, {} events in flight",
        view.stages.len(),
        view.window_s,
        view.in_flight
    );
    for s in &view.stages {
        tracing::info!("status: {}", status_line(s));
    }
}

/// SIGQUIT: the judgement, then each stage's state.
pub(super) fn log_judgement(view: &GraphView, tasks: &HashMap<String, usize>) {
    match &view.bottleneck {
        Some(b) => tracing::info!(
            "SIGQUIT: bottleneck: {} ({}), over the last {:.1}s",
            b.stage,
            b.reason,
            view.window_s
        ),
        None => tracing::info!(
            "SIGQUIT: bottleneck: none (no input edge is full: the sources set the pace), over the last {:.1}s",
            view.window_s
        ),
    }
    for s in &view.stages {
        let state = match tasks.get(&s.name) {
            Some(n) => format!("running ({n} task{})", if *n == 1 { "" } else { "s" }),
            None => "ended".to_string(),
        };
        tracing::info!(
            "state: `{}` {state}, input edge {}, busy {}",
            s.name,
            percent(s.input_fill),
            percent(s.busy)
        );
    }
}

/// `` `parse` (transform parse_regex, 2 workers): in 1000 (201/s), … ``.
fn status_line(s: &StageView) -> String {
    let workers = if s.role == "transform" {
        format!(
            ", {} worker{}",
            s.workers,
            if s.workers == 1 { "" } else { "s" }
        )
    } else {
        String::new()
    };
    let p99 = s
        .p99_ms
        .map_or_else(|| "-".to_string(), |p| format!("{p:.2}ms"));
    format!(
        "`{}` ({} {}{workers}): in {} ({:.0}/s), out {} ({:.0}/s), errors {} ({:.1}/s), busy {}, input edge {}, p99 {p99}",
        s.name,
        s.role,
        s.kind,
        s.events_in,
        s.rate_in,
        s.events_out,
        s.rate_out,
        s.errors,
        s.rate_errors,
        percent(s.busy),
        percent(s.input_fill),
    )
}

fn percent(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), |x| format!("{:.0}%", x * 100.0))
}
