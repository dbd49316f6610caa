//! `type = "sample"`: keeps each event with probability `rate`, drawn from
//! the pipeline seed so that a replay samples the same events.

use rand::Rng;
use serde::Deserialize;

use crate::kit::event::Event;
use crate::transforms::{BatchCtx, PortBuffers, SyncTransform};

/// Settings of a `sample` transform.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleConfig {
    /// Probability of keeping an event, 0 to 1.
    pub rate: f64,
}

impl SampleConfig {
    /// A sampler.
    pub fn build(&self) -> Sample {
        Sample { rate: self.rate }
    }
}

/// A running sampler.
pub struct Sample {
    rate: f64,
}

impl SyncTransform for Sample {
    fn process(&mut self, input: Vec<Event>, ctx: &BatchCtx<'_>, out: &mut PortBuffers) {
        let mut rng = ctx.rng();
        out[0].extend(
            input
                .into_iter()
                .filter(|_| rng.random::<f64>() < self.rate),
        );
    }
}

impl crate::transforms::TransformKind for SampleConfig {
    /// Checks that `rate` is a probability.
    fn validate(&self, _text: &str) -> Vec<crate::kit::limits::Problem> {
        if (0.0..=1.0).contains(&self.rate) {
            Vec::new()
        } else {
            vec![(
                None,
                format!("`rate` must be between 0 and 1, got {}", self.rate),
            )]
        }
    }

    fn build(&self) -> anyhow::Result<crate::transforms::Transform> {
        use crate::transforms::Transform;
        Ok(Transform::Sync(Box::new(SampleConfig::build(self))))
    }

    fn describe(&self) -> String {
        format!("sample {}", self.rate)
    }
}
