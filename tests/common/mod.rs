//! Helpers shared by the integration tests: the real `sluice` binary, temp
//! files, reports, jq when it is installed, and [`Config`], the builder of
//! the pipelines they run, and [`upstream`], a real HTTP service for the
//! HTTP stages to talk to.

#![allow(dead_code)]

pub mod config;
pub mod upstream;

#[allow(unused_imports)]
pub use config::{Config, raw};

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

/// The `sluice` binary built by cargo for this test run.
pub fn sluice() -> Command {
    Command::cargo_bin("sluice").expect("the sluice binary is built")
}

/// The repository root (where `config/` and `tests/data/` live).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file under `tests/data/`.
pub fn data(rel: &str) -> PathBuf {
    repo_root().join("tests/data").join(rel)
}

/// Writes `contents` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write a temp file");
    path
}

/// A TOML string literal for `path` (basic string, escaped), for configs.
pub fn toml_path(path: &Path) -> String {
    toml_str(&path.display().to_string())
}

/// A TOML basic string holding `s`.
pub fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Reads and parses a `--report` file.
pub fn read_report(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("report {} not written: {e}", path.display()));
    serde_json::from_str(&text).expect("the report is JSON")
}

/// The entry of stage `name` in a report.
pub fn stage<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["stages"]
        .as_array()
        .expect("report.stages is an array")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no stage `{name}` in report {report}"))
}

/// A u64 field of a JSON object, or a panic naming it.
pub fn u64_of(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("`{key}` is not an unsigned integer in {v}"))
}

/// Every line of a JSON-lines text parsed as JSON.
pub fn json_lines(bytes: &[u8]) -> Vec<Value> {
    std::str::from_utf8(bytes)
        .expect("output is UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The output's stdout and stderr as text, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "status: {:?}\n--- stderr ---\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `n` lines `{"id":1}` … `{"id":n}`, each ending with a newline.
pub fn id_lines(n: u64) -> String {
    (1..=n).map(|i| format!("{{\"id\":{i}}}\n")).collect()
}

/// The `id` fields of JSON lines, sorted (duplicates kept).
pub fn sorted_ids(bytes: &[u8]) -> Vec<u64> {
    let mut ids: Vec<u64> = json_lines(bytes).iter().map(|v| u64_of(v, "id")).collect();
    ids.sort_unstable();
    ids
}

/// The path of jq, or `None` (with a note on stderr) when it is not installed:
/// tests comparing with jq then skip.
pub fn jq() -> Option<PathBuf> {
    let candidates = [PathBuf::from("/usr/bin/jq"), PathBuf::from("jq")];
    for c in candidates {
        let ok = std::process::Command::new(&c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(c);
        }
    }
    eprintln!("note: jq is not installed; skipping the comparison with jq");
    None
}

/// True when `haystack` mentions `line N` with N not followed by another digit.
pub fn mentions_line(haystack: &str, n: u64) -> bool {
    let needle = format!("line {n}");
    haystack.match_indices(&needle).any(|(i, _)| {
        !haystack[i + needle.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}
