//! What the running graph counts, and what it adds up to: [`RunStats`]
//! holds every stage's counters (which live in the kit, `kit::counters`,
//! so stage kinds use them without depending on the report); [`Report`]
//! is the summary and JSON report printed at exit (see [`report`]);
//! [`live`] samples the counters into the live [`view`] the API serves;
//! [`bottleneck`] is the one judgement both of them use.

pub mod bottleneck;
pub mod live;
pub mod report;
pub mod view;

pub use bottleneck::FULL_EDGE;
pub use live::Live;
pub use report::{Report, RunStats, StageReport};
pub use view::GraphView;
