//! The clients of a running daemon's API: `sluice tap` ([`tap`]) and
//! `sluice graph --live` ([`graph_live`]). They share [`ApiArgs`]
//! (`--address`, and the token from `SLUICE_API_TOKEN`), the client stack
//! (reqwest on rustls, as every HTTP client of sluice), and the way
//! failures read: a daemon that is not there, a token that is missing or
//! wrong, a tap the config disabled, each named with what to do.

pub mod graph_live;
pub mod tap;

use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use reqwest::StatusCode;

use crate::stats::GraphView;

/// The environment variable the clients read the API's bearer token from.
pub const TOKEN_VAR: &str = "SLUICE_API_TOKEN";

/// Where the daemon's API is.
#[derive(Debug, Args, Clone)]
pub struct ApiArgs {
    /// The daemon's `pipeline.metrics_address` (HOST:PORT, or a port on
    /// 127.0.0.1). The token, if the API needs one, is read from
    /// SLUICE_API_TOKEN.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9598")]
    pub address: String,
}

/// A client for one daemon.
pub struct Client {
    http: reqwest::Client,
    base: String,
    address: String,
    token: Option<String>,
}

/// How long connecting to the daemon may take: it is local, or close.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl Client {
    /// A client for the daemon at `args.address`.
    pub fn new(args: &ApiArgs) -> anyhow::Result<Client> {
        let address = crate::kit::net::parse_address(&args.address)
            .map_err(|m| anyhow::anyhow!("{}", m.replace("`metrics_address`", "`--address`")))?;
        // No overall timeout: a tap streams for as long as it is read.
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .no_proxy()
            .use_rustls_tls()
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Client {
            http,
            base: format!("http://{address}"),
            address,
            token: std::env::var(TOKEN_VAR)
                .ok()
                .filter(|t| !t.trim().is_empty()),
        })
    }

    /// `GET path` (with the token); an answer other than 200 is an error
    /// that says what to do.
    pub async fn get(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.trim());
        }
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        if status == StatusCode::OK {
            return Ok(response);
        }
        let message = response
            .text()
            .await
            .ok()
            .and_then(|body| {
                serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["error"].as_str().map(str::to_string))
            })
            .unwrap_or_else(|| status.to_string());
        Err(match status {
            StatusCode::UNAUTHORIZED if self.token.is_some() => anyhow::anyhow!(
                "the daemon at {} refused the token in {TOKEN_VAR} (401)",
                self.address
            ),
            StatusCode::UNAUTHORIZED => anyhow::anyhow!(
                "the daemon at {} needs a token: set {TOKEN_VAR} to its `[pipeline.api] auth` token (401)",
                self.address
            ),
            _ => anyhow::anyhow!("{message} ({})", status.as_u16()),
        })
    }

    /// The live graph.
    pub async fn graph(&self) -> anyhow::Result<GraphView> {
        let body = self
            .get("/api/v1/graph")
            .await?
            .bytes()
            .await
            .map_err(|e| self.unreachable(&e))?;
        serde_json::from_slice(&body).with_context(|| {
            format!(
                "the answer of {}/api/v1/graph is not the sluice API's JSON",
                self.base
            )
        })
    }

    fn unreachable(&self, e: &reqwest::Error) -> anyhow::Error {
        if e.is_connect() || e.is_timeout() {
            anyhow::anyhow!(
                "no sluice daemon answers at {} (is it running, with `pipeline.metrics_address = \"{}\"`? use --address): {}",
                self.address,
                self.address,
                root_cause(e)
            )
        } else {
            anyhow::anyhow!(
                "talking to the daemon at {}: {}",
                self.address,
                root_cause(e)
            )
        }
    }
}

/// The innermost error of `e`'s chain (reqwest's own text is generic).
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// A current-thread runtime for one client command.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")
}
