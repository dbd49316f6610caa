//! Printing test results: plain text for people (`PASS name` / `FAIL name`,
//! then what differed, then `N passed, M failed`), JUnit XML and TAP for CI
//! systems.

use std::fmt::Write as _;

use clap::ValueEnum;

use crate::test_cmd::check::Verdict;

/// How `sluice test` prints its results.
#[derive(Debug, Clone, Copy, Default, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// `PASS name` / `FAIL name` with what differed, and a summary line.
    #[default]
    Text,
    /// JUnit XML (one `<testcase>` per test), for CI systems.
    Junit,
    /// The Test Anything Protocol, version 13.
    Tap,
}

/// The results in `format`.
pub fn render(format: Format, verdicts: &[Verdict]) -> String {
    match format {
        Format::Text => text(verdicts),
        Format::Junit => junit(verdicts),
        Format::Tap => tap(verdicts),
    }
}

fn counts(verdicts: &[Verdict]) -> (usize, usize) {
    let passed = verdicts.iter().filter(|v| v.passed()).count();
    (passed, verdicts.len() - passed)
}

fn text(verdicts: &[Verdict]) -> String {
    let mut out = String::new();
    for v in verdicts {
        if v.passed() {
            let _ = writeln!(out, "PASS {}", v.name);
        } else {
            let _ = writeln!(out, "FAIL {}", v.name);
            for p in &v.problems {
                for line in p.lines() {
                    let _ = writeln!(out, "  {line}");
                }
            }
        }
    }
    let (passed, failed) = counts(verdicts);
    let _ = writeln!(out, "{passed} passed, {failed} failed");
    out
}

fn junit(verdicts: &[Verdict]) -> String {
    let (_, failed) = counts(verdicts);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"sluice test\" tests=\"{}\" failures=\"{failed}\">",
        verdicts.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"sluice test\" tests=\"{}\" failures=\"{failed}\">",
        verdicts.len()
    );
    for v in verdicts {
        let _ = write!(
            out,
            "    <testcase name=\"{}\" classname=\"{}\"",
            xml(&v.name),
            xml(&v.file)
        );
        if v.passed() {
            out.push_str("/>\n");
            continue;
        }
        let first = v.problems[0].lines().next().unwrap_or_default();
        let _ = writeln!(out, ">\n      <failure message=\"{}\">", xml(first));
        let _ = writeln!(out, "{}", xml(&v.problems.join("\n")));
        out.push_str("      </failure>\n    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn tap(verdicts: &[Verdict]) -> String {
    let mut out = String::from("TAP version 13\n");
    let _ = writeln!(out, "1..{}", verdicts.len());
    for (i, v) in verdicts.iter().enumerate() {
        let ok = if v.passed() { "ok" } else { "not ok" };
        // `#` starts a directive in TAP: keep it out of the description.
        let _ = writeln!(out, "{ok} {} - {}", i + 1, v.name.replace('#', "\\#"));
        if !v.passed() {
            out.push_str("  ---\n  message: |\n");
            for line in v.problems.join("\n").lines() {
                let _ = writeln!(out, "    {line}");
            }
            out.push_str("  ...\n");
        }
    }
    out
}

/// `s` escaped for XML text and attribute values.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot hold most control characters, even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(name: &str, problems: &[&str]) -> Verdict {
        Verdict {
            name: name.into(),
            file: "p.toml".into(),
            problems: problems.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn text_ends_with_the_summary() {
        let out = text(&[v("a", &[]), v("b", &["x\ny"])]);
        assert_eq!(out, "PASS a\nFAIL b\n  x\n  y\n1 passed, 1 failed\n");
    }

    #[test]
    fn junit_escapes_and_counts() {
        let out = junit(&[v("a<b", &["\"bad\" & worse"])]);
        assert!(out.contains("tests=\"1\" failures=\"1\""));
        assert!(out.contains("name=\"a&lt;b\""));
        assert!(out.contains("message=\"&quot;bad&quot; &amp; worse\""));
    }

    #[test]
    fn tap_numbers_the_tests() {
        let out = tap(&[v("a", &[]), v("b # c", &["why"])]);
        assert!(out.starts_with("TAP version 13\n1..2\nok 1 - a\nnot ok 2 - b \\# c\n"));
        assert!(out.contains("    why\n"));
    }
}
