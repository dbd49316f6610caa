//! `type = "file"`: reads files matched by paths or globs, in name order;
//! `.gz` files are decompressed transparently.

use std::fs::File;
use std::io::{BufReader, Read};
use std::ops::Range;
use std::path::PathBuf;

use anyhow::Context as _;
use serde::Deserialize;

use crate::codec::{Codec, DEFAULT_MAX_LINE_BYTES};
use crate::sources::{SourceContext, lines};

/// Settings of a `file` source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// One path or glob, or a list of them.
    #[serde(deserialize_with = "one_or_many")]
    pub path: Vec<String>,
    /// `json` (default) or `text`.
    #[serde(default)]
    pub codec: Codec,
    /// Longest accepted line; longer ones become error events.
    #[serde(default = "default_max_line")]
    pub max_line_bytes: usize,
}

fn default_max_line() -> usize {
    DEFAULT_MAX_LINE_BYTES
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    match OneOrMany::deserialize(d) {
        Ok(OneOrMany::One(s)) => Ok(vec![s]),
        Ok(OneOrMany::Many(v)) => Ok(v),
        Err(_) => Err(serde::de::Error::custom(
            "expected a path or glob string, or an array of them",
        )),
    }
}

impl FileConfig {
    /// Checks that every pattern is a valid glob.
    pub fn validate(&self) -> Vec<(Option<Range<usize>>, String)> {
        let mut out = Vec::new();
        if self.path.is_empty() {
            out.push((
                None,
                "`path` is empty: give at least one file or glob".to_string(),
            ));
        }
        for p in &self.path {
            if let Err(e) = glob::Pattern::new(p) {
                out.push((None, format!("invalid glob `{p}` in `path`: {e}")));
            }
        }
        out
    }

    /// Expands the globs now, so that a path matching nothing is an error
    /// before the pipeline starts.
    pub fn open(&self) -> anyhow::Result<OpenFiles> {
        let mut files = Vec::new();
        for pattern in &self.path {
            let mut matched: Vec<PathBuf> = glob::glob(pattern)
                .with_context(|| format!("invalid glob `{pattern}`"))?
                .filter_map(Result::ok)
                .filter(|p| p.is_file())
                .collect();
            if matched.is_empty() {
                anyhow::bail!("no file matches `{pattern}`");
            }
            matched.sort();
            files.extend(matched);
        }
        files.dedup();
        Ok(OpenFiles {
            files,
            codec: self.codec,
            max_line: self.max_line_bytes,
        })
    }
}

/// The files a `file` source will read, in order.
#[derive(Debug)]
pub struct OpenFiles {
    files: Vec<PathBuf>,
    codec: Codec,
    max_line: usize,
}

impl OpenFiles {
    /// Reads every file in turn on a blocking thread.
    pub async fn run(self, mut ctx: SourceContext) -> anyhow::Result<()> {
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            for path in &self.files {
                if ctx.shutdown.is_shutdown() {
                    break;
                }
                let file =
                    File::open(path).with_context(|| format!("opening {}", path.display()))?;
                let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
                    Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(file)))
                } else {
                    Box::new(file)
                };
                let sent = lines::pump(reader, self.codec, self.max_line, &mut ctx, &handle)
                    .with_context(|| format!("reading {}", path.display()))?;
                if sent.is_err() {
                    break;
                }
            }
            Ok(())
        })
        .await?
    }
}
