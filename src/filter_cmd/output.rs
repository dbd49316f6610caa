//! Where `sluice filter` writes: outputs on stdout in jq's formats, error
//! lines on stderr naming the file and line, and what `-e` needs to know
//! (was there an output, was the last one false or null).
//!
//! Both are sinks of the filter's own graph: they see events in input order
//! (ordered edges), so "the last output" is jq's last output. Compact output
//! of an unchanged line writes its text as it was read, as the `stdout`
//! sink does.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU8, AtomicU64};

use jaq_json::Val;

use super::args::Output;
use super::inputs::FileTable;
use crate::kit::event::Event;
use crate::kit::jq::write;
use crate::sinks::{Opening, RunSink, SinkContext, SinkKind, SinkTask};

/// Bytes gathered before a write.
const CHUNK: usize = 256 * 1024;

/// jq's output formats.
#[derive(Debug, Clone, Default)]
pub struct Printer {
    /// The flags.
    pub output: Output,
}

impl Printer {
    fn plain(&self) -> bool {
        let o = &self.output;
        !o.raw && !o.join && !o.seq && o.layout == Default::default()
    }

    /// Appends `e` as jq writes it.
    pub fn event(&self, e: &Event, out: &mut Vec<u8>) {
        if let Some(raw) = e.raw() {
            if self.plain() {
                out.extend_from_slice(raw);
                out.push(b'\n');
                return;
            }
            let o = &self.output;
            // A string without escapes is its text between the quotes.
            if (o.raw || o.join)
                && !o.seq
                && !o.layout.ascii
                && raw.first() == Some(&b'"')
                && !raw.contains(&b'\\')
            {
                out.extend_from_slice(&raw[1..raw.len() - 1]);
                if !o.join {
                    out.push(b'\n');
                }
                return;
            }
        }
        match e.parsed() {
            Some(v) => self.value(v, out),
            None => self.value(&e.clone().into_value(), out),
        }
    }

    /// Appends `v` as jq writes it.
    pub fn value(&self, v: &Val, out: &mut Vec<u8>) {
        let o = &self.output;
        if o.seq {
            out.push(0x1e);
        }
        match v {
            Val::TStr(s) | Val::BStr(s) if (o.raw || o.join) && !o.layout.ascii => {
                out.extend_from_slice(s)
            }
            _ => write::write(out, v, &o.layout),
        }
        if !o.join {
            out.push(b'\n');
        }
    }
}

/// What `-e` needs: whether an output came, and whether the last one was
/// `false` or `null`. Shared by the writer and the command.
#[derive(Debug, Default)]
pub struct Last(AtomicU8);

impl Last {
    const NONE: u8 = 0;
    const TRUTHY: u8 = 1;
    const FALSY: u8 = 2;

    /// Records one output, in order.
    pub fn saw(&self, falsy: bool) {
        self.0
            .store(if falsy { Self::FALSY } else { Self::TRUTHY }, Relaxed);
    }

    /// `None`: no output; `Some(true)`: the last was false or null.
    pub fn get(&self) -> Option<bool> {
        match self.0.load(Relaxed) {
            Self::NONE => None,
            v => Some(v == Self::FALSY),
        }
    }
}

fn falsy(e: &Event) -> bool {
    match (e.raw(), e.parsed()) {
        (_, Some(v)) => matches!(v, Val::Null | Val::Bool(false)),
        (Some(raw), None) => raw == b"null" || raw == b"false",
        (None, None) => true,
    }
}

/// Counts of what went to stderr.
#[derive(Debug, Default)]
pub struct Counts {
    /// Lines that were not JSON (or too long, or not UTF-8).
    pub bad_lines: AtomicU64,
    /// Runtime errors of the program.
    pub failed: AtomicU64,
}

/// The stdout writer of the filter graph.
#[derive(Debug, Clone)]
pub struct StdoutPrinter {
    /// How to write.
    pub printer: Printer,
    /// For `-e`.
    pub last: Arc<Last>,
}

/// The stderr writer of the filter graph: its inputs are the `errors`
/// ports of the source and the program.
#[derive(Debug, Clone)]
pub struct StderrReporter {
    /// Names the files and per-file lines.
    pub table: Arc<FileTable>,
    /// The program stage's name: its errors are runtime errors.
    pub program_stage: String,
    /// What was reported.
    pub counts: Arc<Counts>,
}

impl SinkKind for StdoutPrinter {
    fn build(&self, _: &Opening<'_>) -> anyhow::Result<SinkTask> {
        Ok(SinkTask(Box::new(Writer {
            kind: Kind::Out(self.clone()),
        })))
    }
    fn describe(&self) -> String {
        "stdout (jq formats)".into()
    }
}

impl SinkKind for StderrReporter {
    fn build(&self, _: &Opening<'_>) -> anyhow::Result<SinkTask> {
        Ok(SinkTask(Box::new(Writer {
            kind: Kind::Err(self.clone()),
        })))
    }
    fn describe(&self) -> String {
        "stderr (error lines)".into()
    }
}

enum Kind {
    Out(StdoutPrinter),
    Err(StderrReporter),
}

struct Writer {
    kind: Kind,
}

/// One error line: where, and why.
pub fn error_line(table: &FileTable, program_stage: &str, e: &Event) -> String {
    let v = e
        .parsed()
        .cloned()
        .unwrap_or_else(|| e.clone().into_value());
    let get = |k: &str| match &v {
        Val::Obj(o) => o.get(&Val::from(k.to_string())).cloned(),
        _ => None,
    };
    let reason = match get("error") {
        Some(Val::TStr(s)) => String::from_utf8_lossy(&s).into_owned(),
        Some(other) => write::to_string(&other),
        None => write::to_string(&v),
    };
    let (name, line) = table.locate(e.line);
    let stage = get("stage");
    if stage == Some(Val::from(program_stage.to_string())) {
        format!("jq: error (at {name}, line {line}): {reason}")
    } else {
        format!("sluice filter: {name}, line {line}: {reason} (line skipped)")
    }
}

impl RunSink for Writer {
    fn run(
        self: Box<Self>,
        ctx: SinkContext,
        handle: &tokio::runtime::Handle,
    ) -> anyhow::Result<()> {
        // One `block_on` for the whole loop: entering the runtime for each
        // batch doubled the thread wake-ups of `filter .`.
        handle.block_on(self.drain(ctx))
    }
}

impl Writer {
    /// Appends what `events` print as.
    fn print(&self, events: &[Event], buf: &mut Vec<u8>) {
        match &self.kind {
            Kind::Out(o) => {
                for e in events {
                    o.printer.event(e, buf);
                }
                if let Some(e) = events.last() {
                    o.last.saw(falsy(e));
                }
            }
            Kind::Err(r) => {
                let program = Val::from(r.program_stage.clone());
                for e in events {
                    buf.extend_from_slice(error_line(&r.table, &r.program_stage, e).as_bytes());
                    buf.push(b'\n');
                    let stage = e.parsed().and_then(|v| match v {
                        Val::Obj(o) => o.get(&Val::from("stage".to_string())).cloned(),
                        _ => None,
                    });
                    let count = if stage.as_ref() == Some(&program) {
                        &r.counts.failed
                    } else {
                        &r.counts.bad_lines
                    };
                    count.fetch_add(1, Relaxed);
                }
            }
        }
    }

    async fn drain(self, mut ctx: SinkContext) -> anyhow::Result<()> {
        let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + CHUNK / 4);
        let mut held: Vec<Vec<Event>> = Vec::new();
        let mut held_events = 0u64;
        loop {
            let next = ctx.input.recv().await;
            let last = next.is_none();
            if let Some(batch) = next {
                let n = batch.events.len() as u64;
                ctx.stats.events_in.fetch_add(n, Relaxed);
                self.print(&batch.events, &mut buf);
                held_events += n;
                held.push(batch.events);
            }
            let idle = last || ctx.input.is_idle();
            let due = buf.len() >= CHUNK || held_events as usize >= ctx.capacity || idle;
            if due && (held_events > 0 || !buf.is_empty()) {
                let written = match &self.kind {
                    Kind::Out(_) => write_all(&mut io::stdout().lock(), &buf),
                    Kind::Err(_) => write_all(&mut io::stderr().lock(), &buf),
                };
                ctx.in_flight.sub(held_events);
                match written {
                    Ok(()) => {
                        ctx.stats.bytes.fetch_add(buf.len() as u64, Relaxed);
                        ctx.stats.events_out.fetch_add(held_events, Relaxed);
                        // Written: dropping the events acknowledges them.
                        held.clear();
                        held_events = 0;
                        buf.clear();
                    }
                    // `sluice filter ... | head`: a normal end, as with jq.
                    Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                        crate::sinks::held::drain_failed(&mut ctx.input, &ctx.in_flight);
                        return Ok(());
                    }
                    Err(e) => {
                        crate::sinks::held::drain_failed(&mut ctx.input, &ctx.in_flight);
                        anyhow::bail!("writing the output failed: {e}");
                    }
                }
            }
            if last {
                return Ok(());
            }
        }
    }
}

fn write_all(w: &mut dyn Write, buf: &[u8]) -> io::Result<()> {
    w.write_all(buf)?;
    w.flush()
}
