//! The input the malformed-input tests share: 10 000 good JSON lines with
//! an invalid-JSON, an invalid-UTF-8 and an over-long line in the middle.

#![allow(dead_code)]

pub const GOOD: u64 = 10_000;

/// A bad line placed in the middle of the good ones.
pub struct Bad {
    /// 1-based line number in the file.
    pub line: u64,
    pub bytes: Vec<u8>,
    pub kind: Kind,
}

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Kind {
    InvalidJson,
    InvalidUtf8,
    /// Valid JSON, but longer than `max_line_bytes = 1000`.
    TooLong,
}

/// 10 000 good lines `{"id":N,"msg":"ok"}` with the bad lines inserted after
/// good lines 2500, 5000 and 7500; returns the file bytes and the bad lines.
pub fn input_with_bad_lines() -> (Vec<u8>, Vec<Bad>) {
    let inserts: [(u64, Kind, Vec<u8>); 3] = [
        (2500, Kind::InvalidJson, br#"{"a":"#.to_vec()),
        (
            5000,
            Kind::InvalidUtf8,
            b"{\"s\":\"bad \xff\xfe bytes\"}".to_vec(),
        ),
        (
            7500,
            Kind::TooLong,
            format!("{{\"big\":\"{}\"}}", "x".repeat(2000)).into_bytes(),
        ),
    ];
    let mut out = Vec::new();
    let mut bad = Vec::new();
    let mut line = 0;
    for id in 1..=GOOD {
        out.extend_from_slice(format!("{{\"id\":{id},\"msg\":\"ok\"}}\n").as_bytes());
        line += 1;
        for (after, kind, bytes) in &inserts {
            if *after == id {
                out.extend_from_slice(bytes);
                out.push(b'\n');
                line += 1;
                bad.push(Bad {
                    line,
                    bytes: bytes.clone(),
                    kind: *kind,
                });
            }
        }
    }
    (out, bad)
}
