//! The `file` source: globs read in name order, `.gz` decompressed
//! transparently, CRLF text, and a path matching nothing failing the start.

mod common;

use std::io::Write;
use std::path::PathBuf;

use common::{Config, sluice};

fn write_gz(path: &std::path::Path, text: &str) {
    let file = std::fs::File::create(path).unwrap();
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap();
}

#[test]
fn globs_are_read_in_name_order_and_gz_is_transparent() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.jsonl"), "{\"n\":1}\n{\"n\":2}\n").unwrap();
    write_gz(&d.join("b.jsonl.gz"), "{\"n\":3}\n{\"n\":4}\n");
    std::fs::write(d.join("c.jsonl"), "{\"n\":5}").unwrap(); // no final newline
    std::fs::write(d.join("skip.txt"), "{\"n\":99}\n").unwrap();
    let paths: [PathBuf; 2] = [d.join("*.jsonl"), d.join("*.jsonl.gz")];
    Config::new()
        .source("logs", "file")
        .set("path", paths)
        .transform("n", "jq", &["logs"])
        .set("program", ".n")
        .set("workers", 3)
        .sink("out", "file", &["n"])
        .set("path", &d.join("out/n.txt"))
        .set("ordered", true)
        .write(d, "p.toml");
    sluice()
        .arg("run")
        .arg(d.join("p.toml"))
        .arg("-q")
        .assert()
        .success();
    // Patterns are expanded in the order given, each in name order.
    let out = std::fs::read_to_string(d.join("out/n.txt")).unwrap();
    assert_eq!(out, "1\n2\n5\n3\n4\n");
}

#[test]
fn text_codec_drops_carriage_returns_and_sinks_write_raw_strings() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("in.log"), "first line\r\nsecond line\r\n").unwrap();
    Config::new()
        .source("raw", "file")
        .set("path", &d.join("in.log"))
        .set("codec", "text")
        .sink("json", "file", &["raw"])
        .set("path", &d.join("json.out"))
        .sink("text", "file", &["raw"])
        .set("path", &d.join("text.out"))
        .set("codec", "text")
        .write(d, "p.toml");
    sluice()
        .arg("run")
        .arg(d.join("p.toml"))
        .arg("-q")
        .assert()
        .success();
    let json = std::fs::read_to_string(d.join("json.out")).unwrap();
    assert_eq!(json, "\"first line\"\n\"second line\"\n");
    let text = std::fs::read_to_string(d.join("text.out")).unwrap();
    assert_eq!(text, "first line\nsecond line\n");
}

#[test]
fn a_path_matching_nothing_fails_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    Config::new()
        .source("logs", "file")
        .set("path", &d.join("missing/*.jsonl"))
        .sink("out", "file", &["logs"])
        .set("path", &d.join("out.jsonl"))
        .write(d, "p.toml");
    let out = sluice().arg("run").arg(d.join("p.toml")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("source `logs`"), "{stderr}");
    assert!(stderr.contains("no file matches"), "{stderr}");
    assert!(
        !d.join("out.jsonl").exists(),
        "the sink must not have started"
    );
}
