//! The `[[tests]]` tables: read from the config file or from extra test
//! files, with spans, and checked against the pipeline they test before
//! anything runs, so a typo in a stage name is a `FILE:LINE:COL` diagnostic
//! with a suggestion rather than a test that silently checks nothing.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, ValueDeserializer};

use crate::config::diagnostic::{Diagnostics, did_you_mean};
use crate::config::{Config, Diagnostic, InputRef, Role, StageConfig, StageKind};
use crate::kit::codec::Codec;

/// One `[[tests]]` table, checked.
#[derive(Debug, Clone)]
pub struct TestCase {
    /// `name`, as printed in `PASS name` / `FAIL name`.
    pub name: String,
    /// The file the test was written in (for JUnit's `classname`).
    pub file: String,
    /// What goes in, in order.
    pub inputs: Vec<TestInput>,
    /// What must come out.
    pub outputs: Vec<TestOutput>,
    /// Stages (or ports) that must emit nothing.
    pub no_outputs_from: Vec<String>,
}

/// One `[[tests.inputs]]` table.
#[derive(Debug, Clone)]
pub struct TestInput {
    /// The transform whose input edge the events enter.
    pub insert_at: String,
    /// The events, already as JSON.
    pub data: InputData,
}

/// The two ways to write what a test input holds.
#[derive(Debug, Clone)]
pub enum InputData {
    /// `events = [...]`: TOML values turned into JSON values.
    Events(Vec<serde_json::Value>),
    /// `lines = [...]`: raw lines, decoded with `codec` as a source would.
    Lines(Vec<String>, Codec),
}

/// One `[[tests.outputs]]` table.
#[derive(Debug, Clone)]
pub struct TestOutput {
    /// `STAGE` or `STAGE.PORT`.
    pub extract_from: String,
    /// The exact events, in order, when given (`expect` or `expect_lines`).
    pub expect: Option<Vec<serde_json::Value>>,
    /// jq conditions every event must satisfy.
    pub conditions: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTest {
    name: Spanned<String>,
    #[serde(default)]
    inputs: Vec<Spanned<RawInput>>,
    #[serde(default)]
    outputs: Vec<Spanned<RawOutput>>,
    #[serde(default)]
    no_outputs_from: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInput {
    insert_at: Spanned<String>,
    events: Option<Vec<Spanned<toml::Value>>>,
    lines: Option<Vec<String>>,
    codec: Option<Codec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    extract_from: Spanned<String>,
    expect: Option<Vec<Spanned<toml::Value>>>,
    /// The expected events as JSON text: TOML has no `null`.
    expect_lines: Option<Vec<Spanned<String>>>,
    conditions: Option<Vec<Spanned<String>>>,
}

/// Reads the `[[tests]]` of `text` (from `file`) and checks them against
/// `config`. `whole_config`: the text is the pipeline's own file, so its
/// other sections are the pipeline's; an extra test file may hold only
/// `[[tests]]`.
pub fn parse(
    file: &str,
    text: &str,
    config: &Config,
    whole_config: bool,
) -> Result<Vec<TestCase>, Vec<Diagnostic>> {
    let mut diags = Diagnostics::new(file, text);
    let root = match DeTable::parse(text) {
        Ok(root) => root,
        Err(e) => {
            diags.push_toml(&e, 0..0);
            return Err(diags.list);
        }
    };
    let mut tests = None;
    for (key, value) in root.into_inner() {
        match key.get_ref().as_ref() {
            "tests" => tests = Some(value),
            // The pipeline's own sections were read (and checked) by the loader.
            "pipeline" | "sources" | "transforms" | "sinks" if whole_config => {}
            other => diags.push(
                key.span(),
                format!(
                    "unknown section `{other}` in a test file: it may hold only [[tests]] tables"
                ),
            ),
        }
    }
    let Some(tests) = tests else {
        return if diags.list.is_empty() {
            Ok(Vec::new())
        } else {
            Err(diags.list)
        };
    };
    let span = tests.span();
    let raw = match Vec::<Spanned<RawTest>>::deserialize(ValueDeserializer::from(tests)) {
        Ok(t) => t,
        Err(e) => {
            diags.push_toml(&e, span);
            return Err(diags.list);
        }
    };
    let mut out = Vec::new();
    let checker = Checker { config, text, file };
    for t in raw {
        if let Some(case) = checker.test(t, &mut diags) {
            out.push(case);
        }
    }
    if diags.list.is_empty() {
        Ok(out)
    } else {
        Err(diags.list)
    }
}

/// Checks raw tests against the pipeline.
struct Checker<'a> {
    config: &'a Config,
    text: &'a str,
    file: &'a str,
}

impl Checker<'_> {
    fn test(&self, t: Spanned<RawTest>, diags: &mut Diagnostics<'_>) -> Option<TestCase> {
        let span = t.span();
        let t = t.into_inner();
        let name = t.name.get_ref().clone();
        let before = diags.list.len();
        if t.inputs.is_empty() {
            diags.push(
                span.clone(),
                format!("test `{name}` has no inputs: add a [[tests.inputs]] table with `insert_at` and `events` or `lines`"),
            );
        }
        if t.outputs.is_empty() && t.no_outputs_from.is_empty() {
            diags.push(
                span.clone(),
                format!("test `{name}` checks nothing: add a [[tests.outputs]] table or `no_outputs_from`"),
            );
        }
        let mut inputs = Vec::new();
        for input in t.inputs {
            if let Some(i) = self.input(&name, input, diags) {
                inputs.push(i);
            }
        }
        let mut outputs = Vec::new();
        for output in t.outputs {
            if let Some(o) = self.output(&name, output, diags) {
                outputs.push(o);
            }
        }
        for target in &t.no_outputs_from {
            self.target(&name, "no_outputs_from", target, diags);
        }
        (diags.list.len() == before).then(|| TestCase {
            name,
            file: self.file.to_string(),
            inputs,
            outputs,
            no_outputs_from: t
                .no_outputs_from
                .into_iter()
                .map(|s| s.into_inner())
                .collect(),
        })
    }

    fn input(
        &self,
        test: &str,
        input: Spanned<RawInput>,
        diags: &mut Diagnostics<'_>,
    ) -> Option<TestInput> {
        let span = input.span();
        let input = input.into_inner();
        let at = &input.insert_at;
        match self.stage(at.get_ref()) {
            Some(s) if s.role == Role::Transform => {}
            Some(s) => {
                let hint = match s.role {
                    Role::Source => {
                        let readers = self.readers_of(&s.name);
                        if readers.is_empty() {
                            String::new()
                        } else {
                            format!(
                                "; insert at a transform that reads it: {}",
                                readers.join(", ")
                            )
                        }
                    }
                    _ => "; insert at a transform, and extract from the stage that feeds this sink"
                        .into(),
                };
                diags.push(
                    at.span(),
                    format!(
                        "test `{test}`: cannot insert at {} `{}`: a test runs only the transforms (no source or sink starts){hint}",
                        s.role.as_str(),
                        s.name
                    ),
                );
                return None;
            }
            None => {
                self.unknown(test, "insert_at", at.get_ref(), at.span(), diags);
                return None;
            }
        }
        let data = match (input.events, input.lines) {
            (Some(events), None) => InputData::Events(json_values(
                events,
                to_json,
                &format!("test `{test}`: this event cannot be JSON"),
                diags,
            )),
            (None, Some(lines)) => InputData::Lines(lines, input.codec.unwrap_or_default()),
            (Some(_), Some(_)) => {
                diags.push(
                    span,
                    format!("test `{test}`: an input takes `events` or `lines`, not both"),
                );
                return None;
            }
            (None, None) => {
                diags.push(
                    span,
                    format!("test `{test}`: this input has no `events` (TOML tables) or `lines` (raw lines)"),
                );
                return None;
            }
        };
        Some(TestInput {
            insert_at: at.get_ref().clone(),
            data,
        })
    }

    fn output(
        &self,
        test: &str,
        output: Spanned<RawOutput>,
        diags: &mut Diagnostics<'_>,
    ) -> Option<TestOutput> {
        let span = output.span();
        let output = output.into_inner();
        let ok = self.target(test, "extract_from", &output.extract_from, diags);
        let expect = match (output.expect, output.expect_lines) {
            (Some(_), Some(lines)) => {
                let at = lines.first().map_or(span.clone(), |l| l.span());
                diags.push(
                    at,
                    format!("test `{test}`: an output takes `expect` or `expect_lines`, not both"),
                );
                return None;
            }
            (None, Some(lines)) => Some(json_values(
                lines,
                |l| serde_json::from_str(l).map_err(|e| e.to_string()),
                &format!("test `{test}`: this expected line is not JSON"),
                diags,
            )),
            (Some(events), None) => Some(json_values(
                events,
                to_json,
                &format!("test `{test}`: this expected event cannot be JSON"),
                diags,
            )),
            (None, None) => None,
        };
        let conditions = output.conditions.unwrap_or_default();
        for c in &conditions {
            for (at, message) in crate::transforms::check_program(self.text, c) {
                diags.push(
                    at.unwrap_or(c.span()),
                    format!("test `{test}`: condition: {message}"),
                );
            }
        }
        if expect.is_none() && conditions.is_empty() {
            diags.push(
                span,
                format!("test `{test}`: an output needs `expect` (the exact events), `expect_lines` (the same as JSON text) or `conditions` (jq conditions every event must satisfy)"),
            );
            return None;
        }
        ok.then(|| TestOutput {
            extract_from: output.extract_from.into_inner(),
            expect,
            conditions: conditions.into_iter().map(|c| c.into_inner()).collect(),
        })
    }

    /// Checks an `extract_from` or `no_outputs_from` entry: a transform, or
    /// one of its ports.
    fn target(
        &self,
        test: &str,
        key: &str,
        target: &Spanned<String>,
        diags: &mut Diagnostics<'_>,
    ) -> bool {
        let r = InputRef::parse(target.get_ref(), target.span());
        let Some(stage) = self.stage(&r.stage) else {
            self.unknown(test, key, &r.stage, target.span(), diags);
            return false;
        };
        if stage.role != Role::Transform {
            let hint = match stage.role {
                Role::Sink => {
                    let feeds: Vec<String> = stage
                        .inputs
                        .iter()
                        .filter(|i| {
                            self.stage(&i.stage)
                                .is_some_and(|s| s.role == Role::Transform)
                        })
                        .map(|i| i.to_string())
                        .collect();
                    if feeds.is_empty() {
                        String::new()
                    } else {
                        format!("; extract from what it reads: {}", feeds.join(", "))
                    }
                }
                _ => String::new(),
            };
            diags.push(
                target.span(),
                format!(
                    "test `{test}`: cannot extract from {} `{}`: a test runs only the transforms{hint}",
                    stage.role.as_str(),
                    stage.name
                ),
            );
            return false;
        }
        if crate::config::graph::port_index(stage, r.port.as_deref()).is_none() {
            let mut ports: Vec<String> = stage
                .output_ports()
                .into_iter()
                .filter(|p| !p.is_empty())
                .collect();
            ports.push("errors".into());
            let port = r.port.as_deref().unwrap_or_default();
            let hint = did_you_mean(port, ports.iter().map(String::as_str))
                .map(|p| format!(" (did you mean `{}.{p}`?)", stage.name))
                .unwrap_or_default();
            diags.push(
                target.span(),
                format!(
                    "test `{test}`: `{}` has no port `{port}`; its ports: {}{hint}",
                    stage.name,
                    ports.join(", ")
                ),
            );
            return false;
        }
        true
    }

    fn unknown(
        &self,
        test: &str,
        key: &str,
        name: &str,
        span: Range<usize>,
        diags: &mut Diagnostics<'_>,
    ) {
        let transforms = self
            .config
            .stages
            .iter()
            .filter(|s| matches!(s.kind, StageKind::Transform(_)))
            .map(|s| s.name.as_str());
        let hint = did_you_mean(name, transforms.clone())
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_else(|| {
                let all: Vec<&str> = transforms.collect();
                format!("; the transforms are: {}", all.join(", "))
            });
        diags.push(
            span,
            format!("test `{test}`: unknown stage `{name}` in `{key}`{hint}"),
        );
    }

    fn stage(&self, name: &str) -> Option<&StageConfig> {
        self.config.stages.iter().find(|s| s.name == name)
    }

    /// Transforms that read stage `name` (any port).
    fn readers_of(&self, name: &str) -> Vec<String> {
        self.config
            .stages
            .iter()
            .filter(|s| s.role == Role::Transform && s.inputs.iter().any(|i| i.stage == name))
            .map(|s| s.name.clone())
            .collect()
    }
}

/// Converts each spanned item with `convert`; one that cannot be JSON is a
/// diagnostic at its own span (`what: why`) and is left out.
fn json_values<T>(
    items: Vec<Spanned<T>>,
    convert: impl Fn(&T) -> Result<serde_json::Value, String>,
    what: &str,
    diags: &mut Diagnostics<'_>,
) -> Vec<serde_json::Value> {
    let mut values = Vec::with_capacity(items.len());
    for item in items {
        match convert(item.get_ref()) {
            Ok(v) => values.push(v),
            Err(why) => diags.push(item.span(), format!("{what}: {why}")),
        }
    }
    values
}

/// A TOML value as JSON: tables become objects, arrays arrays; datetimes
/// have no JSON form and are refused (write them as strings).
fn to_json(v: &toml::Value) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    Ok(match v {
        toml::Value::String(s) => J::String(s.clone()),
        toml::Value::Integer(i) => J::from(*i),
        toml::Value::Float(f) => match serde_json::Number::from_f64(*f) {
            Some(n) => J::Number(n),
            None => return Err(format!("{f} is not a JSON number")),
        },
        toml::Value::Boolean(b) => J::Bool(*b),
        toml::Value::Datetime(d) => {
            return Err(format!(
                "TOML datetime {d} has no JSON form; write it as a string: \"{d}\""
            ));
        }
        toml::Value::Array(a) => J::Array(a.iter().map(to_json).collect::<Result<_, _>>()?),
        toml::Value::Table(t) => J::Object(
            t.iter()
                .map(|(k, v)| Ok((k.clone(), to_json(v)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}
