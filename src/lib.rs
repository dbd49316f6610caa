//! sluice: a streaming pipeline of bounded stages.
//!
//! The map, one line a module:
//! - [`ack`]: end-to-end acknowledgements from sinks back to sources.
//! - [`checkpoint`]: file offsets and sink lengths in `data_dir`, written atomically.
//! - [`cli`]: command-line parsing and dispatch; [`app`]: what each command does.
//! - [`config`]: TOML schema, loading and validation with `FILE:LINE:COL` diagnostics.
//! - [`graph`]: stage graph checks (inputs, cycles) and DOT output.
//! - [`event`]: events and batches, the ordering key, error events.
//! - [`codec`]: line framing with a maximum length, json/text decode and encode.
//! - [`jq`]: jq programs on the jaq crates, and a fast path for simple conditions.
//! - [`json`]: raw JSON text: canonical-form check, field lookup, the nesting limit.
//! - [`topology`]: edges, fan-out, workers, reordering, building and running the graph.
//! - [`sources`], [`transforms`], [`sinks`]: one file per stage kind.
//! - [`stats`]: counters, batch latency, edge occupancy, the summary and report.
//! - [`progress`]: progress bars for file inputs when stderr is a terminal.
//! - [`daemon`]: signals and the shutdown deadline.
//! - [`metrics`]: Prometheus text at `metrics_address`: counters, edge occupancy, latency.
//! - [`redact`]: connection URLs printed without their passwords.
//! - [`notify`]: systemd's sd_notify protocol: READY, STOPPING, WATCHDOG, STATUS.
//! - [`filter_cmd`]: `sluice filter` as a pipeline built in code.
//! - [`test_cmd`]: `sluice test`, unit tests for pipeline configs.

pub mod ack;
pub mod app;
pub mod checkpoint;
pub mod cli;
pub mod codec;
pub mod config;
pub mod daemon;
pub mod event;
pub mod filter_cmd;
#[doc(hidden)]
pub mod fuzz_checks;
pub mod graph;
pub mod jq;
pub mod json;
pub mod metrics;
pub mod notify;
pub mod progress;
pub mod redact;
pub mod sinks;
pub mod sources;
pub mod stats;
pub mod test_cmd;
pub mod topology;
pub mod transforms;
