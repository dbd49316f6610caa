//! The HTTP API on `pipeline.metrics_address`, served by the kit's one
//! server stack ([`crate::kit::http_server`]) as an axum router:
//!
//! | route | what |
//! |---|---|
//! | `GET /metrics` | Prometheus text ([`crate::metrics::render`]); always open |
//! | `GET /` | a line saying where things are |
//! | `GET /api/v1/graph` | the live graph as JSON ([`crate::stats::view`]) |
//! | `GET /api/v1/tap` | the events leaving a stage's port, as JSON lines ([`tap`]) |
//!
//! Other paths get 404, other methods 405. With `[pipeline.api] auth`, every
//! `/api/` request needs `Authorization: Bearer TOKEN` (401 otherwise,
//! with `WWW-Authenticate: Bearer`); `/metrics` stays open, as scrapers
//! expect, since counts are not events. `sluice check` refuses a
//! non-loopback address without `auth` (`config::load`).
//!
//! [`ApiServer::stop`] ends every tap stream, lets open requests finish,
//! and gives up on a reader that does not read after [`STOP_PATIENCE`].

pub mod tap;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::config::ApiConfig;
use crate::kit::http_auth::Token;
use crate::kit::http_server::{self, ServeOptions};
use crate::stats::Live;

/// Connections the API serves at once: a scraper, a few `top`s and taps.
/// More wait in the backlog.
const MAX_CONNECTIONS: usize = 64;

/// How long a stop waits for open responses (a tap whose reader stopped
/// reading would otherwise hold the exit forever).
pub const STOP_PATIENCE: Duration = Duration::from_secs(3);

/// What the handlers share.
pub(crate) struct State {
    pub(crate) live: Arc<Live>,
    /// `[pipeline.api] auth`, read at start.
    token: Option<Token>,
    /// `[pipeline.api] tap`.
    pub(crate) tap: bool,
}

/// The running server.
pub struct ApiServer {
    /// The bound address (useful with port 0).
    pub local: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    live: Arc<Live>,
}

/// Binds `address` and serves the API over `live` until
/// [`ApiServer::stop`]. The token is read now: an unset variable or an
/// unreadable file fails the start.
pub async fn start(address: &str, api: &ApiConfig, live: Arc<Live>) -> anyhow::Result<ApiServer> {
    let token = match &api.auth {
        Some(auth) => Some(auth.load()?),
        None => None,
    };
    let listener = http_server::bind(address, "metrics_address").await?;
    let state = Arc::new(State {
        live: live.clone(),
        token,
        tap: api.tap,
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let options = ServeOptions {
        max_connections: MAX_CONNECTIONS,
        ..ServeOptions::default()
    };
    let server = http_server::serve(listener, router(state), options, async {
        let _ = stopped.await;
    })?;
    tracing::info!(
        "metrics: serving http://{}/metrics (API: /api/v1/graph, /api/v1/tap)",
        server.local
    );
    Ok(ApiServer {
        local: server.local,
        stop,
        task: server.task,
        live,
    })
}

impl ApiServer {
    /// Ends every tap stream, stops accepting, and waits (at most
    /// [`STOP_PATIENCE`]) for open responses to finish.
    pub async fn stop(self) {
        self.live.stats().taps.close_all();
        let _ = self.stop.send(());
        let mut task = self.task;
        if tokio::time::timeout(STOP_PATIENCE, &mut task)
            .await
            .is_err()
        {
            tracing::debug!("api: a client did not read its answer; closing it");
            task.abort();
        }
    }
}

fn router(state: Arc<State>) -> Router {
    let s = state.clone();
    let graph_state = state.clone();
    let tap_state = state.clone();
    Router::new()
        .route(
            "/metrics",
            get(move || {
                let s = s.clone();
                async move { metrics(&s) }
            }),
        )
        .route("/", get(|| async { text(StatusCode::OK, INDEX) }))
        .route(
            "/api/v1/graph",
            get(move |headers: HeaderMap| {
                let s = graph_state.clone();
                async move { graph(&s, &headers) }
            }),
        )
        .route(
            "/api/v1/tap",
            get(move |headers: HeaderMap, query: axum::extract::RawQuery| {
                let s = tap_state.clone();
                async move {
                    match refusal(&s, &headers) {
                        Some(r) => r,
                        None => tap::handle(&s, query.0.as_deref().unwrap_or("")),
                    }
                }
            }),
        )
        .fallback(|method: Method| async move {
            if method == Method::GET || method == Method::HEAD {
                text(StatusCode::NOT_FOUND, "not found\n")
            } else {
                text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n")
            }
        })
        .method_not_allowed_fallback(|| async {
            text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n")
        })
}

const INDEX: &str =
    "sluice: metrics at /metrics; the API at /api/v1/graph and /api/v1/tap?stage=NAME\n";

fn metrics(state: &State) -> Response {
    let body = crate::metrics::render(&state.live.stats());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

fn graph(state: &State, headers: &HeaderMap) -> Response {
    if let Some(r) = refusal(state, headers) {
        return r;
    }
    match serde_json::to_vec(&state.live.view()) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// The 401 answer, unless no token is configured or the request carries it.
fn refusal(state: &State, headers: &HeaderMap) -> Option<Response> {
    match &state.token {
        Some(token) if !token.admits(headers) => {
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                "this API needs `Authorization: Bearer TOKEN` (clients read SLUICE_API_TOKEN)",
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            Some(r)
        }
        _ => None,
    }
}

/// `{"error": message}` with `status`.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "error": message }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn text(status: StatusCode, body: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::from(body),
    )
        .into_response()
}
