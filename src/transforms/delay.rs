//! `type = "delay"`: holds each event for `duration` plus a random share of
//! `jitter`: the simulated I/O step of the producer/workers/collector pattern.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use rand::Rng;
use serde::Deserialize;

use crate::config::duration;
use crate::event::Event;
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
}

impl DelayConfig {
    /// A delay stage.
    pub fn build(&self) -> Delay {
        Delay {
            duration: self.duration,
            jitter: self.jitter,
        }
    }
}

/// A running delay stage.
pub struct Delay {
    duration: Duration,
    jitter: Duration,
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
        Box::pin(async move {
            for (event, wait) in input.into_iter().zip(waits) {
                tokio::time::sleep(wait).await;
                out[0].push(event);
            }
        })
    }
}
