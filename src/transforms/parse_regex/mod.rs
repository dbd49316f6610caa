//! `type = "parse_regex"`: matches a regular expression with named groups
//! against a string and turns the captures into the fields of a new event.
//!
//! The output is written directly as canonical JSON text into one buffer
//! per batch ([`json`]), so parsing a log line costs one match and one copy.
//! A line that does not match goes to the error output with the original
//! event.
//!
//! The match: patterns of the log-line kind (`^`, literals, runs of one
//! character class, groups, `$`; see [`plan`]) are matched by a
//! straight-line matcher proven, when the stage is built, to give the
//! `regex` crate's captures on every input; any other pattern uses the
//! `regex` crate (`Regex::captures_read`). On the loghub HDFS pattern, whose
//! lazy `(?P<Content>.*?)\s*$` makes the `regex` crate fall back to its
//! bounded backtracker, the plan is about ten times faster per line.
//!
//! Files: [`plan`] (the plan and its proof), [`charset`] (character-class
//! scans), [`json`] (string escapes); `differential.rs` checks the plan
//! against `regex` on generated patterns and lines.

mod charset;
#[cfg(test)]
mod differential;
mod json;
mod plan;

use std::borrow::Cow;
use std::ops::Range;

use bytes::{BufMut, BytesMut};
use jaq_json::Val;
use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use crate::kit::event::Event;
use crate::transforms::{BatchCtx, PortBuffers, SyncTransform};
use plan::Plan;

/// Settings of a `parse_regex` transform.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParseRegexConfig {
    /// The pattern, with named groups such as `(?P<level>\w+)`.
    pub pattern: Spanned<String>,
    /// Field holding the text to parse; default: the event itself when it is
    /// a string, else its `message` field.
    pub field: Option<String>,
}

impl ParseRegexConfig {
    /// Compiles the pattern.
    pub fn build(&self) -> anyhow::Result<ParseRegex> {
        self.build_with(true)
    }

    /// The stage as it was before plans: the `regex` crate for every
    /// pattern (`benches/parse_regex.rs` compares the two).
    #[doc(hidden)]
    pub fn build_without_plan(&self) -> anyhow::Result<ParseRegex> {
        self.build_with(false)
    }

    fn build_with(&self, with_plan: bool) -> anyhow::Result<ParseRegex> {
        let regex = Regex::new(self.pattern.get_ref())?;
        let names: Vec<(usize, String)> = regex
            .capture_names()
            .enumerate()
            .filter_map(|(i, n)| n.map(|n| (i, escape_key(n))))
            .collect();
        let plan = with_plan
            .then(|| Plan::new(self.pattern.get_ref(), regex.captures_len()))
            .flatten();
        // With a plan every group is set: each field is its prefix (the
        // previous field's closing quote, a comma, the key, `:"`) and text.
        let fields = names
            .iter()
            .enumerate()
            .map(|(n, (i, key))| {
                let sep = if n == 0 { "{" } else { "\"," };
                let plain = plan.as_ref().is_some_and(|p| p.plain(*i));
                (*i, format!("{sep}{key}:\"").into_bytes().into(), plain)
            })
            .collect();
        // JSON punctuation and keys a line adds to its text.
        let overhead = 2 + names.iter().map(|(_, k)| k.len() + 4).sum::<usize>();
        Ok(ParseRegex {
            slots: vec![0; plan.as_ref().map_or(0, Plan::slots)],
            plan,
            regex,
            names,
            fields,
            overhead,
            field: self.field.clone().map(Val::from),
        })
    }
}

/// A running `parse_regex` stage.
pub struct ParseRegex {
    regex: Regex,
    /// The straight-line matcher, when the pattern has one (module doc).
    plan: Option<Plan>,
    /// The plan's capture slots, reused for every line.
    slots: Vec<usize>,
    /// Group index and its name, already written as a JSON key.
    names: Vec<(usize, String)>,
    /// Per named group, for the plan: group index, the JSON before its
    /// text, and whether its text needs no escapes.
    fields: Vec<(usize, Box<[u8]>, bool)>,
    /// Bytes the output adds to a line's text, less escapes.
    overhead: usize,
    field: Option<Val>,
}

fn escape_key(name: &str) -> String {
    let mut out = Vec::new();
    json::write_str(name.as_bytes(), &mut out);
    String::from_utf8(out).unwrap_or_default()
}

impl ParseRegex {
    /// The text to parse in `event` (whose value is parsed), or why there is
    /// none.
    fn subject<'e>(&self, value: &'e Val) -> Result<&'e [u8], String> {
        let key = match &self.field {
            Some(k) => k.clone(),
            None => match value {
                Val::TStr(b) => return Ok(b),
                _ => Val::from("message".to_string()),
            },
        };
        match value {
            Val::Obj(map) => match map.get(&key) {
                Some(Val::TStr(b)) => Ok(b),
                Some(other) => Err(format!("field {key} is not a string but {other}")),
                None => Err(format!("no field {key} to parse")),
            },
            other => Err(format!("cannot read field {key} of {other}")),
        }
    }

    /// The length of the text `event` holds, to size the batch's buffer.
    fn text_len(event: &Event) -> usize {
        match (event.parsed(), event.raw()) {
            (Some(Val::TStr(b)), _) => b.len(),
            (_, Some(raw)) => raw.len(),
            _ => 0,
        }
    }

    /// Writes the captures of `s` as a JSON object to `out`, or returns
    /// false when the pattern does not match.
    fn captures(
        &mut self,
        s: &str,
        locs: &mut regex::CaptureLocations,
        out: &mut BytesMut,
    ) -> bool {
        let start = out.len();
        if let Some(plan) = &self.plan {
            if !plan.run(s, &mut self.slots) {
                return false;
            }
            let mut complete = true;
            for (i, prefix, plain) in &self.fields {
                out.put_slice(prefix);
                let text = match self.slots.get(2 * i..2 * i + 2) {
                    Some(&[a, b]) => s.get(a..b),
                    _ => None,
                };
                match text {
                    Some(t) if *plain => out.put_slice(t.as_bytes()),
                    Some(t) => json::write_escaped(t.as_bytes(), out),
                    None => complete = false,
                }
            }
            out.put_slice(if self.fields.is_empty() {
                b"{}"
            } else {
                b"\"}"
            });
            if complete {
                return true;
            }
            // Cannot happen (a plan sets every group on a match); should it,
            // the regex crate decides.
            out.truncate(start);
        }
        if self.regex.captures_read(locs, s).is_none() {
            return false;
        }
        out.put_u8(b'{');
        for (n, (i, key)) in self.names.iter().enumerate() {
            let text = locs.get(*i).and_then(|(a, b)| s.get(a..b));
            put_field(n, key, text, out);
        }
        out.put_u8(b'}');
        true
    }
}

/// Writes the `n`th field of the output object: `key` (already JSON) and
/// the group's text, or `null` when the group took no part in the match.
fn put_field(n: usize, key: &str, text: Option<&str>, out: &mut BytesMut) {
    if n > 0 {
        out.put_u8(b',');
    }
    out.put_slice(key.as_bytes());
    out.put_u8(b':');
    match text {
        Some(t) => json::write_str(t.as_bytes(), out),
        None => out.put_slice(b"null"),
    }
}

impl SyncTransform for ParseRegex {
    fn process(&mut self, input: Vec<Event>, ctx: &BatchCtx<'_>, out: &mut PortBuffers) {
        let errors = out.len() - 1;
        // Capture slots reused for the whole batch: a match allocates nothing.
        let mut locs = self.regex.capture_locations();
        // One buffer for the batch's output, sized once; each event's text
        // is a slice of it.
        let size: usize = input
            .iter()
            .map(|e| Self::text_len(e) + self.overhead)
            .sum();
        let mut buf = BytesMut::with_capacity(size);
        for mut event in input {
            let outcome: Result<(), Cow<'static, str>> = match event.value() {
                Err(e) => Err(e.into()),
                Ok(value) => match self.subject(value) {
                    Err(e) => Err(e.into()),
                    Ok(text) => match std::str::from_utf8(text) {
                        Err(_) => Err("text is not valid UTF-8".into()),
                        Ok(s) => {
                            buf.reserve(s.len() + self.overhead);
                            if self.captures(s, &mut locs, &mut buf) {
                                Ok(())
                            } else {
                                Err("pattern does not match".into())
                            }
                        }
                    },
                },
            };
            match outcome {
                Ok(()) => {
                    let json = buf.split().freeze();
                    out[0].push(event.derive_raw(json));
                }
                Err(e) => out[errors].push(event.into_error(ctx.stage, &e)),
            }
        }
    }
}

impl crate::transforms::TransformKind for ParseRegexConfig {
    /// Checks that the pattern compiles and names at least one group.
    fn validate(&self, _text: &str) -> Vec<crate::kit::limits::Problem> {
        let at = |s: &Spanned<String>| -> Option<Range<usize>> { Some(s.span()) };
        match Regex::new(self.pattern.get_ref()) {
            Err(e) => vec![(at(&self.pattern), format!("invalid `pattern`: {e}"))],
            Ok(re) if re.capture_names().flatten().next().is_none() => vec![(
                at(&self.pattern),
                "`pattern` has no named group; name what to capture, e.g. (?P<level>\\w+)".into(),
            )],
            Ok(_) => Vec::new(),
        }
    }

    fn build(&self) -> anyhow::Result<crate::transforms::Transform> {
        use crate::transforms::Transform;
        Ok(Transform::Sync(Box::new(ParseRegexConfig::build(self)?)))
    }

    fn describe(&self) -> String {
        format!("parse_regex {}", self.pattern.get_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pattern: &str, field: Option<&str>, input: Val) -> (Vec<String>, Vec<String>) {
        let cfg = ParseRegexConfig {
            pattern: Spanned::new(0..0, pattern.into()),
            field: field.map(Into::into),
        };
        assert!(crate::transforms::TransformKind::validate(&cfg, "").is_empty());
        let mut t = cfg.build().unwrap();
        let ctx = BatchCtx {
            stage: "p",
            origin: 0,
            seq: 0,
            seed: 0,
        };
        let mut out = vec![Vec::new(), Vec::new()];
        t.process(vec![Event::with_line(input, 3)], &ctx, &mut out);
        let text = |es: &Vec<Event>| {
            es.iter()
                .map(|e| {
                    let mut b = Vec::new();
                    e.encode(crate::kit::codec::Codec::Json, &mut b);
                    String::from_utf8(b).unwrap().trim_end().to_string()
                })
                .collect()
        };
        (text(&out[0]), text(&out[1]))
    }

    #[test]
    fn captures_become_fields_and_text_is_escaped() {
        let line = Val::from(r#"[Sun Dec 04 04:47:44 2005] [error] say "hi"\ now"#.to_string());
        let (ok, err) = parse(
            r"^\[(?P<time>[^\]]+)\] \[(?P<level>\w+)\] (?P<content>.*)$",
            None,
            line,
        );
        assert!(err.is_empty());
        assert_eq!(
            ok,
            vec![
                r#"{"time":"Sun Dec 04 04:47:44 2005","level":"error","content":"say \"hi\"\\ now"}"#
            ]
        );
        assert!(crate::kit::json::is_canonical(ok[0].as_bytes()));
    }

    #[test]
    fn reads_message_by_default_and_reports_mismatches() {
        let mut m = jaq_json::Map::default();
        m.insert(
            Val::from("message".to_string()),
            Val::from("x=1".to_string()),
        );
        let (ok, _) = parse(r"x=(?P<x>\d+)(?P<y>z)?", None, Val::obj(m));
        assert_eq!(ok, vec![r#"{"x":"1","y":null}"#]);
        let (ok, err) = parse(r"(?P<n>\d+)", None, Val::from("no digits".to_string()));
        assert!(ok.is_empty());
        assert!(
            err[0].contains(r#""error":"pattern does not match""#),
            "{err:?}"
        );
        assert!(err[0].contains(r#""line":3"#), "{err:?}");
    }
}
