//! The `/metrics` endpoint: a small HTTP/1.1 responder on a tokio
//! `TcpListener`, bounded in scrapes served at once, request size and
//! time, that answers `GET /metrics` with [`Metrics::render`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::render::Metrics;

/// Most scrapes served at once; a scraper needs one.
const MAX_SCRAPES: usize = 16;

/// Longest request head accepted; a scrape's is a few hundred bytes.
const MAX_REQUEST: usize = 8 * 1024;

/// A slow or silent client is dropped after this long.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds `address` and serves `metrics` on it until the runtime ends.
/// Returns the bound address (useful with port 0).
pub async fn serve(address: &str, metrics: Arc<Metrics>) -> anyhow::Result<SocketAddr> {
    let address = crate::kit::net::parse_address(address).map_err(anyhow::Error::msg)?;
    let listener = TcpListener::bind(&address)
        .await
        .with_context(|| format!("cannot serve metrics on {address}"))?;
    let local = listener.local_addr()?;
    tracing::info!("metrics: serving http://{local}/metrics");
    let limit = Arc::new(Semaphore::new(MAX_SCRAPES));
    tokio::spawn(async move {
        loop {
            // Taken before accept: extra scrapers wait in the backlog.
            let Ok(permit) = limit.clone().acquire_owned().await else {
                return;
            };
            match listener.accept().await {
                Ok((stream, _)) => {
                    let metrics = metrics.clone();
                    tokio::spawn(async move {
                        let _permit = permit;
                        let _ =
                            tokio::time::timeout(SCRAPE_TIMEOUT, respond(stream, &metrics)).await;
                    });
                }
                Err(e) => {
                    tracing::debug!("metrics: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(local)
}

/// Answers one HTTP/1.x request and closes the connection.
async fn respond(mut stream: TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
        if head.len() > MAX_REQUEST {
            return reply(
                &mut stream,
                "431 Request Header Fields Too Large",
                "",
                false,
            )
            .await;
        }
    }
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET" | "HEAD", "/metrics") => {
            let body = metrics.render();
            reply(&mut stream, "200 OK", &body, method == "HEAD").await
        }
        ("GET" | "HEAD", "/") => {
            reply(
                &mut stream,
                "200 OK",
                "sluice: metrics at /metrics\n",
                method == "HEAD",
            )
            .await
        }
        ("GET" | "HEAD", _) => reply(&mut stream, "404 Not Found", "not found\n", false).await,
        _ => reply(&mut stream, "405 Method Not Allowed", "", false).await,
    }
}

async fn reply(
    stream: &mut TcpStream,
    status: &str,
    body: &str,
    head: bool,
) -> std::io::Result<()> {
    let header = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(header.as_bytes()).await?;
    if !head {
        stream.write_all(body.as_bytes()).await?;
    }
    stream.shutdown().await
}
