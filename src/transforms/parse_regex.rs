//! `type = "parse_regex"`: matches a regular expression with named groups
//! against a string and turns the captures into the fields of a new event.
//!
//! The pattern is compiled once per worker (the `regex` crate) and the output
//! is written directly as canonical JSON text, so parsing a log line costs
//! one regex match and one copy. A line that does not match goes to the
//! error output with the original event.

use std::ops::Range;

use jaq_json::Val;
use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use crate::kit::event::Event;
use crate::transforms::{BatchCtx, PortBuffers, SyncTransform};

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
        let regex = Regex::new(self.pattern.get_ref())?;
        let names = regex
            .capture_names()
            .enumerate()
            .filter_map(|(i, n)| n.map(|n| (i, escape_key(n))))
            .collect();
        Ok(ParseRegex {
            regex,
            names,
            field: self.field.clone().map(Val::from),
        })
    }
}

/// A running `parse_regex` stage.
pub struct ParseRegex {
    regex: Regex,
    /// Group index and its name, already written as a JSON key.
    names: Vec<(usize, String)>,
    field: Option<Val>,
}

fn escape_key(name: &str) -> String {
    let mut out = Vec::new();
    write_json_str(name.as_bytes(), &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Writes `s` (UTF-8) as a JSON string the way the sink's writer would.
fn write_json_str(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    let mut last = 0;
    for (i, &c) in s.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\t' => b"\\t",
            b'\r' => b"\\r",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f | 0x7f => {
                out.extend_from_slice(&s[last..i]);
                out.extend_from_slice(format!("\\u{c:04x}").as_bytes());
                last = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&s[last..i]);
        out.extend_from_slice(esc);
        last = i + 1;
    }
    out.extend_from_slice(&s[last..]);
    out.push(b'"');
}

impl ParseRegex {
    /// The text to parse in `event`, or why there is none.
    fn subject(&self, event: &mut Event) -> Result<Val, String> {
        let value = event.to_value()?;
        let key = match &self.field {
            Some(k) => k.clone(),
            None if matches!(value, Val::TStr(_)) => return Ok(value),
            None => Val::from("message".to_string()),
        };
        match &value {
            Val::Obj(map) => match map.get(&key) {
                Some(v @ Val::TStr(_)) => Ok(v.clone()),
                Some(other) => Err(format!("field {key} is not a string but {other}")),
                None => Err(format!("no field {key} to parse")),
            },
            other => Err(format!("cannot read field {key} of {other}")),
        }
    }
}

impl SyncTransform for ParseRegex {
    fn process(&mut self, input: Vec<Event>, ctx: &BatchCtx<'_>, out: &mut PortBuffers) {
        let errors = out.len() - 1;
        // Capture slots reused for the whole batch: a match allocates nothing.
        let mut locs = self.regex.capture_locations();
        for mut event in input {
            let text = match self.subject(&mut event) {
                Ok(Val::TStr(b)) => b,
                Ok(_) => unreachable!("subject returns strings"),
                Err(e) => {
                    out[errors].push(event.into_error(ctx.stage, &e));
                    continue;
                }
            };
            let Ok(s) = std::str::from_utf8(&text) else {
                out[errors].push(event.into_error(ctx.stage, "text is not valid UTF-8"));
                continue;
            };
            if self.regex.captures_read(&mut locs, s).is_none() {
                out[errors].push(event.into_error(ctx.stage, "pattern does not match"));
                continue;
            }
            let mut json = Vec::with_capacity(s.len() + 16 * self.names.len());
            json.push(b'{');
            for (n, (i, key)) in self.names.iter().enumerate() {
                if n > 0 {
                    json.push(b',');
                }
                json.extend_from_slice(key.as_bytes());
                json.push(b':');
                match locs.get(*i) {
                    Some((a, b)) => write_json_str(&s.as_bytes()[a..b], &mut json),
                    None => json.extend_from_slice(b"null"),
                }
            }
            json.push(b'}');
            out[0].push(event.derive_raw(json.into()));
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
