//! jq's own model, one program run after the other on one thread, for what
//! cannot be split across workers: `-n` (one run on `null`, `inputs` yields
//! the lines), `-s` (one run on all lines), and programs that read further
//! lines themselves with `input`/`inputs`. Same outputs and error lines as
//! the parallel graph; no parallelism, and the whole input of `-s` is held.

use std::cell::RefCell;
use std::io::{self, Write};
use std::rc::Rc;
use std::sync::Arc;

use jaq_json::Val;

use super::inputs::{FileTable, Values};
use super::output::{Last, Printer, error_line};
use super::{Outcome, args::Options};
use crate::kit::codec::Codec;
use crate::kit::event::error_event;
use crate::kit::jq::{Program, context};

/// Writes to stdout in chunks; remembers a closed pipe.
struct Out {
    buf: Vec<u8>,
    closed: bool,
}

impl Out {
    fn flush(&mut self) -> io::Result<()> {
        if self.closed || self.buf.is_empty() {
            self.buf.clear();
            return Ok(());
        }
        let mut stdout = io::stdout().lock();
        let r = stdout.write_all(&self.buf).and_then(|_| stdout.flush());
        self.buf.clear();
        match r {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
}

/// Runs the program jq's way; what happened.
pub fn run(o: &Options, program: &Program) -> anyhow::Result<Outcome> {
    let codec = if o.raw_input {
        Codec::Text
    } else {
        Codec::Json
    };
    let table = Arc::new(FileTable::default());
    let printer = Printer {
        output: o.output.clone(),
    };
    let last = Last::default();
    let mut out = Out {
        buf: Vec::new(),
        closed: false,
    };
    let mut outcome = Outcome::default();
    let stderr_line = |line: String| eprintln!("{line}");
    let values = Rc::new(RefCell::new(Values::new(&o.files, codec, table.clone())));
    let bad = Rc::new(RefCell::new(0u64));
    // The next good value, reporting bad lines on the way.
    let next = {
        let values = values.clone();
        let table = table.clone();
        let bad = bad.clone();
        move || -> Option<Result<(Val, u64), String>> {
            loop {
                match values.borrow_mut().next_value() {
                    Err(e) => return Some(Err(e.to_string())),
                    Ok(None) => return None,
                    Ok(Some(Ok(v))) => return Some(Ok(v)),
                    Ok(Some(Err(b))) => {
                        *bad.borrow_mut() += 1;
                        stderr_line(error_line(&table, "jq", &b.event));
                    }
                }
            }
        }
    };
    let next = Rc::new(RefCell::new(next));
    let run_one = |input: Val, line: u64, out: &mut Out, outcome: &mut Outcome| {
        let (name, l) = table.position(line);
        context::set_position(&name, l);
        program.run(input.clone(), |r| match r {
            Ok(v) => {
                printer.value(&v, &mut out.buf);
                last.saw(matches!(v, Val::Null | Val::Bool(false)));
            }
            Err(e) => {
                outcome.failed += 1;
                let ev = error_event("jq", &e, input.clone(), line);
                eprintln!("{}", error_line(&table, "jq", &ev));
            }
        });
    };
    if o.slurp && !o.null_input {
        let all = if o.raw_input {
            Val::from(Values::all_text(&o.files, &table)?)
        } else {
            let mut all = Vec::new();
            while let Some(v) = (next.borrow_mut())() {
                all.push(v.map_err(anyhow::Error::msg)?.0);
            }
            Val::Arr(jaq_json::Rc::new(all))
        };
        context::set_inputs(None);
        run_one(all, 0, &mut out, &mut outcome);
    } else {
        // `input`/`inputs` take from the same lines the runs do.
        let source = next.clone();
        context::set_inputs(Some(Box::new(move || {
            (source.borrow_mut())().map(|r| {
                r.map(|(v, line)| {
                    let _ = line;
                    v
                })
            })
        })));
        if o.null_input {
            run_one(Val::Null, 0, &mut out, &mut outcome);
        } else {
            loop {
                let item = (next.borrow_mut())();
                match item {
                    None => break,
                    Some(Err(e)) => anyhow::bail!(e),
                    Some(Ok((v, line))) => run_one(v, line, &mut out, &mut outcome),
                }
                if out.buf.len() > 64 * 1024 {
                    out.flush()?;
                }
                if out.closed {
                    break;
                }
            }
        }
        context::set_inputs(None);
    }
    out.flush()?;
    outcome.bad_lines = *bad.borrow();
    outcome.last = last.get();
    Ok(outcome)
}
