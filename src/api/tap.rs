//! `GET /api/v1/tap?stage=NAME&port=PORT&limit=N&sample=RATE`: the events
//! leaving a stage's port, one compact JSON value per line
//! (`application/x-ndjson`, chunked), until `limit` events have been sent
//! or the daemon stops; then the stream ends cleanly.
//!
//! The stage copies events into the tap's bounded buffer and never waits
//! (`kit::tap`); this side turns them into JSON text, joining whatever is
//! ready into one chunk, so a tap costs the pipeline a copy of shared
//! pointers per event and one channel send per batch, nothing more.
//!
//! Errors are JSON `{"error": "..."}`: 400 for a bad parameter, 403 when
//! `[pipeline.api] tap = false`, 404 for a stage or port the running graph
//! does not have.

use std::convert::Infallible;

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt as _;
use tokio_stream::wrappers::ReceiverStream;

use super::{State, error};
use crate::config::Role;
use crate::kit::codec::Codec;
use crate::kit::tap::{TAP_BUFFER, TapOptions};

/// The parameters of one tap request.
#[derive(Debug, PartialEq)]
struct Query {
    stage: String,
    port: String,
    options: TapOptions,
}

/// Answers one tap request (authorization already checked).
pub(super) fn handle(state: &State, query: &str) -> Response {
    if !state.tap {
        return error(
            StatusCode::FORBIDDEN,
            "taps are disabled in this daemon's config (`[pipeline.api] tap = false`)",
        );
    }
    let q = match parse(query) {
        Ok(q) => q,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    if let Err(message) = check_port(&state.live.config(), &q.stage, &q.port) {
        return error(StatusCode::NOT_FOUND, &message);
    }
    let rx = state.live.stats().taps.open(&q.stage, &q.port, q.options);
    tracing::debug!(stage = %q.stage, port = %q.port, "tap opened");
    let lines = ReceiverStream::new(rx)
        .ready_chunks(TAP_BUFFER)
        .map(|batches| {
            let mut out = Vec::with_capacity(batches.iter().map(Vec::len).sum::<usize>() * 128);
            for e in batches.iter().flatten() {
                e.encode(Codec::Json, &mut out);
            }
            Ok::<_, Infallible>(Bytes::from(out))
        });
    (
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(lines),
    )
        .into_response()
}

/// Whether the running graph has `stage` with output `port`.
fn check_port(config: &crate::config::Config, stage: &str, port: &str) -> Result<(), String> {
    let Some(s) = config.stages.iter().find(|s| s.name == stage) else {
        let names: Vec<&str> = config.stages.iter().map(|s| s.name.as_str()).collect();
        return Err(format!(
            "no stage `{stage}` in the running graph; it has {}",
            names.join(", ")
        ));
    };
    let ports: Vec<String> = s
        .output_ports()
        .into_iter()
        .chain(["errors".to_string()])
        .collect();
    if ports.iter().any(|p| p == port) {
        return Ok(());
    }
    let named: Vec<String> = ports
        .iter()
        .map(|p| match p.as_str() {
            "" => stage.to_string(),
            p => format!("{stage}.{p}"),
        })
        .collect();
    let what = match (s.role, port) {
        (Role::Sink, "") => format!(
            "`{stage}` is a sink: its events leave the graph; tap what feeds it, or `{stage}.errors`"
        ),
        _ => format!("stage `{stage}` has no output `{port}`"),
    };
    Err(format!("{what}; it has {}", named.join(", ")))
}

/// Reads `stage`, `port`, `limit` and `sample` from a query string.
fn parse(query: &str) -> Result<Query, String> {
    let mut q = Query {
        stage: String::new(),
        port: String::new(),
        options: TapOptions::default(),
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = decode(value);
        match key {
            "stage" => q.stage = value,
            "port" => q.port = value,
            "limit" => match value.parse::<u64>() {
                Ok(n) if n >= 1 => q.options.limit = Some(n),
                _ => {
                    return Err(format!(
                        "`limit` must be a whole number >= 1, got {value:?}"
                    ));
                }
            },
            "sample" => match value.parse::<f64>() {
                Ok(r) if r > 0.0 && r <= 1.0 => q.options.sample = r,
                _ => {
                    return Err(format!(
                        "`sample` must be a rate above 0 and at most 1, got {value:?}"
                    ));
                }
            },
            other => {
                return Err(format!(
                    "unknown parameter `{other}`; expected stage, port, limit, sample"
                ));
            }
        }
    }
    // `stage=parse.errors` is a stage and its port, as `sluice tap` writes it.
    if q.port.is_empty()
        && let Some((stage, port)) = q.stage.split_once('.')
    {
        (q.stage, q.port) = (stage.to_string(), port.to_string());
    }
    if q.stage.is_empty() {
        return Err("`stage` is required: /api/v1/tap?stage=NAME".to_string());
    }
    Ok(q)
}

/// A query value, `+` and percent escapes decoded.
fn decode(value: &str) -> String {
    let spaced = value.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_parameter_and_a_dotted_stage() {
        let q = parse("stage=parse&port=errors&limit=5&sample=0.5").unwrap();
        assert_eq!((q.stage.as_str(), q.port.as_str()), ("parse", "errors"));
        assert_eq!(
            q.options,
            TapOptions {
                limit: Some(5),
                sample: 0.5
            }
        );
        let q = parse("stage=route%2Ename").unwrap();
        assert_eq!((q.stage.as_str(), q.port.as_str()), ("route", "name"));
    }

    #[test]
    fn refuses_bad_parameters() {
        for bad in [
            "",
            "port=x",
            "stage=a&limit=0",
            "stage=a&sample=2",
            "stage=a&x=1",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
