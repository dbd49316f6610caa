//! Helpers for the configuration tests (`tests/config_*.rs`): run `check`,
//! `run` or `graph` on a config written to a temp file, and find the
//! `FILE:LINE:COL: message` diagnostics at a place in its text; `table`
//! runs a list of refused configs and names every failing one.

#![allow(dead_code)]

pub mod table;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::{sluice, write};

/// 1-based line and column (in characters) of the first occurrence of
/// `needle` in `text`, optionally after the first occurrence of `after`.
pub fn pos(text: &str, needle: &str, after: Option<&str>) -> (usize, usize) {
    let from = after.map_or(0, |a| text.find(a).expect("anchor in config"));
    let at = from + text[from..].find(needle).expect("needle in config");
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// How a sluice command on a config file ended.
pub struct Checked {
    /// Exit status.
    pub code: Option<i32>,
    /// Everything on stdout.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
    /// The config file, as diagnostics name it.
    pub file: PathBuf,
}

impl Checked {
    /// The messages of the diagnostics at `line:col`.
    pub fn at(&self, (line, col): (usize, usize)) -> Vec<&str> {
        let prefix = format!("{}:{line}:{col}: ", self.file.display());
        self.stderr
            .lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .collect()
    }

    /// Asserts a diagnostic at `place` whose message contains every one of `parts`.
    pub fn expect(&self, place: (usize, usize), parts: &[&str]) {
        let found = self.at(place);
        assert!(
            found.iter().any(|m| parts.iter().all(|p| m.contains(p))),
            "no diagnostic at {}:{} containing {parts:?}; stderr:\n{}",
            place.0,
            place.1,
            self.stderr
        );
    }

    /// Lines of stderr that look like `FILE:LINE:COL: message`.
    pub fn diagnostics(&self) -> Vec<&str> {
        let prefix = format!("{}:", self.file.display());
        self.stderr
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .collect()
    }
}

/// Runs `sluice CMD FILE` on `config` written to `dir/name`.
pub fn run_cmd(cmd: &str, dir: &Path, name: &str, config: &str) -> Checked {
    let file = write(dir, name, config);
    let out = sluice()
        .arg(cmd)
        .arg(&file)
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    Checked {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        file,
    }
}

/// `sluice check` on `config`; asserts exit 2 and exactly `problems` diagnostics.
pub fn check_bad(config: &str, problems: usize) -> (tempfile::TempDir, Checked) {
    let dir = tempfile::tempdir().unwrap();
    let c = run_cmd("check", dir.path(), "bad.toml", config);
    assert_eq!(c.code, Some(2), "exit status; stderr:\n{}", c.stderr);
    assert!(c.stdout.is_empty(), "nothing on stdout: {}", c.stdout);
    assert_eq!(
        c.diagnostics().len(),
        problems,
        "diagnostics:\n{}",
        c.stderr
    );
    (dir, c)
}
