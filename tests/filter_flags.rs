//! `sluice filter`'s jq command line against `jq` itself on the same input:
//! the same bytes on stdout for every output flag (sluice is compact by
//! default, so jq's pretty default is compared with `--indent 2`), the same
//! exit statuses for `-e`, and files, variables and program files read as
//! jq reads them. Without jq on PATH the comparisons are skipped; the checks
//! that need no jq always run.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{describe, sluice};

const SAMPLE: &str = r#"{"name":"web-1","n":10,"tags":["a","é"],"m":{"z":1,"a":[1,{"k":null}]},"s":"tab\there \"q\""}
{"name":"db","n":3,"tags":[],"m":{},"s":"ünïcode ✓ 😀"}
{"name":"x","n":-7,"tags":[true,false],"m":{"b":2,"a":1},"s":""}
"#;

fn run(mut cmd: Command, args: &[&str], input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = cmd
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

fn ours(args: &[&str], input: &[u8]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sluice"));
    c.arg("filter");
    run(c, args, input)
}

fn theirs(jq: &Path, args: &[&str], input: &[u8]) -> Output {
    run(Command::new(jq), args, input)
}

/// Same stdout bytes and same exit status; except that a program error
/// (jq's status 5) leaves sluice's status 0 unless `--strict` (SPEC).
fn same(jq: &Path, ours_args: &[&str], jq_args: &[&str], input: &[u8]) {
    let a = ours(ours_args, input);
    let b = theirs(jq, jq_args, input);
    assert_eq!(
        String::from_utf8_lossy(&a.stdout),
        String::from_utf8_lossy(&b.stdout),
        "sluice filter {ours_args:?} vs jq {jq_args:?}\n{}",
        describe(&a)
    );
    let want = match b.status.code() {
        Some(5) => Some(0),
        other => other,
    };
    assert_eq!(
        a.status.code(),
        want,
        "exit status of sluice filter {ours_args:?} vs jq {jq_args:?}"
    );
    assert!(
        !b.stdout.is_empty() || jq_args.contains(&"-e"),
        "jq printed nothing for {jq_args:?}"
    );
}

#[test]
fn output_flags_write_what_jq_writes() {
    let Some(jq) = common::jq() else { return };
    let input = SAMPLE.as_bytes();
    let cases: &[(&[&str], &[&str])] = &[
        (&["."], &["-c", "."]),
        (&["-c", "."], &["-c", "."]),
        (&["--indent", "2", "."], &["."]),
        (&["--indent", "4", "."], &["--indent", "4", "."]),
        (&["--indent", "1", "."], &["--indent", "1", "."]),
        (&["--indent", "0", "."], &["--indent", "0", "."]),
        (&["--tab", "."], &["--tab", "."]),
        (&["-S", "."], &["-S", "-c", "."]),
        (&["-S", "--indent", "2", "."], &["-S", "."]),
        (&["-a", "."], &["-a", "-c", "."]),
        (&["-r", ".s"], &["-r", ".s"]),
        (&["-r", ".m"], &["-r", "-c", ".m"]),
        (&["-j", ".name, .n"], &["-j", ".name, .n"]),
        (&["-rS", ".m"], &["-rSc", ".m"]),
        (
            &["-c", "[.n / 3, .n / 2, .n * 0.1, .n * 1e16, .n / 1e6, -.n]"],
            &["-c", "[.n / 3, .n / 2, .n * 0.1, .n * 1e16, .n / 1e6, -.n]"],
        ),
        (&["-c", "{name} | tojson"], &["-c", "{name} | tojson"]),
        (
            &["-c", "[.tags[] | tostring] | join(\"-\")"],
            &["-c", "[.tags[] | tostring] | join(\"-\")"],
        ),
        (
            &["-r", "[.name, .n] | @csv, @tsv"],
            &["-r", "[.name, .n] | @csv, @tsv"],
        ),
    ];
    for (a, b) in cases {
        same(&jq, a, b, input);
    }
    // -r -a: jq 1.6 crashes on non-ASCII here; jq writes every string of
    // -r -a as escaped JSON, quotes included.
    let out = ours(&["-r", "-a", ".s"], input);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        r#""tab\there \"q\""
"\u00fcn\u00efcode \u2713 \ud83d\ude00"
""
"#
    );
    // --seq: RS before each text, in and out.
    let seq: String = SAMPLE.lines().map(|l| format!("\u{1e}{l}\n")).collect();
    same(
        &jq,
        &["--seq", ".name"],
        &["-c", "--seq", ".name"],
        seq.as_bytes(),
    );
}

#[test]
fn input_modes_and_variables_match_jq() {
    let Some(jq) = common::jq() else { return };
    let dir = tempfile::tempdir().unwrap();
    let input = SAMPLE.as_bytes();
    let slurped = common::write(dir.path(), "s.json", "1 [2] {\"a\":3}");
    let raw = common::write(dir.path(), "r.txt", "line one\nline two\n");
    let prog = common::write(dir.path(), "p.jq", "def f: .n * 2;\n[f, $x]\n");
    let sf = slurped.to_str().unwrap();
    let rf = raw.to_str().unwrap();
    let pf = prog.to_str().unwrap();
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["-n", "[inputs | .n]"],
            vec!["-c", "-n", "[inputs | .n]"],
        ),
        (
            vec!["-n", "input.name, input.name"],
            vec!["-c", "-n", "input.name, input.name"],
        ),
        (
            vec!["-s", "map(.n) | add"],
            vec!["-c", "-s", "map(.n) | add"],
        ),
        (vec!["-R", "."], vec!["-c", "-R", "."]),
        (vec!["-R", "-s", "."], vec!["-c", "-R", "-s", "."]),
        (
            vec!["-R", "-n", "[inputs]"],
            vec!["-c", "-R", "-n", "[inputs]"],
        ),
        (
            vec!["-c", "[., input] | map(.n)"],
            vec!["-c", "[., input] | map(.n)"],
        ),
        (
            vec![
                "-n",
                "--arg",
                "a",
                "x",
                "--argjson",
                "b",
                "{\"k\":[1]}",
                "[$a, $b, $ARGS]",
            ],
            vec![
                "-c",
                "-n",
                "--arg",
                "a",
                "x",
                "--argjson",
                "b",
                "{\"k\":[1]}",
                "[$a, $b, $ARGS]",
            ],
        ),
        (
            vec![
                "-n",
                "--slurpfile",
                "s",
                sf,
                "--rawfile",
                "r",
                rf,
                "[$s, $r]",
            ],
            vec![
                "-c",
                "-n",
                "--slurpfile",
                "s",
                sf,
                "--rawfile",
                "r",
                rf,
                "[$s, $r]",
            ],
        ),
        (
            vec!["-n", "$ARGS", "--args", "a", "b"],
            vec!["-c", "-n", "$ARGS", "--args", "a", "b"],
        ),
        (
            vec!["-n", "$ARGS", "--jsonargs", "1", "{\"a\":2}"],
            vec!["-c", "-n", "$ARGS", "--jsonargs", "1", "{\"a\":2}"],
        ),
        (
            vec!["--arg", "x", "y", "-f", pf],
            vec!["-c", "--arg", "x", "y", "-f", pf],
        ),
        (vec!["-1"], vec!["-c", "-1"]),
        (vec!["--", "-.n"], vec!["-c", "-.n"]),
        (vec!["-n", "$ENV.PATH"], vec!["-n", "$ENV.PATH"]),
        (
            vec![
                "-n",
                "[limit(3; range(10))], ([range(5)] | .[1:3] = [\"x\"])",
            ],
            vec![
                "-c",
                "-n",
                "[limit(3; range(10))], ([range(5)] | .[1:3] = [\"x\"])",
            ],
        ),
    ];
    for (a, b) in &cases {
        same(&jq, a, b, input);
    }
}

#[test]
fn exit_status_flag_matches_jq() {
    let Some(jq) = common::jq() else { return };
    for (program, input) in [
        (".", "1\n"),
        (".", "false\n"),
        (".", "null\n"),
        (".", "1\nnull\n"),
        ("empty", "1\n"),
        (".[]", "[1,false]\n"),
    ] {
        let a = ours(&["-e", program], input.as_bytes());
        let b = theirs(&jq, &["-c", "-e", program], input.as_bytes());
        assert_eq!(
            a.status.code(),
            b.status.code(),
            "-e {program} on {input:?}"
        );
        assert_eq!(a.stdout, b.stdout, "-e {program} on {input:?}");
    }
    // A runtime error: jq's 5.
    assert_eq!(ours(&["-e", ".a"], b"1\n").status.code(), Some(5));
    assert_eq!(ours(&["-n", "-e", "null"], b"").status.code(), Some(1));
    assert_eq!(ours(&["-n", "-e", "empty"], b"").status.code(), Some(4));
}

fn gz(path: &Path, text: &str) -> PathBuf {
    use std::io::Write;
    let out = path.with_extension("json.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&out).unwrap(),
        flate2::Compression::default(),
    );
    enc.write_all(text.as_bytes()).unwrap();
    enc.finish().unwrap();
    out
}

#[test]
fn files_are_read_in_order_and_errors_name_them() {
    let dir = tempfile::tempdir().unwrap();
    let a = common::write(dir.path(), "a.json", "{\"n\":1}\n{\"n\":2}\n");
    let b = gz(
        &dir.path().join("b"),
        "{\"n\":3}\nnot json\n{\"n\":\"x\"}\n{\"n\":4}\n",
    );
    let c = common::write(dir.path(), "c.json", "\u{feff}{\"n\":5}\n");
    let paths = [
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        c.to_str().unwrap(),
    ];
    let mut args = vec![
        "-w",
        "4",
        "-c",
        "[input_filename, input_line_number, .n + 1]",
    ];
    args.extend_from_slice(&paths);
    let out = ours(&args, b"");
    assert!(out.status.success(), "{}", describe(&out));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        vec![
            format!("[\"{}\",1,2]", paths[0]),
            format!("[\"{}\",2,3]", paths[0]),
            format!("[\"{}\",1,4]", paths[1]),
            format!("[\"{}\",4,5]", paths[1]),
            format!("[\"{}\",1,6]", paths[2]),
        ],
        "{}",
        describe(&out)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}, line 2", paths[1])),
        "the bad line is named by file and line: {stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "(at {}, line 3): string (\"x\") and number (1) cannot be added",
            paths[1]
        )),
        "the runtime error in jq's words, with file and line: {stderr}"
    );
    // jq reads the same files (uncompressed) to the same values.
    if let Some(jq) = common::jq() {
        let plain = common::write(dir.path(), "b.json", "{\"n\":3}\n{\"n\":4}\n");
        let ours_out = ours(&["-c", ".n", paths[0], paths[1]], b"");
        let theirs_out = theirs(&jq, &["-c", ".n", paths[0], plain.to_str().unwrap()], b"");
        let drop_x = |o: &Output| String::from_utf8_lossy(&o.stdout).replace("\"x\"\n", "");
        assert_eq!(drop_x(&ours_out), drop_x(&theirs_out));
    }
    // A missing file is named before anything runs.
    let out = ours(&[".", "/nonexistent/in.json"], b"");
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/in.json"));
}

#[test]
fn input_with_parallel_workers_is_refused_with_the_way_out() {
    let out = ours(&["-w", "4", "[., input]"], b"1\n2\n");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("-n") && stderr.contains("-s") && stderr.contains("-w 1"),
        "{stderr}"
    );
    // With one worker (or none asked for) it is jq's model.
    let out = ours(&["-c", "[., input]"], b"1\n2\n3\n4\n");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[1,2]\n[3,4]\n");
}

#[test]
fn a_byte_order_mark_starts_stdin_harmlessly() {
    let out = ours(&["-c", "."], "\u{feff}{\"a\":1}\n{\"b\":2}\n".as_bytes());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"a\":1}\n{\"b\":2}\n",
        "{}",
        describe(&out)
    );
    let out = ours(&["-R", "."], "\u{feff}text\n".as_bytes());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "\"text\"\n");
}

#[test]
fn bad_command_lines_say_what_is_wrong() {
    let out = ours(&["--no-such-flag", "."], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-such-flag"));
    let out = ours(&["--indent", "9", "."], b"");
    assert_eq!(out.status.code(), Some(2));
    let out = ours(&[], b"");
    assert_eq!(out.status.code(), Some(2));
    let out = ours(&["--help"], b"");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--slurpfile"));
    let _ = sluice;
}
