//! Prometheus metrics: per-stage counters, edge occupancy, a processing
//! latency histogram and the taps' drops, as text (format 0.0.4) for
//! `GET /metrics` on `pipeline.metrics_address` (served by [`crate::api`]).
//!
//! Everything rendered here already lives in atomics
//! ([`StageStats`](crate::kit::counters::StageStats)), so [`render`](mod@render)
//! formats them on each scrape: no metrics facade.
//!
//! Edge occupancy is read through a weak handle on each stage's input
//! channel (`kit::gauge`); the latency buckets are a lock-free histogram
//! (`kit::histogram`).

pub mod render;

pub use render::render;
