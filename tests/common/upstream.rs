//! A real HTTP service for the tests of the HTTP stages: hyper on
//! 127.0.0.1, on its own thread and runtime (the tests themselves are
//! synchronous), answering by a script and recording what it saw.
//!
//! The script decides each answer from the request and its call number,
//! so a test can inject the failures a real peer has: 5xx, a 429 with
//! `Retry-After`, an answer slower than the client's timeout, a reset
//! connection, a 400. The service counts calls and the most requests it
//! had in flight at once, so concurrency limits are measured where they
//! matter: at the server.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{HeaderMap, Response};
use hyper_util::rt::TokioIo;

/// One request as the service received it (a gzip body already
/// inflated).
#[derive(Debug, Clone)]
pub struct Seen {
    /// `GET`, `POST`, …
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// The request headers.
    pub headers: HeaderMap,
    /// The body, inflated when `Content-Encoding: gzip`.
    pub body: Bytes,
}

impl Seen {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What the service does with one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A status and a body (JSON or text).
    Status(u16, String),
    /// A status with `Retry-After: SECONDS`.
    RetryAfter(u16, u64),
    /// Waits, then answers.
    After(Duration, Box<Reply>),
    /// Closes the connection without an answer.
    Reset,
}

impl Reply {
    /// `200` with `body`.
    pub fn ok(body: impl Into<String>) -> Reply {
        Reply::Status(200, body.into())
    }
}

/// The script: the answer to request number `n` (0-based, in arrival
/// order).
pub type Script = dyn Fn(&Seen, u64) -> Reply + Send + Sync;

struct State {
    script: Box<Script>,
    calls: AtomicU64,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    seen: Mutex<Vec<Seen>>,
    keep_bodies: bool,
}

/// The running service; it stops when the test process ends.
pub struct Upstream {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<State>,
}

impl Upstream {
    /// Starts the service on an ephemeral port of 127.0.0.1.
    pub fn start(script: impl Fn(&Seen, u64) -> Reply + Send + Sync + 'static) -> Upstream {
        Upstream::start_with(script, true)
    }

    /// As [`Upstream::start`]; `keep_bodies = false` records requests
    /// without their bodies (load tests).
    pub fn start_with(
        script: impl Fn(&Seen, u64) -> Reply + Send + Sync + 'static,
        keep_bodies: bool,
    ) -> Upstream {
        let state = Arc::new(State {
            script: Box::new(script),
            calls: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            seen: Mutex::new(Vec::new()),
            keep_bodies,
        });
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind upstream");
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let served = state.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("upstream runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let state = served.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req| {
                            let state = state.clone();
                            async move { answer(&state, req).await }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        Upstream { addr, state }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Requests received so far.
    pub fn calls(&self) -> u64 {
        self.state.calls.load(SeqCst)
    }

    /// The most requests that were being answered at once.
    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(SeqCst)
    }

    /// Every request received so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }
}

/// Decrements the in-flight count however the answer ends.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}

async fn answer(
    state: &State,
    req: hyper::Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let now = state.in_flight.fetch_add(1, SeqCst) + 1;
    state.max_in_flight.fetch_max(now, SeqCst);
    let _in_flight = InFlight(&state.in_flight);
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let gzip = parts
        .headers
        .get("content-encoding")
        .is_some_and(|v| v == "gzip");
    let body = if gzip { inflate(&body) } else { body };
    let seen = Seen {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        headers: parts.headers,
        body,
    };
    let n = state.calls.fetch_add(1, SeqCst);
    let mut reply = (state.script)(&seen, n);
    {
        let mut log = state.seen.lock().unwrap();
        if state.keep_bodies {
            log.push(seen);
        } else {
            log.push(Seen {
                body: Bytes::new(),
                ..seen
            });
        }
    }
    loop {
        match reply {
            Reply::After(wait, then) => {
                tokio::time::sleep(wait).await;
                reply = *then;
            }
            Reply::Reset => return Err(std::io::Error::other("reset by the script")),
            Reply::Status(code, body) => return Ok(respond(code, body, None)),
            Reply::RetryAfter(code, secs) => {
                return Ok(respond(code, String::new(), Some(secs)));
            }
        }
    }
}

fn respond(code: u16, body: String, retry_after: Option<u64>) -> Response<Full<Bytes>> {
    let mut response = Response::builder().status(code);
    if let Some(secs) = retry_after {
        response = response.header("retry-after", secs.to_string());
    }
    if body.starts_with('{') || body.starts_with('[') {
        response = response.header("content-type", "application/json");
    }
    response
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}

fn inflate(body: &[u8]) -> Bytes {
    use std::io::Read;
    let mut out = Vec::new();
    match flate2::read::GzDecoder::new(body).read_to_end(&mut out) {
        Ok(_) => Bytes::from(out),
        Err(_) => Bytes::copy_from_slice(body),
    }
}
