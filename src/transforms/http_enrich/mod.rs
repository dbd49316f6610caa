//! `type = "http_enrich"`: calls an HTTP service for each event and puts
//! the JSON answer in a field (`target`, default `http`).
//!
//! The I/O-bound step of the producer / workers / collector pattern, done
//! for real: for each batch a worker starts every event's call at once,
//! bounded by one semaphore for the whole stage (`concurrency`, default
//! 64: many requests in flight per worker, not one), awaits them all, and
//! emits the events in the order they came. Calls go through the kit's one
//! client and its retrying `call` (timeouts, 408/429/5xx retried with
//! backoff); answers may be cached, concurrent misses for one request
//! coalesced into one call ([`calls`]). A failure sends the event to
//! `STAGE.errors` with the reason (`"HTTP 400: …"`, `"timeout after 5s"`),
//! or, with `on_error = "keep"`, on with `target = null`.
//!
//! - [`template`]: the URL template and its placeholders.
//! - [`calls`]: the client, the limit, the cache and the counters the
//!   stage's workers share.

mod calls;
mod template;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use jaq_json::Val;
use serde::Deserialize;
use toml::Spanned;

use crate::kit::duration;
use crate::kit::event::Event;
use crate::kit::jq::Program;
use crate::kit::limits::{self, Problem};
use crate::kit::retry::RetryPolicy;
use crate::transforms::{AsyncTransform, BatchCtx, PortBuffers, StageCtx, Transform};

use calls::{CacheSettings, Calls, Request};
use template::Template;

/// Most requests one stage may keep in flight: each holds a connection
/// (a file descriptor) and its answer's buffer.
pub const MAX_CONCURRENCY: usize = 65_536;

/// Most answers one cache may hold (each up to the client's answer limit).
pub const MAX_CACHE_ENTRIES: u64 = 10_000_000;

/// Methods a stage may call with.
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Settings of an `http_enrich` transform.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpEnrichConfig {
    /// The URL, with `{PATH}` placeholders filled from each event.
    pub url: Spanned<String>,
    /// The HTTP method (`get` by default; any case).
    #[serde(default = "default_method")]
    pub method: String,
    /// A jq program whose one output is the request's JSON body.
    pub body: Option<Spanned<String>>,
    /// The field that receives the answer.
    #[serde(default = "default_target")]
    pub target: String,
    /// Requests in flight for the whole stage, over all its workers.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Longest one request may take (connect, send, read the answer).
    #[serde(
        default = "default_timeout",
        deserialize_with = "duration::deserialize"
    )]
    pub timeout: Duration,
    /// Tries and backoff for 408, 429, 5xx, resets and timeouts.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Reuse answers: none when absent.
    pub cache: Option<CacheConfig>,
    /// Where an event whose call failed goes.
    #[serde(default)]
    pub on_error: OnError,
}

/// `cache = { ttl = "60s", max_entries = 10000 }`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// How long an answer is reused.
    #[serde(default = "default_ttl", deserialize_with = "duration::deserialize")]
    pub ttl: Duration,
    /// Most answers kept (least recently used ones go first).
    #[serde(default = "default_max_entries")]
    pub max_entries: u64,
}

/// `on_error`: what happens to an event whose call failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// To `STAGE.errors` with the reason.
    #[default]
    Errors,
    /// On, with `target = null`.
    Keep,
}

fn default_method() -> String {
    "get".into()
}
fn default_target() -> String {
    "http".into()
}
fn default_concurrency() -> usize {
    64
}
fn default_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_ttl() -> Duration {
    Duration::from_secs(60)
}
fn default_max_entries() -> u64 {
    10_000
}

impl HttpEnrichConfig {
    /// The URL as a template, and the URL it makes with every placeholder
    /// filled, refused unless it is an http(s) URL with a host.
    fn template(&self) -> Result<Template, String> {
        let template = Template::parse(self.url.get_ref()).map_err(|e| format!("`url`: {e}"))?;
        let sample = template.sample("x");
        let url = reqwest::Url::parse(&sample)
            .map_err(|e| format!("`url` is not a URL ({e}): {}", redact(&sample)))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(format!(
                "`url` must be an http:// or https:// URL with a host, not {}",
                redact(&sample)
            ));
        }
        Ok(template)
    }

    fn method(&self) -> Result<reqwest::Method, String> {
        let upper = self.method.to_ascii_uppercase();
        if !METHODS.contains(&upper.as_str()) {
            return Err(format!(
                "unknown `method` {:?}: use one of {}",
                self.method,
                METHODS.join(", ").to_ascii_lowercase()
            ));
        }
        reqwest::Method::from_bytes(upper.as_bytes()).map_err(|e| e.to_string())
    }
}

fn redact(url: &str) -> String {
    crate::kit::redact::url(url)
}

impl crate::transforms::TransformKind for HttpEnrichConfig {
    fn validate(&self, text: &str) -> Vec<Problem> {
        let mut out: Vec<Problem> = Vec::new();
        if let Err(e) = self.template() {
            out.push((Some(self.url.span()), e));
        }
        if let Err(e) = self.method() {
            out.push((None, e));
        }
        if let Some(body) = &self.body {
            out.extend(crate::transforms::check_program(text, body));
        }
        if self.target.is_empty() {
            out.push((None, "`target` must name a field".into()));
        }
        let ms = Duration::from_millis(1);
        let checks = [
            limits::int_range("concurrency", self.concurrency, 1, MAX_CONCURRENCY),
            limits::at_least("timeout", self.timeout, ms),
            self.cache
                .and_then(|c| limits::at_least("cache.ttl", c.ttl, ms)),
            self.cache.and_then(|c| {
                let n = usize::try_from(c.max_entries).unwrap_or(usize::MAX);
                limits::int_range("cache.max_entries", n, 1, MAX_CACHE_ENTRIES as usize)
            }),
        ];
        out.extend(checks.into_iter().flatten().map(|m| (None, m)));
        out.extend(self.retry.validate());
        out
    }

    fn build(&self) -> anyhow::Result<Transform> {
        // Outside a stage (no shared counters): one worker of its own.
        let stats = Arc::default();
        let ctx = StageCtx {
            name: "http_enrich",
            stats: &stats,
        };
        let mut one = self.build_stage(&ctx, 1)?;
        one.pop()
            .ok_or_else(|| anyhow::anyhow!("no worker was built"))
    }

    /// Every worker shares one [`Calls`]: one limit, one cache, one client.
    fn build_stage(&self, stage: &StageCtx<'_>, workers: usize) -> anyhow::Result<Vec<Transform>> {
        let template = Arc::new(self.template().map_err(anyhow::Error::msg)?);
        let method = self.method().map_err(anyhow::Error::msg)?;
        let body = match &self.body {
            Some(code) => {
                Some(Arc::new(Program::compile(code.get_ref()).map_err(|e| {
                    anyhow::anyhow!("invalid `body` program: {}", e[0])
                })?))
            }
            None => None,
        };
        let cache = self.cache.map(|c| CacheSettings {
            ttl: c.ttl,
            max_entries: c.max_entries,
        });
        let calls = Arc::new(Calls::new(
            method,
            self.timeout,
            self.retry,
            self.concurrency,
            cache,
            stage.stats,
        )?);
        let target = Val::from(self.target.clone());
        Ok((0..workers)
            .map(|_| {
                Transform::Async(Box::new(Enrich {
                    template: template.clone(),
                    body: body.clone(),
                    target: target.clone(),
                    on_error: self.on_error,
                    calls: calls.clone(),
                }))
            })
            .collect())
    }

    fn describe(&self) -> String {
        format!(
            "http_enrich {} {} -> .{}",
            self.method.to_ascii_uppercase(),
            redact(self.url.get_ref()),
            self.target
        )
    }
}

/// One worker of an `http_enrich` stage.
struct Enrich {
    template: Arc<Template>,
    body: Option<Arc<Program>>,
    /// The target field's name, as a key.
    target: Val,
    on_error: OnError,
    calls: Arc<Calls>,
}

/// What an event needs before its call: its object and its request, or
/// why it cannot have one.
enum Prepared {
    /// The event's value (an object) and its request.
    Call(Val, Request),
    /// Not an object: there is no field to set, whatever `on_error` says.
    NotObject(String),
    /// An object that cannot make its request (a placeholder without a
    /// value, a failing body program): a failure like a failed call.
    Failed(Val, String),
}

impl Enrich {
    /// Reads the event's value and makes its request (the URL, the body):
    /// everything that needs no waiting, done before the first await.
    fn prepare(&self, event: &mut Event) -> Prepared {
        let value = match event.to_value() {
            Ok(v @ Val::Obj(_)) => v,
            Ok(other) => {
                return Prepared::NotObject(format!(
                    "cannot set field {} on {}: the event is not an object",
                    self.target,
                    kind_of(&other)
                ));
            }
            Err(e) => return Prepared::NotObject(e),
        };
        let url = match self.template.fill(&value) {
            Ok(u) => u,
            Err(e) => return Prepared::Failed(value, e),
        };
        let url = match reqwest::Url::parse(&url) {
            Ok(u) => u,
            Err(e) => return Prepared::Failed(value, format!("the filled url is not a URL: {e}")),
        };
        let body = match &self.body {
            None => None,
            Some(program) => match one_output(program, value.clone()) {
                Ok(b) => Some(b),
                Err(e) => return Prepared::Failed(value, e),
            },
        };
        Prepared::Call(value, Request { url, body })
    }

    /// The event with the answer (or `null`) in the target field.
    fn enriched(&self, event: &Event, value: Val, answer: Val) -> Event {
        let mut map = match value {
            Val::Obj(map) => Arc::unwrap_or_clone(map),
            _ => jaq_json::Map::default(), // prepare only calls for objects
        };
        map.insert(self.target.clone(), answer);
        event.derived(Val::obj(map))
    }

    /// Where a failed event goes: errors, or on with `target = null`.
    fn failed(
        &self,
        event: Event,
        value: Val,
        reason: &str,
        ctx: &BatchCtx<'_>,
        out: &mut PortBuffers,
    ) {
        let errors = out.len() - 1;
        match self.on_error {
            OnError::Errors => out[errors].push(event.into_error(ctx.stage, reason)),
            OnError::Keep => out[0].push(self.enriched(&event, value, Val::Null)),
        }
    }
}

/// The body program's one output as JSON text.
fn one_output(program: &Program, value: Val) -> Result<Bytes, String> {
    let mut outputs = Vec::new();
    let mut error = None;
    program.run(value, |r| match r {
        Ok(v) if outputs.len() < 2 => outputs.push(v),
        Ok(_) => {}
        Err(e) => {
            error.get_or_insert(e);
        }
    });
    if let Some(e) = error {
        return Err(format!("`body` program: {e}"));
    }
    match outputs.as_slice() {
        [one] => Ok(Bytes::from(one.to_string())),
        [] => Err("`body` program gave no value".into()),
        _ => Err("`body` program gave more than one value".into()),
    }
}

fn kind_of(v: &Val) -> &'static str {
    match v {
        Val::Null => "null",
        Val::Bool(_) => "a boolean",
        Val::Num(_) => "a number",
        Val::TStr(_) | Val::BStr(_) => "a string",
        Val::Arr(_) => "an array",
        Val::Obj(_) => "an object",
    }
}

impl AsyncTransform for Enrich {
    fn process<'a>(
        &'a mut self,
        input: Vec<Event>,
        ctx: &'a BatchCtx<'a>,
        out: &'a mut PortBuffers,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        let prepared: Vec<(Event, Prepared)> = input
            .into_iter()
            .map(|mut e| {
                let p = self.prepare(&mut e);
                (e, p)
            })
            .collect();
        Box::pin(async move {
            // Every call of the batch at once (the stage's semaphore bounds
            // them); join_all keeps the input order.
            let calls = self.calls.clone();
            let answers = futures::future::join_all(prepared.iter().map(|(_, p)| {
                let calls = &calls;
                async move {
                    match p {
                        Prepared::Call(_, request) => Some(calls.fetch(request).await),
                        _ => None,
                    }
                }
            }))
            .await;
            let errors = out.len() - 1;
            for ((event, p), answer) in prepared.into_iter().zip(answers) {
                match (p, answer) {
                    (Prepared::Call(map, _), Some(Ok(v))) => {
                        let e = self.enriched(&event, map, v);
                        out[0].push(e);
                    }
                    (Prepared::Call(map, _), Some(Err(reason))) => {
                        self.failed(event, map, &reason, ctx, out);
                    }
                    (Prepared::Failed(map, reason), _) => {
                        self.failed(event, map, &reason, ctx, out);
                    }
                    (Prepared::NotObject(reason), _) => {
                        out[errors].push(event.into_error(ctx.stage, &reason));
                    }
                    (Prepared::Call(map, _), None) => {
                        self.failed(event, map, "internal: no answer", ctx, out);
                    }
                }
            }
        })
    }
}
