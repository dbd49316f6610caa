//! Helpers for the API tests (`tests/api_*.rs`): raw HTTP/1.1 requests
//! with headers (chunked bodies decoded), the live graph as JSON, and a
//! poll that waits for the bottleneck judgement to settle.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::daemon_support::PATIENCE;

/// An answer: status code, head (status line and headers), body.
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

/// `METHOD path` with `headers` (`"Name: value"`), `Connection: close`.
pub fn request(addr: SocketAddr, method: &str, path: &str, headers: &[&str]) -> Answer {
    let mut s = TcpStream::connect(addr).expect("connect to the API");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read the answer");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    Answer {
        status,
        head: head.to_string(),
        body: if chunked {
            dechunk(body)
        } else {
            body.to_string()
        },
    }
}

/// The body of a chunked transfer.
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

/// `GET /api/v1/graph` (with `token` when given), parsed.
pub fn graph(addr: SocketAddr, token: Option<&str>) -> Value {
    let auth = token.map(|t| format!("Authorization: Bearer {t}"));
    let headers: Vec<&str> = auth.iter().map(String::as_str).collect();
    let a = request(addr, "GET", "/api/v1/graph", &headers);
    assert_eq!(a.status, 200, "{}\n{}", a.head, a.body);
    serde_json::from_str(&a.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", a.body))
}

/// The stage named `name` in a graph answer.
pub fn stage<'a>(graph: &'a Value, name: &str) -> &'a Value {
    graph["stages"]
        .as_array()
        .expect("stages is an array")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no stage `{name}` in {graph:#}"))
}

/// Polls the graph until its bottleneck has been `expected` in
/// `settled` answers in a row, each over a full window (the start's
/// transients and a judgement that flickers do not pass); returns the last
/// answer. Fails after [`PATIENCE`] with the last answer.
pub fn wait_bottleneck(addr: SocketAddr, expected: &str, settled: usize) -> Value {
    let deadline = Instant::now() + PATIENCE;
    let mut in_a_row = 0;
    loop {
        let g = graph(addr, None);
        let full_window = g["window_s"].as_f64().unwrap_or(0.0) >= FULL_WINDOW_S;
        if full_window && g["bottleneck"]["stage"] == expected {
            in_a_row += 1;
            if in_a_row >= settled {
                return g;
            }
        } else {
            in_a_row = 0;
        }
        assert!(
            Instant::now() < deadline,
            "the bottleneck never settled on `{expected}` within {PATIENCE:?}; last answer:\n{g:#}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A window this long is the daemon's whole window (5 s), give or take a
/// sample.
pub const FULL_WINDOW_S: f64 = 4.5;

/// The API's address from the daemon's log, as 127.0.0.1 (also when it
/// listens on 0.0.0.0).
pub fn local(addr: SocketAddr) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], addr.port()))
}
