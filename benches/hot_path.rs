//! Criterion micro-benchmarks of sluice's hot path (issue 3): one event or one
//! batch through each piece a line meets on its way from a source to a sink.
//!
//! ```sh
//! cargo bench --bench hot_path                 # everything (~4 min)
//! cargo bench --bench hot_path -- decode       # one group (a name filter)
//! cargo bench --bench hot_path -- --quick      # a rough pass
//! ```
//!
//! Per-line groups report bytes/s (throughput of the line's text), per-batch
//! groups events/s. `benches/e2e.sh` measures the whole binary against
//! `cat`, jq and jaq; `benches/tap.sh` a running daemon with and without a
//! tap.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use jaq_json::Val;

use sluice::kit::codec::{self, Codec, Line};
use sluice::kit::edge::edge;
use sluice::kit::event::{Batch, Event};
use sluice::kit::jq::Program;
use sluice::kit::jq::fast::Cond;
use sluice::transforms::parse_regex::ParseRegexConfig;
use sluice::transforms::{BatchCtx, PortBuffers, SyncTransform};

/// A line of the e2e data set (`benches/e2e.sh`): canonical compact JSON,
/// 177 bytes, about the 176-byte mean of issue 3.
const JSON_LINE: &[u8] = br#"{"ts":"2026-01-01T00:00:00.999Z","host":"web-01","level":"error","status":504,"method":"PUT","path":"/api/orders","latency_ms":1667,"user":"user-7589","message":"database unavailable"}"#;

/// The same event as jq would not write it (spaces): the parsing slow path.
const JSON_LINE_SPACED: &[u8] = br#"{"ts": "2026-01-01T00:00:00.999Z", "host": "web-01", "level": "error", "status": 504, "method": "PUT", "path": "/api/orders", "latency_ms": 1667, "user": "user-7589", "message": "database unavailable"}"#;

/// The loghub Apache error log the e2e `parse_regex` scenario repeats.
const APACHE_LOG: &str = include_str!("../tests/data/loghub/Apache_2k.log");

/// The issue's Apache pattern.
const APACHE_PATTERN: &str = r"^\[(?P<time>[^\]]+)\] \[(?P<level>[a-z]+)\] (?P<content>.*)$";

/// Events per batch in the batch-level benchmarks.
const BATCH: usize = 256;

fn json_event() -> Event {
    match codec::decode(Codec::Json, "bench", 1, Line::Complete(JSON_LINE)) {
        Some(Ok(e)) => e,
        other => panic!("the bench line must decode: {other:?}"),
    }
}

fn json_batch(seq: u64) -> Batch {
    Batch::new(1, seq, (0..BATCH).map(|_| json_event()).collect())
}

fn parsed_value() -> Val {
    jaq_json::read::parse_single(JSON_LINE).expect("valid JSON")
}

/// `codec::decode` of one line: the canonical fast path keeps the text, the
/// spaced line is parsed into a value, the text codec wraps a string.
fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    let cases: [(&str, Codec, &[u8]); 3] = [
        ("json_canonical", Codec::Json, JSON_LINE),
        ("json_spaced_parse", Codec::Json, JSON_LINE_SPACED),
        (
            "text",
            Codec::Text,
            APACHE_LOG.lines().next().unwrap().as_bytes(),
        ),
    ];
    for (name, codec, line) in cases {
        g.throughput(Throughput::Bytes(line.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| codec::decode(codec, "bench", 1, Line::Complete(black_box(line))))
        });
    }
    // A batch of 1024 lines as the line sources decode it since issue 15:
    // each event a slice of the batch's one buffer, against a copy (and
    // an allocation) per line as before.
    let n = 1024;
    let shared = bytes::Bytes::from(JSON_LINE.repeat(n));
    let len = JSON_LINE.len();
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("batch_1024_copy_per_line", |b| {
        b.iter(|| {
            let events: Vec<_> = (0..n)
                .map(|i| {
                    let line = &shared[i * len..(i + 1) * len];
                    codec::decode(Codec::Json, "bench", i as u64, Line::Complete(line))
                })
                .collect();
            black_box(events)
        })
    });
    g.bench_function("batch_1024_shared_buffer", |b| {
        b.iter(|| {
            let events: Vec<_> = (0..n)
                .map(|i| {
                    let line = &shared[i * len..(i + 1) * len];
                    codec::decode_shared(
                        Codec::Json,
                        "bench",
                        i as u64,
                        Line::Complete(line),
                        &shared,
                    )
                })
                .collect();
            black_box(events)
        })
    });
    g.finish();
}

/// `json::is_canonical`, the check that lets a line travel as text.
fn canonical(c: &mut Criterion) {
    let mut g = c.benchmark_group("is_canonical");
    g.throughput(Throughput::Bytes(JSON_LINE.len() as u64));
    g.bench_function("yes", |b| {
        b.iter(|| sluice::kit::json::is_canonical(black_box(JSON_LINE)))
    });
    g.bench_function("no_spaced", |b| {
        b.iter(|| sluice::kit::json::is_canonical(black_box(JSON_LINE_SPACED)))
    });
    // Long strings (a 1 KiB message, some of it UTF-8): the string scan
    // goes eight bytes at a time.
    let long = format!(
        r#"{{"level":"info","message":"{}","note":"{}"}}"#,
        "request served in 12 ms; ".repeat(40),
        "déjà vu — ünïcödé ".repeat(8)
    );
    g.throughput(Throughput::Bytes(long.len() as u64));
    g.bench_function("yes_long_strings", |b| {
        b.iter(|| sluice::kit::json::is_canonical(black_box(long.as_bytes())))
    });
    g.finish();
}

/// The condition `.level == "error"` on one event: the fast path on raw
/// text, full jq (jaq) on an already parsed value, and full jq including the
/// parse that a value-less event needs first.
fn jq_filter(c: &mut Criterion) {
    let code = r#".level == "error""#;
    let fast = Cond::compile(code).expect("a fast-path condition");
    let program = Program::compile(code).expect("compiles");
    let value = parsed_value();
    let mut g = c.benchmark_group("jq_filter");
    g.throughput(Throughput::Bytes(JSON_LINE.len() as u64));
    g.bench_function("fast_cond_raw", |b| {
        b.iter(|| fast.eval(black_box(JSON_LINE)))
    });
    g.bench_function("program_is_truthy_parsed", |b| {
        b.iter(|| program.is_truthy(black_box(value.clone())))
    });
    g.bench_function("parse_then_is_truthy", |b| {
        b.iter(|| {
            let v = jaq_json::read::parse_single(black_box(JSON_LINE)).unwrap();
            program.is_truthy(v)
        })
    });
    // The CPU-bound program of the e2e scaling scenario, for scale.
    let heavy = Program::compile("[range(0; 200)] | add").expect("compiles");
    g.bench_function("program_range_200_add", |b| {
        b.iter(|| heavy.run(black_box(value.clone()), |r| drop(black_box(r))))
    });
    g.finish();
}

/// `parse_regex` on a batch of 256 Apache lines (text events), one worker.
fn parse_regex(c: &mut Criterion) {
    let cfg: ParseRegexConfig =
        toml::from_str(&format!("pattern = '{APACHE_PATTERN}'")).expect("config");
    let mut stage = cfg.build().expect("pattern compiles");
    let events: Vec<Event> = APACHE_LOG
        .lines()
        .take(BATCH)
        .enumerate()
        .map(|(i, l)| {
            codec::decode(
                Codec::Text,
                "bench",
                i as u64 + 1,
                Line::Complete(l.as_bytes()),
            )
            .unwrap()
            .unwrap()
        })
        .collect();
    let bytes: usize = APACHE_LOG.lines().take(BATCH).map(|l| l.len() + 1).sum();
    let ctx = BatchCtx {
        stage: "parse",
        origin: 1,
        seq: 0,
        seed: 0,
    };
    let mut g = c.benchmark_group("parse_regex");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("apache_batch_256", |b| {
        b.iter_batched(
            || (events.clone(), vec![Vec::with_capacity(BATCH), Vec::new()]),
            |(input, mut out): (Vec<Event>, PortBuffers)| {
                stage.process(input, &ctx, &mut out);
                debug_assert!(out[1].is_empty(), "every line matches");
                out
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();

    // The same line through jq's `capture` (sluice's regex natives with a
    // per-thread pattern cache), and the regex crate alone: a shared `Regex`
    // versus a clone per call (a clone starts with empty search caches).
    let mut g = c.benchmark_group("regex_per_line");
    let line = APACHE_LOG.lines().nth(1).expect("a second line");
    g.throughput(Throughput::Bytes(line.len() as u64 + 1));
    let capture = Program::compile(&format!(
        "capture(\"{}\")",
        APACHE_PATTERN.replace('\\', "\\\\").replace("?P<", "?<")
    ))
    .expect("compiles");
    let value = Val::from(line.to_string());
    let mut matched = false;
    capture.run(value.clone(), |r| matched |= matches!(r, Ok(Val::Obj(_))));
    assert!(matched, "capture must match the line");
    g.bench_function("jq_capture", |b| {
        b.iter(|| capture.run(black_box(value.clone()), |r| drop(black_box(r))))
    });
    let re = regex::Regex::new(APACHE_PATTERN).expect("compiles");
    let mut locs = re.capture_locations();
    g.bench_function("regex_shared", |b| {
        b.iter(|| re.captures_read(&mut locs, black_box(line)).is_some())
    });
    g.bench_function("regex_clone_per_call", |b| {
        b.iter(|| {
            let re = black_box(&re).clone();
            re.captures_read(&mut locs, black_box(line)).is_some()
        })
    });
    g.finish();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime")
}

/// One hop over an edge: send a 256-event batch and receive it, plain and
/// ordered (in sequence), on a current-thread runtime.
fn edge_hop(c: &mut Criterion) {
    let rt = runtime();
    let template = json_batch(0);
    let mut g = c.benchmark_group("edge_hop");
    g.throughput(Throughput::Elements(BATCH as u64));
    for ordered in [false, true] {
        let name = if ordered { "ordered_in_seq" } else { "plain" };
        let (tx, mut rx) = edge(4, ordered);
        let mut seq = 0u64;
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let batches: Vec<Batch> = (0..iters)
                    .map(|i| Batch {
                        seq: seq + i,
                        ..template.clone()
                    })
                    .collect();
                seq += iters;
                // Received batches are dropped after the clock stops: freeing
                // 256 events is the consumer's cost, not the hop's.
                let mut got = Vec::with_capacity(batches.len());
                let took = rt.block_on(async {
                    let start = Instant::now();
                    for batch in batches {
                        tx.send(batch).await.expect("open");
                        got.push(rx.recv().await.expect("a batch"));
                    }
                    start.elapsed()
                });
                drop(black_box(got));
                took
            })
        });
    }
    g.finish();
}

/// The reorder window: groups of 64 batches sent with neighbours swapped
/// (1, 0, 3, 2, …: every other batch arrives early and waits in the window),
/// then received in order; throughput in events.
fn reorder(c: &mut Criterion) {
    const GROUP: u64 = 64;
    let rt = runtime();
    let template = json_batch(0);
    let mut g = c.benchmark_group("reorder_window");
    g.throughput(Throughput::Elements(GROUP * BATCH as u64));
    let (tx, mut rx) = edge(GROUP as usize, true);
    let mut base = 0u64;
    g.bench_function("swapped_pairs_64_batches", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let batches: Vec<Batch> = (0..GROUP)
                    .map(|i| Batch {
                        seq: base + (i ^ 1),
                        ..template.clone()
                    })
                    .collect();
                base += GROUP;
                let mut got = Vec::with_capacity(GROUP as usize);
                total += rt.block_on(async {
                    let start = Instant::now();
                    for batch in batches {
                        tx.send(batch).await.expect("open");
                    }
                    for _ in 0..GROUP {
                        got.push(rx.recv().await.expect("a batch"));
                    }
                    start.elapsed()
                });
                assert!(got.windows(2).all(|w| w[0].seq + 1 == w[1].seq));
                drop(black_box(got));
            }
            total
        })
    });
    g.finish();
}

/// `Event::encode` to JSON: an event still holding its raw text (a copy)
/// and one holding only a parsed value (serialisation).
fn encode(c: &mut Criterion) {
    let raw = json_event();
    let parsed = Event::new(parsed_value());
    let mut out = Vec::with_capacity(4096);
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Bytes(JSON_LINE.len() as u64 + 1));
    for (name, event) in [("raw_text", &raw), ("parsed_value", &parsed)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                black_box(event).encode(Codec::Json, &mut out);
                black_box(out.len())
            })
        });
    }
    g.finish();
}

fn config() -> Criterion {
    // Short runs: a full pass stays within a few minutes on a 2-core box.
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}

/// One 256-event batch through a stage's output port and its edge (send,
/// then receive), untapped and with a tap open (issue 13): `untapped` is
/// the send path every batch takes (one atomic load for the tap);
/// `tap_stalled` a tap whose reader never reads (its buffer full: each
/// copy is counted as dropped); `tap_reading` one whose reader keeps up
/// (each event copied into the tap's buffer, which is drained).
fn fanout_tap(c: &mut Criterion) {
    use sluice::kit::event::Key;
    use sluice::kit::fanout::{ErrorLog, Outputs};
    use sluice::kit::tap::{TapOptions, Taps};
    use std::sync::Arc;

    let rt = runtime();
    let template = json_batch(0);
    let mut g = c.benchmark_group("fanout_tap");
    g.throughput(Throughput::Elements(BATCH as u64));
    for case in ["untapped", "tap_stalled", "tap_reading"] {
        let taps = Taps::default();
        let (tx, mut rx) = edge(4, false);
        let mut outputs = Outputs::new(
            "s",
            vec![vec![tx], vec![]],
            Arc::default(),
            Arc::default(),
            Arc::new(ErrorLog::new(None)),
        )
        .with_taps(vec![taps.port("s", ""), taps.port("s", "errors")]);
        let mut reader = (case != "untapped").then(|| taps.open("s", "", TapOptions::default()));
        let mut seq = 0u64;
        g.bench_function(case, |b| {
            b.iter_custom(|iters| {
                let batches: Vec<Vec<Event>> =
                    (0..iters).map(|_| template.events.clone()).collect();
                let mut got = Vec::with_capacity(batches.len());
                let took = rt.block_on(async {
                    let start = Instant::now();
                    for events in batches {
                        outputs.send_part(0, &Key::new(1, seq), events, None).await;
                        seq += 1;
                        got.push(rx.recv().await.expect("a batch"));
                        if case == "tap_reading"
                            && let Some(r) = reader.as_mut()
                        {
                            while let Ok(copies) = r.try_recv() {
                                drop(black_box(copies));
                            }
                        }
                    }
                    start.elapsed()
                });
                drop(black_box(got));
                took
            })
        });
        drop(reader);
    }
    // What `untapped` adds to a batch's send: the count and the flag check.
    let taps = Taps::default();
    let point = taps.port("s", "");
    let events = template.events.clone();
    g.bench_function("tap_point_alone", |b| {
        b.iter(|| {
            point.count(black_box(BATCH as u64));
            point.offer(black_box(&events));
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = decode, canonical, jq_filter, parse_regex, edge_hop, reorder, encode, fanout_tap
}
criterion_main!(benches);
