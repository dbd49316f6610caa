//! One request to the `http_server` source, from its head to its answer.
//!
//! In order: the path (404), the token (401), the method (405), the gate
//! (503 while stopping), the encoding (415), the size (413), the body read
//! within `timeout` (408), decoding (bad lines become error events), the
//! events queued for the feeder (503 if the graph stays backed up past the
//! deadline), then the wait for the acknowledgement (`delivered`) or for
//! the feeder's send (`accepted`), again bounded by the same deadline.
//! The answer is `200 {"accepted": N, "errors": M}`; every refusal is a
//! JSON `{"error": "..."}`, a 503 with `Retry-After`. Nothing of the
//! request's headers (the token) is ever logged.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, timeout_at};

use super::AckMode;
use super::body::{self, Encoding, Refused};
use super::feed::{Chunk, Gate};
use crate::kit::ack::{Ack, AckData};
use crate::kit::codec::Codec;
use crate::kit::counters::StageStats;
use crate::kit::event::Event;
use crate::kit::http_auth::Token;
use crate::sources::SourceContext;

/// Bodies up to this size are decoded on the runtime thread; larger ones
/// (and gzip ones past it) on the blocking pool, so that a 10 MiB body does
/// not stall the other connections sharing the thread.
const INLINE_DECODE: usize = 64 * 1024;

/// `Retry-After` when the graph is backed up or delivery is slow: soon.
const RETRY_BUSY: &str = "1";

/// `Retry-After` while the source stops: long enough for a restart.
const RETRY_STOPPING: &str = "5";

/// What every request is served with.
pub struct Settings {
    pub path: String,
    pub codec: Codec,
    pub max_body: usize,
    pub timeout: Duration,
    pub ack: AckMode,
    /// `None`: no authentication.
    pub token: Option<Token>,
    /// Events per chunk sent into the graph.
    pub batch_events: usize,
}

struct Shared {
    settings: Settings,
    name: String,
    stats: Arc<StageStats>,
    queue: mpsc::Sender<Chunk>,
    gate: Gate,
}

/// The router serving every path (the handler answers 404 itself, so the
/// configured path is compared exactly, never read as a route pattern).
pub fn router(
    settings: Settings,
    ctx: &SourceContext,
    queue: mpsc::Sender<Chunk>,
    gate: Gate,
) -> Router {
    let shared = Arc::new(Shared {
        settings,
        name: ctx.name.clone(),
        stats: ctx.stats.clone(),
        queue,
        gate,
    });
    Router::new().fallback(handle).with_state(shared)
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    match serve(&shared, req).await {
        Ok(response) | Err(response) => response,
    }
}

/// A JSON answer with extra headers.
fn answer(
    status: StatusCode,
    body: &serde_json::Value,
    headers: &[(header::HeaderName, &'static str)],
) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for (name, value) in headers {
        h.insert(name.clone(), HeaderValue::from_static(value));
    }
    response
}

fn refuse(status: StatusCode, reason: &str) -> Response {
    answer(status, &serde_json::json!({ "error": reason }), &[])
}

/// 503 with `Retry-After`.
fn unavailable(reason: &str, retry_after: &'static str) -> Response {
    answer(
        StatusCode::SERVICE_UNAVAILABLE,
        &serde_json::json!({ "error": reason }),
        &[(header::RETRY_AFTER, retry_after)],
    )
}

impl From<Refused> for Response {
    fn from(r: Refused) -> Response {
        let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
        refuse(status, &r.reason)
    }
}

async fn serve(shared: &Shared, req: Request) -> Result<Response, Response> {
    let s = &shared.settings;
    if req.uri().path() != s.path {
        return Err(refuse(StatusCode::NOT_FOUND, "no such path"));
    }
    if let Some(token) = &s.token
        && !token.admits(req.headers())
    {
        return Err(answer(
            StatusCode::UNAUTHORIZED,
            &serde_json::json!({ "error": "a bearer token is required" }),
            &[(header::WWW_AUTHENTICATE, "Bearer")],
        ));
    }
    if req.method() != Method::POST && req.method() != Method::PUT {
        return Err(answer(
            StatusCode::METHOD_NOT_ALLOWED,
            &serde_json::json!({ "error": "use POST or PUT" }),
            &[(header::ALLOW, "POST, PUT")],
        ));
    }
    // Held until the answer: a stop waits for this request to finish.
    let Some(_pass) = shared.gate.enter() else {
        return Err(unavailable("the source is stopping", RETRY_STOPPING));
    };
    let deadline = Instant::now() + s.timeout;
    let encoding = req
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(HeaderValue::as_bytes);
    let Some(encoding) = Encoding::from_header(encoding) else {
        return Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported Content-Encoding (identity or gzip)",
        ));
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > s.max_body as u64) {
        return Err(Refused {
            status: 413,
            reason: format!("body over max_body_bytes ({} bytes)", s.max_body),
        }
        .into());
    }
    let wire = match timeout_at(deadline, body::read_limited(req.into_body(), s.max_body)).await {
        Ok(read) => read?,
        Err(_) => {
            return Err(refuse(
                StatusCode::REQUEST_TIMEOUT,
                "the body did not arrive within the timeout",
            ));
        }
    };
    shared
        .stats
        .bytes
        .fetch_add(wire.len() as u64, std::sync::atomic::Ordering::Relaxed);

    // One acknowledgement for the whole request: it comes back once the
    // last of its events (error events included) is written, or fails.
    let (ack_tx, mut acked) = mpsc::unbounded_channel();
    let ack = (s.ack == AckMode::Delivered).then(|| Ack::new(0, AckData::Ids(Vec::new()), &ack_tx));
    drop(ack_tx);
    let decoded = decode(shared, wire, encoding, ack.clone()).await?;
    let (accepted, errors) = (decoded.good, decoded.bad);
    let done = || {
        answer(
            StatusCode::OK,
            &serde_json::json!({ "accepted": accepted, "errors": errors }),
            &[],
        )
    };
    if decoded.chunks.is_empty() {
        return Ok(done());
    }

    let (sent_tx, sent) = oneshot::channel();
    let mut sent_tx = (s.ack == AckMode::Accepted).then_some(sent_tx);
    let last = decoded.chunks.len() - 1;
    for (i, (good, bad)) in decoded.chunks.into_iter().enumerate() {
        let place = match timeout_at(deadline, shared.queue.reserve()).await {
            Ok(Ok(place)) => place,
            Ok(Err(_)) => return Err(unavailable("the source is stopping", RETRY_STOPPING)),
            Err(_) => {
                tracing::debug!(
                    "source `{}`: a request timed out waiting for room in the graph",
                    shared.name
                );
                return Err(unavailable(
                    "the pipeline is backed up: no room within the timeout",
                    RETRY_BUSY,
                ));
            }
        };
        place.send(Chunk {
            good,
            bad,
            ack: ack.clone(),
            sent: if i == last { sent_tx.take() } else { None },
        });
    }
    // Only the events hold the acknowledgement now.
    drop(ack);
    match s.ack {
        AckMode::Delivered => match timeout_at(deadline, acked.recv()).await {
            Ok(Some(token)) if !token.failed => Ok(done()),
            Ok(_) => Err(unavailable(
                "some events of the request were not delivered",
                RETRY_BUSY,
            )),
            Err(_) => {
                tracing::debug!(
                    "source `{}`: a request timed out waiting for delivery",
                    shared.name
                );
                Err(unavailable("not delivered within the timeout", RETRY_BUSY))
            }
        },
        AckMode::Accepted => match timeout_at(deadline, sent).await {
            Ok(Ok(())) => Ok(done()),
            Ok(Err(_)) => Err(unavailable("the source is stopping", RETRY_STOPPING)),
            Err(_) => Err(unavailable(
                "the pipeline is backed up: no room within the timeout",
                RETRY_BUSY,
            )),
        },
    }
}

/// A decoded body: its chunks and how many events and error events.
struct Decoded {
    chunks: Vec<(Vec<Event>, Vec<Event>)>,
    good: usize,
    bad: usize,
}

/// Inflates and decodes the body (on the blocking pool when large).
async fn decode(
    shared: &Shared,
    wire: bytes::Bytes,
    encoding: Encoding,
    ack: Option<Ack>,
) -> Result<Decoded, Response> {
    let s = &shared.settings;
    let (codec, max, batch, name) = (s.codec, s.max_body, s.batch_events, shared.name.clone());
    // A small gzip body may inflate to the limit: only plain small bodies
    // are decoded in place.
    let small = encoding == Encoding::Identity && wire.len() <= INLINE_DECODE;
    let work = move || -> Result<Decoded, Refused> {
        let body = body::inflate(wire, encoding, max)?;
        Ok(split(codec, &name, &body, batch, ack))
    };
    let result = if small {
        work()
    } else {
        tokio::task::spawn_blocking(work).await.map_err(|e| {
            tracing::error!("source `{}`: decoding a body failed: {e}", shared.name);
            refuse(StatusCode::INTERNAL_SERVER_ERROR, "decoding failed")
        })?
    };
    result.map_err(Response::from)
}

/// Decodes `body` into chunks of at most `batch` events, each event
/// holding `ack`.
fn split(codec: Codec, name: &str, body: &[u8], batch: usize, ack: Option<Ack>) -> Decoded {
    let mut out = Decoded {
        chunks: Vec::new(),
        good: 0,
        bad: 0,
    };
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    body::decode_body(codec, name, body, |decoded| {
        match decoded {
            Ok(mut e) => {
                e.ack = ack.clone();
                good.push(e);
                out.good += 1;
            }
            Err(mut e) => {
                e.ack = ack.clone();
                bad.push(e);
                out.bad += 1;
            }
        }
        if good.len() + bad.len() >= batch {
            out.chunks
                .push((std::mem::take(&mut good), std::mem::take(&mut bad)));
        }
    });
    if !good.is_empty() || !bad.is_empty() {
        out.chunks.push((good, bad));
    }
    out
}
