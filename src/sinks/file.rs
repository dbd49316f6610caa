//! `type = "file"`: one line per event appended to a file (created, with its
//! directory, when missing).

use std::fs::OpenOptions;
use std::path::PathBuf;

use anyhow::Context as _;
use serde::Deserialize;

use crate::kit::codec::Codec;
use crate::kit::retry::RetryPolicy;
use crate::sinks::writer::{LineWriter, Output};

/// Settings of a `file` sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSinkConfig {
    /// The output file.
    pub path: PathBuf,
    /// `json` (default): compact JSON; `text`: strings raw, like `jq -r`.
    #[serde(default)]
    pub codec: Codec,
    /// `true` (default): append to an existing file; `false`: truncate it.
    #[serde(default = "yes")]
    pub append: bool,
    /// How a failed write is retried before the batch goes to `errors`.
    #[serde(default)]
    pub retry: RetryPolicy,
}

fn yes() -> bool {
    true
}

impl FileSinkConfig {
    /// Opens (and creates) the output file.
    ///
    /// `marks`: record the file's length with every acknowledged batch (an
    /// ordered sink in a pipeline with checkpoints); `resume_at`: the length
    /// the last checkpoint recorded, to cut an unacknowledged tail back to.
    pub fn open(
        &self,
        reloading: bool,
        marks: bool,
        resume_at: Option<u64>,
    ) -> anyhow::Result<LineWriter> {
        let append = self.append || reloading;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating directory {}", dir.display()))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(append)
            .write(true)
            .truncate(!append)
            .open(&self.path)
            .with_context(|| format!("opening {} for writing", self.path.display()))?;
        let mut len = file
            .metadata()
            .with_context(|| format!("reading the size of {}", self.path.display()))?
            .len();
        if let Some(committed) = resume_at.filter(|c| *c < len) {
            tracing::info!(
                "sink: cutting {} back from {len} to {committed} bytes: the tail was written but never acknowledged",
                self.path.display()
            );
            file.set_len(committed)
                .with_context(|| format!("truncating {}", self.path.display()))?;
            len = committed;
        }
        Ok(LineWriter {
            out: Output::File { file, len, marks },
            codec: self.codec,
            what: self.path.display().to_string(),
            retry: self.retry,
            quiet_close: false,
        })
    }
}

impl crate::sinks::SinkKind for FileSinkConfig {
    fn validate(&self) -> Vec<crate::sinks::Problem> {
        self.retry.validate()
    }

    fn build(&self, opening: &crate::sinks::Opening<'_>) -> anyhow::Result<crate::sinks::SinkTask> {
        use crate::sinks::SinkTask;
        let marks = opening.ordered && opening.checkpoint.is_some();
        let resume_at = match opening.checkpoint {
            Some(c) if marks && !opening.reloading => c.sink_length(opening.name, &self.path),
            _ => None,
        };
        Ok(SinkTask(Box::new(self.open(
            opening.reloading,
            marks,
            resume_at,
        )?)))
    }

    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }

    fn checkpointed_path(&self) -> Option<&std::path::Path> {
        Some(&self.path)
    }
}
