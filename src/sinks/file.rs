//! `type = "file"`: one line per event appended to a file (created, with its
//! directory, when missing).

use std::fs::OpenOptions;
use std::path::PathBuf;

use anyhow::Context as _;
use serde::Deserialize;

use crate::codec::Codec;
use crate::sinks::writer::LineWriter;

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
}

fn yes() -> bool {
    true
}

impl FileSinkConfig {
    /// Opens (and creates) the output file.
    pub fn open(&self, reloading: bool) -> anyhow::Result<LineWriter> {
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
        Ok(LineWriter {
            out: Box::new(file),
            codec: self.codec,
            what: self.path.display().to_string(),
        })
    }
}
