//! Line framing, and the `json` / `text` codecs that turn lines into events and
//! events back into lines.
//!
//! Framing is newline-delimited with a maximum line length: a longer line is
//! skipped up to its newline and reported, it is never buffered whole.

use std::io::{self, Read};

use bytes::Bytes;
use jaq_json::Val;
use serde::Deserialize;

use crate::kit::event::{Event, error_event};
use crate::kit::json;

/// Default limit on one input line: 1 MiB, far above any sane log line, far
/// below what would hurt memory if a peer never sends a newline.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// Starting size of a reader's buffer; it grows only for lines longer than this.
const INITIAL_BUFFER: usize = 256 * 1024;

/// The UTF-8 byte-order mark.
const BOM: &[u8] = b"\xef\xbb\xbf";

/// How many bytes of an over-long line are kept in its error event.
const TOO_LONG_PREFIX: usize = 256;

/// How lines map to events.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    /// Each line is one JSON value (blank lines are skipped, like jq).
    #[default]
    Json,
    /// Each line is one string (like `jq -R` in, `jq -r` out); a trailing
    /// `\r` (CRLF files) is removed.
    Text,
}

/// One framed line handed out by [`LineReader`].
#[derive(Debug)]
pub enum Line<'a> {
    /// A complete line, without its newline.
    Complete(&'a [u8]),
    /// The input's last line, which had no newline.
    Last(&'a [u8]),
    /// A line longer than the limit: its first bytes and its full length.
    TooLong { prefix: &'a [u8], len: usize },
}

/// Splits bytes into lines, never holding more than `max_line` bytes of one
/// line. Push-based, so that blocking readers ([`LineReader`]) and async
/// sockets share it: read into [`spare`](Self::spare), then call
/// [`filled`](Self::filled); at end of input call [`finish`](Self::finish).
pub struct LineFramer {
    buf: Vec<u8>,
    /// Start of the unconsumed bytes in `buf`.
    start: usize,
    /// End of the valid bytes in `buf`.
    end: usize,
    max_line: usize,
    /// Line number of the next line (1-based).
    line: u64,
    /// Set while skipping the rest of an over-long line: (prefix, bytes seen).
    skipping: Option<(Vec<u8>, usize)>,
}

impl LineFramer {
    /// A framer for lines of at most `max_line` bytes.
    pub fn new(max_line: usize) -> Self {
        Self::with_buffer(max_line, INITIAL_BUFFER)
    }

    /// A framer whose buffer starts at `initial` bytes (it grows as needed).
    pub fn with_buffer(max_line: usize, initial: usize) -> Self {
        LineFramer {
            buf: vec![0; initial.max(1)],
            start: 0,
            end: 0,
            max_line,
            line: 1,
            skipping: None,
        }
    }

    /// Free space to read the next bytes into (never empty).
    pub fn spare(&mut self) -> &mut [u8] {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            // Only reachable with a partial line within the limit that fills
            // the buffer: grow, bounded by max_line plus one read.
            let new_len = (self.buf.len() * 2).min(self.max_line + INITIAL_BUFFER + 1);
            self.buf.resize(new_len.max(self.buf.len() + 1), 0);
        }
        &mut self.buf[self.end..]
    }

    /// Takes `n` bytes just written into [`spare`](Self::spare) and calls
    /// `f(line_number, line)` for each line they complete.
    pub fn filled(&mut self, n: usize, mut f: impl FnMut(u64, Line<'_>)) {
        let scan_from = self.end;
        self.end += n;
        self.split(scan_from, &mut f);
    }

    fn split(&mut self, mut scan_from: usize, f: &mut impl FnMut(u64, Line<'_>)) {
        loop {
            let found = memchr::memchr(b'\n', &self.buf[scan_from..self.end]);
            if let Some((prefix, seen)) = self.skipping.as_mut() {
                match found {
                    Some(i) => {
                        let len = *seen + (scan_from + i - self.start);
                        let prefix = std::mem::take(prefix);
                        f(
                            self.line,
                            Line::TooLong {
                                prefix: &prefix,
                                len,
                            },
                        );
                        self.line += 1;
                        self.skipping = None;
                        self.start = scan_from + i + 1;
                        scan_from = self.start;
                        continue;
                    }
                    None => {
                        *seen += self.end - self.start;
                        self.start = self.end;
                        return;
                    }
                }
            }
            match found {
                Some(i) => {
                    let nl = scan_from + i;
                    let len = nl - self.start;
                    if len > self.max_line {
                        let p = &self.buf[self.start..self.start + TOO_LONG_PREFIX.min(len)];
                        f(self.line, Line::TooLong { prefix: p, len });
                    } else {
                        f(self.line, Line::Complete(&self.buf[self.start..nl]));
                    }
                    self.line += 1;
                    self.start = nl + 1;
                    scan_from = self.start;
                }
                None => {
                    let pending = self.end - self.start;
                    if pending > self.max_line {
                        let keep = TOO_LONG_PREFIX.min(pending);
                        let p = self.buf[self.start..self.start + keep].to_vec();
                        self.skipping = Some((p, pending));
                        self.start = self.end;
                    }
                    return;
                }
            }
        }
    }

    /// End of input: emits the last line if it had no newline.
    pub fn finish(&mut self, mut f: impl FnMut(u64, Line<'_>)) {
        if let Some((prefix, seen)) = self.skipping.take() {
            let len = seen + (self.end - self.start);
            f(
                self.line,
                Line::TooLong {
                    prefix: &prefix,
                    len,
                },
            );
            self.line += 1;
        } else if self.end > self.start {
            let len = self.end - self.start;
            if len > self.max_line {
                let p = &self.buf[self.start..self.start + TOO_LONG_PREFIX.min(len)];
                f(self.line, Line::TooLong { prefix: p, len });
            } else {
                f(self.line, Line::Last(&self.buf[self.start..self.end]));
            }
            self.line += 1;
        }
        self.start = self.end;
    }

    /// Numbers the next line `line` (resuming after `line - 1` lines).
    pub fn set_next_line(&mut self, line: u64) {
        self.line = line;
    }
}

/// A [`LineFramer`] over a blocking reader.
pub struct LineReader<R> {
    inner: R,
    framer: LineFramer,
    eof: bool,
    /// Total bytes read so far.
    pub bytes_read: u64,
}

impl<R: Read> LineReader<R> {
    /// Frames `inner` with a maximum line length of `max_line` bytes.
    pub fn new(inner: R, max_line: usize) -> Self {
        LineReader {
            inner,
            framer: LineFramer::new(max_line),
            eof: false,
            bytes_read: 0,
        }
    }

    /// Numbers the next line `line` (resuming after `line - 1` lines).
    pub fn set_next_line(&mut self, line: u64) {
        self.framer.set_next_line(line);
    }

    /// Reads what is there without ending the input at EOF: a partial last
    /// line stays buffered (for following a growing file). Returns the
    /// number of bytes read (0: nothing new).
    pub fn read_more(&mut self, f: impl FnMut(u64, Line<'_>)) -> io::Result<usize> {
        let n = loop {
            match self.inner.read(self.framer.spare()) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.bytes_read += n as u64;
        if n > 0 {
            self.framer.filled(n, f);
        }
        Ok(n)
    }

    /// Ends the input: emits a buffered partial line.
    pub fn finish(&mut self, f: impl FnMut(u64, Line<'_>)) {
        self.eof = true;
        self.framer.finish(f);
    }

    /// Reads one chunk and calls `f(line_number, line)` for each line it
    /// completes. Returns `Ok(false)` once the input is exhausted.
    pub fn read_chunk(&mut self, f: impl FnMut(u64, Line<'_>)) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        let n = loop {
            match self.inner.read(self.framer.spare()) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.bytes_read += n as u64;
        if n == 0 {
            self.eof = true;
            self.framer.finish(f);
            return Ok(false);
        }
        self.framer.filled(n, f);
        Ok(true)
    }
}

/// Turns a framed line into an event, or into an error event for `stage`.
pub fn decode(
    codec: Codec,
    stage: &str,
    line_no: u64,
    line: Line<'_>,
) -> Option<Result<Event, Event>> {
    decode_with(codec, stage, line_no, line, Bytes::copy_from_slice)
}

/// [`decode`] for a line read out of `buf`: the event's text is a slice of
/// the shared buffer (a reference count), not a copy of its own.
pub fn decode_shared(
    codec: Codec,
    stage: &str,
    line_no: u64,
    line: Line<'_>,
    buf: &Bytes,
) -> Option<Result<Event, Event>> {
    decode_with(codec, stage, line_no, line, |b| buf.slice_ref(b))
}

/// [`decode`], keeping the text of a good line with `keep`.
fn decode_with(
    codec: Codec,
    stage: &str,
    line_no: u64,
    line: Line<'_>,
    keep: impl FnOnce(&[u8]) -> Bytes,
) -> Option<Result<Event, Event>> {
    let bytes = match line {
        Line::Complete(b) | Line::Last(b) => b,
        Line::TooLong { prefix, len } => {
            let reason = format!(
                "line is {len} bytes long, over the limit (max_line_bytes); first {} bytes kept",
                prefix.len()
            );
            let input = Val::from(String::from_utf8_lossy(prefix).into_owned());
            return Some(Err(error_event(stage, &reason, input, line_no)));
        }
    };
    // A UTF-8 byte-order mark (files written on Windows) is not data. It is
    // dropped here rather than by the framer so that byte offsets (file
    // checkpoints) still count it: before JSON, where it is never valid, on
    // any line; before text, at the start of the stream.
    let bytes = match codec {
        // So is the RS that starts a JSON text in RFC 7464 (`jq --seq`).
        Codec::Json => {
            let b = bytes.strip_prefix(BOM).unwrap_or(bytes);
            b.strip_prefix(b"\x1e").unwrap_or(b)
        }
        Codec::Text if line_no == 1 => bytes.strip_prefix(BOM).unwrap_or(bytes),
        Codec::Text => bytes,
    };
    // Most lines are already compact JSON: keep the text, parse later only
    // if a stage needs the value. (Canonical text is valid UTF-8.)
    if codec == Codec::Json && json::is_canonical(bytes) {
        return Some(Ok(Event::from_raw(keep(bytes), line_no)));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let reason = format!("invalid UTF-8 at byte {}", e.valid_up_to());
            let input = Val::from(String::from_utf8_lossy(bytes).into_owned());
            return Some(Err(error_event(stage, &reason, input, line_no)));
        }
    };
    match codec {
        // A CRLF line ending is a line ending, not data.
        Codec::Text => {
            let text = bytes.strip_suffix(b"\r").unwrap_or(bytes);
            let value = Val::utf8_str(keep(text));
            Some(Ok(Event::with_line(value, line_no)))
        }
        Codec::Json => {
            if text.bytes().all(|b| b.is_ascii_whitespace()) {
                return None;
            }
            // Depth-checked first: jaq's parser recurses once per level.
            match json::parse_limited(bytes) {
                Ok(value) => Some(Ok(Event::with_line(value, line_no))),
                Err(reason) => Some(Err(error_event(
                    stage,
                    &reason,
                    Val::from(text.to_string()),
                    line_no,
                ))),
            }
        }
    }
}

/// Writes `value` as one line: compact JSON, or for `text` a string's raw bytes.
pub fn encode(codec: Codec, value: &Val, out: &mut Vec<u8>) {
    match (codec, value) {
        (Codec::Text, Val::TStr(s) | Val::BStr(s)) => out.extend_from_slice(s),
        _ => {
            // Writing into a Vec cannot fail.
            let _ = jaq_json::write::write(out, &jaq_json::write::Pp::default(), 0, value);
        }
    }
    out.push(b'\n');
}

/// How an event leaves as a line lives with the codecs, so that events do
/// not depend on them.
impl Event {
    /// Writes the event as one line: its raw text when it has one, else the
    /// value, compact (`json`) or as a raw string (`text`).
    pub fn encode(&self, codec: Codec, out: &mut Vec<u8>) {
        match (self.raw(), self.parsed(), codec) {
            (Some(raw), _, Codec::Json) => {
                out.extend_from_slice(raw);
                out.push(b'\n');
            }
            (_, Some(v), _) => encode(codec, v, out),
            (Some(raw), None, Codec::Text) => match raw.first() {
                // A string without escapes is its text between the quotes.
                Some(b'"') if !raw.contains(&b'\\') => {
                    out.extend_from_slice(&raw[1..raw.len() - 1]);
                    out.push(b'\n');
                }
                Some(b'"') => encode(codec, &self.clone().into_value(), out),
                _ => {
                    out.extend_from_slice(raw);
                    out.push(b'\n');
                }
            },
            (None, None, _) => out.push(b'\n'),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<(u64, String)> {
        let mut r = LineReader::new(input, max);
        let mut out = Vec::new();
        let mut push = |n: u64, l: Line<'_>| {
            out.push((
                n,
                match l {
                    Line::Complete(b) | Line::Last(b) => String::from_utf8_lossy(b).into_owned(),
                    Line::TooLong { len, .. } => format!("<too long: {len}>"),
                },
            ))
        };
        while r.read_chunk(&mut push).unwrap() {}
        out
    }

    #[test]
    fn splits_lines_and_keeps_a_last_line_without_newline() {
        assert_eq!(
            lines(b"a\nbb\n\nccc", 10),
            vec![
                (1, "a".into()),
                (2, "bb".into()),
                (3, "".into()),
                (4, "ccc".into())
            ]
        );
    }

    #[test]
    fn over_long_lines_are_reported_with_their_length() {
        let mut input = b"ok\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 300_000));
        input.extend(b"\nafter\n");
        assert_eq!(
            lines(&input, 1000),
            vec![
                (1, "ok".into()),
                (2, "<too long: 300000>".into()),
                (3, "after".into())
            ]
        );
    }

    #[test]
    fn tiny_limits_do_not_panic() {
        assert_eq!(
            lines(b"0123456789abc\nok\n0123456789abc", 4),
            vec![
                (1, "<too long: 13>".into()),
                (2, "ok".into()),
                (3, "<too long: 13>".into())
            ]
        );
    }

    #[test]
    fn a_byte_order_mark_is_not_data() {
        let mut out = Vec::new();
        let e = decode(
            Codec::Json,
            "s",
            1,
            Line::Complete(b"\xef\xbb\xbf{\"a\":1}"),
        );
        e.unwrap().unwrap().encode(Codec::Json, &mut out);
        assert_eq!(out, b"{\"a\":1}\n");
        out.clear();
        let e = decode(Codec::Text, "s", 1, Line::Complete(b"\xef\xbb\xbfhi"));
        e.unwrap().unwrap().encode(Codec::Text, &mut out);
        assert_eq!(out, b"hi\n");
    }

    #[test]
    fn decode_reports_bad_json_and_bad_utf8() {
        let bad = decode(Codec::Json, "s", 7, Line::Complete(b"{\"a\":")).unwrap();
        assert!(bad.is_err());
        let bad = decode(Codec::Json, "s", 8, Line::Complete(b"\"\xff\"")).unwrap();
        assert!(bad.is_err());
        assert!(decode(Codec::Json, "s", 9, Line::Complete(b"  ")).is_none());
        let ok = decode(Codec::Text, "s", 9, Line::Complete(b"hi"))
            .unwrap()
            .unwrap();
        let mut out = Vec::new();
        ok.encode(Codec::Json, &mut out);
        assert_eq!(out, b"\"hi\"\n");
    }
}
