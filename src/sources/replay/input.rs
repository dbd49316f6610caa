//! One replayed file: read a chunk at a time into decoded items, and able
//! to close its file and open it again where it stood (a merged replay
//! keeps a bounded number of files open, see `merge.rs`).

use std::collections::{BTreeMap, VecDeque};
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::{Nanos, Replay};
use crate::kit::checkpoint::{FileId, FilePosition};
use crate::kit::codec::{Codec, Line, LineReader, decode};
use crate::kit::event::{Event, error_event};
use crate::kit::progress::InputBar;
use crate::sources::SourceContext;
use crate::sources::file::{Inputs, OpenFiles};
use crate::sources::lines::Position;

/// Opens the source's files where their checkpoint says.
pub(super) struct Opener<'a> {
    /// The source's files and settings.
    pub files: &'a OpenFiles,
    /// The checkpointed positions, per path.
    pub resume: &'a BTreeMap<String, FilePosition>,
    /// The source's inputs, which acknowledgements name.
    pub inputs: &'a Inputs,
    /// Each file gets a bar of its bytes (false: the source has a bar in
    /// event time).
    pub byte_bars: bool,
}

impl Opener<'_> {
    /// Opens `path` where its checkpoint says, as a new input.
    pub fn open(&self, path: &Path, ctx: &SourceContext) -> anyhow::Result<Input> {
        // The bar follows the lines taken, not the reads, which run ahead.
        let (reader, position, id) = self.files.open_at(path, self.resume, self.inputs, None)?;
        let bar = self
            .byte_bars
            .then(|| InputBar::start(path, &ctx.stats))
            .flatten();
        if let Some(b) = &bar {
            b.set_position(position.offset);
        }
        let mut input = Input {
            name: path.display().to_string(),
            path: path.to_path_buf(),
            id,
            reader: None,
            queue: VecDeque::new(),
            eof: false,
            codec: self.files.codec,
            max_line: self.files.max_line,
            base: position.offset,
            counted: position.offset,
            position,
            bar,
        };
        input.attach(reader);
        Ok(input)
    }
}

/// One decoded line of a replayed file.
pub(super) enum Item {
    /// An event and its time.
    Timed(Nanos, Event),
    /// An error event (bad line, missing or unparsable time).
    Error(Event),
}

/// An item with where its input stands once it is taken: what a batch
/// holding it commits.
pub(super) struct Taken {
    /// The decoded line.
    pub item: Item,
    /// The input's position just past the item's line.
    pub position: Position,
}

/// One input file, read a chunk at a time into decoded items.
pub(super) struct Input {
    name: String,
    path: PathBuf,
    /// The file's identity when it was first opened: a reopened file must
    /// still be that one.
    id: FileId,
    /// `None` while the file is closed.
    reader: Option<LineReader<Box<dyn Read + Send>>>,
    /// Decoded lines (`None`: a blank line), each with its length in bytes
    /// and its line number.
    queue: VecDeque<(Option<Item>, u64, u64)>,
    eof: bool,
    codec: Codec,
    max_line: usize,
    /// Offset at which the current reader started.
    base: u64,
    /// Offset up to which bytes were added to the source's counter (a
    /// reopened file reads some bytes again).
    counted: u64,
    /// Where the input stands after the lines handed out so far.
    position: Position,
    /// Its progress bar, in content bytes taken.
    bar: Option<InputBar>,
}

impl Input {
    fn attach(&mut self, reader: Box<dyn Read + Send>) {
        let mut reader = LineReader::new(reader, self.max_line);
        reader.set_next_line(self.position.line + 1);
        self.base = self.position.offset;
        self.reader = Some(reader);
    }

    /// True while the file is open.
    pub fn is_open(&self) -> bool {
        self.reader.is_some()
    }

    /// True when reading on needs the file open again.
    pub fn needs_file(&self) -> bool {
        self.reader.is_none() && !self.eof
    }

    /// Closes the file, forgetting the lines read ahead: [`reopen`]
    /// (Self::reopen) reads them again from where the input stands.
    pub fn close(&mut self) {
        if self.reader.take().is_some() {
            self.queue.clear();
            self.eof = false;
        }
    }

    /// Opens the file again where the input stands.
    pub fn reopen(&mut self, files: &OpenFiles) -> anyhow::Result<()> {
        let reader = files.reopen(&self.path, &self.id, self.position.offset)?;
        self.attach(reader);
        Ok(())
    }

    /// The next item, or `None` at the end of the file.
    pub fn next(&mut self, replay: &Replay, ctx: &SourceContext) -> anyhow::Result<Option<Taken>> {
        loop {
            if let Some((item, len, no)) = self.queue.pop_front() {
                self.position.offset += len;
                self.position.line = no;
                if let Some(b) = &self.bar {
                    b.set_position(self.position.offset);
                }
                match item {
                    Some(item) => {
                        return Ok(Some(Taken {
                            item,
                            position: self.position,
                        }));
                    }
                    None => continue,
                }
            }
            if self.eof {
                return Ok(None);
            }
            let reader = self
                .reader
                .as_mut()
                .with_context(|| format!("{} read while closed", self.name))?;
            let (codec, stage, queue) = (self.codec, ctx.name.as_str(), &mut self.queue);
            let more = reader
                .read_chunk(|no, line| {
                    let len = match &line {
                        Line::Complete(b) => b.len() as u64 + 1,
                        Line::Last(b) => b.len() as u64,
                        Line::TooLong { len, .. } => *len as u64 + 1,
                    };
                    let item = decode(codec, stage, no, line).map(|decoded| match decoded {
                        Err(bad) => Item::Error(bad),
                        Ok(mut event) => match replay.timestamp(&mut event) {
                            Ok(t) => Item::Timed(t, event),
                            Err(reason) => {
                                let line = event.line;
                                Item::Error(error_event(stage, &reason, event.into_value(), line))
                            }
                        },
                    });
                    queue.push_back((item, len, no));
                })
                .with_context(|| format!("reading {}", self.name))?;
            self.eof = !more;
            let read_to = self.base + reader.bytes_read;
            if read_to > self.counted {
                ctx.add_bytes(read_to - self.counted);
                self.counted = read_to;
            }
            if self.eof {
                // Nothing more to read: the file need not stay open.
                self.reader = None;
            }
        }
    }
}
