//! The summary and JSON report printed at exit: [`RunStats`] holds every
//! stage's counters (which live in the kit, `kit::counters`, so stage
//! kinds use them without depending on the report), and [`Report`] is
//! what they add up to (see [`report`]).

pub mod report;

pub use report::{FULL_EDGE, Report, RunStats, StageReport};
