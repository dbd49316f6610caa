//! `type = "jq"`: runs a jq program; each input yields zero or more events.
//!
//! Outputs that are the input itself (`select(...)`, `.`) keep the input's
//! raw text, so the sink writes the original bytes; a `select` whose
//! condition has a fast form does not even parse the event.

use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use crate::kit::event::Event;
use crate::kit::jq::Program;
use crate::kit::jq::fast::{Cond, Projection};
use crate::transforms::{BatchCtx, NoSpill, PortBuffers, Spill, SyncTransform};

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
        let code = self.program.get_ref();
        let program =
            Program::compile(code).map_err(|e| anyhow::anyhow!("invalid program: {}", e[0]))?;
        let program = Arc::new(program);
        let select = Cond::compile_select(code);
        let projection = Projection::compile(code);
        Ok(Jq {
            program,
            select,
            projection,
        })
    }
}

/// A running jq stage.
pub struct Jq {
    program: Arc<Program>,
    /// For `select(COND)` programs: the fast form of `COND`.
    select: Option<Cond>,
    /// For programs that only pick fields: their fast form.
    projection: Option<Projection>,
}

impl Jq {
    /// A stage running `program`.
    pub fn new(program: Arc<Program>) -> Self {
        Jq {
            program,
            select: None,
            projection: None,
        }
    }
}

impl SyncTransform for Jq {
    fn process(&mut self, input: Vec<Event>, ctx: &BatchCtx<'_>, out: &mut PortBuffers) {
        self.process_spilling(input, ctx, out, &mut NoSpill);
    }

    /// One input can yield any number of outputs (`.[]`, `range(.n)`):
    /// they go on in parts of at most a batch while the program runs.
    fn process_spilling(
        &mut self,
        input: Vec<Event>,
        ctx: &BatchCtx<'_>,
        out: &mut PortBuffers,
        spill: &mut dyn Spill,
    ) {
        let errors_port = out.len() - 1;
        let (main, rest) = out.split_at_mut(1);
        let main = &mut main[0];
        let errors = rest.last_mut().expect("every stage has an errors port");
        main.reserve(input.len().min(spill.limit()));
        for event in input {
            if let (Some(cond), Some(raw)) = (&self.select, event.raw())
                && let Some(keep) = cond.eval(raw)
            {
                if keep {
                    main.push(event);
                }
                continue;
            }
            if let (Some(p), Some(raw)) = (&self.projection, event.raw()) {
                if p.is_identity() {
                    main.push(event);
                    continue;
                }
                let mut text = Vec::with_capacity(raw.len());
                if p.eval(raw, &mut text) {
                    main.push(event.derive_raw(text.into()));
                    continue;
                }
            }
            run_program(
                &self.program,
                event,
                ctx,
                main,
                (errors_port, errors),
                spill,
            );
        }
    }
}

/// Runs `program` on one event the slow way (parsed, evaluated by jaq):
/// each output to `main`, each error to the `errors` port, both spilled
/// as they fill a batch. The jq stage calls it when no fast path applies;
/// `sluice filter`'s worker for every line.
pub fn run_program(
    program: &Program,
    mut event: Event,
    ctx: &BatchCtx<'_>,
    main: &mut Vec<Event>,
    (errors_port, errors): (usize, &mut Vec<Event>),
    spill: &mut dyn Spill,
) {
    let value = match event.to_value() {
        Ok(v) => v,
        Err(e) => {
            errors.push(event.into_error(ctx.stage, &e));
            return;
        }
    };
    program.run(value, |r| match r {
        Ok(v) => {
            main.push(event.derived(v));
            spill.if_full(0, main);
        }
        Err(e) => {
            errors.push(event.clone().into_error(ctx.stage, &e));
            spill.if_full(errors_port, errors);
        }
    });
}

impl crate::transforms::TransformKind for JqConfig {
    fn validate(&self, text: &str) -> Vec<crate::kit::limits::Problem> {
        crate::transforms::check_program(text, &self.program)
    }

    fn build(&self) -> anyhow::Result<crate::transforms::Transform> {
        use crate::transforms::Transform;
        Ok(Transform::Sync(Box::new(JqConfig::build(self)?)))
    }

    fn describe(&self) -> String {
        format!("jq {}", self.program.get_ref())
    }
}
