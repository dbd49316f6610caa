//! sluice: a streaming pipeline of bounded stages.
//!
//! The layers, each using only the ones below it (`tests/layers.rs` keeps
//! them so):
//!
//! - **commands**: [`cli`] (parsing, dispatch), [`app`] (run, check, graph),
//!   [`filter_cmd`] (`sluice filter`), [`test_cmd`] (`sluice test`),
//!   [`client`] (`sluice tap`, `sluice graph --live`: clients of the API),
//!   [`top`] (`sluice top`: a live view of a running daemon's API).
//! - **running**: [`daemon`] (signals, the shutdown deadline, reload),
//!   [`topology`] (build the graph, run it, reload it, workers),
//!   [`api`] (the HTTP API at `metrics_address`: `/metrics`,
//!   `/api/v1/graph`, `/api/v1/tap`), [`metrics`] (the Prometheus text),
//!   [`notify`] (systemd's sd_notify), [`stats`] (the summary and the
//!   report, the live view, the bottleneck judgement).
//! - **config**: [`config`] (TOML schema, loading, `FILE:LINE:COL`
//!   diagnostics, the graph checks and DOT).
//! - **stage kinds**: [`sources`], [`transforms`], [`sinks`]: one file per kind.
//! - **stage kit**: [`kit`]: events and batches, acknowledgements, codecs and
//!   JSON, jq, durations, limits, retry, edges, fan-out, taps, shutdown,
//!   threads, checkpoints, the HTTP server and client stacks.

pub mod api;
pub mod app;
pub mod cli;
pub mod client;
pub mod config;
pub mod daemon;
pub mod filter_cmd;
#[doc(hidden)]
pub mod fuzz_checks;
pub mod kit;
pub mod metrics;
pub mod notify;
pub mod sinks;
pub mod sources;
pub mod stats;
pub mod test_cmd;
pub mod top;
pub mod topology;
pub mod transforms;
