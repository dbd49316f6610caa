//! `type = "jq"`: runs a jq program; each input yields zero or more events.

use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use crate::event::{Event, error_event};
use crate::jq::Program;
use crate::transforms::{BatchCtx, PortBuffers, SyncTransform};

/// Settings of a `jq` transform.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JqConfig {
    /// The jq program (jaq dialect).
    pub program: Spanned<String>,
}

impl JqConfig {
    /// Compiles the program.
    pub fn build(&self) -> anyhow::Result<Jq> {
        let program = Program::compile(self.program.get_ref())
            .map_err(|e| anyhow::anyhow!("invalid program: {}", e[0]))?;
        Ok(Jq::new(Arc::new(program)))
    }
}

/// A running jq stage.
pub struct Jq {
    program: Arc<Program>,
}

impl Jq {
    /// A stage running `program`.
    pub fn new(program: Arc<Program>) -> Self {
        Jq { program }
    }
}

impl SyncTransform for Jq {
    fn process(&mut self, input: Vec<Event>, ctx: &BatchCtx<'_>, out: &mut PortBuffers) {
        let (main, rest) = out.split_at_mut(1);
        let main = &mut main[0];
        let errors = rest.last_mut().expect("every stage has an errors port");
        main.reserve(input.len());
        for event in input {
            let line = event.line;
            let original = event.value.clone();
            self.program.run(event.value, |r| match r {
                Ok(value) => main.push(Event { value, line }),
                Err(e) => errors.push(error_event(ctx.stage, &e, original.clone(), line)),
            });
        }
    }
}
