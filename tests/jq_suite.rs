//! jq's own test files (`tests/data/jq/jq.test` and `man.test`, from the
//! jq repository, with its licence) run through the real `sluice filter`:
//! each case's program on its input line, outputs compared as JSON values
//! with the expected ones, as jq's `--run-tests` compares them. The count
//! of passing cases must not fall below [`FLOOR`] (raise it when more
//! pass). jq on PATH runs the same cases in the same run for comparison.
//!
//! Cases marked `%%FAIL` (programs that must not compile) are set aside.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use jaq_json::Val;

/// Passing cases at least; only ever raised.
const FLOOR: usize = 577;

/// A case that runs longer is a failure (and is killed): generous for a
/// debug build on a loaded machine; jq (a few cases loop forever in jq 1.6)
/// gets [`JQ_TIMEOUT`].
const CASE_TIMEOUT: Duration = Duration::from_secs(20);
const JQ_TIMEOUT: Duration = Duration::from_secs(3);

/// Processes running at once.
const THREADS: usize = 4;

struct Case {
    file: &'static str,
    line: usize,
    program: String,
    input: String,
    expected: Vec<String>,
}

/// jq's format: program, input, expected outputs, up to a blank or `#`
/// line; `%%FAIL` blocks skipped.
fn parse(file: &'static str, text: &str) -> Vec<Case> {
    let lines: Vec<&str> = text.split('\n').collect();
    let skip = |l: &str| {
        let t = l.trim_start_matches([' ', '\t']);
        t.is_empty() || t.starts_with('#')
    };
    let mut cases = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        i += 1;
        if skip(l) {
            continue;
        }
        if l.starts_with("%%FAIL") {
            while i < lines.len() && !skip(lines[i]) {
                i += 1;
            }
            continue;
        }
        let line = i;
        let Some(input) = lines.get(i) else { break };
        i += 1;
        let mut expected = Vec::new();
        while i < lines.len() && !skip(lines[i]) {
            expected.push(lines[i].to_string());
            i += 1;
        }
        cases.push(Case {
            file,
            line,
            program: l.to_string(),
            input: input.to_string(),
            expected,
        });
    }
    cases
}

/// How a case went.
enum Result_ {
    Pass,
    Fail(String),
}

/// Runs `cmd` with `input` on stdin; its stdout, or why not.
fn run(mut cmd: Command, input: &str, timeout: Duration) -> Result<Vec<u8>, String> {
    let mut child = cmd
        .env("PAGER", "less")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn: {e}"))?;
    let mut stdin = child.stdin.take().expect("stdin");
    let _ = stdin.write_all(input.as_bytes());
    let _ = stdin.write_all(b"\n");
    drop(stdin);
    let out_pipe = child.stdout.take().expect("stdout");
    let err_pipe = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || read_all(out_pipe));
    let err = std::thread::spawn(move || read_all(err_pipe));
    let deadline = Instant::now() + timeout;
    loop {
        if child.try_wait().map_err(|e| e.to_string())?.is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err("timed out".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if stdout.is_empty() && !stderr.is_empty() {
        let first = String::from_utf8_lossy(&stderr);
        return Err(first
            .lines()
            .next()
            .unwrap_or_default()
            .chars()
            .take(160)
            .collect());
    }
    Ok(stdout)
}

fn read_all(mut r: impl std::io::Read) -> Vec<u8> {
    let mut v = Vec::new();
    let _ = r.read_to_end(&mut v);
    v
}

/// Compares outputs with the expected values, as JSON values.
fn check(case: &Case, stdout: &[u8]) -> Result_ {
    let mut expected = Vec::new();
    for e in &case.expected {
        match jaq_json::read::parse_single(e.trim().as_bytes()) {
            Ok(v) => expected.push(v),
            Err(_) => return Result_::Fail(format!("expected value does not parse: {e}")),
        }
    }
    let mut got: Vec<Val> = Vec::new();
    for v in jaq_json::read::parse_many(stdout) {
        match v {
            Ok(v) => got.push(v),
            Err(_) => {
                return Result_::Fail(format!(
                    "output is not JSON: {:?}",
                    String::from_utf8_lossy(stdout)
                        .chars()
                        .take(160)
                        .collect::<String>()
                ));
            }
        }
    }
    if got == expected {
        Result_::Pass
    } else {
        let got: Vec<String> = got.iter().map(|v| v.to_string()).collect();
        Result_::Fail(format!(
            "got {}",
            got.join(", ").chars().take(200).collect::<String>()
        ))
    }
}

fn run_all(
    cases: &[Case],
    make: &(dyn Fn(&str) -> Command + Sync),
    timeout: Duration,
) -> (usize, Vec<String>) {
    let next = AtomicUsize::new(0);
    let passed = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(case) = cases.get(i) else { return };
                    let outcome = match run(make(&case.program), &case.input, timeout) {
                        Ok(out) => check(case, &out),
                        Err(e) => Result_::Fail(e),
                    };
                    match outcome {
                        Result_::Pass => _ = passed.fetch_add(1, Ordering::Relaxed),
                        Result_::Fail(why) => failures.lock().unwrap().push(format!(
                            "{}:{}: {}\n    {why}",
                            case.file, case.line, case.program
                        )),
                    }
                }
            });
        }
    });
    let mut f = failures.into_inner().unwrap();
    f.sort();
    (passed.into_inner(), f)
}

fn cases() -> Vec<Case> {
    let read = |name: &str| {
        std::fs::read_to_string(common::data(&format!("jq/{name}"))).expect("vendored jq tests")
    };
    let mut all = parse("jq.test", Box::leak(read("jq.test").into_boxed_str()));
    all.extend(parse(
        "man.test",
        Box::leak(read("man.test").into_boxed_str()),
    ));
    all
}

#[test]
fn jq_test_files_parse_into_cases() {
    let all = cases();
    assert_eq!(all.len(), 637, "cases once the %%FAIL ones are set aside");
    let bom = all
        .iter()
        .find(|c| c.input.contains("byte order mark"))
        .unwrap();
    assert!(
        bom.input.starts_with('\u{feff}'),
        "the BOM case keeps its BOM"
    );
}

#[test]
fn jq_test_suite_passes_at_least_the_floor() {
    let all = cases();
    let sluice = |program: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sluice"));
        c.args(["filter", "-w", "1", "--", program]);
        c
    };
    let started = Instant::now();
    let (ours, failures) = run_all(&all, &sluice, CASE_TIMEOUT);
    println!(
        "sluice filter: {ours} of {} jq test cases pass ({:.1} s)",
        all.len(),
        started.elapsed().as_secs_f64()
    );
    for f in &failures {
        println!("FAIL {f}");
    }
    if let Some(jq) = common::jq() {
        let jq = |program: &str| {
            let mut c = Command::new(Path::new(&jq));
            // jq 1.6 takes no `--` before the program.
            c.args(["-c", program]);
            c
        };
        let started = Instant::now();
        let (theirs, _) = run_all(&all, &jq, JQ_TIMEOUT);
        println!(
            "jq on PATH: {theirs} of {} on the same cases ({:.1} s)",
            all.len(),
            started.elapsed().as_secs_f64()
        );
    }
    assert!(
        ours >= FLOOR,
        "{ours} cases pass, below the floor of {FLOOR}; failures above"
    );
}
