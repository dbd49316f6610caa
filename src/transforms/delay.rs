//! `type = "delay"`: holds each event for `duration` plus a random share of
//! `jitter`: the simulated I/O step of the producer/workers/collector pattern.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use rand::Rng;
use serde::Deserialize;

use crate::kit::duration;
use crate::kit::event::Event;
use crate::transforms::{AsyncTransform, BatchCtx, PortBuffers};

/// Settings of a `delay` transform.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelayConfig {
    /// Fixed wait per event.
    #[serde(deserialize_with = "duration::deserialize")]
    pub duration: Duration,
    /// Extra wait drawn uniformly from 0 to `jitter`, per event.
    #[serde(default, deserialize_with = "duration::deserialize")]
    pub jitter: Duration,
    /// Longest an event may take; one that would take longer goes to the
    /// error output once this much time has passed.
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    pub timeout: Option<Duration>,
}

impl DelayConfig {
    /// A delay stage.
    pub fn build(&self) -> Delay {
        Delay {
            duration: self.duration,
            jitter: self.jitter,
            timeout: self.timeout,
        }
    }
}

/// A running delay stage.
pub struct Delay {
    duration: Duration,
    jitter: Duration,
    timeout: Option<Duration>,
}

impl AsyncTransform for Delay {
    fn process<'a>(
        &'a mut self,
        input: Vec<Event>,
        ctx: &'a BatchCtx<'a>,
        out: &'a mut PortBuffers,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        // Draw every wait before the first await: the generator is not Send.
        let mut rng = ctx.rng();
        let waits: Vec<Duration> = input
            .iter()
            .map(|_| self.duration + self.jitter.mul_f64(rng.random::<f64>()))
            .collect();
        let timeout = self.timeout;
        Box::pin(async move {
            let errors = out.len() - 1;
            for (event, wait) in input.into_iter().zip(waits) {
                match timeout {
                    Some(limit) if wait > limit => {
                        tokio::time::sleep(limit).await;
                        let reason = format!("timed out after {limit:?}");
                        out[errors].push(event.into_error(ctx.stage, &reason));
                    }
                    _ => {
                        tokio::time::sleep(wait).await;
                        out[0].push(event);
                    }
                }
            }
        })
    }
}

impl crate::transforms::TransformKind for DelayConfig {
    /// A zero `timeout` could never be met: every event would fail.
    fn validate(&self, _text: &str) -> Vec<crate::kit::limits::Problem> {
        let min = Duration::from_millis(1);
        self.timeout
            .and_then(|t| crate::kit::limits::at_least("timeout", t, min))
            .map(|m| (None, m))
            .into_iter()
            .collect()
    }

    /// `delay` works event by event, so its workers share small batches.
    fn batch_hint(&self) -> Option<usize> {
        Some(1)
    }

    fn build(&self) -> anyhow::Result<crate::transforms::Transform> {
        use crate::transforms::Transform;
        Ok(Transform::Async(Box::new(DelayConfig::build(self))))
    }

    fn describe(&self) -> String {
        format!("delay {:?}+{:?}", self.duration, self.jitter)
    }
}
