//! Builds and runs the stage graph.
//!
//! [`builder`] turns a validated [`Config`](crate::config::Config) into inert
//! pieces (edges made, files opened, programs compiled, nothing spawned), so
//! every error surfaces before the first event moves; [`running`] spawns the
//! pieces and waits for the close cascade to reach the sinks.

pub mod builder;
mod reload;
pub mod running;
mod worker;

pub use builder::build;
pub use running::Running;
