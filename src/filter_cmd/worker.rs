//! The program stage of `sluice filter`. A program with no variables that
//! does not ask where its input came from is the ordinary `jq` transform,
//! fast paths included (`select(.level == "error")` never parses a line).
//! Otherwise each worker runs the program with the `--arg` values and, for
//! `input_filename` / `input_line_number`, tells it each line's file and
//! line first.

use std::sync::Arc;

use jaq_json::Val;

use super::inputs::FileTable;
use crate::kit::event::Event;
use crate::kit::jq::{Program, context};
use crate::transforms::jq::{JqConfig, run_program};
use crate::transforms::{
    BatchCtx, NoSpill, PortBuffers, Spill, SyncTransform, Transform, TransformKind,
};

/// The program stage's settings.
#[derive(Debug, Clone)]
pub struct ProgramStage {
    /// The program text.
    pub code: String,
    /// `$name` values.
    pub globals: Vec<(String, Val)>,
    /// Whether the program asks for `input_filename`/`input_line_number`.
    pub position: bool,
    /// For those.
    pub table: Arc<FileTable>,
}

impl TransformKind for ProgramStage {
    fn validate(&self, _text: &str) -> Vec<crate::kit::limits::Problem> {
        Vec::new()
    }

    fn build(&self) -> anyhow::Result<Transform> {
        if self.globals.is_empty() && !self.position {
            let plain = JqConfig {
                program: toml::Spanned::new(0..0, self.code.clone()),
            };
            return TransformKind::build(&plain);
        }
        let program = Program::compile_with(&self.code, self.globals.clone())
            .map_err(|e| anyhow::anyhow!("invalid program: {}", e[0]))?;
        Ok(Transform::Sync(Box::new(Worker {
            program,
            position: self.position,
            table: self.table.clone(),
        })))
    }

    fn describe(&self) -> String {
        format!("jq {}", self.code)
    }
}

/// One worker of a program with variables or position filters.
struct Worker {
    program: Program,
    position: bool,
    table: Arc<FileTable>,
}

impl SyncTransform for Worker {
    fn process(&mut self, input: Vec<Event>, ctx: &BatchCtx<'_>, out: &mut PortBuffers) {
        self.process_spilling(input, ctx, out, &mut NoSpill);
    }

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
        for event in input {
            if self.position {
                let (name, line) = self.table.position(event.line);
                context::set_position(&name, line);
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
