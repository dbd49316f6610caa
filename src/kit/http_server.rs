//! The one HTTP server stack: hyper 1 connections serving an axum
//! [`Router`], plain or TLS (rustls), bounded in connections, ended
//! gracefully. The `http_server` source, `/metrics` and the API all serve
//! through [`serve`], so limits, TLS and shutdown behave the same on each.
//!
//! Why not `axum::serve`: it has no TLS and no connection bound. The loop
//! here takes a [`Semaphore`] permit *before* `accept` (as mini-redis does),
//! so past `max_connections` new clients wait in the kernel backlog
//! instead of costing memory, and each connection is told to finish its
//! current request and close when the stop signal comes.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde::Deserialize;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

/// `tls = { cert = PATH, key = PATH }`: PEM files, the certificate chain
/// first.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The certificate chain (PEM).
    pub cert: PathBuf,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl TlsFiles {
    /// Reads both files into a rustls server configuration (HTTP/1.1 only),
    /// so a missing or malformed file fails before anything starts.
    pub fn load(&self) -> anyhow::Result<Arc<rustls::ServerConfig>> {
        let certs = read_pem(&self.cert, "certificate")?;
        let certs = rustls_pemfile::certs(&mut certs.as_slice())
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("{}: not a PEM certificate", self.cert.display()))?;
        if certs.is_empty() {
            anyhow::bail!("{}: no certificate in the file", self.cert.display());
        }
        let key = read_pem(&self.key, "key")?;
        let key = rustls_pemfile::private_key(&mut key.as_slice())
            .with_context(|| format!("{}: not a PEM private key", self.key.display()))?
            .with_context(|| format!("{}: no private key in the file", self.key.display()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .context("the certificate does not match the key")?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

fn read_pem(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read TLS {what} {}", path.display()))
}

/// How a server treats its connections.
#[derive(Clone)]
pub struct ServeOptions {
    /// Connections open at once; further clients wait in the backlog.
    pub max_connections: usize,
    /// TLS, when set (see [`TlsFiles::load`]).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// A client that sends no complete request head for this long, or
    /// does not finish its TLS handshake, is dropped.
    pub header_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            max_connections: 256,
            tls: None,
            header_timeout: Duration::from_secs(10),
        }
    }
}

/// Binds `address` (`HOST:PORT`, checked by [`crate::kit::net`]) for
/// [`serve`]; `what` names the server in the error.
pub async fn bind(address: &str, what: &str) -> anyhow::Result<TcpListener> {
    let address = crate::kit::net::parse_address(address).map_err(anyhow::Error::msg)?;
    TcpListener::bind(&address)
        .await
        .with_context(|| format!("{what}: cannot listen on {address}"))
}

/// A running server: its address, and the task that ends once `stop` has
/// fired and every open connection has finished its request.
pub struct Server {
    /// The bound address (useful with port 0).
    pub local: SocketAddr,
    /// Ends after the stop and the connections' last answers.
    pub task: JoinHandle<()>,
}

/// Serves `router` on `listener` until `stop` completes; then accepts no
/// more connections and lets each open one finish its current request.
pub fn serve(
    listener: TcpListener,
    router: Router,
    options: ServeOptions,
    stop: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Server> {
    let local = listener.local_addr()?;
    let (closing, closed) = watch::channel(false);
    let task = tokio::spawn(async move {
        let limit = Arc::new(Semaphore::new(options.max_connections.max(1)));
        let mut connections = tokio::task::JoinSet::new();
        tokio::pin!(stop);
        loop {
            let accepted = tokio::select! {
                () = &mut stop => break,
                accepted = accept(&listener, &limit) => accepted,
            };
            let Some((stream, permit)) = accepted else {
                continue;
            };
            let (router, options, closed) = (router.clone(), options.clone(), closed.clone());
            connections.spawn(async move {
                let _permit = permit;
                connection(stream, router, &options, closed).await;
            });
            // Reap finished connections so the set stays as small as the
            // number open.
            while connections.try_join_next().is_some() {}
        }
        drop(listener);
        let _ = closing.send(true);
        while connections.join_next().await.is_some() {}
    });
    Ok(Server { local, task })
}

/// Waits for a connection slot, then for a client.
async fn accept(
    listener: &TcpListener,
    limit: &Arc<Semaphore>,
) -> Option<(TcpStream, tokio::sync::OwnedSemaphorePermit)> {
    let permit = limit.clone().acquire_owned().await.ok()?;
    match listener.accept().await {
        Ok((stream, _)) => {
            let _ = stream.set_nodelay(true);
            Some((stream, permit))
        }
        Err(e) => {
            // Out of file descriptors and the like: back off, never spin.
            tracing::debug!("http: accept failed: {e}");
            tokio::time::sleep(Duration::from_millis(50)).await;
            None
        }
    }
}

/// One connection: the TLS handshake when configured, then HTTP/1.1
/// requests until the client closes or the server stops.
async fn connection(
    stream: TcpStream,
    router: Router,
    options: &ServeOptions,
    closed: watch::Receiver<bool>,
) {
    match &options.tls {
        None => http1(TokioIo::new(stream), router, options, closed).await,
        Some(config) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(config.clone());
            match tokio::time::timeout(options.header_timeout, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => http1(TokioIo::new(tls), router, options, closed).await,
                Ok(Err(e)) => tracing::debug!("http: TLS handshake failed: {e}"),
                Err(_) => tracing::debug!("http: TLS handshake timed out"),
            }
        }
    }
}

async fn http1<I>(io: I, router: Router, options: &ServeOptions, mut closed: watch::Receiver<bool>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(router);
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout)
        .max_buf_size(64 * 1024)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = stopping(&mut closed) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!("http: connection ended: {e}");
    }
}

/// Completes once the server stops (or is gone).
async fn stopping(closed: &mut watch::Receiver<bool>) {
    let _ = closed.wait_for(|c| *c).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_a_router_and_stops_on_the_signal() {
        let listener = bind("127.0.0.1:0", "test").await.unwrap();
        let router = Router::new().route("/", axum::routing::get(|| async { "hi" }));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = serve(listener, router, ServeOptions::default(), async {
            let _ = rx.await;
        })
        .unwrap();
        let answer = reqwest::get(format!("http://{}/", server.local))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(answer, "hi");
        tx.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), server.task)
            .await
            .expect("the server ends after the stop")
            .unwrap();
    }
}
