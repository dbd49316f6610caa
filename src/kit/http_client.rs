//! The one HTTP client stack (reqwest on rustls) and the one way to call a
//! peer with retries, shared by the `http` sink and `http_enrich`.
//!
//! [`call`] sorts every outcome into three kinds, the way Vector and
//! Fluent Bit do: 2xx is an [`Answer`]; 408, 429, 5xx, resets, refused
//! connections and timeouts are retried with the [`Retries`] backoff (full
//! jitter), waiting at least what `Retry-After` asks; any other status, or
//! the budget spent, is a [`Failure`] with the status and the start of the
//! body, for the stage to put on its `errors` output. Nothing is retried
//! forever and nothing is dropped without a reason.

use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::kit::retry::Retries;

/// Longest `Retry-After` honoured: a peer asking for more is asked again
/// after this long instead of stalling the stage for hours.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// Most bytes of a response body read (an enrichment answer, an error
/// page); a larger answer is a failure, not unbounded memory.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// The start of the reason for an answer over [`MAX_RESPONSE_BYTES`].
const TOO_LARGE: &str = "response larger than";

/// Retry warnings of every call together: at most one a second, so an
/// outage with hundreds of calls in flight does not flood the log (the
/// retries are counted in the stages' metrics either way).
static LOUD: Throttle = Throttle::new(Duration::from_secs(1));

/// Admits one event per `every`, process-wide, without a lock.
struct Throttle {
    every: Duration,
    next_ms: std::sync::atomic::AtomicU64,
}

impl Throttle {
    const fn new(every: Duration) -> Throttle {
        Throttle {
            every,
            next_ms: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn admit(&self) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        let now = START
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_millis() as u64;
        let next = self.next_ms.load(Relaxed);
        now >= next
            && self
                .next_ms
                .compare_exchange(next, now + self.every.as_millis() as u64, Relaxed, Relaxed)
                .is_ok()
    }
}

/// Bytes of an error response's body kept in the failure reason.
const BODY_START: usize = 256;

/// A client with a per-request `timeout` (connect, send and read of the
/// whole answer). It ignores proxy variables: sluice talks to the address
/// it was given.
pub fn client(timeout: Duration, concurrency: usize) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .pool_max_idle_per_host(concurrency.max(1))
        .tcp_nodelay(true)
        .no_proxy()
        .use_rustls_tls()
        .build()
        .context("cannot build the HTTP client")
}

/// A 2xx answer.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The whole body (at most [`MAX_RESPONSE_BYTES`]).
    pub body: Bytes,
    /// Failed tries before this one.
    pub retries: u32,
}

/// A call that did not succeed: refused, or out of tries.
#[derive(Debug, Clone)]
pub struct Failure {
    /// What happened, for the error event: `"HTTP 400: <body start>"`,
    /// `"timeout after 5s"`, `"connection failed: …"`.
    pub reason: String,
    /// The last status, when there was an answer.
    pub status: Option<u16>,
    /// Failed tries before the last one.
    pub retries: u32,
}

/// One try's verdict.
enum Verdict {
    Done(Answer),
    Retry {
        reason: String,
        status: Option<u16>,
        after: Option<Duration>,
    },
    Refuse {
        reason: String,
        status: u16,
    },
}

/// Sends the request `build` makes (once per try) until it succeeds, is
/// refused, or `retries` is spent. `timeout` only words the reason.
pub async fn call(
    mut build: impl FnMut() -> reqwest::RequestBuilder,
    retries: &mut Retries,
    timeout: Duration,
) -> Result<Answer, Failure> {
    retries.reset();
    loop {
        let verdict = judge(build().send().await, timeout).await;
        let (reason, status, after) = match verdict {
            Verdict::Done(mut answer) => {
                answer.retries = retries.reset();
                return Ok(answer);
            }
            Verdict::Refuse { reason, status } => {
                return Err(Failure {
                    reason,
                    status: Some(status),
                    retries: retries.reset(),
                });
            }
            Verdict::Retry {
                reason,
                status,
                after,
            } => (reason, status, after),
        };
        let Some(wait) = retries.failed() else {
            let tries = retries.reset();
            return Err(Failure {
                reason: format!("{reason} (gave up after {tries} tries)"),
                status,
                retries: tries.saturating_sub(1),
            });
        };
        if retries.loud() && LOUD.admit() {
            tracing::warn!(
                "http: {reason}; retrying (attempt {})",
                retries.failures() + 1
            );
        }
        tokio::time::sleep(wait.max(after.unwrap_or_default())).await;
    }
}

async fn judge(sent: reqwest::Result<reqwest::Response>, timeout: Duration) -> Verdict {
    let response = match sent {
        Ok(r) => r,
        Err(e) => {
            return Verdict::Retry {
                reason: transport_reason(&e, timeout),
                status: None,
                after: None,
            };
        }
    };
    let status = response.status();
    let after = retry_after(response.headers());
    let body = read_body(response).await;
    if status.is_success() {
        return match body {
            Ok(body) => Verdict::Done(Answer {
                status: status.as_u16(),
                body,
                retries: 0,
            }),
            // The peer said yes: asking again would deliver twice.
            Err(e) if e.starts_with(TOO_LARGE) => Verdict::Refuse {
                reason: e,
                status: status.as_u16(),
            },
            Err(e) => Verdict::Retry {
                reason: e,
                status: Some(status.as_u16()),
                after: None,
            },
        };
    }
    let start = body.map(|b| body_start(&b)).unwrap_or_default();
    let reason = if start.is_empty() {
        format!("HTTP {}", status.as_u16())
    } else {
        format!("HTTP {}: {start}", status.as_u16())
    };
    if retryable(status) {
        Verdict::Retry {
            reason,
            status: Some(status.as_u16()),
            after,
        }
    } else {
        Verdict::Refuse {
            reason,
            status: status.as_u16(),
        }
    }
}

/// 408, 429 and every 5xx are worth another try; other statuses will not
/// change by asking again.
pub fn retryable(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

fn transport_reason(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        format!("timeout after {timeout:?}")
    } else if e.is_connect() {
        format!("connection failed: {}", root_cause(e))
    } else {
        format!("request failed: {}", root_cause(e))
    }
}

/// The innermost error: reqwest's own text is "error sending request".
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

async fn read_body(mut response: reqwest::Response) -> Result<Bytes, String> {
    let mut body = bytes::BytesMut::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(format!("{TOO_LARGE} {MAX_RESPONSE_BYTES} bytes"));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body.freeze()),
            Err(e) => return Err(format!("reading the response failed: {}", root_cause(&e))),
        }
    }
}

/// The first [`BODY_START`] bytes of `body` as text, on one line.
fn body_start(body: &[u8]) -> String {
    let cut = &body[..body.len().min(BODY_START)];
    let text = String::from_utf8_lossy(cut);
    let mut line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if body.len() > BODY_START {
        line.push('…');
    }
    line
}

/// `Retry-After` as delay-seconds or an HTTP date, at most
/// [`MAX_RETRY_AFTER`].
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = if let Ok(seconds) = value.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let when = jiff::fmt::rfc2822::DateTimeParser::new()
            .parse_timestamp(value)
            .ok()?;
        let now = jiff::Timestamp::now();
        Duration::try_from(when - now).unwrap_or_default()
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_and_dates_and_is_capped() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(RETRY_AFTER, "99999".parse().unwrap());
        assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER));
        h.insert(
            RETRY_AFTER,
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO), "a past date: now");
        h.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn which_statuses_are_retried() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(retryable(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [400, 401, 403, 404, 413, 422] {
            assert!(!retryable(StatusCode::from_u16(s).unwrap()), "{s}");
        }
    }

    #[test]
    fn the_body_start_is_one_short_line() {
        assert_eq!(body_start(b"bad\n  request"), "bad request");
        assert!(body_start(&[b'x'; 1000]).ends_with('…'));
    }
}
