//! Prometheus metrics: per-stage counters, edge occupancy and a processing
//! latency histogram, served as text at `pipeline.metrics_address`.
//!
//! Everything rendered here already lives in atomics ([`StageStats`]), so the
//! endpoint is a small HTTP/1.1 responder on a tokio `TcpListener` that
//! formats them on each `GET /metrics`: no metrics facade, no HTTP stack.
//!
//! Edge occupancy is read through a weak handle on each stage's input
//! channel ([`EdgeGauge`]): a metrics reader must never keep an edge open,
//! or the close cascade would never reach the sinks.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::kit::event::Batch;
use crate::stats::{RunStats, StageStats};

/// Upper bounds (seconds) of the latency histogram's buckets: 10 µs to 10 s,
/// wide enough for a jq program on one batch and for a sink waiting on a
/// slow peer.
pub const LATENCY_BUCKETS: [f64; 19] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A lock-free histogram of durations over [`LATENCY_BUCKETS`].
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); the last one is `+Inf`.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    /// Sum of all observations, in nanoseconds.
    sum_nanos: AtomicU64,
    /// Number of observations.
    count: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn record(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = LATENCY_BUCKETS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[i].fetch_add(1, Relaxed);
        self.sum_nanos
            .fetch_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), Relaxed);
        self.count.fetch_add(1, Relaxed);
    }

    /// Number of observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }
}

/// How full a stage's input edge is, without holding it open.
#[derive(Debug)]
pub struct EdgeGauge {
    rx: async_channel::WeakReceiver<Batch>,
    /// Capacity in batches (fixed at build time).
    capacity: usize,
}

impl EdgeGauge {
    /// A gauge on the channel `rx` reads from.
    pub fn new(rx: &async_channel::Receiver<Batch>) -> Self {
        EdgeGauge {
            rx: rx.downgrade(),
            capacity: rx.capacity().unwrap_or(0),
        }
    }

    /// Batches waiting now (0 once the edge is closed: it is draining or gone).
    pub fn len(&self) -> usize {
        // The upgraded handle lives only for this call; if it happens to be
        // the last receiver, dropping it closes the edge as the real last
        // receiver would have.
        self.rx.upgrade().map_or(0, |rx| rx.len())
    }

    /// True when no batch waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Capacity in batches.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// Samples the input edge occupancy of `stages` every
/// [`OCCUPANCY_EVERY`](crate::stats::OCCUPANCY_EVERY) on the current tokio
/// runtime, for the report. The task holds the counters weakly and ends once
/// they are gone. A reload calls it again for the stages it adds, so that
/// every stage of the run is sampled exactly once per tick.
pub fn sample_edges(stages: Vec<Weak<StageStats>>) {
    if stages.is_empty() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(crate::stats::OCCUPANCY_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let mut alive = false;
            for s in stages.iter().filter_map(Weak::upgrade) {
                alive = true;
                s.sample_edge();
            }
            if !alive {
                return;
            }
        }
    });
}

/// What the endpoint renders: the counters of the graph that runs now.
/// A reload swaps the graph with [`Metrics::replace`].
pub struct Metrics {
    graph: RwLock<RunStats>,
}

impl Metrics {
    /// Metrics over the counters of `stats`.
    pub fn new(stats: &RunStats) -> Arc<Self> {
        Arc::new(Metrics {
            graph: RwLock::new(stats.clone()),
        })
    }

    /// Points the endpoint at a new graph's counters (after a reload).
    pub fn replace(&self, stats: &RunStats) {
        *self.graph.write().unwrap_or_else(|e| e.into_inner()) = stats.clone();
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let graph = self.graph.read().unwrap_or_else(|e| e.into_inner());
        render(&graph)
    }
}

/// One family of per-stage values: name, type, help, and the value for a
/// stage of a role (`source`, `transform`, `sink`) and `type` (`None`: not
/// shown for that stage).
type Family = (
    &'static str,
    &'static str,
    &'static str,
    fn(&str, &str, &StageStats) -> Option<f64>,
);

const FAMILIES: &[Family] = &[
    (
        "sluice_events_in_total",
        "counter",
        "Events received by the stage (sources: events read).",
        |_, _, s| Some(s.events_in.load(Relaxed) as f64),
    ),
    (
        "sluice_events_out_total",
        "counter",
        "Events emitted on regular outputs (sinks: events written).",
        |_, _, s| Some(s.events_out.load(Relaxed) as f64),
    ),
    (
        "sluice_errors_total",
        "counter",
        "Error events produced on STAGE.errors.",
        |_, _, s| Some(s.errors.load(Relaxed) as f64),
    ),
    (
        "sluice_errors_unconsumed_total",
        "counter",
        "Error events no stage consumed (logged and counted only).",
        |_, _, s| Some(s.errors_unconsumed.load(Relaxed) as f64),
    ),
    (
        "sluice_discarded_total",
        "counter",
        "Events dropped because their output had no consumer.",
        |_, _, s| Some(s.discarded.load(Relaxed) as f64),
    ),
    (
        "sluice_bytes_total",
        "counter",
        "Bytes read (sources) or written (sinks).",
        |_, _, s| Some(s.bytes.load(Relaxed) as f64),
    ),
    (
        "sluice_edge_batches",
        "gauge",
        "Batches waiting in the stage's input edge.",
        |_, _, s| s.input_edge_fill().map(|(len, _)| len as f64),
    ),
    (
        "sluice_edge_capacity",
        "gauge",
        "Capacity of the stage's input edge, in batches.",
        |_, _, s| s.input_edge_fill().map(|(_, cap)| cap as f64),
    ),
    (
        "sluice_edge_occupancy",
        "gauge",
        "How full the stage's input edge is, 0 to 1: a stage whose input is full while its output is empty is the bottleneck.",
        |_, _, s| {
            s.input_edge_fill()
                .filter(|(_, cap)| *cap > 0)
                .map(|(len, cap)| len as f64 / cap as f64)
        },
    ),
    (
        "sluice_sink_retries_total",
        "counter",
        "Failed write or connect attempts of a sink (retried, or given up to its errors output).",
        |role, kind, s| {
            (role == "sink" && matches!(kind, "tcp" | "file" | "stdout" | "redis_stream"))
                .then(|| s.retries.load(Relaxed) as f64)
        },
    ),
    (
        "sluice_source_connections",
        "gauge",
        "Open connections of a network source.",
        |role, kind, s| {
            (role == "source" && matches!(kind, "tcp" | "unix"))
                .then(|| s.connections.load(Relaxed) as f64)
        },
    ),
];

/// Renders every metric of `graph`.
pub fn render(graph: &RunStats) -> String {
    let mut out = String::with_capacity(4096);
    let stages = &graph.stages;
    let _ = writeln!(
        out,
        "# HELP sluice_stage_info A stage of the running graph, with its role and type.\n# TYPE sluice_stage_info gauge"
    );
    for (name, role, kind, _) in stages {
        let _ = writeln!(
            out,
            "sluice_stage_info{{stage=\"{}\",role=\"{role}\",type=\"{}\"}} 1",
            escape(name),
            escape(kind)
        );
    }
    for (metric, kind, help, value) in FAMILIES {
        let values: Vec<_> = stages
            .iter()
            .filter_map(|(name, role, kind, s)| value(role, kind, s).map(|v| (name, v)))
            .collect();
        if values.is_empty() {
            continue;
        }
        let _ = writeln!(out, "# HELP {metric} {help}\n# TYPE {metric} {kind}");
        for (name, v) in values {
            let _ = writeln!(out, "{metric}{{stage=\"{}\"}} {v}", escape(name));
        }
    }
    let _ = writeln!(
        out,
        "# HELP sluice_stage_latency_seconds Time a stage spends on one batch (transforms: the program; sinks: encoding and writing).\n# TYPE sluice_stage_latency_seconds histogram"
    );
    for (name, role, _, s) in stages {
        if *role == "source" {
            continue; // a source waits on its input; nothing to measure
        }
        let h = &s.latency;
        let name = escape(name);
        let mut cumulative = 0u64;
        for (i, le) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += h.buckets[i].load(Relaxed);
            let _ = writeln!(
                out,
                "sluice_stage_latency_seconds_bucket{{stage=\"{name}\",le=\"{le}\"}} {cumulative}"
            );
        }
        cumulative += h.buckets[LATENCY_BUCKETS.len()].load(Relaxed);
        let _ = writeln!(
            out,
            "sluice_stage_latency_seconds_bucket{{stage=\"{name}\",le=\"+Inf\"}} {cumulative}\n\
             sluice_stage_latency_seconds_sum{{stage=\"{name}\"}} {}\n\
             sluice_stage_latency_seconds_count{{stage=\"{name}\"}} {cumulative}",
            h.sum_nanos.load(Relaxed) as f64 / 1e9
        );
    }
    let _ = writeln!(
        out,
        "# HELP sluice_in_flight_events Events inside the graph now (read, not yet written or dropped).\n\
         # TYPE sluice_in_flight_events gauge\n\
         sluice_in_flight_events {}\n\
         # HELP sluice_in_flight_peak_events Most events inside the graph at once.\n\
         # TYPE sluice_in_flight_peak_events gauge\n\
         sluice_in_flight_peak_events {}\n\
         # HELP sluice_uptime_seconds Seconds since the graph started.\n\
         # TYPE sluice_uptime_seconds gauge\n\
         sluice_uptime_seconds {:.3}",
        graph.in_flight.current(),
        graph.in_flight.peak(),
        graph.started.elapsed().as_secs_f64()
    );
    out
}

/// Escapes a label value (backslash, double quote, newline).
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The socket address `metrics_address` means: `HOST:PORT`, or a bare
/// `PORT` / `:PORT` for 127.0.0.1 (metrics stay local unless asked).
pub fn parse_address(address: &str) -> Result<String, String> {
    let address = address.trim();
    let port_only = address.strip_prefix(':').unwrap_or(address);
    if port_only.parse::<u16>().is_ok() {
        return Ok(format!("127.0.0.1:{port_only}"));
    }
    match address.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
            Ok(address.to_string())
        }
        _ => Err(format!(
            "`metrics_address` must be HOST:PORT (e.g. \"127.0.0.1:9598\") or a port, got {address:?}"
        )),
    }
}

/// Most scrapes served at once; a scraper needs one.
const MAX_SCRAPES: usize = 16;

/// Longest request head accepted; a scrape's is a few hundred bytes.
const MAX_REQUEST: usize = 8 * 1024;

/// A slow or silent client is dropped after this long.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds `address` and serves `metrics` on it until the runtime ends.
/// Returns the bound address (useful with port 0).
pub async fn serve(address: &str, metrics: Arc<Metrics>) -> anyhow::Result<SocketAddr> {
    let address = parse_address(address).map_err(anyhow::Error::msg)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_in_the_text() {
        let mut stats = RunStats::new();
        let s = stats.register("t", "transform", "jq");
        s.latency.record(Duration::from_micros(5));
        s.latency.record(Duration::from_millis(3));
        s.latency.record(Duration::from_secs(60));
        s.events_in.store(7, Relaxed);
        let text = render(&stats);
        assert!(
            text.contains("sluice_events_in_total{stage=\"t\"} 7\n"),
            "{text}"
        );
        assert!(
            text.contains("sluice_stage_latency_seconds_bucket{stage=\"t\",le=\"0.00001\"} 1\n")
        );
        assert!(text.contains("sluice_stage_latency_seconds_bucket{stage=\"t\",le=\"0.005\"} 2\n"));
        assert!(text.contains("sluice_stage_latency_seconds_bucket{stage=\"t\",le=\"10\"} 2\n"));
        assert!(text.contains("sluice_stage_latency_seconds_bucket{stage=\"t\",le=\"+Inf\"} 3\n"));
        assert!(text.contains("sluice_stage_latency_seconds_count{stage=\"t\"} 3\n"));
    }

    #[test]
    fn sink_retries_and_source_connections_go_by_role() {
        let mut stats = RunStats::new();
        stats
            .register("in", "source", "tcp")
            .connections
            .store(2, Relaxed);
        stats
            .register("out", "sink", "tcp")
            .retries
            .store(3, Relaxed);
        let text = render(&stats);
        assert!(
            text.contains("sluice_sink_retries_total{stage=\"out\"} 3\n"),
            "{text}"
        );
        assert!(!text.contains("sluice_sink_retries_total{stage=\"in\"}"));
        assert!(text.contains("sluice_source_connections{stage=\"in\"} 2\n"));
        assert!(!text.contains("sluice_source_connections{stage=\"out\"}"));
    }

    #[test]
    fn edge_gauge_does_not_keep_the_edge_open() {
        let (tx, rx) = async_channel::bounded::<Batch>(4);
        let gauge = EdgeGauge::new(&rx);
        tx.try_send(Batch::default()).unwrap();
        assert_eq!((gauge.len(), gauge.capacity()), (1, 4));
        drop(rx);
        assert!(tx.is_closed(), "the gauge must not count as a receiver");
        assert_eq!(gauge.len(), 0);
    }

    #[test]
    fn addresses_default_to_localhost() {
        assert_eq!(parse_address("9598").unwrap(), "127.0.0.1:9598");
        assert_eq!(parse_address(":9598").unwrap(), "127.0.0.1:9598");
        assert_eq!(parse_address("0.0.0.0:1").unwrap(), "0.0.0.0:1");
        assert_eq!(parse_address("[::1]:9598").unwrap(), "[::1]:9598");
        assert!(parse_address("localhost").is_err());
    }
}
