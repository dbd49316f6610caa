//! Signals for `run`: the first SIGTERM/SIGINT asks the sources to stop and
//! starts the `shutdown_grace` clock; a second signal, or the clock running
//! out, forces the exit.

use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};

use crate::topology::shutdown::Trigger;

/// Listens for stop signals; the returned future completes when the stop
/// must be forced. Holding `trigger` here keeps the sources running until a
/// signal arrives.
pub fn watch_signals(trigger: Trigger, grace: Duration) -> impl Future<Output = ()> {
    let (force_tx, force_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::warn!("cannot install signal handlers; SIGTERM will not drain");
            std::future::pending::<()>().await;
            return;
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: draining (grace {grace:?})"),
            _ = int.recv() => tracing::info!("SIGINT: draining (grace {grace:?})"),
        }
        trigger.trigger();
        tokio::select! {
            _ = term.recv() => tracing::warn!("second signal: forcing exit"),
            _ = int.recv() => tracing::warn!("second signal: forcing exit"),
            _ = tokio::time::sleep(grace) => tracing::warn!("shutdown_grace of {grace:?} exceeded: forcing exit"),
        }
        let _ = force_tx.send(());
        // Keep `trigger` alive until the end.
        drop(trigger);
    });
    async move {
        if force_rx.await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
