//! What `sluice filter` reads: stdin, or its files one after the other
//! (`.gz` decompressed), as one stream of lines numbered across the files.
//! [`FileTable`] turns such a line number back into the file and its own
//! line, for error lines and for `input_filename` / `input_line_number`.
//!
//! Two readers share the framing and decoding of the line sources: the
//! graph's source ([`FilesSource`]) and the sequential one ([`Values`],
//! for `-n`, `-s` and `input`).

use std::collections::VecDeque;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use jaq_json::Val;

use crate::kit::codec::{Codec, DEFAULT_MAX_LINE_BYTES, Line, LineReader, decode};
use crate::kit::event::Event;
use crate::sources::{SourceContext, SourceKind, SourceRun, SourceTask, lines};

/// Where each input starts in the global line numbering.
#[derive(Debug, Default)]
pub struct FileTable {
    /// (first global line, `input_filename`, name in messages).
    starts: Mutex<Vec<(u64, Val, Arc<str>)>>,
}

impl FileTable {
    /// The input `path` (`None`: stdin) starts at global line `first`.
    pub fn push(&self, first: u64, path: Option<&Path>) {
        let (v, name) = match path {
            Some(p) => {
                let s = p.display().to_string();
                (Val::from(s.clone()), Arc::from(s.as_str()))
            }
            None => (Val::Null, Arc::from("<stdin>")),
        };
        self.starts
            .lock()
            .expect("table lock")
            .push((first, v, name));
    }

    fn find<T>(&self, line: u64, f: impl FnOnce(&(u64, Val, Arc<str>)) -> T) -> Option<T> {
        let starts = self.starts.lock().expect("table lock");
        let i = starts.partition_point(|(first, _, _)| *first <= line);
        i.checked_sub(1).map(|i| f(&starts[i]))
    }

    /// The name and per-file line of global line `line`.
    pub fn locate(&self, line: u64) -> (Arc<str>, u64) {
        self.find(line, |(first, _, name)| (name.clone(), line - first + 1))
            .unwrap_or_else(|| (Arc::from("<stdin>"), line))
    }

    /// `input_filename` and `input_line_number` for global line `line`.
    pub fn position(&self, line: u64) -> (Val, u64) {
        self.find(line, |(first, v, _)| (v.clone(), line - first + 1))
            .unwrap_or((Val::Null, line))
    }
}

/// Opens one input file, decompressing `.gz`.
pub fn open(path: &Path) -> anyhow::Result<Box<dyn Read + Send>> {
    let file = std::fs::File::open(path)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    Ok(if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(file)))
    } else {
        Box::new(file)
    })
}

/// The source of the filter graph for input files.
#[derive(Debug, Clone)]
pub struct FilesSource {
    /// In order.
    pub files: Vec<PathBuf>,
    /// `json` or `text` (`-R`).
    pub codec: Codec,
    /// Filled as the files are reached.
    pub table: Arc<FileTable>,
}

impl SourceKind for FilesSource {
    fn validate(&self) -> Vec<crate::sources::Problem> {
        Vec::new()
    }

    /// Every file must open before anything starts.
    fn build(&self) -> anyhow::Result<SourceTask> {
        for f in &self.files {
            open(f)?;
        }
        Ok(Box::new(self.clone()))
    }

    fn describe(&self) -> String {
        format!("{} files", self.files.len())
    }
}

impl crate::sources::RunSource for FilesSource {
    fn run(self: Box<Self>, mut ctx: SourceContext) -> SourceRun {
        Box::pin(async move {
            let handle = tokio::runtime::Handle::current();
            let name = ctx.name.clone();
            crate::kit::thread::run(name, move || {
                let mut stream = lines::Stream {
                    origin: ctx.origin,
                    position: lines::Position::default(),
                    acker: None,
                };
                for path in &self.files {
                    self.table.push(stream.position.line + 1, Some(path));
                    let input = open(path)?;
                    let sent = lines::pump(
                        input,
                        self.codec,
                        DEFAULT_MAX_LINE_BYTES,
                        &mut ctx,
                        &handle,
                        &mut stream,
                    )
                    .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
                    if sent.is_err() || ctx.shutdown.is_shutdown() {
                        break;
                    }
                }
                Ok(())
            })
            .await
        })
    }
}

/// One line that did not decode, for the error line.
pub struct BadLine {
    /// The error event (its `line` is global).
    pub event: Event,
}

/// The inputs read one value at a time, for the sequential runner: the
/// values of the lines, bad lines reported through `on_bad`.
pub struct Values {
    files: VecDeque<Option<PathBuf>>,
    reader: Option<LineReader<Box<dyn Read>>>,
    codec: Codec,
    ready: VecDeque<Result<(Val, u64), BadLine>>,
    /// The global line numbering.
    pub table: Arc<FileTable>,
    next_line: u64,
}

impl Values {
    /// Reads `files` in order, or stdin when there are none.
    pub fn new(files: &[PathBuf], codec: Codec, table: Arc<FileTable>) -> Self {
        let files = if files.is_empty() {
            VecDeque::from([None])
        } else {
            files.iter().cloned().map(Some).collect()
        };
        Values {
            files,
            reader: None,
            codec,
            ready: VecDeque::new(),
            table,
            next_line: 1,
        }
    }

    /// The next value and its global line, a bad line, or the end.
    pub fn next_value(&mut self) -> anyhow::Result<Option<Result<(Val, u64), BadLine>>> {
        loop {
            if let Some(v) = self.ready.pop_front() {
                return Ok(Some(v));
            }
            let Some(reader) = self.reader.as_mut() else {
                let Some(next) = self.files.pop_front() else {
                    return Ok(None);
                };
                self.table.push(self.next_line, next.as_deref());
                let input: Box<dyn Read> = match &next {
                    Some(p) => Box::new(open(p)?),
                    None => Box::new(std::io::stdin()),
                };
                let mut r = LineReader::new(input, DEFAULT_MAX_LINE_BYTES);
                r.set_next_line(self.next_line);
                self.reader = Some(r);
                continue;
            };
            let (codec, ready, next_line) = (self.codec, &mut self.ready, &mut self.next_line);
            let more = reader.read_chunk(|no, line: Line<'_>| {
                *next_line = no + 1;
                match decode(codec, "input", no, line) {
                    Some(Ok(mut e)) => match e.to_value() {
                        Ok(v) => ready.push_back(Ok((v, no))),
                        Err(reason) => ready.push_back(Err(BadLine {
                            event: e.into_error("input", &reason),
                        })),
                    },
                    Some(Err(bad)) => ready.push_back(Err(BadLine { event: bad })),
                    None => {}
                }
            })?;
            if !more {
                self.reader = None;
            }
        }
    }

    /// The whole input as one string (`-R -s`): every file's text.
    pub fn all_text(files: &[PathBuf], table: &FileTable) -> anyhow::Result<String> {
        let mut text = Vec::new();
        if files.is_empty() {
            table.push(1, None);
            std::io::stdin().read_to_end(&mut text)?;
        }
        for f in files {
            table.push(1, Some(f));
            open(f)?.read_to_end(&mut text)?;
        }
        let text = text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&text);
        Ok(String::from_utf8_lossy(text).into_owned())
    }
}
