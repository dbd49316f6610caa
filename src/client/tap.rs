//! `sluice tap [--address HOST:PORT] STAGE[.PORT] [--limit N] [--sample
//! RATE]`: prints the events leaving a stage (or one of its ports) in a
//! running daemon, one JSON value per line, as they pass.
//!
//! Ends with 0 after `--limit` events or when the daemon stops (its stream
//! ends cleanly); with 130 on Ctrl-C (SIGINT), as shells and `tail -f`
//! report an interrupted command; with 0 when stdout's reader goes away
//! (`sluice tap app | head`); with 1 and a message when the daemon is not
//! there, refuses the token, or has no such stage or port.

use std::io::Write as _;

use clap::Args;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::{ApiArgs, Client, runtime};

/// Exit status after Ctrl-C (128 + SIGINT), as `fd` and shells use.
pub const EXIT_INTERRUPTED: u8 = 130;

/// `sluice tap` options.
#[derive(Debug, Args, Clone)]
pub struct TapArgs {
    /// The stage whose output to print, or STAGE.PORT for one of its ports
    /// (`parse.errors`, `route.NAME`, `route._unmatched`).
    #[arg(value_name = "STAGE[.PORT]")]
    pub target: String,
    /// Stop after N events.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
    /// Print a share of the events, above 0 and at most 1 (every
    /// 1/RATE-th event).
    #[arg(long, value_name = "RATE", value_parser = sample_rate)]
    pub sample: Option<f64>,
    #[command(flatten)]
    pub api: ApiArgs,
}

fn sample_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(r) if r > 0.0 && r <= 1.0 => Ok(r),
        _ => Err(format!("must be above 0 and at most 1, got {text:?}")),
    }
}

/// Runs `sluice tap`; returns the exit status.
pub fn main(args: &TapArgs) -> u8 {
    let result = runtime().and_then(|rt| rt.block_on(run(args)));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

/// The request path for `args`.
fn path(args: &TapArgs) -> String {
    let (stage, port) = args
        .target
        .split_once('.')
        .unwrap_or((args.target.as_str(), ""));
    let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
    let mut path = format!("/api/v1/tap?stage={}", enc(stage));
    if !port.is_empty() {
        path.push_str(&format!("&port={}", enc(port)));
    }
    if let Some(n) = args.limit {
        path.push_str(&format!("&limit={n}"));
    }
    if let Some(r) = args.sample {
        path.push_str(&format!("&sample={r}"));
    }
    path
}

async fn run(args: &TapArgs) -> anyhow::Result<u8> {
    let client = Client::new(&args.api)?;
    let mut interrupted = std::pin::pin!(tokio::signal::ctrl_c());
    let path = path(args);
    let mut response = tokio::select! {
        r = client.get(&path) => r?,
        _ = &mut interrupted => return Ok(EXIT_INTERRUPTED),
    };
    let mut stdout = std::io::stdout().lock();
    loop {
        let chunk = tokio::select! {
            c = response.chunk() => c,
            _ = &mut interrupted => return Ok(EXIT_INTERRUPTED),
        };
        match chunk {
            Ok(Some(bytes)) => {
                let written = stdout.write_all(&bytes).and_then(|()| stdout.flush());
                if let Err(e) = written {
                    if e.kind() == std::io::ErrorKind::BrokenPipe {
                        return Ok(0);
                    }
                    anyhow::bail!("writing to stdout: {e}");
                }
            }
            Ok(None) => {
                if args.limit.is_none() {
                    eprintln!(
                        "sluice tap: the stream ended (the daemon stopped, or a reload removed `{}`)",
                        args.target
                    );
                }
                return Ok(0);
            }
            Err(e) => anyhow::bail!(
                "the daemon at {} closed the tap mid-stream: {e}",
                args.api.address
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_becomes_stage_and_port() {
        let args = TapArgs {
            target: "route.a b".into(),
            limit: Some(3),
            sample: Some(0.5),
            api: ApiArgs {
                address: "9598".into(),
            },
        };
        assert_eq!(
            path(&args),
            "/api/v1/tap?stage=route&port=a%20b&limit=3&sample=0.5"
        );
    }
}
