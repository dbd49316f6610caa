//! Prometheus metrics: per-stage counters, edge occupancy and a processing
//! latency histogram, served as text at `pipeline.metrics_address`.
//!
//! Everything rendered here already lives in atomics
//! ([`StageStats`](crate::kit::counters::StageStats)), so the endpoint is a small
//! HTTP/1.1 responder on a tokio `TcpListener` ([`server`]) that formats
//! them on each `GET /metrics` ([`render`](mod@render)): no metrics facade,
//! no HTTP stack.
//!
//! Edge occupancy is read through a weak handle on each stage's input
//! channel (`kit::gauge`); the latency buckets are a lock-free histogram
//! (`kit::histogram`).

pub mod render;
pub mod server;

pub use render::{Metrics, render};
pub use server::serve;
