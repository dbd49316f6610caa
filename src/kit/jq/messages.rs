//! jq's wording for runtime errors.
//!
//! jaq and jq fail in the same places but say it differently ("cannot use
//! 123 as iterable (array or object)" against "Cannot iterate over number
//! (123)"), and jq users test the text with `try ... catch .`. jaq builds
//! its messages from fixed parts and values printed as JSON, so the common
//! ones can be read back and said again jq's way; anything else is left as
//! it is.

use jaq_json::Val;

use super::write;

/// jq's name for the kind of `v`.
pub fn kind(v: &Val) -> &'static str {
    match v {
        Val::Null => "null",
        Val::Bool(_) => "boolean",
        Val::Num(_) => "number",
        Val::TStr(_) | Val::BStr(_) => "string",
        Val::Arr(_) => "array",
        Val::Obj(_) => "object",
    }
}

/// `v` as JSON cut to what fits jq's message buffer of `size` bytes: at
/// most `size - 1` bytes, the last three `...` when cut.
pub fn truncated(v: &Val, size: usize) -> String {
    let text = write::to_string(v);
    if text.len() < size {
        return text;
    }
    let mut end = size.saturating_sub(4);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// jq's "KIND (VALUE)" with the value cut as in its error messages.
pub fn describe(v: &Val) -> String {
    format!("{} ({})", kind(v), truncated(v, 15))
}

/// Parses a value as jaq printed it in a message.
fn value(text: &str) -> Option<Val> {
    match text {
        "NaN" => return Some(Val::from(f64::NAN)),
        "Infinity" => return Some(Val::from(f64::INFINITY)),
        "-Infinity" => return Some(Val::from(f64::NEG_INFINITY)),
        _ => {}
    }
    jaq_json::read::parse_single(text.as_bytes()).ok()
}

/// Splits `text` at some occurrence of `sep` so that both sides are values.
fn two_values(text: &str, sep: &str) -> Option<(Val, Val)> {
    text.match_indices(sep).find_map(|(i, _)| {
        let l = value(&text[..i])?;
        let r = value(&text[i + sep.len()..])?;
        Some((l, r))
    })
}

fn is_zero(v: &Val) -> bool {
    matches!(v, Val::Num(_)) && *v == Val::from(0isize)
}

/// jq's text for one of jaq's messages, if it is one jaq builds.
pub fn translate(msg: &str) -> Option<String> {
    if let Some(rest) = msg.strip_prefix("cannot use ") {
        const TYPES: &[&str] = &[
            " as iterable (array or object)",
            " as rangeable (array or string)",
            " as string",
            " as number",
            " as integer",
            " as array",
            " as boolean",
            " as object",
        ];
        let (v, typ) = TYPES
            .iter()
            .find_map(|t| Some((value(rest.strip_suffix(t)?)?, *t)))?;
        return Some(match typ {
            " as iterable (array or object)" if matches!(v, Val::Null) => {
                "Cannot iterate over null".to_string()
            }
            " as iterable (array or object)" => format!("Cannot iterate over {}", describe(&v)),
            " as rangeable (array or string)" => format!("Cannot index {} with object", kind(&v)),
            " as number" => format!("{} number required", describe(&v)),
            other => format!("{} is not {}", describe(&v), article(&other[4..])),
        });
    }
    if let Some(rest) = msg.strip_prefix("cannot index ") {
        let (l, r) = two_values(rest, " with ")?;
        return Some(match &r {
            Val::TStr(s) | Val::BStr(s) => format!(
                "Cannot index {} with string \"{}\"",
                kind(&l),
                String::from_utf8_lossy(s)
            ),
            _ => format!("Cannot index {} with {}", kind(&l), kind(&r)),
        });
    }
    if let Some(rest) = msg.strip_prefix("cannot calculate ") {
        for (op, verb) in [
            (" + ", "cannot be added"),
            (" - ", "cannot be subtracted"),
            (" * ", "cannot be multiplied"),
            (" / ", "cannot be divided"),
            (" % ", "cannot be divided"),
        ] {
            if let Some((l, r)) = two_values(rest, op) {
                let zero = is_zero(&r) && matches!(l, Val::Num(_));
                let verb = match (op, zero) {
                    (" / ", true) => "cannot be divided because the divisor is zero",
                    (" % ", true) => "cannot be divided (remainder) because the divisor is zero",
                    _ => verb,
                };
                return Some(format!("{} and {} {verb}", describe(&l), describe(&r)));
            }
        }
        return None;
    }
    if let Some(rest) = msg.strip_prefix("invalid path expression with input ") {
        let v = value(rest)?;
        return Some(format!(
            "Invalid path expression with result {}",
            truncated(&v, 30)
        ));
    }
    if let Some(rest) = msg.strip_suffix(" has no length") {
        return Some(format!("{} has no length", describe(&value(rest)?)));
    }
    None
}

fn article(noun: &str) -> String {
    match noun.as_bytes().first() {
        Some(b'a' | b'e' | b'i' | b'o' | b'u') => format!("an {noun}"),
        _ => format!("a {noun}"),
    }
}

/// The message in jq's words when it is one of jaq's, else as it is.
pub fn jq_text(msg: &str) -> String {
    translate(msg).unwrap_or_else(|| msg.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_it_as_jq() {
        let t = |m: &str| translate(m).unwrap();
        assert_eq!(
            t("cannot use 123 as iterable (array or object)"),
            "Cannot iterate over number (123)"
        );
        assert_eq!(
            t("cannot use null as iterable (array or object)"),
            "Cannot iterate over null"
        );
        assert_eq!(
            t(r#"cannot index 1 with "a""#),
            r#"Cannot index number with string "a""#
        );
        assert_eq!(
            t("cannot index {} with 0"),
            "Cannot index object with number"
        );
        assert_eq!(
            t(r#"cannot calculate "1,2," + {"a":{"b":{"c":33}}}"#),
            r#"string ("1,2,") and object ({"a":{"b":{...) cannot be added"#
        );
        assert_eq!(
            t("cannot calculate 1 % 0"),
            "number (1) and number (0) cannot be divided (remainder) because the divisor is zero"
        );
        assert_eq!(
            t(r#"invalid path expression with input [{"b":0}]"#),
            r#"Invalid path expression with result [{"b":0}]"#
        );
        assert_eq!(translate("my own message"), None);
    }

    #[test]
    fn values_are_cut_like_jq() {
        let v = Val::from("very-long-string".to_string());
        assert_eq!(describe(&v), r#"string ("very-long-...)"#);
    }
}
