//! `type = "stdin"`: newline-delimited events from standard input.

use serde::Deserialize;

use crate::codec::{Codec, DEFAULT_MAX_LINE_BYTES};
use crate::sources::{SourceContext, lines};

/// Settings of a `stdin` source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdinConfig {
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

impl StdinConfig {
    /// Reads stdin on a blocking thread until EOF or shutdown.
    pub async fn run(self, mut ctx: SourceContext) -> anyhow::Result<()> {
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let stdin = std::io::stdin();
            let lock = stdin.lock();
            lines::pump(lock, self.codec, self.max_line_bytes, &mut ctx, &handle)
                .map(|_| ())
                .map_err(|e| anyhow::anyhow!("reading stdin: {e}"))
        })
        .await?
    }
}
