//! `type = "stdout"`: one line per event on standard output.

use serde::Deserialize;

use crate::kit::codec::Codec;
use crate::kit::retry::RetryPolicy;
use crate::sinks::writer::{LineWriter, Output};

/// Settings of a `stdout` sink.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdoutConfig {
    /// `json` (default): compact JSON; `text`: strings raw, like `jq -r`.
    #[serde(default)]
    pub codec: Codec,
    /// Set by `sluice filter` (never from a config): a closed stdout ends
    /// the output quietly instead of failing the run.
    #[serde(skip)]
    pub quiet_close: bool,
}

impl StdoutConfig {
    /// A writer on stdout.
    pub fn open(&self) -> LineWriter {
        LineWriter {
            out: Output::Stdout(std::io::stdout()),
            codec: self.codec,
            what: "stdout".into(),
            retry: RetryPolicy::default(),
            quiet_close: self.quiet_close,
        }
    }
}

impl crate::sinks::SinkKind for StdoutConfig {
    fn validate(&self) -> Vec<crate::sinks::Problem> {
        Vec::new()
    }

    fn build(
        &self,
        _opening: &crate::sinks::Opening<'_>,
    ) -> anyhow::Result<crate::sinks::SinkTask> {
        use crate::sinks::SinkTask;
        Ok(SinkTask(Box::new(self.open())))
    }

    fn describe(&self) -> String {
        "stdout".into()
    }
}
