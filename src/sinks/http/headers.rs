//! The `headers = { NAME = "value" }` of an `http` sink: `${VAR}` in a
//! value is read from the environment when the sink is built, so a token
//! lives in the service's environment, not in the config file.
//!
//! Values are secrets as far as sluice knows (an `Authorization` header
//! usually is one): [`HeaderTemplates`] prints only the names, the
//! resolved [`HeaderValue`]s are marked sensitive, and no error message
//! quotes a value, only the header's name and the variable's.

use std::collections::BTreeMap;
use std::fmt;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;

/// The headers as written in the config, `${VAR}` not yet resolved.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct HeaderTemplates(BTreeMap<String, String>);

impl fmt::Debug for HeaderTemplates {
    /// Names only: a value may hold a token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// One piece of a header value: text as written, or a variable to read.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
}

/// Splits `value` into text and `${VAR}` references; `$$` is a literal
/// `$`. A `${` without its `}`, or a name that is not `[A-Za-z_][A-Za-z0-9_]*`,
/// is an error (which does not quote the value).
fn pieces(value: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        if at > 0 {
            out.push(Piece::Text(&rest[..at]));
        }
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push(Piece::Text("$"));
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('{') {
            let end = tail
                .find('}')
                .ok_or("`${` without its closing `}` (write `$$` for a literal `$`)")?;
            let name = &tail[..end];
            if !is_var_name(name) {
                return Err(format!(
                    "`${{{name}}}` is not an environment variable name (letters, digits, `_`)"
                ));
            }
            out.push(Piece::Var(name));
            rest = &tail[end + 1..];
        } else {
            out.push(Piece::Text("$"));
            rest = after;
        }
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl HeaderTemplates {
    /// Problems `check` can see without the environment: header names,
    /// the `${VAR}` syntax.
    pub fn validate(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, value) in &self.0 {
            if HeaderName::from_bytes(name.as_bytes()).is_err() {
                out.push(format!("`headers`: `{name}` is not a valid header name"));
            }
            if let Err(e) = pieces(value) {
                out.push(format!("`headers.{name}`: {e}"));
            }
        }
        out
    }

    /// The headers with every `${VAR}` read through `env` (the process
    /// environment in production); an unset variable is an error naming
    /// the header and the variable, never the value.
    pub fn resolve(&self, env: impl Fn(&str) -> Option<String>) -> Result<HeaderMap, String> {
        let mut map = HeaderMap::new();
        for (name, template) in &self.0 {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("`headers`: `{name}` is not a valid header name"))?;
            let mut value = String::new();
            for piece in pieces(template).map_err(|e| format!("`headers.{name}`: {e}"))? {
                match piece {
                    Piece::Text(t) => value.push_str(t),
                    Piece::Var(var) => value.push_str(&env(var).ok_or_else(|| {
                        format!("`headers.{name}`: environment variable `{var}` is not set")
                    })?),
                }
            }
            let mut value = HeaderValue::from_str(&value).map_err(|_| {
                format!(
                    "`headers.{name}`: the value holds characters a header cannot carry (control characters or newlines)"
                )
            })?;
            value.set_sensitive(true);
            map.insert(header, value);
        }
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn templates(pairs: &[(&str, &str)]) -> HeaderTemplates {
        HeaderTemplates(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn variables_are_read_and_dollars_escaped() {
        let env = |v: &str| (v == "TOKEN").then(|| "s3cret".to_string());
        let h = templates(&[("Authorization", "Bearer ${TOKEN}"), ("X-Cost", "$$5 $x")])
            .resolve(env)
            .unwrap();
        assert_eq!(h["authorization"], "Bearer s3cret");
        assert!(h["authorization"].is_sensitive());
        assert_eq!(h["x-cost"], "$5 $x");
    }

    #[test]
    fn an_unset_variable_names_itself_and_not_the_value() {
        let e = templates(&[("Authorization", "Bearer ${TOKEN} secret-part")])
            .resolve(|_| None)
            .unwrap_err();
        assert!(e.contains("`TOKEN` is not set"), "{e}");
        assert!(e.contains("headers.Authorization"), "{e}");
        assert!(!e.contains("secret-part"), "{e}");
    }

    #[test]
    fn bad_syntax_and_names_are_found_without_the_environment() {
        let t = templates(&[("Bad Name", "x"), ("A", "${OPEN"), ("B", "${1X}")]);
        let problems = t.validate();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(templates(&[("A", "${OK_1}")]).validate().is_empty());
    }

    #[test]
    fn debug_prints_names_only() {
        let t = templates(&[("Authorization", "Bearer hunter2")]);
        let shown = format!("{t:?}");
        assert!(
            shown.contains("Authorization") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
