//! `type = "filter"`: keeps the events for which a jq condition is truthy.

use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use crate::event::error_event;
use crate::jq::Program;
use crate::transforms::{BatchCtx, PortBuffers, SyncTransform};

/// Settings of a `filter` transform.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// jq condition; an event passes when its first output is neither
    /// `false` nor `null` (and an event with no output is dropped).
    pub condition: Spanned<String>,
}

impl FilterConfig {
    /// Compiles the condition.
    pub fn build(&self) -> anyhow::Result<Filter> {
        let program = Program::compile(self.condition.get_ref())
            .map_err(|e| anyhow::anyhow!("invalid condition: {}", e[0]))?;
        Ok(Filter {
            program: Arc::new(program),
        })
    }
}

/// A running filter.
pub struct Filter {
    program: Arc<Program>,
}

impl SyncTransform for Filter {
    fn process(
        &mut self,
        input: Vec<crate::event::Event>,
        ctx: &BatchCtx<'_>,
        out: &mut PortBuffers,
    ) {
        let (main, rest) = out.split_at_mut(1);
        let errors = rest.last_mut().expect("every stage has an errors port");
        for event in input {
            match self.program.is_truthy(event.value.clone()) {
                Ok(true) => main[0].push(event),
                Ok(false) => {}
                Err(e) => errors.push(error_event(ctx.stage, &e, event.value, event.line)),
            }
        }
    }
}
