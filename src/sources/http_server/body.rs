//! A request body of the `http_server` source: read under the size limit
//! (while it arrives, and again after inflating gzip), then turned into
//! events.
//!
//! A body is remote input. It is never buffered past `max_body_bytes`: a
//! `Content-Length` over the limit is refused before a byte is read, a
//! chunked body is cut off at the limit, and a gzip body is inflated only
//! up to the limit (a small bomb cannot make a big buffer). Each value goes
//! through the codec's decoder, so the nesting limit, the UTF-8 check and
//! the canonical fast path are the same as for every other source.
//!
//! With the `json` codec a body whose first non-blank byte is `[` is one
//! JSON array of events; anything else is JSON lines. An array is split
//! into its elements without parsing it whole (the splitter here: strings,
//! escapes and jaq's `#` comments are stepped over, brackets counted), and
//! each element is decoded on its own, so a bad element is one error event
//! (its `line` is the element's 1-based position) and the others go on. An
//! array that is not closed makes its unfinished last element an error.

use std::io::Read as _;

use bytes::Bytes;
use http_body_util::BodyExt as _;
use jaq_json::Val;

use crate::kit::codec::{Codec, Line, decode};
use crate::kit::event::{Event, error_event};

/// Why a body was not taken: the status to answer and the reason.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused {
    /// HTTP status (413, 400, 408).
    pub status: u16,
    /// A short reason for the response body (never the body itself).
    pub reason: String,
}

impl Refused {
    fn too_large(max: usize) -> Refused {
        Refused {
            status: 413,
            reason: format!("body over max_body_bytes ({max} bytes)"),
        }
    }
}

/// How the body is encoded on the wire (`Content-Encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// No encoding (absent or `identity`).
    Identity,
    /// `gzip` (or `x-gzip`).
    Gzip,
}

impl Encoding {
    /// The encoding a `Content-Encoding` value names, `None` when
    /// unsupported (answered 415).
    pub fn from_header(value: Option<&[u8]>) -> Option<Encoding> {
        let Some(value) = value else {
            return Some(Encoding::Identity);
        };
        let value = String::from_utf8_lossy(value).trim().to_ascii_lowercase();
        match value.as_str() {
            "" | "identity" => Some(Encoding::Identity),
            "gzip" | "x-gzip" => Some(Encoding::Gzip),
            _ => None,
        }
    }
}

/// Reads `body` whole, at most `max` bytes of it (the limit is enforced as
/// frames arrive, not after buffering them).
pub async fn read_limited<B>(body: B, max: usize) -> Result<Bytes, Refused>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match http_body_util::Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(Refused::too_large(max))
        }
        Err(e) => Err(Refused {
            status: 400,
            reason: format!("reading the body: {e}"),
        }),
    }
}

/// The body as sent, inflated when gzip; at most `max` bytes after
/// inflating.
pub fn inflate(body: Bytes, encoding: Encoding, max: usize) -> Result<Bytes, Refused> {
    match encoding {
        Encoding::Identity => Ok(body),
        Encoding::Gzip => {
            let mut out = Vec::new();
            // One byte over the limit tells "exactly max" from "more".
            let limit = max as u64 + 1;
            let decoder = flate2::read::MultiGzDecoder::new(&body[..]);
            match decoder.take(limit).read_to_end(&mut out) {
                Ok(_) if out.len() > max => Err(Refused::too_large(max)),
                Ok(_) => Ok(Bytes::from(out)),
                Err(e) => Err(Refused {
                    status: 400,
                    reason: format!("invalid gzip body: {e}"),
                }),
            }
        }
    }
}

/// True when a `json` body is one array of events: its first non-blank
/// byte is `[`.
pub fn is_array(body: &[u8]) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
}

/// Decodes `body` with `codec` for stage `stage`, calling `f` with each
/// event (`Ok`) or error event (`Err`), in body order.
pub fn decode_body(
    codec: Codec,
    stage: &str,
    body: &[u8],
    mut f: impl FnMut(Result<Event, Event>),
) {
    if codec == Codec::Json && is_array(body) {
        array_elements(body, |no, element| match element {
            Element::Value(text) => match decode(Codec::Json, stage, no, Line::Complete(text)) {
                Some(decoded) => f(decoded),
                // Not reached: elements are trimmed and non-empty.
                None => f(Err(bad(stage, "empty array element", text, no))),
            },
            Element::Bad { text, reason } => f(Err(bad(stage, reason, text, no))),
        });
        return;
    }
    let mut rest = body;
    let mut no = 1u64;
    while !rest.is_empty() {
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(i) => (Line::Complete(&rest[..i]), &rest[i + 1..]),
            None => (Line::Last(rest), &rest[rest.len()..]),
        };
        if let Some(decoded) = decode(codec, stage, no, line) {
            f(decoded);
        }
        rest = next;
        no += 1;
    }
}

/// An error event holding `text` (lossily as a string) at element `no`.
fn bad(stage: &str, reason: &str, text: &[u8], no: u64) -> Event {
    let input = Val::from(String::from_utf8_lossy(text).into_owned());
    error_event(stage, reason, input, no)
}

/// One element found by [`array_elements`].
#[derive(Debug, PartialEq, Eq)]
pub enum Element<'a> {
    /// The text of one element, trimmed, not empty (not yet validated).
    Value(&'a [u8]),
    /// Text that cannot be an element: empty, unfinished, after the end.
    Bad {
        /// The offending bytes.
        text: &'a [u8],
        /// Why.
        reason: &'static str,
    },
}

/// Splits a body whose first non-blank byte is `[` into its top-level
/// elements, calling `f(position, element)` (position 1-based). Never
/// recurses and never fails: whatever is not an element is reported as
/// [`Element::Bad`].
pub fn array_elements(body: &[u8], mut f: impl FnMut(u64, Element<'_>)) {
    let Some(open) = body.iter().position(|&b| b == b'[') else {
        return;
    };
    let mut emit = |no: u64, text: &[u8], last: bool| {
        let text = text.trim_ascii();
        if is_blank(text) {
            // `[]` and `[ ]` are empty arrays; an empty slot between commas
            // (or after a trailing one) is a mistake worth reporting.
            if !(last && no == 1) {
                f(
                    no,
                    Element::Bad {
                        text,
                        reason: "empty array element",
                    },
                );
            }
        } else {
            f(no, Element::Value(text));
        }
    };
    let mut depth = 0usize;
    let mut start = open + 1;
    let mut no = 1u64;
    let mut i = start;
    while let Some(&c) = body.get(i) {
        match c {
            b'"' => {
                i += 1;
                // To the closing quote, stepping over escaped bytes; an
                // unterminated string runs to the end of the body.
                loop {
                    match memchr::memchr2(b'"', b'\\', body.get(i..).unwrap_or_default()) {
                        Some(k) if body[i + k] == b'\\' => i += k + 2,
                        Some(k) => {
                            i += k;
                            break;
                        }
                        None => {
                            i = body.len();
                            break;
                        }
                    }
                }
            }
            // jaq reads `#` to the end of the line as a comment.
            b'#' => match memchr::memchr(b'\n', &body[i..]) {
                Some(k) => i += k,
                None => i = body.len(),
            },
            b'[' | b'{' => depth += 1,
            b']' if depth == 0 => {
                emit(no, &body[start..i], true);
                let after = &body[i + 1..];
                if !is_blank(after) {
                    f(
                        no + 1,
                        Element::Bad {
                            text: after.trim_ascii(),
                            reason: "text after the end of the JSON array",
                        },
                    );
                }
                return;
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => {
                emit(no, &body[start..i], false);
                start = i + 1;
                no += 1;
            }
            _ => {}
        }
        i += 1;
    }
    // The body ended inside the array: its last element is unfinished.
    let rest = body[start.min(body.len())..].trim_ascii();
    f(
        no,
        Element::Bad {
            text: rest,
            reason: "JSON array not closed (the body ended inside it)",
        },
    );
}

/// True when `s` holds only whitespace and jaq's `#` comments.
fn is_blank(mut s: &[u8]) -> bool {
    loop {
        s = s.trim_ascii_start();
        match s.first() {
            None => return true,
            Some(b'#') => match memchr::memchr(b'\n', s) {
                Some(k) => s = &s[k..],
                None => return true,
            },
            Some(_) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(body: &str) -> Vec<(u64, Result<String, String>)> {
        let mut out = Vec::new();
        array_elements(body.as_bytes(), |no, e| {
            out.push((
                no,
                match e {
                    Element::Value(t) => Ok(String::from_utf8_lossy(t).into_owned()),
                    Element::Bad { text, reason } => {
                        Err(format!("{reason}: {}", String::from_utf8_lossy(text)))
                    }
                },
            ))
        });
        out
    }

    #[test]
    fn splits_top_level_elements_only() {
        let got = split(r#" [ {"a":[1,2]}, "x,]\"y", [3,{"b":"}"}] ,4 ] "#);
        let want: Vec<(u64, Result<String, String>)> = vec![
            (1, Ok(r#"{"a":[1,2]}"#.into())),
            (2, Ok(r#""x,]\"y""#.into())),
            (3, Ok(r#"[3,{"b":"}"}]"#.into())),
            (4, Ok("4".into())),
        ];
        assert_eq!(got, want);
        assert!(split("[]").is_empty());
        assert!(split(" [ \n ] \n").is_empty());
    }

    #[test]
    fn reports_what_is_not_an_element() {
        let got = split("[1,,2,]");
        assert_eq!(got[0], (1, Ok("1".into())));
        assert!(matches!(&got[1], (2, Err(e)) if e.starts_with("empty array element")));
        assert_eq!(got[2], (3, Ok("2".into())));
        assert!(matches!(&got[3], (4, Err(e)) if e.starts_with("empty array element")));
        assert_eq!(split("[1] # a comment\n "), vec![(1, Ok("1".into()))]);
        assert!(split("[ # only a comment, and ]\n ]").is_empty());
        let got = split("[1, 2] trailing");
        assert!(matches!(&got[2], (3, Err(e)) if e.contains("after the end")));
        let got = split("[1, {\"a\": 2");
        assert_eq!(got[0], (1, Ok("1".into())));
        assert!(matches!(&got[1], (2, Err(e)) if e.contains("not closed")));
        let got = split("[\"unterminated");
        assert!(matches!(&got[0], (1, Err(e)) if e.contains("not closed")));
    }

    fn decoded(codec: Codec, body: &str) -> (Vec<String>, Vec<(u64, String)>) {
        let (mut good, mut bad) = (Vec::new(), Vec::new());
        decode_body(codec, "in", body.as_bytes(), |r| match r {
            Ok(mut e) => good.push(e.to_value().unwrap().to_string()),
            Err(mut e) => {
                let line = e.line;
                bad.push((line, e.to_value().unwrap().to_string()))
            }
        });
        (good, bad)
    }

    #[test]
    fn json_lines_arrays_and_text() {
        let (good, bad) = decoded(Codec::Json, "{\"a\":1}\n\n{oops\n{\"b\": 2}");
        assert_eq!(good, vec![r#"{"a":1}"#, r#"{"b":2}"#]);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].0, 3, "the bad line's number");
        let (good, bad) = decoded(Codec::Json, "[{\"a\":1}, nope, 3]");
        assert_eq!(good, vec![r#"{"a":1}"#, "3"]);
        assert_eq!(bad[0].0, 2, "the bad element's position");
        let deep = format!("[1, {}{}]", "[".repeat(200), "]".repeat(200));
        let (good, bad) = decoded(Codec::Json, &deep);
        assert_eq!(good, vec!["1"]);
        assert!(bad[0].1.contains("nested deeper"), "{}", bad[0].1);
        let (good, bad) = decoded(Codec::Text, "[not json\r\nline two\n");
        assert_eq!(good, vec![r#""[not json""#, r#""line two""#]);
        assert!(bad.is_empty());
    }

    #[test]
    fn gzip_is_bounded_after_inflating() {
        use std::io::Write as _;
        let plain = vec![b'x'; 10_000];
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&plain).unwrap();
        let gz = Bytes::from(enc.finish().unwrap());
        assert!(gz.len() < 1_000);
        assert_eq!(
            inflate(gz.clone(), Encoding::Gzip, 10_000).unwrap().len(),
            10_000
        );
        assert_eq!(
            inflate(gz, Encoding::Gzip, 9_999).unwrap_err().status,
            413,
            "a small body that inflates past the limit"
        );
        let err = inflate(Bytes::from_static(b"not gzip"), Encoding::Gzip, 100).unwrap_err();
        assert_eq!(err.status, 400);
        assert_eq!(Encoding::from_header(Some(b"GZIP")), Some(Encoding::Gzip));
        assert_eq!(Encoding::from_header(Some(b"br")), None);
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_cut_while_read() {
        let body = http_body_util::Full::new(Bytes::from(vec![b'a'; 100]));
        assert_eq!(read_limited(body.clone(), 100).await.unwrap().len(), 100);
        assert_eq!(read_limited(body, 99).await.unwrap_err().status, 413);
    }
}
