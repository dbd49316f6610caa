//! `sluice top`'s reading of the daemon: `GET /api/v1/graph` on the one
//! client stack ([`crate::kit::http_client`]), with the token from
//! `SLUICE_API_TOKEN`, once a second on a thread of its own so a slow
//! answer never freezes the keys ([`Poller`]). Every failure is one line
//! that says what to do: no daemon at the address, a token missing or
//! refused, an answer that is not the API's JSON.

use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use reqwest::StatusCode;

use crate::stats::view::GraphView;

/// The environment variable holding the API's bearer token.
pub const TOKEN_VAR: &str = "SLUICE_API_TOKEN";

/// Longest wait for one answer: the daemon is near and the answer small;
/// past this the screen says the daemon does not answer.
const TIMEOUT: Duration = Duration::from_secs(3);

/// A client of one daemon's API.
pub struct Client {
    http: reqwest::Client,
    /// `http://HOST:PORT/api/v1/graph`.
    url: String,
    /// HOST:PORT, for messages.
    pub address: String,
    token: Option<String>,
}

impl Client {
    /// A client for `address` (HOST:PORT, or a port on 127.0.0.1), with
    /// the token from [`TOKEN_VAR`] when set.
    pub fn new(address: &str) -> anyhow::Result<Client> {
        let token = std::env::var(TOKEN_VAR)
            .ok()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        Client::with_token(address, token)
    }

    /// A client for `address` sending `token`.
    pub fn with_token(address: &str, token: Option<String>) -> anyhow::Result<Client> {
        let address = crate::kit::net::parse_address(address)
            .map_err(|m| anyhow::anyhow!("{}", m.replace("`metrics_address`", "`--address`")))?;
        Ok(Client {
            http: crate::kit::http_client::client(TIMEOUT, 1)?,
            url: format!("http://{address}/api/v1/graph"),
            address,
            token,
        })
    }

    /// The live graph, or why there is none.
    pub async fn graph(&self) -> anyhow::Result<GraphView> {
        let mut request = self.http.get(&self.url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| self.unreachable(&e))?;
        match status {
            StatusCode::OK => serde_json::from_slice(&body).with_context(|| {
                format!(
                    "the answer of {} is not the sluice API's JSON (is another server on this address?)",
                    self.url
                )
            }),
            StatusCode::UNAUTHORIZED if self.token.is_some() => Err(anyhow::anyhow!(
                "the daemon at {} refused the token in {TOKEN_VAR} (401)",
                self.address
            )),
            StatusCode::UNAUTHORIZED => Err(anyhow::anyhow!(
                "the daemon at {} needs a token: set {TOKEN_VAR} to its `[pipeline.api] auth` token (401)",
                self.address
            )),
            StatusCode::NOT_FOUND => Err(anyhow::anyhow!(
                "{} has no /api/v1/graph (404): is it a sluice daemon of this version?",
                self.address
            )),
            other => Err(anyhow::anyhow!(
                "{} answered {other}: {}",
                self.url,
                String::from_utf8_lossy(&body[..body.len().min(200)]).trim()
            )),
        }
    }

    fn unreachable(&self, e: &reqwest::Error) -> anyhow::Error {
        let mut cause: &dyn std::error::Error = e;
        while let Some(next) = cause.source() {
            cause = next;
        }
        anyhow::anyhow!(
            "no sluice daemon answers at {} ({cause}); is it running with `pipeline.metrics_address = \"{}\"`? (--address)",
            self.address,
            self.address
        )
    }
}

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
                    let fetched = runtime
                        .block_on(client.graph())
                        .map_err(|e| format!("{e:#}"));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_address_names_the_flag() {
        let e = Client::with_token("nowhere", None).err().unwrap();
        assert!(e.to_string().contains("`--address`"), "{e}");
        let c = Client::with_token("9598", None).unwrap();
        assert_eq!(c.address, "127.0.0.1:9598");
    }

    #[test]
    fn a_port_nobody_listens_on_is_named_with_what_to_do() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let c = Client::with_token(&format!("127.0.0.1:{port}"), None).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let e = rt.block_on(c.graph()).err().unwrap().to_string();
        assert!(
            e.starts_with(&format!("no sluice daemon answers at 127.0.0.1:{port}")),
            "{e}"
        );
        assert!(e.contains("metrics_address"), "{e}");
    }
}
