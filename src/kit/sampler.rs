//! The occupancy sampler: every [`OCCUPANCY_EVERY`], how full each
//! stage's input edge is goes into the stage's series (the report's
//! `occupancy` and its bottleneck line read them).

use std::sync::Weak;

use crate::kit::counters::StageStats;
use crate::kit::series::OCCUPANCY_EVERY;

/// Samples the input edge occupancy of `stages` every
/// [`OCCUPANCY_EVERY`](OCCUPANCY_EVERY) on the current tokio
/// runtime, for the report. The task holds the counters weakly and ends once
/// they are gone. A reload calls it again for the stages it adds, so that
/// every stage of the run is sampled exactly once per tick.
pub fn sample_edges(stages: Vec<Weak<StageStats>>) {
    if stages.is_empty() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(OCCUPANCY_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let mut alive = false;
            for s in stages.iter().filter_map(Weak::upgrade) {
                alive = true;
                s.sample_edge();
            }
            if !alive {
                return;
            }
        }
    });
}
