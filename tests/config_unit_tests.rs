//! `sluice test`: unit tests for pipeline configs, through the real binary.

mod common;

use std::path::Path;

use common::{repo_root, sluice, write};

/// A pipeline most tests share: stdin → errors_only (4 workers) → shape,
/// plus a route, with a stdout sink. Tests are appended to it.
const PIPELINE: &str = r#"
[sources.app]
type = "stdin"

[transforms.errors_only]
type = "filter"
inputs = ["app"]
condition = '.level == "error"'
workers = 4

[transforms.shape]
type = "jq"
inputs = ["errors_only"]
program = '{msg: .message}'

[transforms.by_level]
type = "route"
inputs = ["app"]
routes.warn = '.level == "warn"'

[sinks.out]
type = "stdout"
inputs = ["shape", "by_level.warn", "app.errors"]
"#;

/// Runs `sluice test` on `pipeline` (written to a temp dir) and extra
/// test files; returns (exit code, stdout, stderr).
fn run_tests(pipeline: &str, extra: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "pipeline.toml", pipeline);
    let mut cmd = sluice();
    cmd.arg("test").arg(&cfg);
    for (name, text) in extra {
        cmd.arg(write(dir.path(), name, text));
    }
    cmd.args(args).current_dir(dir.path());
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn with_tests(tests: &str) -> String {
    format!("{PIPELINE}\n{tests}")
}

#[test]
fn passing_and_failing_tests_are_reported_with_what_differed() {
    let (code, out, _) = run_tests(
        &with_tests(
            r#"
[[tests]]
name = "errors are reshaped"
[[tests.inputs]]
insert_at = "errors_only"
events = [ { level = "error", message = "disk full" }, { level = "info", message = "fine" } ]
[[tests.outputs]]
extract_from = "shape"
expect = [ { msg = "disk full" } ]

[[tests]]
name = "a wrong expectation"
[[tests.inputs]]
insert_at = "errors_only"
events = [ { level = "error", message = "a" }, { level = "error", message = "b" } ]
[[tests.outputs]]
extract_from = "shape"
expect = [ { msg = "a" }, { msg = "c" } ]
"#,
        ),
        &[],
        &[],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with("PASS errors are reshaped\nFAIL a wrong expectation\n"),
        "{out}"
    );
    assert!(
        out.contains("the events differ at event 2 (2 expected, 2 came out)"),
        "{out}"
    );
    assert!(out.contains("    > {\"msg\":\"c\"}"), "{out}");
    assert!(out.contains("    > {\"msg\":\"b\"}"), "{out}");
    assert!(out.ends_with("1 passed, 1 failed\n"), "{out}");
}

#[test]
fn tests_in_extra_files_run_after_the_configs_own() {
    let extra = r#"
[[tests]]
name = "shape alone"
[[tests.inputs]]
insert_at = "shape"
events = [ { message = "m", level = "whatever" } ]
[[tests.outputs]]
extract_from = "shape"
expect = [ { msg = "m" } ]
"#;
    let (code, out, err) = run_tests(PIPELINE, &[("more.toml", extra)], &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out, "PASS shape alone\n1 passed, 0 failed\n");
}

#[test]
fn conditions_check_every_event_and_name_the_one_that_fails() {
    let tests = r#"
[[tests]]
name = "all errors"
[[tests.inputs]]
insert_at = "shape"
events = [ { message = "a" }, { message = "b" }, { message = "c" } ]
[[tests.outputs]]
extract_from = "shape"
conditions = ['.msg | length == 1', '.msg != "b"']
"#;
    let (code, out, _) = run_tests(&with_tests(tests), &[], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL all errors"), "{out}");
    assert!(
        out.contains("event 2 of 3: condition `.msg != \"b\"` is false"),
        "{out}"
    );
    assert!(out.contains("event: {\"msg\":\"b\"}"), "{out}");
    assert!(!out.contains("length == 1` is false"), "{out}");
}

#[test]
fn no_outputs_from_passes_on_silence_and_fails_on_an_event() {
    let tests = r#"
[[tests]]
name = "info is dropped"
no_outputs_from = ["errors_only", "shape"]
[[tests.inputs]]
insert_at = "errors_only"
events = [ { level = "info" }, { level = "debug" } ]

[[tests]]
name = "an error is not dropped"
no_outputs_from = ["shape"]
[[tests.inputs]]
insert_at = "errors_only"
events = [ { level = "error", message = "x" } ]
"#;
    let (code, out, _) = run_tests(&with_tests(tests), &[], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("PASS info is dropped\n"), "{out}");
    assert!(out.contains("FAIL an error is not dropped\n"), "{out}");
    assert!(out.contains("`shape`: expected no events, got 1"), "{out}");
}

#[test]
fn a_routes_ports_are_extracted_separately() {
    let tests = r#"
[[tests]]
name = "warnings go their own way"
[[tests.inputs]]
insert_at = "by_level"
events = [ { level = "warn", n = 1 }, { level = "info", n = 2 }, { level = "warn", n = 3 } ]
[[tests.outputs]]
extract_from = "by_level.warn"
expect = [ { level = "warn", n = 1 }, { level = "warn", n = 3 } ]
[[tests.outputs]]
extract_from = "by_level._unmatched"
expect = [ { level = "info", n = 2 } ]
"#;
    let (code, out, err) = run_tests(&with_tests(tests), &[], &[]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn a_malformed_line_produces_the_expected_error_event() {
    let tests = r#"
[[tests]]
name = "bad JSON is an error of the stage it entered"
[[tests.inputs]]
insert_at = "errors_only"
lines = ['{"level":"error","message":"ok"}', '{"level": oops', '']
[[tests.outputs]]
extract_from = "errors_only.errors"
conditions = ['.stage == "errors_only"', '.line == 2', '.input == "{\"level\": oops"', '.error | startswith("invalid JSON")']
[[tests.outputs]]
extract_from = "shape"
expect = [ { msg = "ok" } ]

[[tests]]
name = "a line the pattern does not match"
[[tests.inputs]]
insert_at = "parse"
codec = "text"
lines = ["[notice] fine", "garbage"]
[[tests.outputs]]
extract_from = "parse.errors"
expect_lines = ['{"error":"pattern does not match","stage":"parse","input":"garbage","line":2}']
"#;
    let pipeline = format!(
        "{PIPELINE}\n[transforms.parse]\ntype = \"parse_regex\"\ninputs = [\"app\"]\npattern = '^\\[(?P<level>[a-z]+)\\] (?P<msg>.*)$'\n{tests}"
    );
    let (code, out, err) = run_tests(&pipeline, &[], &[]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn mistakes_in_tests_are_config_errors_with_their_place() {
    let tests = r#"
[[tests]]
name = "typos"
no_outputs_from = ["shape.nope"]
[[tests.inputs]]
insert_at = "errors_onyl"
events = [ { level = "info" } ]
[[tests.inputs]]
insert_at = "app"
events = [ { level = "info" } ]
[[tests.outputs]]
extract_from = "out"
conditions = ['.x ==']

[[tests]]
name = "a malformed event"
[[tests.inputs]]
insert_at = "shape"
events = [ { at = 1979-05-27T07:32:00Z } ]
[[tests.outputs]]
extract_from = "by_level.wran"
expect = []
"#;
    let (code, out, err) = run_tests(&with_tests(tests), &[], &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    let line_of = |needle: &str| {
        with_tests(tests)
            .lines()
            .position(|l| l.contains(needle))
            .unwrap()
            + 1
    };
    let expect = [
        format!(
            ":{}:13: test `typos`: unknown stage `errors_onyl` in `insert_at` (did you mean `errors_only`?)",
            line_of("errors_onyl")
        ),
        format!(
            ":{}:13: test `typos`: cannot insert at source `app`",
            line_of("insert_at = \"app\"")
        ),
        format!(
            ":{}:16: test `typos`: cannot extract from sink `out`: a test runs only the transforms; extract from what it reads: shape, by_level.warn",
            line_of("extract_from = \"out\"")
        ),
        format!(
            ":{}:21: test `typos`: condition: invalid jq program",
            line_of("'.x =='")
        ),
        format!(
            ":{}:20: test `typos`: `shape` has no port `nope`; its ports: errors",
            line_of("shape.nope")
        ),
        format!(
            ":{}:12: test `a malformed event`: this event cannot be JSON: TOML datetime",
            line_of("1979-05-27")
        ),
        "test `a malformed event`: `by_level` has no port `wran`; its ports: warn, _unmatched, errors (did you mean `by_level.warn`?)".to_string(),
    ];
    for e in expect {
        assert!(err.contains(&e), "missing {e:?} in:\n{err}");
    }
}

#[test]
fn eight_workers_and_a_sample_give_the_same_result_every_run() {
    // 32 events in batches of 4 (the stage's capacity) spread over 8
    // workers; the sample's choices are seeded per batch.
    let pipeline = r#"
[pipeline]
seed = 11
[sources.app]
type = "stdin"
[transforms.pick]
type = "sample"
inputs = ["app"]
rate = 0.5
workers = 8
capacity = 4
[transforms.id]
type = "jq"
inputs = ["pick"]
program = '.i'
[sinks.out]
type = "stdout"
inputs = ["id"]
"#;
    let events: Vec<String> = (0..32).map(|i| format!("{{ i = {i} }}")).collect();
    let discover = format!(
        "{pipeline}\n[[tests]]\nname = \"which\"\n[[tests.inputs]]\ninsert_at = \"pick\"\nevents = [{}]\n[[tests.outputs]]\nextract_from = \"id\"\nexpect = []\n",
        events.join(", ")
    );
    // A failing run lists what came out: the sample's choice.
    let (code, out, _) = run_tests(&discover, &[], &[]);
    assert_eq!(code, 1);
    let chosen: Vec<u64> = out
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("got:"))
        .skip(1)
        .filter_map(|l| l.trim_start_matches([' ', '>']).parse().ok())
        .collect();
    assert!(
        out.contains(&format!("(0 expected, {} came out)", chosen.len())),
        "every chosen event is listed: {out}"
    );
    assert!(
        (4..=28).contains(&chosen.len()),
        "a 0.5 sample of 32 kept {}: {out}",
        chosen.len()
    );
    let mut sorted = chosen.clone();
    sorted.sort();
    assert_eq!(chosen, sorted, "the test's output keeps input order");
    // The same choice, written down, passes every time.
    let expect: Vec<String> = chosen.iter().map(|i| i.to_string()).collect();
    let pinned = discover.replace(
        "expect = []",
        &format!(
            "expect_lines = [{}]",
            expect
                .iter()
                .map(|e| format!("'{e}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    for _ in 0..3 {
        let (code, out, err) = run_tests(&pinned, &[], &[]);
        assert_eq!(code, 0, "{out}{err}");
    }
}

#[test]
fn junit_and_tap_reports_for_ci_systems() {
    let tests = r#"
[[tests]]
name = "ok"
no_outputs_from = ["errors_only"]
[[tests.inputs]]
insert_at = "errors_only"
events = [ { level = "info" } ]

[[tests]]
name = "not <ok>"
no_outputs_from = ["errors_only"]
[[tests.inputs]]
insert_at = "errors_only"
events = [ { level = "error" } ]
"#;
    let (code, out, _) = run_tests(&with_tests(tests), &[], &["--format", "junit"]);
    assert_eq!(code, 1);
    assert!(out.starts_with("<?xml"), "{out}");
    assert!(out.contains("tests=\"2\" failures=\"1\""), "{out}");
    assert!(out.contains("<testcase name=\"ok\" classname="), "{out}");
    assert!(out.contains("<testcase name=\"not &lt;ok&gt;\""), "{out}");
    assert!(
        out.contains("<failure message=\"`errors_only`: expected no events, got 1:\">"),
        "{out}"
    );
    let (code, out, _) = run_tests(&with_tests(tests), &[], &["--format", "tap"]);
    assert_eq!(code, 1);
    assert!(
        out.starts_with("TAP version 13\n1..2\nok 1 - ok\nnot ok 2 - not <ok>\n"),
        "{out}"
    );
}

#[test]
fn check_and_run_ignore_the_tests() {
    let pipeline = r#"
[sources.gen]
type = "generate"
count = 10
[transforms.keep]
type = "filter"
inputs = ["gen"]
condition = 'true'
[sinks.out]
type = "blackhole"
inputs = ["keep"]

[[tests]]
name = "all kept"
[[tests.inputs]]
insert_at = "keep"
events = [ { a = 1 } ]
[[tests.outputs]]
extract_from = "keep"
expect = [ { a = 1 } ]
"#;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "p.toml", pipeline);
    sluice().arg("check").arg(&cfg).assert().success();
    sluice().arg("run").arg(&cfg).arg("-q").assert().success();
    sluice().arg("test").arg(&cfg).assert().success();
}

#[test]
fn a_config_without_tests_is_not_a_pass() {
    let (code, out, err) = run_tests(PIPELINE, &[], &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("no tests"), "{err}");
}

#[test]
fn every_example_config_passes_its_own_tests() {
    let dir = repo_root().join("config");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 7, "{files:?}");
    for f in files {
        let out = sluice()
            .arg("test")
            .arg(Path::new("config").join(f.file_name().unwrap()))
            .current_dir(repo_root())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}:\n{stdout}{}",
            f.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    }
}
