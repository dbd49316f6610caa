//! The stage kit: what every stage kind builds on, and nothing above it.
//!
//! Nothing in `kit` names a stage kind, the config, the topology or a
//! command: sources, transforms and sinks sit on it, the config and the
//! graph above them, the running topology above those.
//!
//! - Data: [`event`] (events, batches, the ordering key, error events),
//!   [`ack`] (end-to-end acknowledgements), [`codec`] (line framing,
//!   json/text), [`json`] (raw JSON text: canonical check, lookups, the
//!   nesting limit), [`jq`] (jq programs on jaq, the fast path).
//! - Plumbing between stages: [`edge`] (bounded edges, reorder for ordered
//!   sinks), [`fanout`] (a stage's output ports), [`tap`] (each port's
//!   event count and live copies for `sluice tap`), [`source_outputs`] (a
//!   source's outputs across reloads), [`turns`] (expanding workers take
//!   turns before an ordered sink), [`shutdown`] (the stop signal),
//!   [`thread`] (long-lived loops on graph-owned threads), [`pool`] (one
//!   thread per core for short CPU jobs such as decoding), [`failure`]
//!   (a task that ends early fails what it held).
//! - Settings: [`duration`] (`"250ms"`), [`limits`] (bounds every config
//!   value is checked against), [`retry`] (retry policy and backoff),
//!   [`net`] (addresses, Redis connections).
//! - HTTP: [`http_server`] (the one server stack: axum on hyper 1, TLS,
//!   bounded connections, graceful stop), [`http_auth`] (bearer tokens
//!   that never print), [`http_client`] (the one client stack and the one
//!   retrying call).
//! - Counting: [`counters`] (every stage's), [`extra`] (named counters and
//!   timings a kind adds), [`latency`], [`histogram`].
//! - State and output: [`checkpoint`] (offsets and sink lengths in
//!   `data_dir`), [`progress`] (progress bars), [`redact`] (URLs without
//!   their passwords).

pub mod ack;
pub mod checkpoint;
pub mod codec;
pub mod counters;
pub mod duration;
pub mod edge;
pub mod event;
pub mod extra;
pub mod failure;
pub mod fanout;
pub mod gauge;
pub mod histogram;
pub mod http_auth;
pub mod http_client;
pub mod http_server;
pub mod jq;
pub mod json;
pub mod latency;
pub mod limits;
pub mod net;
pub mod pool;
pub mod progress;
pub mod redact;
pub mod retry;
pub mod sampler;
pub mod series;
pub mod shutdown;
pub mod source_outputs;
pub mod sync;
pub mod tap;
pub mod thread;
pub mod turns;
