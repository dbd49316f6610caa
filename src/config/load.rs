//! Reads TOML into a [`Config`], collecting every problem with its place.
//!
//! The text is parsed once into a spanned tree; each stage's common keys are
//! taken out, and the rest is handed to the stage kind's own
//! `deny_unknown_fields` struct, so a typo is reported at the typo.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::config::diagnostic::{Diagnostics, did_you_mean};
use crate::config::graph;
use crate::config::keys::KeySpans;
use crate::config::{Config, Diagnostic, InputRef, PipelineConfig, Role, StageConfig, StageKind};
use crate::kit::limits::{MAX_CAPACITY, MAX_TOTAL_WORKERS, MAX_WORKERS};
use crate::{sinks, sources, transforms};

/// Reads and validates the configuration in `path`.
pub fn load_file(path: &Path) -> Result<Config, Vec<Diagnostic>> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&file, &text),
        Err(e) => Err(vec![Diagnostic {
            file,
            line: 0,
            col: 0,
            message: format!("cannot read the configuration: {e}"),
        }]),
    }
}

/// Parses and validates `text` (read from `file`); every problem found is
/// returned, not only the first.
pub fn parse(file: &str, text: &str) -> Result<Config, Vec<Diagnostic>> {
    let mut diags = Diagnostics::new(file, text);
    let root = match DeTable::parse(text) {
        Ok(root) => root,
        Err(e) => {
            diags.push_toml(&e, 0..0);
            return Err(diags.list);
        }
    };
    let mut pipeline = PipelineConfig::default();
    let mut stages = Vec::new();
    // Stages whose own table is too broken to use: references to them are
    // not reported again as unknown.
    let mut broken = Vec::new();
    let mut sections: HashMap<&str, Spanned<DeValue<'_>>> = HashMap::new();
    for (key, value) in root.into_inner() {
        match key.get_ref().as_ref() {
            k @ ("pipeline" | "sources" | "transforms" | "sinks") => {
                let k: &'static str = match k {
                    "pipeline" => "pipeline",
                    "sources" => "sources",
                    "transforms" => "transforms",
                    _ => "sinks",
                };
                sections.insert(k, value);
            }
            // Unit tests for the config: read by `sluice test`, ignored here.
            "tests" => {}
            other => {
                let hint = did_you_mean(
                    other,
                    ["pipeline", "sources", "transforms", "sinks", "tests"],
                )
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
                diags.push(
                    key.span(),
                    format!("unknown section `{other}`, expected pipeline, sources, transforms, sinks or tests{hint}"),
                );
            }
        }
    }
    if let Some(p) = sections.remove("pipeline") {
        let span = p.span();
        let keys = KeySpans::of(&p);
        match PipelineConfig::deserialize(ValueDeserializer::from(p)) {
            Ok(p) => pipeline = p,
            Err(e) => diags.push_toml(&e, span.clone()),
        }
        for (key, message) in pipeline.validate() {
            diags.push(keys.get(key).unwrap_or(span.clone()), message);
        }
        check_api(&pipeline, &keys, span, &mut diags);
    }
    for role in [Role::Source, Role::Transform, Role::Sink] {
        let Some(section) = sections.remove(role.section()) else {
            continue;
        };
        let span = section.span();
        let DeValue::Table(table) = section.into_inner() else {
            diags.push(
                span,
                format!("`{}` must be a table of stages", role.section()),
            );
            continue;
        };
        for (name, value) in table {
            let stage_name = name.get_ref().to_string();
            match parse_stage(role, name, value, &pipeline, text, &mut diags) {
                Some(stage) => stages.push(stage),
                None => broken.push(stage_name),
            }
        }
    }
    if !stages.iter().any(|s| s.role == Role::Source) && diags.list.is_empty() {
        diags.push(0..0, "no source: add a [sources.NAME] table");
    }
    if !stages.iter().any(|s| s.role == Role::Sink) && diags.list.is_empty() {
        diags.push(0..0, "no sink: add a [sinks.NAME] table");
    }
    check_total_workers(&stages, &mut diags);
    graph::validate(&stages, &broken, &mut diags);
    if diags.list.is_empty() {
        Ok(Config {
            file: file.to_string(),
            pipeline,
            stages,
        })
    } else {
        Err(diags.list)
    }
}

fn parse_stage(
    role: Role,
    name: Spanned<Cow<'_, str>>,
    value: Spanned<DeValue<'_>>,
    pipeline: &PipelineConfig,
    text: &str,
    diags: &mut Diagnostics<'_>,
) -> Option<StageConfig> {
    let name_span = name.span();
    let name = name.into_inner().into_owned();
    let span = value.span();
    let keys = KeySpans::of(&value);
    // Control characters too: a name is printed in logs and names threads.
    let bad_char = |c: char| c == '.' || c.is_whitespace() || c.is_control();
    if name.is_empty() || name.contains(bad_char) {
        diags.push(
            name_span.clone(),
            format!(
                "invalid stage name `{}`: use letters, digits, `_` or `-` (no dots, spaces or control characters)",
                name.escape_debug()
            ),
        );
    }
    let DeValue::Table(mut table) = value.into_inner() else {
        diags.push(span, format!("`{}.{name}` must be a table", role.section()));
        return None;
    };
    // The table as written, without positions: what a reload compares.
    let settings = toml::Table::deserialize(ValueDeserializer::from(Spanned::new(
        span.clone(),
        DeValue::Table(table.clone()),
    )))
    .unwrap_or_default();
    let type_name = match table.remove("type") {
        Some(t) => match t.get_ref().as_str() {
            Some(s) => Some((s.to_string(), t.span())),
            None => {
                diags.push(t.span(), "`type` must be a string");
                None
            }
        },
        None => {
            diags.push(
                span.clone(),
                format!(
                    "stage `{name}` has no `type`: expected one of {}",
                    types(role).join(", ")
                ),
            );
            None
        }
    };
    let mut inputs = Vec::new();
    match (role, table.remove("inputs")) {
        (Role::Source, Some(v)) => diags.push(
            v.span(),
            format!("source `{name}` cannot have `inputs`: sources read from outside the pipeline; make it a transform or remove `inputs`"),
        ),
        (_, Some(v)) => {
            let vspan = v.span();
            match Vec::<Spanned<String>>::deserialize(ValueDeserializer::from(v)) {
                Ok(list) => {
                    inputs = list
                        .into_iter()
                        .map(|s| {
                            let sp = s.span();
                            InputRef::parse(s.get_ref(), sp)
                        })
                        .collect();
                }
                Err(_) => diags.push(vspan, "`inputs` must be an array of stage names, e.g. [\"app\", \"parse.errors\"]"),
            }
        }
        (_, None) => {}
    }
    let mut workers = 1;
    let mut capacity = pipeline.capacity;
    if role == Role::Transform {
        if let Some(v) = table.remove("workers") {
            workers = bounded(v, "workers", MAX_WORKERS, diags).unwrap_or(1);
        }
        if let Some(v) = table.remove("capacity") {
            capacity = bounded(v, "capacity", MAX_CAPACITY, diags).unwrap_or(capacity);
        }
    }
    let mut ordered = false;
    if role == Role::Sink {
        if let Some(v) = table.remove("capacity") {
            capacity = bounded(v, "capacity", MAX_CAPACITY, diags).unwrap_or(capacity);
        }
        if let Some(v) = table.remove("ordered") {
            match v.get_ref().as_bool() {
                Some(b) => ordered = b,
                None => diags.push(v.span(), "`ordered` must be true or false"),
            }
        }
    }
    let (type_name, type_span) = type_name?;
    let rest = ValueDeserializer::from(Spanned::new(span.clone(), DeValue::Table(table)));
    let parsed = match role {
        Role::Source => lookup(sources::KINDS, &type_name).map(|p| p(rest).map(StageKind::Source)),
        Role::Transform => {
            lookup(transforms::KINDS, &type_name).map(|p| p(rest).map(StageKind::Transform))
        }
        Role::Sink => lookup(sinks::KINDS, &type_name).map(|p| p(rest).map(StageKind::Sink)),
    };
    let kind = match parsed {
        None => {
            let hint = did_you_mean(&type_name, types(role))
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            diags.push(
                type_span,
                format!(
                    "unknown {} type `{type_name}`, expected one of {}{hint}",
                    role.as_str(),
                    types(role).join(", ")
                ),
            );
            return None;
        }
        Some(Err(e)) => {
            let at = e.span().unwrap_or(span.clone());
            diags.push(at, unknown_field_hint(e.message().trim_end(), role));
            return None;
        }
        Some(Ok(kind)) => kind,
    };
    let problems = match &kind {
        StageKind::Source(s) => s.validate(),
        StageKind::Transform(t) => t.validate(text),
        StageKind::Sink(s) => s.validate(),
    };
    for (at, message) in problems {
        diags.push(
            at.or_else(|| keys.named_in(&message))
                .unwrap_or(span.clone()),
            format!("{} `{name}`: {message}", role.as_str()),
        );
    }
    // The stage is kept even when some values are wrong, so that the graph
    // checks still run and every problem is reported in one go.
    Some(StageConfig {
        name,
        role,
        type_name,
        inputs,
        workers,
        capacity,
        ordered,
        kind,
        span,
        settings,
    })
}

/// The keys every stage of `role` takes besides its kind's own.
fn common_keys(role: Role) -> &'static [&'static str] {
    match role {
        Role::Source => &["type"],
        Role::Transform => &["type", "inputs", "workers", "capacity"],
        Role::Sink => &["type", "inputs", "capacity", "ordered"],
    }
}

/// Rewrites serde's "unknown field `x`, expected ..." to also list the keys
/// every stage takes, with a "did you mean" over all of them.
fn unknown_field_hint(message: &str, role: Role) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message.to_string();
    };
    let Some((field, expected)) = rest.split_once('`') else {
        return message.to_string();
    };
    let mut keys: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    keys.extend(common_keys(role));
    let hint = did_you_mean(field, keys.iter().copied())
        .map(|k| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default();
    let list: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    format!(
        "unknown field `{field}`, expected one of {}{hint}",
        list.join(", ")
    )
}

/// The parser registered for `type_name` in a role's registry.
fn lookup<P: Copy>(kinds: &[(&'static str, P)], type_name: &str) -> Option<P> {
    kinds.iter().find(|(t, _)| *t == type_name).map(|(_, p)| *p)
}

/// Every `type` of `role`, in registry order, for messages.
fn types(role: Role) -> Vec<&'static str> {
    fn names<P>(kinds: &[(&'static str, P)]) -> Vec<&'static str> {
        kinds.iter().map(|(t, _)| *t).collect()
    }
    match role {
        Role::Source => names(sources::KINDS),
        Role::Transform => names(transforms::KINDS),
        Role::Sink => names(sinks::KINDS),
    }
}

/// A count of at least 1 and at most `max`, or a diagnostic saying so.
fn bounded(
    v: Spanned<DeValue<'_>>,
    key: &str,
    max: usize,
    diags: &mut Diagnostics<'_>,
) -> Option<usize> {
    let span: Range<usize> = v.span();
    match i64::deserialize(ValueDeserializer::from(v)) {
        Ok(n) if n >= 1 && n as u64 <= max as u64 => Some(n as usize),
        Ok(n) if n < 1 => {
            diags.push(span, format!("`{key}` must be at least 1, got {n}"));
            None
        }
        Ok(n) => {
            diags.push(
                span,
                format!("`{key}` must be between 1 and {max}, got {n}"),
            );
            None
        }
        Err(_) => {
            diags.push(
                span,
                format!("`{key}` must be a whole number between 1 and {max}"),
            );
            None
        }
    }
}

/// Checks `metrics_address` and `[pipeline.api]`: the address parses,
/// `auth` names one token source, and an address other machines can reach
/// has `auth` (the API shows the events themselves through taps, and the
/// graph's shape: never to anyone who can connect).
fn check_api(
    pipeline: &PipelineConfig,
    keys: &KeySpans,
    span: Range<usize>,
    diags: &mut Diagnostics<'_>,
) {
    let at = |key: &str| keys.get(key).unwrap_or(span.clone());
    if let Some(Some(message)) = pipeline.api.auth.as_ref().map(|a| a.validate()) {
        diags.push(at("api.auth"), format!("`api.auth`: {message}"));
    }
    let Some(address) = pipeline.metrics_address.as_deref() else {
        return;
    };
    match crate::kit::net::parse_address(address) {
        Err(message) => diags.push(at("metrics_address"), message),
        Ok(address) if !crate::config::is_loopback(&address) && pipeline.api.auth.is_none() => {
            diags.push(
                at("metrics_address"),
                format!(
                    "`metrics_address` {address} is not a loopback address: the API (the graph, and taps on the events) would be open to anyone who can connect; add `[pipeline.api] auth = {{ bearer_token_env = \"VAR\" }}` (or `bearer_token_file`), or listen on 127.0.0.1"
                ),
            );
        }
        Ok(_) => {}
    }
}

/// Refuses a pipeline whose stages ask for more worker threads in all than
/// [`MAX_TOTAL_WORKERS`], at the stage that crosses the limit.
fn check_total_workers(stages: &[StageConfig], diags: &mut Diagnostics<'_>) {
    let mut total = 0;
    for s in stages.iter().filter(|s| s.role == Role::Transform) {
        total += s.workers;
        if total > MAX_TOTAL_WORKERS {
            diags.push(
                s.span.clone(),
                format!(
                    "transform `{}`: the transforms' `workers` add up to more than {MAX_TOTAL_WORKERS} threads; use fewer workers",
                    s.name
                ),
            );
            return;
        }
    }
}
