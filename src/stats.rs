//! Per-stage counters, the pipeline's in-flight gauge, and the summary and
//! JSON report printed at exit, one file each:
//!
//! - [`counters`]: [`StageStats`] and [`InFlight`], plain atomics bumped
//!   once per batch, so counting costs nothing measurable on the hot path;
//! - [`latency`]: per batch, a stage records its processing time
//!   ([`Latency`]: Prometheus buckets for `/metrics`, an HDR histogram for
//!   the report's quantiles);
//! - [`series`]: a sampler task records how full each stage's input edge
//!   is every [`OCCUPANCY_EVERY`] ([`Series`]);
//! - [`report`]: [`RunStats`], the [`Report`] and its summary.
//!
//! Counters and latency do not depend on the report, so stage kinds can
//! use them alone.

pub mod counters;
pub mod latency;
pub mod report;
pub mod series;

pub use counters::{InFlight, StageStats};
pub use latency::{Latency, LatencyReport};
pub use report::{FULL_EDGE, Report, RunStats, StageReport};
pub use series::{OCCUPANCY_EVERY, OccupancyReport, SERIES_POINTS, Series};
