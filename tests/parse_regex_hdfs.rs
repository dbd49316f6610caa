//! `parse_regex` through the real binary on the real loghub HDFS file (the
//! pattern whose lazy `(?P<Content>.*?)\s*$` takes the stage's straight-line
//! plan), two workers, ordered output: every output line must be what the
//! `regex` crate's captures give, and what jq's `capture` gives when jq is
//! installed. Then the same on lines with trailing blanks of every kind and
//! lines that do not match.

mod common;

use std::path::Path;

use regex::Regex;
use serde_json::Value;
use sha2::{Digest, Sha256};

use common::{Config, data, describe, jq, json_lines, sluice, write};

const HDFS: &str = r"^(?P<Date>\d{6}) (?P<Time>\d{6}) (?P<Pid>\d+) (?P<Level>\w+) (?P<Component>[^:]+): (?P<Content>.*?)\s*$";

/// sha256 of loghub's `HDFS_2k.log` (2000 lines, CRLF endings).
const HDFS_2K_SHA256: &str = "7c967000980c086ed55fa6544ba4f05fe66d44622795e890c68caf8bbb635035";

/// `HDFS_2k.log`, rebuilt byte for byte from loghub's structured CSV
/// (`tests/data/loghub/hdfs.jsonl`): date, time, pid, level, component and
/// content are the whole line.
fn hdfs_2k_log() -> Vec<u8> {
    let jsonl = std::fs::read_to_string(data("loghub/hdfs.jsonl")).expect("hdfs.jsonl");
    let mut log = String::new();
    for l in jsonl.lines() {
        let v: Value = serde_json::from_str(l).expect("a JSON line");
        let f = |k: &str| v[k].as_str().expect("a string field").to_string();
        let (date, time, pid) = (f("date"), f("time"), f("pid"));
        let (level, component, content) = (f("level"), f("component"), f("content"));
        log.push_str(&format!(
            "{date} {time} {pid} {level} {component}: {content}\r\n"
        ));
    }
    let log = log.into_bytes();
    let hash: String = Sha256::digest(&log)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        hash, HDFS_2K_SHA256,
        "the rebuilt file is loghub's HDFS_2k.log"
    );
    log
}

/// What the stage must write for `line`: the captures as canonical JSON
/// (keys in group order), or `None` when the pattern does not match.
fn expected(re: &Regex, line: &str) -> Option<String> {
    let caps = re.captures(line)?;
    let fields: Vec<String> = re
        .capture_names()
        .flatten()
        .map(|name| {
            let value = caps.name(name).map_or(Value::Null, |m| m.as_str().into());
            format!("{}:{}", Value::from(name), value)
        })
        .collect();
    Some(format!("{{{}}}", fields.join(",")))
}

/// Runs `parse_regex` with [`HDFS`] on `log`; returns the parsed lines and
/// the error events.
fn run(dir: &Path, log: &[u8]) -> (String, Vec<Value>) {
    let input = write(dir, "in.log", log);
    let (out, errors) = (dir.join("out.jsonl"), dir.join("errors.jsonl"));
    let cfg = Config::new()
        .source("in", "file")
        .set("path", &input)
        .set("codec", "text")
        .transform("parse", "parse_regex", &["in"])
        .set("workers", 2)
        .set("pattern", HDFS)
        .sink("out", "file", &["parse"])
        .set("path", &out)
        .set("ordered", true)
        .sink("bad", "file", &["parse.errors"])
        .set("path", &errors)
        .set("ordered", true)
        .write(dir, "cfg.toml");
    let ran = sluice()
        .arg("run")
        .arg("-q")
        .arg(&cfg)
        .output()
        .expect("sluice runs");
    assert!(ran.status.success(), "{}", describe(&ran));
    let text = std::fs::read_to_string(&out).expect("output written");
    let errors = std::fs::read(&errors).unwrap_or_default();
    (text, json_lines(&errors))
}

#[test]
fn hdfs_2k_log_parses_as_the_regex_crate_and_jq_capture_say() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = hdfs_2k_log();
    let (out, errors) = run(dir.path(), &log);
    assert!(errors.is_empty(), "{errors:?}");
    let re = Regex::new(HDFS).expect("compiles");
    let text = String::from_utf8(log).expect("ASCII");
    // The text codec takes the CRLF line ending off each line.
    let lines: Vec<&str> = text.split_terminator("\r\n").collect();
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(got.len(), 2000);
    for (n, (line, got)) in lines.iter().zip(&got).enumerate() {
        let want = expected(&re, line).unwrap_or_else(|| panic!("line {} matches", n + 1));
        assert_eq!(*got, want, "line {}", n + 1);
    }

    let Some(jq) = jq() else { return };
    let lf = write(dir.path(), "lf.log", text.replace("\r\n", "\n"));
    let program = format!(
        "capture(\"{}\")",
        HDFS.replace('\\', "\\\\").replace("?P<", "?<")
    );
    let by_jq = std::process::Command::new(jq)
        .args(["-R", "-c", &program])
        .arg(&lf)
        .output()
        .expect("jq runs");
    assert!(by_jq.status.success(), "{}", describe(&by_jq));
    let ours = json_lines(out.as_bytes());
    assert_eq!(
        ours,
        json_lines(&by_jq.stdout),
        "sluice and jq capture agree"
    );
}

#[test]
fn trailing_blanks_and_mismatched_lines_are_what_the_regex_crate_says() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = String::from_utf8(hdfs_2k_log()).expect("ASCII");
    let ends = [
        "",
        " ",
        "  ",
        "\t",
        " \t ",
        "\r",
        "\u{a0}",
        "\u{3000}",
        "\u{85}",
        "\u{200b}",
        " x ",
        " \"q\" \\ ",
        "\u{1}",
    ];
    let mut lines: Vec<String> = text
        .split_terminator("\r\n")
        .enumerate()
        .map(|(i, l)| format!("{l}{}", ends[i % ends.len()]))
        .collect();
    // Lines the pattern refuses: no ": ", a short date, Unicode digits (in
    // `\d`, so that one matches), an empty line.
    lines.extend(
        [
            "081109 203615 148 INFO no colon here",
            "08110 203615 148 INFO dfs.DataNode: short date",
            "٠٨١١٠٩ 203615 148 INFO dfs.DataNode: Arabic-Indic digits",
            "",
        ]
        .map(String::from),
    );
    let log: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let (out, errors) = run(dir.path(), log.as_bytes());
    let re = Regex::new(HDFS).expect("compiles");
    let mut got = out.lines();
    let mut mismatched = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        // The codec takes one CR off the end of a line, as a line ending.
        let line = line.strip_suffix('\r').unwrap_or(line);
        match expected(&re, line) {
            Some(want) => assert_eq!(got.next(), Some(want.as_str()), "line {}", n + 1),
            None => mismatched.push(n as u64 + 1),
        }
    }
    assert_eq!(got.next(), None);
    assert_eq!(mismatched.len(), 3, "{mismatched:?}");
    let reported: Vec<u64> = errors.iter().filter_map(|e| e["line"].as_u64()).collect();
    assert_eq!(reported, mismatched, "{errors:?}");
    for e in &errors {
        assert_eq!(e["error"], "pattern does not match", "{e}");
        assert_eq!(e["stage"], "parse", "{e}");
    }
}
