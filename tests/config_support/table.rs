//! Table tests for refused configs: each case is a config, the number of
//! diagnostics `sluice check` prints, and where each expected one points
//! and what it says; one loop runs them all and names every failing case,
//! not only the first.

use super::{Checked, pos, run_cmd};

/// Where a diagnostic must point.
#[derive(Clone, Copy, Debug)]
pub enum Place {
    /// At the first `needle` of the config (after the first `anchor`).
    At(&'static str, Option<&'static str>),
    /// At this 1-based line and column.
    LineCol(usize, usize),
}

impl Place {
    /// The line and column in `config`.
    pub fn in_config(self, config: &str) -> (usize, usize) {
        match self {
            Place::At(needle, anchor) => pos(config, needle, anchor),
            Place::LineCol(line, col) => (line, col),
        }
    }
}

/// One refused config and what `check` must say about it.
pub struct Case {
    pub name: &'static str,
    pub config: String,
    /// How many `FILE:LINE:COL:` diagnostics, exactly.
    pub problems: usize,
    /// Each: a diagnostic at the place containing every one of the parts.
    pub expect: Vec<(Place, &'static [&'static str])>,
}

impl Case {
    pub fn new(
        name: &'static str,
        config: impl Into<String>,
        problems: usize,
        expect: &[(Place, &'static [&'static str])],
    ) -> Self {
        Case {
            name,
            config: config.into(),
            problems,
            expect: expect.to_vec(),
        }
    }

    /// What is wrong with `c`, the outcome of a command on this case's config
    /// (exit 2, the diagnostics counted and placed); empty when all is right.
    pub fn wrong(&self, c: &Checked) -> Vec<String> {
        let mut wrong = Vec::new();
        if c.code != Some(2) {
            wrong.push(format!("exit status {:?}, want 2", c.code));
        }
        let found = c.diagnostics().len();
        if found != self.problems {
            wrong.push(format!("{found} diagnostics, want {}", self.problems));
        }
        for (place, parts) in &self.expect {
            let (line, col) = place.in_config(&self.config);
            if !c
                .at((line, col))
                .iter()
                .any(|m| parts.iter().all(|p| m.contains(p)))
            {
                wrong.push(format!(
                    "no diagnostic at {line}:{col} containing {parts:?}"
                ));
            }
        }
        wrong
    }
}

/// Collects the failing cases of a table and reports them all at the end.
#[derive(Default)]
pub struct Failures(Vec<String>);

impl Failures {
    /// Records case `name` as failing when `wrong` is not empty; `stderr`
    /// is shown with it.
    pub fn add(&mut self, name: &str, wrong: Vec<String>, stderr: &str) {
        if !wrong.is_empty() {
            self.0.push(format!(
                "case `{name}`:\n  {}\n  --- stderr ---\n{stderr}",
                wrong.join("\n  ")
            ));
        }
    }

    /// Panics naming every failing case, if any.
    pub fn assert_none(self) {
        assert!(
            self.0.is_empty(),
            "{} failing case(s):\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

/// Runs `sluice check` on every case; exit 2, nothing on stdout, exactly
/// `problems` diagnostics, and each expected one in place.
pub fn check_all(cases: &[Case]) {
    let mut failures = Failures::default();
    for case in cases {
        let dir = tempfile::tempdir().unwrap();
        let c = run_cmd("check", dir.path(), "bad.toml", &case.config);
        let mut wrong = case.wrong(&c);
        if !c.stdout.is_empty() {
            wrong.push(format!("stdout is not empty: {}", c.stdout));
        }
        failures.add(case.name, wrong, &c.stderr);
    }
    failures.assert_none();
}
