//! What an `http_enrich` stage's workers share: one client, one limit on
//! requests in flight, one cache, one set of counters ([`Calls`]); and one
//! lookup, [`Calls::fetch`]: the cache first, else a call.
//!
//! The limit is a semaphore for the whole stage, as the classic asyncio
//! example holds one `Semaphore(64)` for all its workers: a permit is taken
//! only for a real call (not for a cache hit, not for a caller waiting on
//! someone else's call) and held through its retries, so the service never
//! sees more than `concurrency` requests from this stage at once.
//!
//! The cache (moka) keys on method, URL and body. Concurrent misses for
//! one key run a single call; the others wait for its answer. Only answers
//! are cached: a failure reaches every caller that waited on it, and the
//! next lookup calls again.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use bytes::Bytes;
use jaq_json::Val;
use moka::future::Cache;
use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use tokio::sync::Semaphore;

use crate::kit::counters::StageStats;
use crate::kit::http_client;
use crate::kit::latency::Latency;
use crate::kit::retry::{Retries, RetryPolicy};

/// One request an event asks for.
#[derive(Debug, Clone)]
pub struct Request {
    /// The filled URL.
    pub url: reqwest::Url,
    /// The JSON body, when the stage has a `body` program.
    pub body: Option<Bytes>,
}

impl Request {
    /// The cache key: the same method, URL and body is the same request.
    fn key(&self, method: &Method) -> String {
        let body = self.body.as_deref().unwrap_or_default();
        format!("{method} {}\n{}", self.url, String::from_utf8_lossy(body))
    }
}

/// The stage-wide state its workers share.
pub struct Calls {
    client: reqwest::Client,
    method: Method,
    timeout: Duration,
    retry: RetryPolicy,
    /// Requests in flight, for the whole stage.
    limit: Semaphore,
    /// Answers by request, when the stage has a `cache`.
    cache: Option<Cache<String, Val>>,
    counts: Counts,
}

/// The stage's own counters (`kit::extra`), shown in `/metrics` and the
/// report.
struct Counts {
    requests: Arc<AtomicU64>,
    cache_hits: Arc<AtomicU64>,
    retries: Arc<AtomicU64>,
    failures: Arc<AtomicU64>,
    latency: Arc<Latency>,
}

impl Counts {
    fn new(stats: &StageStats) -> Counts {
        let extra = &stats.extra;
        Counts {
            requests: extra.counter(
                "http_requests",
                "HTTP requests an http_enrich stage sent (retries included).",
            ),
            cache_hits: extra.counter(
                "http_cache_hits",
                "Lookups of an http_enrich stage answered without a call of their own (cached, or joined a call in flight).",
            ),
            retries: extra.counter(
                "http_retries",
                "Requests of an http_enrich stage that were retries of a failed one.",
            ),
            failures: extra.counter(
                "http_failures",
                "Calls of an http_enrich stage that failed for good (refused, out of tries, not JSON).",
            ),
            latency: extra.timing(
                "http_request",
                "Time of one http_enrich call, from its first request to its answer, retries included.",
            ),
        }
    }
}

/// How a `cache` table is set.
#[derive(Debug, Clone, Copy)]
pub struct CacheSettings {
    /// How long an answer is reused.
    pub ttl: Duration,
    /// Most answers kept.
    pub max_entries: u64,
}

impl Calls {
    /// The shared state of one stage.
    pub fn new(
        method: Method,
        timeout: Duration,
        retry: RetryPolicy,
        concurrency: usize,
        cache: Option<CacheSettings>,
        stats: &StageStats,
    ) -> anyhow::Result<Calls> {
        Ok(Calls {
            client: http_client::client(timeout, concurrency)?,
            method,
            timeout,
            retry,
            limit: Semaphore::new(concurrency),
            cache: cache.map(|c| {
                Cache::builder()
                    .max_capacity(c.max_entries)
                    .time_to_live(c.ttl)
                    .build()
            }),
            counts: Counts::new(stats),
        })
    }

    /// The answer to `request`: from the cache, or from a call.
    pub async fn fetch(&self, request: &Request) -> Result<Val, Arc<String>> {
        let Some(cache) = &self.cache else {
            return self.call(request).await.map_err(Arc::new);
        };
        let entry = cache
            .entry(request.key(&self.method))
            .or_try_insert_with(self.call(request))
            .await?;
        if !entry.is_fresh() {
            self.counts.cache_hits.fetch_add(1, Relaxed);
        }
        Ok(entry.into_value())
    }

    /// One call (with its retries) under the stage's limit.
    async fn call(&self, request: &Request) -> Result<Val, String> {
        let _permit = self
            .limit
            .acquire()
            .await
            .map_err(|_| "the stage is stopping".to_string())?;
        let started = Instant::now();
        let mut retries = Retries::new(self.retry);
        let answer = http_client::call(
            || {
                self.counts.requests.fetch_add(1, Relaxed);
                let b = self
                    .client
                    .request(self.method.clone(), request.url.clone())
                    .header(ACCEPT, "application/json");
                match &request.body {
                    Some(body) => b
                        .header(CONTENT_TYPE, "application/json")
                        .body(body.clone()),
                    None => b,
                }
            },
            &mut retries,
            self.timeout,
        )
        .await;
        self.counts.latency.record(started.elapsed());
        let result = match answer {
            Ok(a) => {
                self.counts.retries.fetch_add(u64::from(a.retries), Relaxed);
                parse_answer(&a.body)
            }
            Err(f) => {
                self.counts.retries.fetch_add(u64::from(f.retries), Relaxed);
                Err(f.reason)
            }
        };
        if result.is_err() {
            self.counts.failures.fetch_add(1, Relaxed);
        }
        result
    }
}

/// The answer's body as a value: JSON within the nesting limit, or `null`
/// for an empty body (a 204).
fn parse_answer(body: &[u8]) -> Result<Val, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Val::Null);
    }
    crate::kit::json::parse_limited(body).map_err(|e| format!("the answer is not JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_json_within_the_nesting_limit_or_a_reason() {
        assert_eq!(parse_answer(b"").unwrap(), Val::Null);
        assert_eq!(parse_answer(b" \n").unwrap(), Val::Null);
        assert_eq!(
            parse_answer(br#"{"a":1}"#).unwrap().to_string(),
            r#"{"a":1}"#
        );
        let e = parse_answer(b"<html>").unwrap_err();
        assert!(e.starts_with("the answer is not JSON"), "{e}");
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        let e = parse_answer(deep.as_bytes()).unwrap_err();
        assert!(e.contains("nested deeper"), "{e}");
    }

    #[test]
    fn the_key_tells_method_url_and_body_apart() {
        let r = |u: &str, b: Option<&str>| Request {
            url: reqwest::Url::parse(u).unwrap(),
            body: b.map(|b| Bytes::from(b.to_string())),
        };
        let a = r("http://h/1", None).key(&Method::GET);
        assert_ne!(a, r("http://h/2", None).key(&Method::GET));
        assert_ne!(a, r("http://h/1", None).key(&Method::POST));
        assert_ne!(
            r("http://h/1", Some("1")).key(&Method::POST),
            r("http://h/1", Some("2")).key(&Method::POST)
        );
    }
}
