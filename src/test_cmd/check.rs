//! Judging one test: what came out of each target against `expect`,
//! `conditions` and `no_outputs_from`, and the words that say what differed.

use crate::kit::event::Event;
use crate::kit::jq::Program;
use crate::test_cmd::harness::{Captured, to_text};
use crate::test_cmd::spec::{TestCase, TestOutput};

/// Events shown of a list in a failure; the rest are counted.
const SHOWN: usize = 20;

/// How one test ended.
#[derive(Debug)]
pub struct Verdict {
    /// The test's name.
    pub name: String,
    /// The file it was written in.
    pub file: String,
    /// Why it failed, one paragraph per problem; empty when it passed.
    pub problems: Vec<String>,
}

impl Verdict {
    /// True when nothing differed.
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Compares what came out with what the test expects.
pub fn judge(test: &TestCase, mut captured: Captured) -> Verdict {
    let mut problems = Vec::new();
    for out in &test.outputs {
        let events = captured.get_mut(&out.extract_from).map(std::mem::take);
        check_output(out, events.unwrap_or_default(), &mut problems);
    }
    for target in &test.no_outputs_from {
        let events = captured.get(target).map(Vec::as_slice).unwrap_or_default();
        if !events.is_empty() {
            let texts: Vec<String> = events.iter().map(to_text).collect();
            problems.push(format!(
                "`{target}`: expected no events, got {}:\n{}",
                events.len(),
                list(&texts, None)
            ));
        }
    }
    Verdict {
        name: test.name.clone(),
        file: test.file.clone(),
        problems,
    }
}

/// A verdict for a test that could not run at all.
pub fn broken(test: &TestCase, why: String) -> Verdict {
    Verdict {
        name: test.name.clone(),
        file: test.file.clone(),
        problems: vec![why],
    }
}

fn check_output(out: &TestOutput, events: Vec<Event>, problems: &mut Vec<String>) {
    let target = &out.extract_from;
    let texts: Vec<String> = events.iter().map(to_text).collect();
    if let Some(expect) = &out.expect {
        let got: Vec<serde_json::Value> = texts
            .iter()
            .map(|t| {
                serde_json::from_str(t).unwrap_or_else(|_| serde_json::Value::String(t.clone()))
            })
            .collect();
        if let Some(at) = first_difference(expect, &got) {
            let expected: Vec<String> = expect.iter().map(|v| v.to_string()).collect();
            problems.push(format!(
                "`{target}`: the events differ at event {} ({} expected, {} came out):\n  expected:\n{}\n  got:\n{}",
                at + 1,
                expect.len(),
                got.len(),
                list(&expected, Some(at)),
                list(&texts, Some(at)),
            ));
        }
    }
    if out.conditions.is_empty() {
        return;
    }
    if events.is_empty() {
        problems.push(format!(
            "`{target}`: no events came out, so none satisfies the conditions (test for that with `no_outputs_from`)"
        ));
        return;
    }
    for cond in &out.conditions {
        // Compiled when the tests were checked: a failure here is a bug.
        let program = match Program::compile(cond) {
            Ok(p) => p,
            Err(e) => {
                problems.push(format!("condition `{cond}` does not compile: {e:?}"));
                continue;
            }
        };
        for (i, (ev, text)) in events.iter().zip(&texts).enumerate() {
            let verdict = ev.clone().to_value().and_then(|v| program.is_truthy(v));
            let why = match verdict {
                Ok(true) => continue,
                Ok(false) => "is false".to_string(),
                Err(e) => format!("fails: {e}"),
            };
            problems.push(format!(
                "`{target}`: event {} of {}: condition `{cond}` {why}\n  event: {text}",
                i + 1,
                events.len()
            ));
            break;
        }
    }
}

/// Index of the first event that differs (or where one list ends early).
fn first_difference(expect: &[serde_json::Value], got: &[serde_json::Value]) -> Option<usize> {
    let common = expect.len().min(got.len());
    (0..common)
        .find(|&i| expect[i] != got[i])
        .or((expect.len() != got.len()).then_some(common))
}

/// Events one per line, the one at `mark` flagged with `>`.
fn list(texts: &[String], mark: Option<usize>) -> String {
    if texts.is_empty() {
        return "      (no events)".into();
    }
    let start = mark.map_or(0, |m| m.saturating_sub(SHOWN / 2));
    let mut out: Vec<String> = Vec::new();
    if start > 0 {
        out.push(format!("      … {start} before"));
    }
    for (i, t) in texts.iter().enumerate().skip(start).take(SHOWN) {
        let flag = if Some(i) == mark { ">" } else { " " };
        out.push(format!("    {flag} {t}"));
    }
    let rest = texts.len().saturating_sub(start + SHOWN);
    if rest > 0 {
        out.push(format!("      … {rest} more"));
    }
    if mark == Some(texts.len()) {
        out.push("    > (no more events)".into());
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_first_difference_is_found_also_at_the_end() {
        let a = [json!(1), json!(2)];
        assert_eq!(first_difference(&a, &a), None);
        assert_eq!(first_difference(&a, &[json!(1), json!(3)]), Some(1));
        assert_eq!(first_difference(&a, &[json!(1)]), Some(1));
        assert_eq!(first_difference(&[], &[json!(1)]), Some(0));
    }

    #[test]
    fn a_list_marks_the_differing_event() {
        let t = vec!["a".to_string(), "b".to_string()];
        assert_eq!(list(&t, Some(1)), "      a\n    > b");
        assert_eq!(
            list(&t, Some(2)),
            "      a\n      b\n    > (no more events)"
        );
    }
}
