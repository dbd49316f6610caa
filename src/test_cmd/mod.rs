//! `sluice test CONFIG [TESTS...]`: unit tests for pipeline configs, in
//! the shape of Vector's `vector test`.
//!
//! - [`spec`] reads the `[[tests]]` tables and checks them against the
//!   pipeline (`FILE:LINE:COL` diagnostics with suggestions).
//! - [`harness`] runs a test's inputs through the real transforms, with
//!   stand-ins for the sources and sinks.
//! - [`check`] compares what came out with what the test expects.
//! - [`report`] prints the results as text, JUnit XML or TAP.

pub mod check;
pub mod harness;
pub mod report;
pub mod spec;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::config::{self, Config, Diagnostic};
use check::Verdict;
pub use report::Format;
use spec::TestCase;

/// Exit status when every test passed.
const EXIT_PASS: u8 = 0;
/// Exit status when a test failed (or there was none to run).
const EXIT_FAIL: u8 = 1;
/// Exit status when the config or a test file is invalid.
const EXIT_CONFIG: u8 = 2;

/// Runs the tests of `config_path` and of every file in `extra`; prints the
/// results on stdout in `format` and returns the exit status.
pub fn main(config_path: &Path, extra: &[PathBuf], format: Format) -> u8 {
    let config = match config::load_file(config_path) {
        Ok(c) => c,
        Err(diags) => return invalid(&diags),
    };
    let mut tests = Vec::new();
    let mut diags = Vec::new();
    let files =
        std::iter::once((config_path, true)).chain(extra.iter().map(|p| (p.as_path(), false)));
    for (path, whole) in files {
        let file = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => match spec::parse(&file, &text, &config, whole) {
                Ok(t) => tests.extend(t),
                Err(d) => diags.extend(d),
            },
            Err(e) => diags.push(Diagnostic {
                file,
                line: 0,
                col: 0,
                message: format!("cannot read the test file: {e}"),
            }),
        }
    }
    if !diags.is_empty() {
        return invalid(&diags);
    }
    if tests.is_empty() {
        eprintln!(
            "error: no tests: add [[tests]] tables to {} or name test files after it",
            config_path.display()
        );
        return EXIT_FAIL;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return EXIT_FAIL;
        }
    };
    let verdicts: Vec<Verdict> = tests
        .iter()
        .map(|t| runtime.block_on(run_one(&config, t)))
        .collect();
    print!("{}", report::render(format, &verdicts));
    if verdicts.iter().all(Verdict::passed) {
        EXIT_PASS
    } else {
        EXIT_FAIL
    }
}

/// Runs every input of `test` and judges what came out.
async fn run_one(config: &Config, test: &TestCase) -> Verdict {
    let mut targets: Vec<String> = test
        .outputs
        .iter()
        .map(|o| o.extract_from.clone())
        .chain(test.no_outputs_from.iter().cloned())
        .collect();
    targets.sort();
    targets.dedup();
    let mut captured: harness::Captured = HashMap::new();
    for input in &test.inputs {
        match harness::run(config, input, &targets).await {
            Ok(out) => {
                for (target, events) in out {
                    captured.entry(target).or_default().extend(events);
                }
            }
            Err(e) => return check::broken(test, format!("the test could not run: {e:#}")),
        }
    }
    check::judge(test, captured)
}

fn invalid(diags: &[Diagnostic]) -> u8 {
    for d in diags {
        eprintln!("{d}");
    }
    eprintln!(
        "error: invalid configuration or tests ({} problem{})",
        diags.len(),
        if diags.len() == 1 { "" } else { "s" }
    );
    EXIT_CONFIG
}
