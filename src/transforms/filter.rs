//! `type = "filter"`: keeps the events for which a jq condition is truthy.

use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use crate::kit::event::Event;
use crate::kit::jq::Program;
use crate::kit::jq::fast::Cond;
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
        let code = self.condition.get_ref();
        let program =
            Program::compile(code).map_err(|e| anyhow::anyhow!("invalid condition: {}", e[0]))?;
        Ok(Filter::new(Arc::new(program), Cond::compile(code)))
    }
}

/// A running filter.
pub struct Filter {
    program: Arc<Program>,
    /// The condition's fast form, tried first on raw events.
    fast: Option<Cond>,
}

impl Filter {
    /// A filter on `program`, with its fast form when it has one.
    pub fn new(program: Arc<Program>, fast: Option<Cond>) -> Self {
        Filter { program, fast }
    }

    /// Whether `event` passes; `Err` carries jq's runtime error.
    pub fn test(&self, event: &mut Event) -> Result<bool, String> {
        test(&self.program, self.fast.as_ref(), event)
    }
}

/// Evaluates a condition: on the raw text when the fast form can answer,
/// else with jq on the parsed value.
pub fn test(program: &Program, fast: Option<&Cond>, event: &mut Event) -> Result<bool, String> {
    if let (Some(cond), Some(raw)) = (fast, event.raw())
        && let Some(answer) = cond.eval(raw)
    {
        return Ok(answer);
    }
    program.is_truthy(event.to_value()?)
}

impl SyncTransform for Filter {
    fn process(&mut self, input: Vec<Event>, ctx: &BatchCtx<'_>, out: &mut PortBuffers) {
        let (main, rest) = out.split_at_mut(1);
        let errors = rest.last_mut().expect("every stage has an errors port");
        for mut event in input {
            match self.test(&mut event) {
                Ok(true) => main[0].push(event),
                Ok(false) => {}
                Err(e) => errors.push(event.into_error(ctx.stage, &e)),
            }
        }
    }
}

impl crate::transforms::TransformKind for FilterConfig {
    fn validate(&self, text: &str) -> Vec<crate::kit::limits::Problem> {
        crate::transforms::check_program(text, &self.condition)
    }

    fn build(&self) -> anyhow::Result<crate::transforms::Transform> {
        use crate::transforms::Transform;
        Ok(Transform::Sync(Box::new(FilterConfig::build(self)?)))
    }

    fn describe(&self) -> String {
        format!("filter {}", self.condition.get_ref())
    }
}
