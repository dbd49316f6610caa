//! The Prometheus text exposition (format 0.0.4) of the running graph's
//! counters: [`render`] formats them.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use crate::kit::counters::StageStats;
use crate::kit::extra::{Named, Value as ExtraValue};
use crate::kit::histogram::{Histogram, LATENCY_BUCKETS};
use crate::stats::RunStats;

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
            (role == "sink" && matches!(kind, "tcp" | "file" | "stdout" | "redis_stream" | "http"))
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
        histogram(&mut out, "sluice_stage_latency_seconds", name, &s.latency);
    }
    extra(&mut out, stages);
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
         sluice_uptime_seconds {:.3}\n\
         # HELP sluice_tap_dropped_total Tap copies dropped because a tap's reader was slow (the pipeline never waits on a tap).\n\
         # TYPE sluice_tap_dropped_total counter\n\
         sluice_tap_dropped_total {}\n\
         # HELP sluice_taps_open Taps open now (sluice tap, /api/v1/tap).\n\
         # TYPE sluice_taps_open gauge\n\
         sluice_taps_open {}",
        graph.in_flight.current(),
        graph.in_flight.peak(),
        graph.started.elapsed().as_secs_f64(),
        graph.taps.dropped(),
        graph.taps.open_count()
    );
    out
}

/// The lines of one stage's histogram `metric` (`_bucket`, `_sum`, `_count`).
fn histogram(out: &mut String, metric: &str, stage: &str, h: &Histogram) {
    let name = escape(stage);
    let mut cumulative = 0u64;
    for (i, le) in LATENCY_BUCKETS.iter().enumerate() {
        cumulative += h.buckets[i].load(Relaxed);
        let _ = writeln!(
            out,
            "{metric}_bucket{{stage=\"{name}\",le=\"{le}\"}} {cumulative}"
        );
    }
    cumulative += h.buckets[LATENCY_BUCKETS.len()].load(Relaxed);
    let _ = writeln!(
        out,
        "{metric}_bucket{{stage=\"{name}\",le=\"+Inf\"}} {cumulative}\n\
         {metric}_sum{{stage=\"{name}\"}} {}\n\
         {metric}_count{{stage=\"{name}\"}} {cumulative}",
        h.sum_nanos.load(Relaxed) as f64 / 1e9
    );
}

/// The counters and timings stage kinds registered themselves
/// ([`StageStats::extra`]): one family per name, `sluice_NAME_total` for a
/// counter and the histogram `sluice_NAME_seconds` for a timing, with a
/// line per stage that has it.
fn extra(out: &mut String, stages: &[(String, &'static str, String, Arc<StageStats>)]) {
    let per_stage: Vec<(&str, Vec<Named>)> = stages
        .iter()
        .map(|(name, _, _, s)| (name.as_str(), s.extra.snapshot()))
        .collect();
    let mut done: Vec<&str> = Vec::new();
    for (_, named) in &per_stage {
        for n in named {
            if done.contains(&n.name) {
                continue;
            }
            done.push(n.name);
            let (metric, kind) = match n.value {
                ExtraValue::Counter(_) => (format!("sluice_{}_total", n.name), "counter"),
                ExtraValue::Timing(_) => (format!("sluice_{}_seconds", n.name), "histogram"),
            };
            let _ = writeln!(out, "# HELP {metric} {}\n# TYPE {metric} {kind}", n.help);
            for (stage, values) in &per_stage {
                for v in values.iter().filter(|v| v.name == n.name) {
                    match &v.value {
                        ExtraValue::Counter(c) => {
                            let _ = writeln!(
                                out,
                                "{metric}{{stage=\"{}\"}} {}",
                                escape(stage),
                                c.load(Relaxed)
                            );
                        }
                        ExtraValue::Timing(t) => histogram(out, &metric, stage, t),
                    }
                }
            }
        }
    }
}

/// Escapes a label value (backslash, double quote, newline).
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
    fn extra_counters_and_timings_are_families_of_their_own() {
        let mut stats = RunStats::new();
        let a = stats.register("a", "transform", "http_enrich");
        a.extra
            .counter("http_requests", "Requests sent.")
            .store(4, Relaxed);
        a.extra
            .timing("http_request", "Call time.")
            .record(Duration::from_millis(20));
        let b = stats.register("b", "transform", "http_enrich");
        b.extra
            .counter("http_requests", "Requests sent.")
            .store(1, Relaxed);
        stats.register("c", "transform", "jq");
        let text = render(&stats);
        assert_eq!(
            text.matches("# TYPE sluice_http_requests_total counter")
                .count(),
            1,
            "{text}"
        );
        assert!(text.contains("sluice_http_requests_total{stage=\"a\"} 4\n"));
        assert!(text.contains("sluice_http_requests_total{stage=\"b\"} 1\n"));
        assert!(!text.contains("sluice_http_requests_total{stage=\"c\"}"));
        assert!(text.contains("# TYPE sluice_http_request_seconds histogram"));
        assert!(text.contains("sluice_http_request_seconds_bucket{stage=\"a\",le=\"0.025\"} 1\n"));
        assert!(text.contains("sluice_http_request_seconds_count{stage=\"a\"} 1\n"));
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
}
