//! Helpers for the `http_server` source tests (`tests/http_server*.rs`):
//! a small tokio runtime for the reqwest clients (the tests themselves are
//! synchronous, like the daemon helpers they use), one request and its
//! answer, and the lines of a file sink.

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

/// A two-thread runtime for the clients.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A client with a bounded wait per request (a hung server fails the test).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("a client")
}

/// What the server answered.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Answer {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("answer is not JSON ({e}): {}", self.text))
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap_or_default().to_string())
    }
}

/// Sends `request` and reads the whole answer.
pub async fn send(request: reqwest::RequestBuilder) -> Result<Answer, reqwest::Error> {
    let response = request.send().await?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await?;
    Ok(Answer {
        status,
        headers,
        text,
    })
}

/// `POST url` with `body`, blocking on `rt`.
pub fn post(rt: &tokio::runtime::Runtime, url: &str, body: impl Into<String>) -> Answer {
    let body = body.into();
    rt.block_on(send(client().post(url).body(body)))
        .unwrap_or_else(|e| panic!("POST {url}: {e}"))
}

/// The lines of `path` (empty when it does not exist yet).
pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// `n` JSON lines `{"id":"TAG-i"}`.
pub fn body(tag: &str, n: usize) -> String {
    (0..n)
        .map(|i| format!("{{\"id\":\"{tag}-{i}\"}}\n"))
        .collect()
}

/// The `id` field of every JSON line of `path`.
pub fn ids(path: &Path) -> Vec<String> {
    lines(path)
        .iter()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            v["id"].as_str().unwrap_or_default().to_string()
        })
        .collect()
}
