//! The properties the fuzz targets (`fuzz/`) check, kept in the library so
//! that the same checks run on stable: `tests/fuzz_corpus.rs` replays every
//! committed seed through them, `tests/properties.rs` feeds them generated
//! values. Each function panics when its property is violated, which is how
//! libFuzzer and the test harness notice.
//!
//! - [`decode`]: arbitrary bytes through the line framer and both codecs
//!   never panic, and an accepted json event re-encodes to text that decodes
//!   to the same value (and the same text again).
//! - [`canonical`]: whatever `json::is_canonical` accepts, jaq parses, and
//!   jaq's compact writer gives back byte for byte.
//! - [`fast_path`]: the raw-text fast path of `jq::fast` agrees with jaq on
//!   conditions and projections built from the input's own paths and values.
//! - [`http_body`]: an `http_server` request body (JSON lines, one JSON
//!   array split per element, text) never panics; its lines are the line
//!   framer's; an array jaq parses whole gives exactly its elements; a gzip
//!   body never inflates past the limit.

use bytes::Bytes;
use jaq_json::Val;

use crate::kit::codec::{self, Codec, Line, LineFramer};
use crate::kit::event::Event;
use crate::kit::jq::Program;
use crate::kit::jq::fast::{Cond, Projection};
use crate::kit::json;

/// jaq's compact text of `v`, as sinks write it.
pub fn write(v: &Val) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = jaq_json::write::write(&mut out, &jaq_json::write::Pp::default(), 0, v);
    out
}

/// Frames `data` (split into reads at the positions its first bytes pick,
/// with a tiny or a normal line limit) and decodes every line with both
/// codecs, checking each accepted json event's round trip.
pub fn decode(data: &[u8]) {
    let (max_line, chunk) = match data.first() {
        Some(&b) => (
            if b & 1 == 0 {
                16
            } else {
                codec::DEFAULT_MAX_LINE_BYTES
            },
            usize::from(b >> 1).max(1),
        ),
        None => (16, 1),
    };
    for codec in [Codec::Json, Codec::Text] {
        let mut framer = LineFramer::with_buffer(max_line, 8);
        let mut on_line = |no: u64, line: Line<'_>| decoded(codec, no, line);
        for part in data.chunks(chunk) {
            let mut rest = part;
            while !rest.is_empty() {
                let spare = framer.spare();
                let n = spare.len().min(rest.len());
                spare[..n].copy_from_slice(&rest[..n]);
                framer.filled(n, &mut on_line);
                rest = &rest[n..];
            }
        }
        framer.finish(&mut on_line);
    }
}

fn decoded(codec: Codec, no: u64, line: Line<'_>) {
    let too_long = matches!(line, Line::TooLong { .. });
    // The line sources decode out of one shared buffer: the same outcome.
    let (bytes, len) = match line {
        Line::Complete(b) | Line::Last(b) => (b, None),
        Line::TooLong { prefix, len } => (prefix, Some(len)),
    };
    let buf = Bytes::copy_from_slice(bytes);
    let in_buf = match len {
        Some(len) => Line::TooLong { prefix: &buf, len },
        None => Line::Complete(&buf),
    };
    let shared = codec::decode_shared(codec, "fuzz", no, in_buf, &buf);
    let copied = codec::decode(codec, "fuzz", no, line);
    let text = |d: &Option<Result<Event, Event>>| {
        d.as_ref().map(|r| {
            let (ok, e) = match r {
                Ok(e) => (true, e),
                Err(e) => (false, e),
            };
            let mut out = Vec::new();
            e.encode(codec, &mut out);
            (ok, out)
        })
    };
    assert_eq!(
        text(&shared),
        text(&copied),
        "decode_shared differs from decode"
    );
    match copied {
        None => {}
        Some(Err(e)) => {
            // An error event is an object that writes and reads back.
            let mut out = Vec::new();
            e.encode(Codec::Json, &mut out);
            assert!(json::parse_limited(&out[..out.len() - 1]).is_ok());
        }
        Some(Ok(mut e)) => {
            assert!(!too_long, "an over-long line was accepted");
            if codec == Codec::Json {
                json_round_trip(&mut e);
            }
        }
    }
}

/// Encode → decode → encode gives the same text, and the same value.
fn json_round_trip(e: &mut Event) {
    let mut first = Vec::new();
    e.encode(Codec::Json, &mut first);
    let text = &first[..first.len() - 1];
    let again = codec::decode(Codec::Json, "fuzz", 1, Line::Complete(text));
    let Some(Ok(mut again)) = again else {
        panic!(
            "written text does not decode: {:?}",
            String::from_utf8_lossy(text)
        );
    };
    let mut second = Vec::new();
    again.encode(Codec::Json, &mut second);
    assert_eq!(
        String::from_utf8_lossy(&first),
        String::from_utf8_lossy(&second),
        "encode is not stable"
    );
    let (a, b) = (e.to_value().unwrap(), again.to_value().unwrap());
    // NaN is not equal to itself; its text was compared above.
    if !first.windows(3).any(|w| w == b"NaN") {
        assert!(a == b, "{a} != {b}");
    }
}

/// `is_canonical(s)` ⇒ `s` is UTF-8, jaq parses it and writes back exactly `s`.
pub fn canonical(data: &[u8]) {
    if !json::is_canonical(data) {
        return;
    }
    assert!(
        std::str::from_utf8(data).is_ok(),
        "canonical but not UTF-8: {data:?}"
    );
    let v = json::parse_limited(data)
        .unwrap_or_else(|e| panic!("canonical but unparsable ({e}): {data:?}"));
    assert_eq!(
        String::from_utf8_lossy(&write(&v)),
        String::from_utf8_lossy(data),
        "canonical text is not what the writer writes"
    );
}

/// Whenever the fast path answers `program` on `raw`, jaq agrees: for a
/// condition, on its truthiness; for `select(COND)` (as `sluice filter`
/// runs it), on whether the event itself is the one output.
/// `raw` must be canonical (as the fast path requires).
pub fn condition_agrees(raw: &[u8], program: &str) {
    let (cond, select) = match (Cond::compile(program), Cond::compile_select(program)) {
        (Some(c), _) => (c, false),
        (None, Some(c)) => (c, true),
        (None, None) => return,
    };
    let Some(fast) = cond.eval(raw) else {
        return;
    };
    let compiled = Program::compile(program)
        .unwrap_or_else(|e| panic!("fast form for a program jaq rejects: {program}: {e:?}"));
    let value = json::parse_limited(raw).expect("canonical text parses");
    let shown = String::from_utf8_lossy(raw);
    if select {
        let mut outs = Vec::new();
        compiled.run(value.clone(), |r| outs.push(r));
        let kept = match outs.as_slice() {
            [] => false,
            [Ok(v)] if *v == value => true,
            other => panic!("{program} on {shown}: {other:?}"),
        };
        assert_eq!(fast, kept, "{program} on {shown}");
    } else {
        assert_eq!(Ok(fast), compiled.is_truthy(value), "{program} on {shown}");
    }
}

/// Whenever the projection fast path answers `program` on `raw`, its text
/// is jaq's first (and only) output, written.
pub fn projection_agrees(raw: &[u8], program: &str) {
    let Some(proj) = Projection::compile(program) else {
        return;
    };
    let mut fast = Vec::new();
    if !proj.eval(raw, &mut fast) {
        return;
    }
    let program_c = Program::compile(program)
        .unwrap_or_else(|e| panic!("fast form for a program jaq rejects: {program}: {e:?}"));
    let value = json::parse_limited(raw).expect("canonical text parses");
    let mut outs = Vec::new();
    program_c.run(value, |r| outs.push(r));
    assert_eq!(outs.len(), 1, "{program}: {outs:?}");
    let slow = outs
        .pop()
        .unwrap()
        .expect("jaq succeeds where the fast path did");
    assert_eq!(
        String::from_utf8_lossy(&fast),
        String::from_utf8_lossy(&write(&slow)),
        "{program} on {}",
        String::from_utf8_lossy(raw)
    );
    // The projection's output is itself canonical, as raw text must be.
    assert!(
        json::is_canonical(&fast),
        "{}",
        String::from_utf8_lossy(&fast)
    );
}

/// A jq path expression for `keys`: `.["a"]["b"]`, or `.` when empty.
pub fn path_text(keys: &[String]) -> String {
    if keys.is_empty() {
        return ".".into();
    }
    let mut out = String::from(".");
    for k in keys {
        out.push('[');
        out.push_str(&String::from_utf8_lossy(&write(&Val::from(k.clone()))));
        out.push(']');
    }
    out
}

/// The comparison operators of the fast path.
pub const OPS: [&str; 6] = ["==", "!=", "<", "<=", ">", ">="];

/// Literals every condition may use besides those taken from the event.
const LITERALS: [&str; 10] = [
    "null",
    "true",
    "false",
    "0",
    "1",
    "-1.5",
    "1e3",
    "\"\"",
    "\"a\"",
    "\"error\"",
];

/// Derives conditions and projections from the bytes: the first four pick
/// operators, paths and literals, the rest is the event (made canonical by
/// jaq when it is not). The paths and scalars of the event itself are the
/// candidates, so that comparisons hit as often as they miss.
pub fn fast_path(data: &[u8]) {
    let (sel, text) = data.split_at(data.len().min(4));
    let mut sel = sel.to_vec();
    sel.resize(4, 0);
    let Ok(value) = json::parse_limited(text) else {
        return;
    };
    let raw = write(&value);
    if !json::is_canonical(&raw) {
        return;
    }
    let mut paths = vec![(Vec::new(), value.clone())];
    collect_paths(&value, &mut Vec::new(), &mut paths);
    paths.push((vec!["missing".to_string()], Val::Null));
    let pick = |b: u8| &paths[usize::from(b) % paths.len()];
    let literal = |b: u8, from: &Val| -> String {
        let i = usize::from(b) % (LITERALS.len() + 1);
        match (LITERALS.get(i), from) {
            (Some(l), _) => (*l).to_string(),
            (None, Val::Arr(_) | Val::Obj(_)) => "null".into(),
            (None, v) => String::from_utf8_lossy(&write(v)).into_owned(),
        }
    };
    let (p1, v1) = pick(sel[1]);
    let (p2, v2) = pick(sel[2]);
    let c1 = format!(
        "{} {} {}",
        path_text(p1),
        OPS[usize::from(sel[0]) % 6],
        literal(sel[3], v1)
    );
    let c2 = format!(
        "{} {} {}",
        literal(sel[0] >> 4, v2),
        OPS[usize::from(sel[3] >> 3) % 6],
        path_text(p2)
    );
    for program in [
        c1.clone(),
        c2.clone(),
        format!("{c1} and {c2}"),
        format!("{c1} or ({c2} | not)"),
        format!("({c1} | not) and {}", path_text(p2)),
        path_text(p1),
    ] {
        condition_agrees(&raw, &program);
        condition_agrees(&raw, &format!("select({program})"));
    }
    for program in [
        path_text(p1),
        format!("{{x: {}, y: {}}}", path_text(p1), path_text(p2)),
        format!("{{x: {{z: {}}}}}", path_text(p2)),
    ] {
        projection_agrees(&raw, &program);
    }
}

/// Every (path of object keys, value) below `v`, a bounded number of them.
fn collect_paths(v: &Val, prefix: &mut Vec<String>, out: &mut Vec<(Vec<String>, Val)>) {
    let Val::Obj(map) = v else {
        return;
    };
    for (k, child) in map.iter() {
        if out.len() >= 64 || prefix.len() >= 4 {
            return;
        }
        let Val::TStr(k) = k else { continue };
        prefix.push(String::from_utf8_lossy(k).into_owned());
        out.push((prefix.clone(), child.clone()));
        collect_paths(child, prefix, out);
        prefix.pop();
    }
}

/// The canonical-text pass-through of `v` is jaq's writer: jaq's text is
/// canonical, and an event read from it writes exactly that text.
pub fn pass_through_is_writer(v: &Val) {
    let text = write(v);
    if text.windows(3).any(|w| w == b"NaN" || w == b"nfi") {
        return; // not JSON: jaq writes NaN and Infinity as such
    }
    assert!(
        json::is_canonical(&text),
        "jaq's own text is not canonical: {}",
        String::from_utf8_lossy(&text)
    );
    let Some(Ok(e)) = codec::decode(Codec::Json, "prop", 1, Line::Complete(&text)) else {
        panic!(
            "jaq's text does not decode: {}",
            String::from_utf8_lossy(&text)
        );
    };
    assert!(e.raw().is_some(), "canonical text was parsed");
    let mut out = Vec::new();
    e.encode(Codec::Json, &mut out);
    out.pop();
    assert_eq!(out, text);
    let parsed = json::parse_limited(&text).expect("jaq reads its own text");
    assert_eq!(write(&parsed), text);
    // The event's raw text and the value are interchangeable.
    let mut fresh = Event::from_raw(Bytes::from(text.clone()), 1);
    assert!(fresh.value().is_ok());
}

/// The stack the fuzz targets run their checks on: a quarter of the runtime
/// threads' 2 MiB, in a release build.
pub const SMALL_STACK: usize = 512 * 1024;

/// The stack of tokio's threads, which run every stage: what the corpus
/// replay in `cargo test` (a debug build, whose frames are larger) uses.
pub const RUNTIME_STACK: usize = 2 * 1024 * 1024;

/// Runs `check(data)` on a thread with a `stack`-byte stack, re-raising its
/// panic. The fuzzers' inputs are small (kilobytes): on the main thread's
/// 8 MiB a recursion without a depth limit would never overflow.
pub fn on_stack(stack: usize, data: &[u8], check: fn(&[u8])) {
    let data = data.to_vec();
    let joined = std::thread::Builder::new()
        .stack_size(stack)
        .spawn(move || check(&data))
        .expect("spawn a check thread")
        .join();
    if let Err(panic) = joined {
        std::panic::resume_unwind(panic);
    }
}

/// The `http_server` body decoder on arbitrary bytes (see the module doc).
pub fn http_body(data: &[u8]) {
    use crate::sources::http_server::body::{Encoding, decode_body, inflate, is_array};
    for codec in [Codec::Json, Codec::Text] {
        let mut got: Vec<(u64, Result<Event, Event>)> = Vec::new();
        decode_body(codec, "fuzz", data, |r| {
            let line = match &r {
                Ok(e) | Err(e) => e.line,
            };
            got.push((line, r));
        });
        for (_, r) in got.iter_mut() {
            match r {
                Ok(e) if codec == Codec::Json => json_round_trip(e),
                Ok(_) => {}
                Err(e) => {
                    let mut out = Vec::new();
                    e.encode(Codec::Json, &mut out);
                    assert!(json::parse_limited(&out[..out.len() - 1]).is_ok());
                }
            }
        }
        if codec == Codec::Json && is_array(data) {
            array_oracle(data, &mut got);
        } else {
            // Lines: exactly what the framer and the codec make of them.
            let mut framer = LineFramer::with_buffer(data.len() + 1, data.len() + 1);
            let spare = framer.spare();
            spare[..data.len()].copy_from_slice(data);
            let mut want = Vec::new();
            let mut on_line = |no: u64, line: Line<'_>| {
                if let Some(r) = codec::decode(codec, "fuzz", no, line) {
                    want.push((no, r.is_ok()));
                }
            };
            framer.filled(data.len(), &mut on_line);
            framer.finish(&mut on_line);
            let got: Vec<(u64, bool)> = got.iter().map(|(n, r)| (*n, r.is_ok())).collect();
            assert_eq!(got, want, "lines differ from the framer's");
        }
    }
    // A gzip body: never more than the limit once inflated.
    if let Ok(out) = inflate(Bytes::copy_from_slice(data), Encoding::Gzip, 1024) {
        assert!(out.len() <= 1024);
    }
}

/// When jaq parses the whole body as an array (each element within the
/// nesting limit), the decoder gives exactly its elements, no errors.
fn array_oracle(data: &[u8], got: &mut [(u64, Result<Event, Event>)]) {
    if std::str::from_utf8(data).is_err()
        || json::check_nesting(data, json::MAX_NESTING + 1).is_err()
    {
        return;
    }
    let Ok(Val::Arr(elements)) = jaq_json::read::parse_single(data) else {
        return;
    };
    assert_eq!(got.len(), elements.len(), "one event per element");
    for (i, ((no, r), want)) in got.iter_mut().zip(elements.iter()).enumerate() {
        assert_eq!(*no, i as u64 + 1, "elements are numbered from 1");
        let Ok(e) = r else {
            panic!("element {} of a valid array is an error", i + 1);
        };
        let v = e.to_value().expect("a decoded event has a value");
        let text = write(&v);
        if !text.windows(3).any(|w| w == b"NaN") {
            assert!(v == *want, "element {}: {v} != {want}", i + 1);
        }
    }
}
