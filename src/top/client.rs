//! `sluice top`'s reading of the daemon: `GET /api/v1/graph` through the
//! API clients' shared [`Client`] (the token from `SLUICE_API_TOKEN`, the
//! failures that say what to do), once a second on a thread of its own
//! ([`Poller`]) so a slow answer never freezes the keys, each request
//! bounded by [`TIMEOUT`] so a daemon that accepts but does not answer
//! shows as not answering.

use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::client::Client;
use crate::stats::view::GraphView;

/// Longest wait for one answer: the daemon is near and the answer small;
/// past this the screen says the daemon does not answer.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// Fetches the graph every `every` on its own thread and hands each
/// outcome over a channel; stops when the receiver is dropped.
pub struct Poller {
    /// Each fetch's outcome, the error as its one-line message.
    pub results: Receiver<Result<GraphView, String>>,
}

impl Poller {
    /// Starts polling with `client`, the first fetch at once.
    pub fn start(client: Client, every: Duration) -> anyhow::Result<Poller> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the HTTP client's runtime")?;
        // One answer waiting is enough: the screen only shows the latest.
        let (tx, results) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("top-poller".into())
            .spawn(move || {
                loop {
                    let started = Instant::now();
                    let fetched = runtime.block_on(fetch(&client));
                    if tx.send(fetched).is_err() {
                        return;
                    }
                    // Pacing a poll, not waiting for an event.
                    std::thread::sleep(every.saturating_sub(started.elapsed()));
                }
            })
            .context("cannot start the poller thread")?;
        Ok(Poller { results })
    }
}

/// One fetch within [`TIMEOUT`].
async fn fetch(client: &Client) -> Result<GraphView, String> {
    match tokio::time::timeout(TIMEOUT, client.graph()).await {
        Ok(fetched) => fetched.map_err(|e| format!("{e:#}")),
        Err(_) => Err(format!(
            "the daemon did not answer within {}s",
            TIMEOUT.as_secs()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ApiArgs;

    #[test]
    fn a_daemon_that_accepts_but_never_answers_is_reported_in_time() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let client = Client::new(&ApiArgs { address }).unwrap();
        let poller = Poller::start(client, Duration::from_millis(100)).unwrap();
        let started = Instant::now();
        let first = poller.results.recv().unwrap();
        assert!(
            first
                .as_ref()
                .is_err_and(|e| e.contains("did not answer within 3s")),
            "{first:?}"
        );
        assert!(started.elapsed() < TIMEOUT * 3);
        drop(listener);
    }
}
