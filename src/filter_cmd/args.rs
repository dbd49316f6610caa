//! The command line of `sluice filter`, read the way jq reads its own:
//! short flags combine (`-nr`), the first argument that is not an option is
//! the program (so `-1` and `-.a` are programs: an option is `--…` or `-`
//! followed by a letter), `--` ends the options, and the arguments after the
//! program are input files unless `--args`/`--jsonargs` made them values.
//! sluice's own options (`-w`, `--capacity`, …) mix in freely.

use std::path::PathBuf;

use jaq_json::Val;

use crate::kit::jq::write::Layout;

/// How outputs are written (jq's output flags).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// `-r`: strings without quotes.
    pub raw: bool,
    /// `-j`: like `-r`, and no newline after each output.
    pub join: bool,
    /// `--seq`: each output starts with the RS character (RFC 7464).
    pub seq: bool,
    /// `-S`, `-a`, `--indent N`, `--tab`, `-c`.
    pub layout: Layout,
}

/// Everything `sluice filter` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The jq program text.
    pub program: String,
    /// Input files in order; none: stdin.
    pub files: Vec<PathBuf>,
    /// `-w N`.
    pub workers: Option<usize>,
    /// `--capacity N`.
    pub capacity: Option<usize>,
    /// `--unordered`.
    pub unordered: bool,
    /// `--strict`.
    pub strict: bool,
    /// `--report FILE`.
    pub report: Option<PathBuf>,
    /// `-R`: each line is a string.
    pub raw_input: bool,
    /// `-s`: all inputs as one array (one string with `-R`).
    pub slurp: bool,
    /// `-n`: the program runs once on `null`.
    pub null_input: bool,
    /// `-e`: the exit status tells the last output.
    pub exit_status: bool,
    /// How outputs are written.
    pub output: Output,
    /// Global variables: `$name` from `--arg` and friends, in order.
    pub named: Vec<(String, Val)>,
    /// `$ARGS.positional`, from `--args`/`--jsonargs`.
    pub positional: Vec<Val>,
    /// `-h`: print the help and stop.
    pub help: bool,
}

/// What the positional arguments after the program are.
#[derive(Clone, Copy, PartialEq)]
enum Rest {
    Files,
    Strings,
    Json,
}

fn is_option(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 2 && b[0] == b'-' && (b[1] == b'-' || b[1].is_ascii_alphabetic())
}

fn json(text: &str, what: &str) -> Result<Val, String> {
    crate::kit::json::parse_limited(text.as_bytes())
        .map_err(|e| format!("{what}: invalid JSON text {text:?}: {e}"))
}

fn read(path: &str, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{what}: cannot read {path}: {e}"))
}

/// Parses the arguments after `sluice filter`.
pub fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut program: Option<String> = None;
    let mut from_file: Option<String> = None;
    let mut rest = Rest::Files;
    let mut options_done = false;
    let mut indent: Option<usize> = None;
    let mut tab = false;
    let mut compact = false;
    let mut i = 0;
    let value = |i: &mut usize, name: &str| -> Result<String, String> {
        *i += 1;
        args.get(*i)
            .cloned()
            .ok_or_else(|| format!("{name} needs a value"))
    };
    while i < args.len() {
        let text = args[i].as_str();
        if options_done || !is_option(text) {
            if program.is_none() && from_file.is_none() {
                program = Some(text.to_string());
            } else {
                match rest {
                    Rest::Files => o.files.push(PathBuf::from(text)),
                    Rest::Strings => o.positional.push(Val::from(text.to_string())),
                    Rest::Json => o.positional.push(json(text, "--jsonargs")?),
                }
            }
            i += 1;
            continue;
        }
        if text == "--" {
            options_done = true;
            i += 1;
            continue;
        }
        // `--name=value` for the options that take a value.
        let (name, inline) = match text.split_once('=') {
            Some((n, v)) if text.starts_with("--") => (n, Some(v.to_string())),
            _ => (text, None),
        };
        let take = |i: &mut usize, name: &str| match &inline {
            Some(v) => Ok(v.clone()),
            None => value(i, name),
        };
        let number = |v: String, name: &str| -> Result<usize, String> {
            v.parse()
                .map_err(|_| format!("{name} takes a number, got {v:?}"))
        };
        match name {
            "--workers" | "-w" => o.workers = Some(number(take(&mut i, name)?, name)?),
            "--capacity" => o.capacity = Some(number(take(&mut i, name)?, name)?),
            "--unordered" => o.unordered = true,
            "--strict" => o.strict = true,
            "--report" => o.report = Some(PathBuf::from(take(&mut i, name)?)),
            // Also the global options, when written after `filter`.
            "--quiet" | "-q" => {}
            "--log-format" | "--log-level" => _ = take(&mut i, name)?,
            "--raw-input" => o.raw_input = true,
            "--raw-output" => o.output.raw = true,
            "--join-output" => o.output.join = true,
            "--ascii-output" => o.output.layout.ascii = true,
            "--sort-keys" => o.output.layout.sort_keys = true,
            "--compact-output" => compact = true,
            "--monochrome-output" | "--unbuffered" => {}
            "--slurp" => o.slurp = true,
            "--null-input" => o.null_input = true,
            "--exit-status" => o.exit_status = true,
            "--seq" => o.output.seq = true,
            "--tab" => tab = true,
            "--indent" => {
                let n = number(take(&mut i, name)?, name)?;
                if n > 7 {
                    return Err("--indent: cannot indent more than 7 characters".into());
                }
                indent = Some(n);
            }
            "--from-file" => from_file = Some(take(&mut i, name)?),
            "--arg" => {
                let (k, v) = (value(&mut i, name)?, value(&mut i, name)?);
                o.named.push((k, Val::from(v)));
            }
            "--argjson" => {
                let k = value(&mut i, name)?;
                let v = json(&value(&mut i, name)?, "--argjson")?;
                o.named.push((k, v));
            }
            "--slurpfile" | "--rawfile" => {
                let k = value(&mut i, name)?;
                let path = value(&mut i, name)?;
                let bytes = read(&path, name)?;
                let v = if name == "--rawfile" {
                    Val::from(String::from_utf8_lossy(&bytes).into_owned())
                } else {
                    let mut values = Vec::new();
                    crate::kit::json::check_nesting(&bytes, crate::kit::json::MAX_NESTING)
                        .map_err(|e| format!("--slurpfile: {path}: {e}"))?;
                    for v in jaq_json::read::parse_many(&bytes) {
                        values.push(v.map_err(|e| format!("--slurpfile: {path}: {e}"))?);
                    }
                    Val::Arr(jaq_json::Rc::new(values))
                };
                o.named.push((k, v));
            }
            "--args" => rest = Rest::Strings,
            "--jsonargs" => rest = Rest::Json,
            "--help" => o.help = true,
            "--color-output" | "--stream" | "--stream-errors" | "--library-path" => {
                return Err(format!("{name} is not supported by sluice filter"));
            }
            long if long.starts_with("--") => {
                return Err(format!("unknown option {long} (see sluice filter --help)"));
            }
            short => {
                // Combined short flags, jq style: `-nr`, `-sc`. `-w` and
                // `-f` take the next argument.
                for c in short[1..].chars() {
                    match c {
                        'r' => o.output.raw = true,
                        'j' => o.output.join = true,
                        'a' => o.output.layout.ascii = true,
                        'S' => o.output.layout.sort_keys = true,
                        'c' => compact = true,
                        'M' => {}
                        's' => o.slurp = true,
                        'n' => o.null_input = true,
                        'e' => o.exit_status = true,
                        'R' => o.raw_input = true,
                        'q' => {}
                        'h' => o.help = true,
                        'w' => o.workers = Some(number(value(&mut i, "-w")?, "-w")?),
                        'f' => from_file = Some(value(&mut i, "-f")?),
                        'C' | 'L' => return Err(format!("-{c} is not supported by sluice filter")),
                        other => {
                            return Err(format!(
                                "unknown option -{other} in {short} (see sluice filter --help)"
                            ));
                        }
                    }
                }
            }
        }
        i += 1;
    }
    if o.help {
        return Ok(o);
    }
    o.program = match (from_file, program) {
        (Some(path), first) => {
            // With -f, what would have been the program is the first input.
            if let Some(first) = first {
                match rest {
                    Rest::Files => o.files.insert(0, PathBuf::from(first)),
                    Rest::Strings => o.positional.insert(0, Val::from(first)),
                    Rest::Json => o.positional.insert(0, json(&first, "--jsonargs")?),
                }
            }
            String::from_utf8_lossy(&read(&path, "-f")?).into_owned()
        }
        (None, Some(p)) => p,
        (None, None) => return Err("no program given (see sluice filter --help)".into()),
    };
    // jq pretty-prints by default; sluice stays compact unless asked.
    if !compact {
        o.output.layout.tab = tab;
        o.output.layout.indent = if tab { None } else { indent.filter(|n| *n > 0) };
    }
    Ok(o)
}

impl Options {
    /// The global variables the program sees: `--arg`-style names, then
    /// `$ARGS` when the program mentions it.
    pub fn globals(&self) -> Vec<(String, Val)> {
        let mut g: Vec<(String, Val)> = self
            .named
            .iter()
            .map(|(k, v)| (format!("${k}"), v.clone()))
            .collect();
        if self.program.contains("$ARGS") {
            let named = self
                .named
                .iter()
                .map(|(k, v)| (Val::from(k.clone()), v.clone()))
                .collect();
            let args = [
                (
                    Val::from("positional".to_string()),
                    Val::Arr(jaq_json::Rc::new(self.positional.clone())),
                ),
                (Val::from("named".to_string()), Val::obj(named)),
            ];
            g.push(("$ARGS".into(), Val::obj(args.into_iter().collect())));
        }
        g
    }
}

/// `sluice filter --help`.
pub const HELP: &str = "\
Filter JSON lines with a jq program, in parallel, keeping input order.

Usage: sluice filter [OPTIONS] PROGRAM [FILE...]

Each input line is a JSON value (a string with -R); the program runs on each
one and every output is written as one compact line. FILEs are read in
order (.gz transparently); without FILE, stdin.

jq's options:
  -c                 compact output (the default; overrides --indent/--tab)
  -r, -j             strings without quotes; -j also without newlines
  -a                 ASCII output (\\uXXXX escapes)
  -S                 sort object keys
  --indent N, --tab  jq's indented layout with N spaces (0-7) or tabs
  --seq              RS character before each output (RFC 7464)
  -R                 each line is a JSON string
  -n                 run the program once on null (`inputs` gives every line)
  -s                 slurp: the program runs once on the array of all lines
  -e                 exit 1 if the last output is false or null, 4 if none
  -f FILE            read the program from FILE
  --arg NAME VALUE, --argjson NAME JSON, --slurpfile NAME FILE,
  --rawfile NAME FILE, --args, --jsonargs
                     variables for the program, $ARGS as in jq
  --                 end of options (for a program starting with -)

sluice's options:
  -w, --workers N    worker threads (default: number of CPUs); -n, -s and
                     programs using `input`/`inputs` run on one
  --capacity N       capacity of each edge, in events
  --unordered        write outputs as they are ready
  --strict           exit non-zero at the end if a line was bad or failed
  --report FILE      write a JSON report to FILE at exit
";

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Options, String> {
        parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn reads_jq_command_lines() {
        let o = p(&["-nr", "--arg", "host", "web-1", ".", "a.json", "b.json.gz"]).unwrap();
        assert!(o.null_input && o.output.raw);
        assert_eq!(o.program, ".");
        assert_eq!(o.files.len(), 2);
        assert_eq!(o.named[0].0, "host");
        assert_eq!(p(&["-1"]).unwrap().program, "-1");
        assert_eq!(p(&["-.a"]).unwrap().program, "-.a");
        assert_eq!(p(&["--", "-c"]).unwrap().program, "-c");
        assert_eq!(p(&["-w", "4", "."]).unwrap().workers, Some(4));
        assert_eq!(p(&["--workers=3", "."]).unwrap().workers, Some(3));
        let o = p(&["$ARGS", "--args", "x", "y"]).unwrap();
        assert_eq!(o.positional.len(), 2);
        assert!(o.files.is_empty());
        assert!(p(&["--bogus", "."]).is_err());
        assert!(p(&[]).is_err());
        assert_eq!(
            p(&["--indent", "3", "."]).unwrap().output.layout.indent,
            Some(3)
        );
        assert_eq!(
            p(&["--indent", "3", "-c", "."])
                .unwrap()
                .output
                .layout
                .indent,
            None
        );
    }
}
