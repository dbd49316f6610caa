//! The URL template of an `http_enrich` stage: literal text with `{PATH}`
//! placeholders (`http://users.svc/users/{.user_id}?org={.org.id}`), each
//! filled from the event and percent-encoded.
//!
//! A path is jq's simplest kind: `.name`, `."any key"`, `.[0]`, chained
//! (`.user.ids[0]`). A string fills in without its quotes, a number as it
//! was written, a boolean as `true`/`false`; every byte but the unreserved
//! ones (`A-Z a-z 0-9 - . _ ~`) is percent-encoded, so a value holding `/`,
//! `?`, `#` or a space stays inside its segment and cannot reshape the
//! request. A missing value, `null`, an object or an array fails the event
//! with a reason instead of calling a URL nobody meant. `{{` and `}}` are a
//! literal brace.

use jaq_json::Val;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Bytes a value keeps as they are: RFC 3986's unreserved characters.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    parts: Vec<Piece>,
}

#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    Value(Path),
}

/// A path into the event, and how it was written (for reasons).
#[derive(Debug, Clone)]
struct Path {
    text: String,
    steps: Vec<Step>,
}

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

impl Template {
    /// Parses `text`; the error says what is wrong and names the
    /// placeholder.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|p| p.1) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|p| p.1) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => {
                    return Err(format!(
                        "a `}}` without its `{{` at byte {i} (write `}}}}` for a literal brace)"
                    ));
                }
                '{' => {
                    let rest = &text[i + 1..];
                    let end = rest.find('}').ok_or_else(|| {
                        format!("the placeholder at byte {i} has no closing `}}`")
                    })?;
                    let inner = rest[..end].trim();
                    let path = Path::parse(inner)
                        .map_err(|e| format!("placeholder `{{{inner}}}`: {e}"))?;
                    if !literal.is_empty() {
                        parts.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Piece::Value(path));
                    // Skip the placeholder's text and its closing brace.
                    while chars.next_if(|&(j, _)| j <= i + end + 1).is_some() {}
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Piece::Text(literal));
        }
        Ok(Template { parts })
    }

    /// The template with every placeholder filled by `fill` (for a check of
    /// the URL's shape before any event exists).
    pub fn sample(&self, fill: &str) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.as_str(),
                Piece::Value(_) => fill,
            })
            .collect()
    }

    /// The URL for `event`, or why there is none.
    pub fn fill(&self, event: &Val) -> Result<String, String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Value(path) => encode(path, path.get(event), &mut out)?,
            }
        }
        Ok(out)
    }
}

/// Writes the value at `path`, percent-encoded.
fn encode(path: &Path, value: Option<&Val>, out: &mut String) -> Result<(), String> {
    let fail = |what: &str| Err(format!("url placeholder {{{}}}: {what}", path.text));
    match value {
        None | Some(Val::Null) => fail("no value in the event"),
        Some(Val::TStr(b) | Val::BStr(b)) => {
            let text = String::from_utf8_lossy(b);
            out.extend(utf8_percent_encode(&text, COMPONENT));
            Ok(())
        }
        Some(v @ (Val::Num(_) | Val::Bool(_))) => {
            out.extend(utf8_percent_encode(&v.to_string(), COMPONENT));
            Ok(())
        }
        Some(Val::Arr(_)) => fail("is an array, not a string or a number"),
        Some(Val::Obj(_)) => fail("is an object, not a string or a number"),
    }
}

impl Path {
    fn parse(text: &str) -> Result<Path, String> {
        let b = text.as_bytes();
        if b.first() != Some(&b'.') {
            return Err("a path starts with `.`, as in `{.user_id}`".into());
        }
        let mut steps = Vec::new();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'.' if b.get(i + 1) == Some(&b'"') => {
                    let (key, next) = quoted(text, i + 1)?;
                    steps.push(Step::Key(key));
                    i = next;
                }
                b'.' if b.get(i + 1) == Some(&b'[') => i += 1,
                b'.' => {
                    let start = i + 1;
                    let mut end = start;
                    while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_') {
                        end += 1;
                    }
                    if end == start || b[start].is_ascii_digit() {
                        return Err(format!(
                            "expected a field name after `.` at `{}`",
                            &text[i..]
                        ));
                    }
                    steps.push(Step::Key(text[start..end].to_string()));
                    i = end;
                }
                b'[' if b.get(i + 1) == Some(&b'"') => {
                    let (key, next) = quoted(text, i + 1)?;
                    if b.get(next) != Some(&b']') {
                        return Err(format!("expected `]` at `{}`", &text[next..]));
                    }
                    steps.push(Step::Key(key));
                    i = next + 1;
                }
                b'[' => {
                    let close = text[i..]
                        .find(']')
                        .map(|c| i + c)
                        .ok_or_else(|| format!("`[` without `]` at `{}`", &text[i..]))?;
                    let index = text[i + 1..close].trim().parse::<usize>().map_err(|_| {
                        format!("`{}` is not an array index (0, 1, …)", &text[i..=close])
                    })?;
                    steps.push(Step::Index(index));
                    i = close + 1;
                }
                _ => return Err(format!("unexpected `{}`", &text[i..])),
            }
        }
        if steps.is_empty() {
            return Err("name a field, as in `{.user_id}`".into());
        }
        Ok(Path {
            text: text.to_string(),
            steps,
        })
    }

    /// The value at this path, if every step finds one.
    fn get<'a>(&self, mut v: &'a Val) -> Option<&'a Val> {
        for step in &self.steps {
            v = match (step, v) {
                (Step::Key(k), Val::Obj(map)) => map.get(&Val::from(k.clone()))?,
                (Step::Index(i), Val::Arr(items)) => items.get(*i)?,
                _ => return None,
            };
        }
        Some(v)
    }
}

/// The JSON string starting at byte `at` of `text` (its opening quote):
/// its value and the byte after its closing quote.
fn quoted(text: &str, at: usize) -> Result<(String, usize), String> {
    let b = text.as_bytes();
    let mut i = at + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => {
                let key = serde_json::from_str::<String>(&text[at..=i])
                    .map_err(|e| format!("bad quoted key `{}`: {e}", &text[at..=i]))?;
                return Ok((key, i + 1));
            }
            _ => i += 1,
        }
    }
    Err(format!("unterminated quoted key `{}`", &text[at..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn val(text: &str) -> Val {
        jaq_json::read::parse_single(text.as_bytes()).unwrap()
    }

    fn fill(template: &str, event: &str) -> Result<String, String> {
        Template::parse(template).unwrap().fill(&val(event))
    }

    #[test]
    fn values_fill_in_percent_encoded() {
        assert_eq!(
            fill("http://h/users/{.user_id}", r#"{"user_id":"a b/c?d#e%"}"#).unwrap(),
            "http://h/users/a%20b%2Fc%3Fd%23e%25"
        );
        assert_eq!(
            fill("http://h/{.n}/{.f}/{.b}", r#"{"n":42,"f":1.50,"b":true}"#).unwrap(),
            "http://h/42/1.50/true"
        );
        assert_eq!(
            fill("http://h/?q={.q}", r#"{"q":"é~x-y_z."}"#).unwrap(),
            "http://h/?q=%C3%A9~x-y_z."
        );
    }

    #[test]
    fn paths_follow_keys_indices_and_quoted_names() {
        let event = r#"{"user":{"ids":[7,8],"full name":"Ann"}}"#;
        assert_eq!(fill("{.user.ids[1]}", event).unwrap(), "8");
        assert_eq!(fill(r#"{.user."full name"}"#, event).unwrap(), "Ann");
        assert_eq!(fill(r#"{.user["full name"]}"#, event).unwrap(), "Ann");
        assert_eq!(fill("{.user.ids.[0]}", event).unwrap(), "7");
        assert_eq!(
            fill("{{literal}}/{ .user.ids[0] }", event).unwrap(),
            "{literal}/7"
        );
    }

    #[test]
    fn a_missing_or_unusable_value_is_a_reason() {
        let e = fill("http://h/{.user_id}", r#"{"other":1}"#).unwrap_err();
        assert_eq!(e, "url placeholder {.user_id}: no value in the event");
        assert!(fill("{.a}", r#"{"a":null}"#).is_err());
        assert!(
            fill("{.a}", r#"{"a":{"b":1}}"#)
                .unwrap_err()
                .contains("object")
        );
        assert!(fill("{.a}", r#"{"a":[1]}"#).unwrap_err().contains("array"));
        assert!(fill("{.a.b}", r#"{"a":"x"}"#).is_err());
    }

    #[test]
    fn bad_templates_are_refused_with_the_placeholder() {
        for (t, want) in [
            ("http://h/{.a", "no closing"),
            ("http://h/}", "without its"),
            ("http://h/{user_id}", "starts with `.`"),
            ("http://h/{.}", "field name"),
            ("http://h/{.a[x]}", "not an array index"),
            ("http://h/{.a b}", "unexpected"),
            ("http://h/{.1a}", "field name"),
        ] {
            let e = Template::parse(t).unwrap_err();
            assert!(e.contains(want), "{t}: {e}");
        }
        assert_eq!(
            Template::parse("http://h/{.a}/x").unwrap().sample("v"),
            "http://h/v/x"
        );
    }
}
