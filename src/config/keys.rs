//! Where each key of a table is written, so that a problem found after
//! deserialising (a value out of range) is reported at the key's value
//! rather than at the start of its table.

use std::ops::Range;

use toml::Spanned;
use toml::de::DeValue;

/// Every key of a table, nested ones as dotted paths (`retry.attempts`),
/// with the span of its value, in file order.
pub struct KeySpans(Vec<(String, Range<usize>)>);

impl KeySpans {
    /// Collects the keys of `value` (nothing when it is not a table).
    pub fn of(value: &Spanned<DeValue<'_>>) -> KeySpans {
        let mut out = Vec::new();
        collect("", value, &mut out);
        KeySpans(out)
    }

    /// The span of `path`, or else of the first key whose last segment is
    /// `path` (a message may say `attempts` for `retry.attempts`).
    pub fn get(&self, path: &str) -> Option<Range<usize>> {
        let exact = self.0.iter().find(|(k, _)| k == path);
        exact
            .or_else(|| {
                self.0
                    .iter()
                    .find(|(k, _)| k.rsplit('.').next() == Some(path))
            })
            .map(|(_, span)| span.clone())
    }

    /// The span of the first key a message names in backticks. Validation
    /// messages start with the key they are about ("`rate` must be ..."),
    /// so this places a span-less problem at its key; words in backticks
    /// that are not keys (a quoted value) are passed over.
    pub fn named_in(&self, message: &str) -> Option<Range<usize>> {
        message
            .split('`')
            .skip(1)
            .step_by(2)
            .find_map(|word| self.get(word.split(' ').next().unwrap_or(word)))
    }
}

fn collect(prefix: &str, value: &Spanned<DeValue<'_>>, out: &mut Vec<(String, Range<usize>)>) {
    let DeValue::Table(table) = value.get_ref() else {
        return;
    };
    for (key, value) in table.iter() {
        let path = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        out.push((path.clone(), value.span()));
        collect(&path, value, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use toml::de::DeTable;

    fn spans(text: &str) -> KeySpans {
        let root = DeTable::parse(text).unwrap();
        let span = root.span();
        KeySpans::of(&Spanned::new(span, DeValue::Table(root.into_inner())))
    }

    #[test]
    fn finds_nested_keys_by_path_or_last_segment() {
        let text = "rate = 5\nretry = { attempts = 0 }\n";
        let k = spans(text);
        assert_eq!(k.get("rate").map(|s| &text[s]), Some("5"));
        assert_eq!(k.get("retry.attempts").map(|s| &text[s]), Some("0"));
        assert_eq!(k.get("attempts").map(|s| &text[s]), Some("0"));
        assert_eq!(k.get("nope"), None);
    }

    #[test]
    fn a_message_is_placed_at_the_first_key_it_names() {
        let text = "path = [\"a[\"]\nrate = 2\n";
        let k = spans(text);
        let at = k.named_in("invalid glob `a[` in `path`: unclosed").unwrap();
        assert_eq!(&text[at], "[\"a[\"]");
        assert_eq!(
            k.named_in("`follow = true` cannot ...").map(|s| &text[s]),
            None
        );
        assert_eq!(
            k.named_in("`rate` must be ...").map(|s| &text[s]),
            Some("2")
        );
    }
}
