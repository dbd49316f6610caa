//! `sluice check` (and `run`, `graph`) on invalid configurations: exit 2 and
//! `FILE:LINE:COL: message` diagnostics that point at the right place; on
//! valid ones a one-line summary, and DOT from `graph`.

mod common;
mod config_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{describe, sluice, toml_path};
use config_support::table::{Case, Failures, Place::*, check_all};
use config_support::{Checked, pos, run_cmd};

/// A valid tail that the snippets below extend: a source and a sink.
const VALID_TAIL: &str = r#"
[sources.app]
type = "generate"
count = 10

[sinks.out]
type = "blackhole"
inputs = ["app"]
"#;

/// `colour` is no key of a file source (indented, to check the column).
const UNKNOWN_KEY_IN_A_STAGE: &str = r#"
[sources.app]
type = "file"
path = "in.jsonl"
   colour = "red"

[sinks.out]
type = "stdout"
inputs = ["app"]
"#;

/// `shpae` is a misspelled `shape`.
const MISSPELLED_INPUT: &str = r#"
[sources.app]
type = "generate"
count = 10

[transforms.shape]
type = "jq"
inputs = ["app"]
program = "."

[sinks.out]
type = "stdout"
inputs = ["app", "shpae"]
"#;

/// `b` and `c` read each other.
const CYCLE: &str = r#"
[sources.app]
type = "generate"
count = 10

[transforms.a]
type = "jq"
inputs = ["app"]
program = "."

[transforms.b]
type = "jq"
inputs = ["a", "c"]
program = "."

[transforms.c]
type = "jq"
inputs = ["b"]
program = "."

[sinks.out]
type = "stdout"
inputs = ["c"]
"#;

/// Configs with one problem each, and where `check` must point.
fn one_problem_cases() -> Vec<Case> {
    vec![
        Case::new(
            "unknown key in the pipeline table",
            format!("[pipeline]\ncapacity = 8\nbogus_key = 1\n{VALID_TAIL}"),
            1,
            &[(At("bogus_key", None), &["unknown field `bogus_key`"])],
        ),
        Case::new(
            "unknown key in a stage",
            UNKNOWN_KEY_IN_A_STAGE,
            1,
            &[(At("colour", None), &["unknown field `colour`"])],
        ),
        Case::new(
            "an unknown stage type suggests the closest",
            format!(
                "[transforms.t]\ntype = \"filtr\"\ninputs = [\"app\"]\ncondition = \"true\"\n{VALID_TAIL}"
            ),
            1,
            &[(
                At("\"filtr\"", None),
                &["unknown transform type `filtr`", "did you mean `filter`?"],
            )],
        ),
        Case::new(
            "a misspelled input suggests the stage",
            MISSPELLED_INPUT,
            1,
            &[(
                At("\"shpae\"", None),
                &["unknown stage `shpae`", "did you mean `shape`?"],
            )],
        ),
        Case::new(
            "a cycle names its stages",
            CYCLE,
            1,
            &[(At("[transforms.b]", None), &["cycle", "[ b -> c -> b ]"])],
        ),
        Case::new(
            "a source with inputs",
            format!("{VALID_TAIL}\n[sources.other]\ntype = \"stdin\"\ninputs = [\"app\"]\n"),
            1,
            &[(
                At("[\"app\"]", Some("[sources.other]")),
                &["source `other` cannot have `inputs`"],
            )],
        ),
        Case::new(
            "a sink without inputs",
            format!("{VALID_TAIL}\n[sinks.lost]\ntype = \"stdout\"\n"),
            1,
            &[(At("[sinks.lost]", None), &["sink `lost` has no inputs"])],
        ),
        Case::new(
            "a transform with zero workers",
            format!(
                "[transforms.t]\ntype = \"jq\"\ninputs = [\"app\"]\nprogram = \".\"\nworkers = 0\n{VALID_TAIL}"
            ),
            1,
            &[(At("0\n", Some("workers")), &["`workers`", "at least 1"])],
        ),
        Case::new(
            "an invalid jq program points into the program",
            format!(
                "[transforms.t]\ntype = \"jq\"\ninputs = [\"app\"]\nprogram = '{{a: .b}} | nosuchfn(1)'\n{VALID_TAIL}"
            ),
            1,
            &[(
                At("nosuchfn", None),
                &[
                    "transform `t`",
                    "invalid jq program",
                    "undefined filter",
                    "nosuchfn",
                ],
            )],
        ),
        Case::new(
            "a syntax error in a filter condition points at the end of the program",
            format!(
                "[transforms.f]\ntype = \"filter\"\ninputs = [\"app\"]\ncondition = \".level == \"\n{VALID_TAIL}"
            ),
            1,
            &[(
                At("\"\n", Some("condition")),
                &["transform `f`", "invalid jq program"],
            )],
        ),
        Case::new(
            "a TOML syntax error",
            "[pipeline]\ncapacity = 8\nseed = = 4\n",
            1,
            &[(At("= 4", None), &["expected"])],
        ),
        Case::new(
            "an unclosed table header",
            "[sources.app\ntype = \"stdin\"\n",
            1,
            &[(LineCol(1, 13), &["expected `]`"])],
        ),
    ]
}

#[test]
fn one_problem_configs_are_refused_at_the_problem() {
    check_all(&one_problem_cases());
}

/// Every problem below is reported in one run.
const MANY_PROBLEMS: &str = r#"[pipeline]
capacity = 16
colour = "blue"

[sources.app]
type = "generate"
count = 1000

[sources.feed]
type = "stdin"
inputs = ["app"]

[transforms.shape]
type = "jq"
inputs = ["app"]
program = "{a: .b} | nosuchfn"
workers = 0

[transforms.x]
type = "jq"
inputs = ["y"]
program = "."

[transforms.y]
type = "jq"
inputs = ["x"]
program = "."

[sinks.out]
type = "file"
inputs = ["shpe"]
path = "OUT_PATH"
"#;

fn many_problems(dir: &Path) -> (String, PathBuf) {
    let out = dir.join("out/never.jsonl");
    let config = MANY_PROBLEMS.replace("\"OUT_PATH\"", &toml_path(&out));
    (config, out)
}

/// The six problems of [`MANY_PROBLEMS`], each where it is.
fn many_case(config: &str) -> Case {
    Case::new(
        "many problems",
        config,
        6,
        &[
            (At("colour", None), &["unknown field `colour`"]),
            (
                At("[\"app\"]", Some("[sources.feed]")),
                &["cannot have `inputs`"],
            ),
            (At("nosuchfn", None), &["undefined filter"]),
            (At("0\n", Some("workers")), &["at least 1"]),
            (At("[transforms.x]", None), &["[ x -> y -> x ]"]),
            (
                At("\"shpe\"", None),
                &["unknown stage `shpe`", "did you mean `shape`?"],
            ),
        ],
    )
}

fn expect_many(c: &Checked, config: &str) {
    let mut wrong = many_case(config).wrong(c);
    if !c.stderr.contains("(6 problems)") {
        wrong.push("no `(6 problems)` summary".into());
    }
    let mut failures = Failures::default();
    failures.add("many problems", wrong, &c.stderr);
    failures.assert_none();
}

#[test]
fn several_errors_are_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (config, _) = many_problems(dir.path());
    let c = run_cmd("check", dir.path(), "many.toml", &config);
    expect_many(&c, &config);
}

#[test]
fn run_with_an_invalid_config_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (config, out) = many_problems(dir.path());
    let checked = run_cmd("check", dir.path(), "many.toml", &config);
    let ran = run_cmd("run", dir.path(), "many.toml", &config);
    expect_many(&ran, &config);
    assert_eq!(
        ran.diagnostics(),
        checked.diagnostics(),
        "run and check give the same diagnostics"
    );
    assert!(ran.stdout.is_empty(), "{}", ran.stdout);
    assert!(!out.exists(), "the file sink was opened: {}", out.display());
    assert!(
        !out.parent().unwrap().exists(),
        "the sink's directory was created"
    );

    // A single problem is enough to start nothing.
    let single = format!(
        "[sources.app]\ntype = \"generate\"\ncount = 5\n\n[sinks.out]\ntype = \"file\"\ninputs = [\"ap\"]\npath = {}\n",
        toml_path(&out)
    );
    let ran = run_cmd("run", dir.path(), "single.toml", &single);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    ran.expect(pos(&single, "\"ap\"", None), &["unknown stage `ap`"]);
    assert!(!out.exists());

    // `graph` refuses it too.
    let graphed = run_cmd("graph", dir.path(), "single.toml", &single);
    assert_eq!(graphed.code, Some(2));
    assert!(graphed.stdout.is_empty(), "{}", graphed.stdout);
}

#[test]
fn missing_config_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let out = sluice()
        .arg("check")
        .arg(&missing)
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&missing.display().to_string()), "{stderr}");
}

const VALID: &str = r#"
[pipeline]
capacity = 64

[sources.app]
type = "generate"
count = 10

[transforms.shape]
type = "jq"
inputs = ["app"]
program = "{seq}"
workers = 3

[sinks.good]
type = "blackhole"
inputs = ["shape"]

[sinks.bad]
type = "blackhole"
inputs = ["app.errors", "shape.errors"]
"#;

#[test]
fn check_prints_a_one_line_summary() {
    let dir = tempfile::tempdir().unwrap();
    let c = run_cmd("check", dir.path(), "ok.toml", VALID);
    assert_eq!(c.code, Some(0), "{}", c.stderr);
    let lines: Vec<&str> = c.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one summary line: {:?}", c.stdout);
    assert!(lines[0].contains("4 stages"), "{}", lines[0]);
    assert!(lines[0].contains("4 edges"), "{}", lines[0]);
    assert!(c.diagnostics().is_empty(), "{}", c.stderr);
}

#[test]
fn graph_prints_dot_with_one_arrow_per_edge() {
    let dir = tempfile::tempdir().unwrap();
    let c = run_cmd("graph", dir.path(), "ok.toml", VALID);
    assert_eq!(c.code, Some(0), "{}", c.stderr);
    assert!(c.stdout.starts_with("digraph"), "{}", c.stdout);
    assert!(c.stdout.trim_end().ends_with('}'), "{}", c.stdout);
    let arrows: Vec<&str> = c.stdout.lines().filter(|l| l.contains("->")).collect();
    assert_eq!(arrows.len(), 4, "{}", c.stdout);
    for (from, to) in [
        ("app", "shape"),
        ("shape", "good"),
        ("app", "bad"),
        ("shape", "bad"),
    ] {
        let edge = format!("\"{from}\" -> \"{to}\"");
        assert!(
            arrows.iter().filter(|l| l.contains(&edge)).count() == 1,
            "edge {edge} missing or repeated:\n{}",
            c.stdout
        );
    }
    assert!(
        arrows.iter().all(|l| l.contains("capacity=64")),
        "capacities on the edges:\n{}",
        c.stdout
    );
    assert!(c.stdout.contains("workers=3"), "{}", c.stdout);
}
