//! The shutdown signal sources listen for.
//!
//! Only sources are told to stop: once they stop reading and drop their
//! senders, every downstream stage drains and exits as its input closes.

use tokio::sync::watch;

/// Sends the stop request (held by the signal handler).
pub struct Trigger(watch::Sender<bool>);

/// Listens for the stop request (one clone per source).
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// A connected trigger and listener.
pub fn channel() -> (Trigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (Trigger(tx), Shutdown(rx))
}

impl Trigger {
    /// Asks every source to stop reading.
    pub fn trigger(&self) {
        let _ = self.0.send(true);
    }
}

impl Shutdown {
    /// True once a stop was requested.
    pub fn is_shutdown(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes when a stop is requested (or the trigger is dropped).
    pub async fn recv(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}
