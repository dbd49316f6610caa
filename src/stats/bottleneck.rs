//! The bottleneck judgement: which stage holds the others back, and why.
//! One function, [`judge`], serves the live API (`/api/v1/graph`, `sluice
//! top`, `sluice graph --live`, SIGQUIT), over the last few seconds, and
//! the end-of-run summary and report, over the whole run.
//!
//! It combines three signals per stage:
//!
//! 1. **Input edge fill** (0..1). Edges are bounded; an edge fills only
//!    when its consumer takes events more slowly than its producers offer
//!    them. A stage whose input edge is full (at least [`FULL_EDGE`] on
//!    average) is being outrun by what feeds it. An empty input means the
//!    stage keeps up.
//! 2. **Downstream fill**: the input edges of the stages that read its
//!    outputs. A full input edge is a symptom as well as a cause: a stage
//!    that cannot *send* (its consumers' edges are full) stops taking
//!    input, so its own input fills too. When the output edges are full
//!    the pressure comes from downstream, and the stage is not the
//!    bottleneck: the judgement follows the full edges down to the last
//!    full one, whose consumers are not full. That is how a slow sink at
//!    the end of a chain is named, not the transform before it whose
//!    input is just as full.
//! 3. **Busy ratio** (0..1): the share of the window the stage's workers
//!    spent on batches (time per batch summed over the workers, divided by
//!    workers × time). A full input, free outputs and busy workers is the
//!    plain case: the stage is working as hard as it can and still falls
//!    behind, so more workers (or a cheaper program) would help. A stage
//!    with a full input, free outputs and *idle* workers is still where
//!    the pressure stops, but it is waiting on something its batch time
//!    does not count (a file sink's write to a slow disk, an ordered
//!    sink's release); those rank after busy ones, and the reason shows
//!    the low busy figure so the operator knows which case it is.
//!
//! Sources have no input edge: a graph whose edges are all below
//! [`FULL_EDGE`] keeps up with its sources, which set the pace, and there
//! is no bottleneck (`None`). When several stages qualify (parallel
//! branches), the busiest fullest one is named.
//!
//! Why edges first, and not busy alone: busy time says a stage works hard,
//! not that anyone waits for it (a stage can be 100% busy and keep up),
//! and a stage waiting on a slow consumer is not busy at all. Only a full
//! edge says that someone upstream is kept waiting.

use serde::{Deserialize, Serialize};

/// Mean fill from which an input edge counts as full: the stage cannot
/// keep up with its producers. Half, not "1.0": a stage that falls behind
/// keeps its edge near full, but batches leave and arrive, so samples of a
/// full edge read anywhere from a few batches short of full to full.
pub const FULL_EDGE: f64 = 0.5;

/// Busy ratio from which a stage's workers count as busy.
pub const BUSY: f64 = 0.5;

/// What the judgement reads of one stage.
#[derive(Debug, Clone, Default)]
pub struct Signals {
    /// The stage's name.
    pub name: String,
    /// Mean fill of its input edge (`None`: it has none, a source).
    pub fill: Option<f64>,
    /// Share of the time its workers spent on batches (`None`: not
    /// measured for this stage).
    pub busy: Option<f64>,
    /// Indices (in the same list) of the stages reading any of its outputs,
    /// `errors` included.
    pub consumers: Vec<usize>,
}

/// The stage holding the others back, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Its name.
    pub stage: String,
    /// The signals that named it, e.g. `input edge 97% full, busy 99%`.
    pub reason: String,
}

/// The bottleneck of `stages`, if any (see the module doc).
pub fn judge(stages: &[Signals]) -> Option<Verdict> {
    let full = |s: &Signals| s.fill.is_some_and(|f| f >= FULL_EDGE);
    let candidates = stages.iter().filter(|s| full(s)).filter(|s| {
        s.consumers
            .iter()
            .all(|&c| stages.get(c).is_none_or(|c| !full(c)))
    });
    // Busy (or unmeasured) first, then the fullest, then the busiest.
    let rank = |s: &Signals| {
        (
            s.busy.is_none_or(|b| b >= BUSY),
            s.fill.unwrap_or(0.0),
            s.busy.unwrap_or(1.0),
        )
    };
    let best = candidates.max_by(|a, b| {
        let (a, b) = (rank(a), rank(b));
        a.0.cmp(&b.0)
            .then(a.1.total_cmp(&b.1))
            .then(a.2.total_cmp(&b.2))
    })?;
    let mut reason = format!(
        "input edge {:.0}% full",
        best.fill.unwrap_or(0.0).min(1.0) * 100.0
    );
    if let Some(busy) = best.busy {
        reason.push_str(&format!(", busy {:.0}%", busy.min(1.0) * 100.0));
    }
    Some(Verdict {
        stage: best.name.clone(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(name: &str, fill: Option<f64>, busy: Option<f64>, consumers: &[usize]) -> Signals {
        Signals {
            name: name.into(),
            fill,
            busy,
            consumers: consumers.to_vec(),
        }
    }

    #[test]
    fn a_slow_middle_stage_is_named() {
        let g = [
            stage("gen", None, None, &[1]),
            stage("slow", Some(0.97), Some(0.99), &[2]),
            stage("out", Some(0.0), Some(0.01), &[]),
        ];
        let v = judge(&g).unwrap();
        assert_eq!(v.stage, "slow");
        assert_eq!(v.reason, "input edge 97% full, busy 99%");
    }

    #[test]
    fn pressure_from_downstream_names_the_last_full_edge() {
        // The transform's input is full because it cannot send: the sink is slow.
        let g = [
            stage("gen", None, None, &[1]),
            stage("shape", Some(1.0), Some(0.05), &[2]),
            stage("out", Some(0.9), Some(0.98), &[]),
        ];
        assert_eq!(judge(&g).unwrap().stage, "out");
    }

    #[test]
    fn nothing_full_no_bottleneck() {
        let g = [
            stage("gen", None, None, &[1]),
            stage("out", Some(0.1), Some(0.3), &[]),
        ];
        assert_eq!(judge(&g), None);
    }

    #[test]
    fn busy_candidates_rank_before_idle_ones() {
        // Two branches, both full at the end; the idle one waits on
        // something unmeasured, the busy one works flat out.
        let g = [
            stage("gen", None, None, &[1, 2]),
            stage("idle", Some(0.99), Some(0.02), &[]),
            stage("busy", Some(0.8), Some(0.97), &[]),
        ];
        assert_eq!(judge(&g).unwrap().stage, "busy");
        let only_idle = [
            stage("gen", None, None, &[1]),
            stage("idle", Some(0.99), Some(0.02), &[]),
        ];
        let v = judge(&only_idle).unwrap();
        assert_eq!(
            (v.stage.as_str(), v.reason.as_str()),
            ("idle", "input edge 99% full, busy 2%")
        );
    }
}
