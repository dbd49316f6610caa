//! Spawns the built pieces and waits for the close cascade: sources end (or
//! are told to stop), their edges close, workers drain and exit, sinks flush.
//! A failed or panicked stage is reported by name.

use std::time::Duration;

use tokio::task::JoinSet;

use crate::stats::Report;
use crate::topology::builder::Pieces;

/// How the run ended.
pub struct Outcome {
    /// Counters at the end.
    pub report: Report,
    /// Stages that failed, with the reason.
    pub failures: Vec<String>,
}

/// Runs `pieces` to completion. After `deadline` fires (a forced stop), the
/// run is abandoned and the report counts what was still in flight.
pub async fn run(pieces: Pieces, deadline: impl Future<Output = ()>) -> Outcome {
    let Pieces {
        sources,
        workers,
        sinks,
        stats,
    } = pieces;
    let mut tasks: JoinSet<(String, anyhow::Result<()>)> = JoinSet::new();
    for (task, ctx) in sinks {
        let name = format!("sink `{}`", ctx.name);
        tasks.spawn(async move { (name, task.run(ctx).await) });
    }
    for w in workers {
        let name = format!("transform `{}`", w.name);
        tasks.spawn(async move { (name, w.run().await) });
    }
    for (task, ctx) in sources {
        let name = format!("source `{}`", ctx.name);
        tasks.spawn(async move { (name, task.run(ctx).await) });
    }
    let mut failures = Vec::new();
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            joined = tasks.join_next() => match joined {
                None => break,
                Some(Ok((_, Ok(())))) => {}
                Some(Ok((name, Err(e)))) => {
                    tracing::error!("{name} failed: {e:#}");
                    failures.push(format!("{name} failed: {e:#}"));
                }
                Some(Err(e)) => {
                    let what = if e.is_panic() { "panicked" } else { "was cancelled" };
                    tracing::error!("a stage task {what}: {e}");
                    failures.push(format!("a stage task {what}"));
                }
            },
            () = &mut deadline => {
                let lost = stats.in_flight.current();
                failures.push(format!("forced stop: {lost} events in flight were not delivered"));
                tasks.abort_all();
                break;
            }
        }
    }
    let report = stats.report(stats.started.elapsed());
    Outcome { report, failures }
}

/// A deadline that never fires.
pub async fn never() {
    std::future::pending::<()>().await
}

/// Sleeps `d` (a convenience for deadlines).
pub async fn after(d: Duration) {
    tokio::time::sleep(d).await
}
