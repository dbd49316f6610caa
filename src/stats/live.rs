//! The live view of the running graph: [`Live`] samples every stage's
//! counters every [`SAMPLE_EVERY`] into a ring covering the last
//! [`WINDOW`], and turns the ring into a [`GraphView`] on demand (the API,
//! SIGUSR1's status lines, SIGQUIT's judgement).
//!
//! Rates are differences of counters between the oldest sample in the
//! window and now, divided by the time between them; busy ratios are
//! differences of busy time; fills are the mean of the samples; p50/p99
//! come from the differences of the latency histogram's buckets. So every
//! figure describes the last few seconds, not the run so far, and costs
//! nothing on the hot path: the counters are the atomics the stages bump
//! anyway.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use crate::config::graph::edges;
use crate::config::{Config, Role};
use crate::kit::counters::StageStats;
use crate::kit::histogram::LATENCY_BUCKETS;
use crate::kit::latency::round;
use crate::kit::sync::{lock, nanos};
use crate::stats::RunStats;
use crate::stats::bottleneck::{Signals, judge};
use crate::stats::view::{EdgeView, GraphView, StageView, VERSION, quantile_ms, topological};

/// How often the counters are sampled: fine enough that a fill average
/// over the window has a score of samples, cheap enough (a few atomic
/// loads and one lock per stage) to run always.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// The window rates and ratios are averaged over: long enough to smooth
/// batches arriving in bursts, short enough that `sluice top` shows a
/// change within seconds.
pub const WINDOW: Duration = Duration::from_secs(5);

/// The graph the view describes (replaced on reload) and the samples.
pub struct Live {
    current: RwLock<(Config, RunStats)>,
    ring: Mutex<VecDeque<Sample>>,
}

/// Every counter the view needs, at one instant.
struct Sample {
    at: Instant,
    stages: HashMap<String, StageSample>,
    /// Events sent per (stage, port).
    ports: HashMap<(String, String), u64>,
}

#[derive(Clone, Copy)]
struct StageSample {
    events_in: u64,
    events_out: u64,
    errors: u64,
    /// Batch time of transforms and sinks plus a file source's read time.
    busy_nanos: u64,
    blocked_nanos: u64,
    buckets: [u64; LATENCY_BUCKETS.len() + 1],
    /// Input edge: batches waiting, capacity in batches.
    edge: Option<(usize, usize)>,
}

impl StageSample {
    fn of(s: &StageStats) -> StageSample {
        StageSample {
            events_in: s.events_in.load(Relaxed),
            events_out: s.events_out.load(Relaxed),
            errors: s.errors.load(Relaxed),
            busy_nanos: s.busy_nanos.load(Relaxed) + nanos(s.latency.busy()),
            blocked_nanos: s.blocked_nanos.load(Relaxed),
            buckets: std::array::from_fn(|i| s.latency.buckets[i].load(Relaxed)),
            edge: s.input_edge_fill(),
        }
    }

    fn fill(&self) -> Option<f64> {
        self.edge
            .filter(|(_, cap)| *cap > 0)
            .map(|(len, cap)| (len as f64 / cap as f64).min(1.0))
    }
}

impl Live {
    /// A view of `config` running with the counters of `stats`.
    pub fn new(config: &Config, stats: &RunStats) -> Arc<Live> {
        let live = Arc::new(Live {
            current: RwLock::new((config.clone(), stats.clone())),
            ring: Mutex::new(VecDeque::new()),
        });
        live.sample();
        live
    }

    /// Points the view at the graph a reload started; the stages it
    /// removed leave the view, and taps on their ports end.
    pub fn replace(&self, config: &Config, stats: &RunStats) {
        let ports = output_ports(config);
        stats
            .taps
            .close_unless(|stage, port| ports.iter().any(|(s, p)| s == stage && p == port));
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = (config.clone(), stats.clone());
    }

    /// The counters of the graph running now.
    pub fn stats(&self) -> RunStats {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .clone()
    }

    /// The configuration running now.
    pub fn config(&self) -> Config {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .clone()
    }

    /// Samples every [`SAMPLE_EVERY`] on the current runtime until the
    /// view is dropped.
    pub fn spawn_sampler(self: &Arc<Self>) {
        let live: Weak<Live> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SAMPLE_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(live) = live.upgrade() else { return };
                live.sample();
            }
        });
    }

    /// Adds a sample, forgetting those older than the window (one is kept
    /// just past it, so the window is covered whole).
    fn sample(&self) {
        let sample = self.take();
        let mut ring = lock(&self.ring);
        ring.push_back(sample);
        while ring.len() > 2 && ring[1].at.elapsed() >= WINDOW {
            ring.pop_front();
        }
    }

    fn take(&self) -> Sample {
        let (config, stats) = &*self.current.read().unwrap_or_else(|e| e.into_inner());
        let stages = stats
            .stages
            .iter()
            .map(|(name, _, _, s)| (name.clone(), StageSample::of(s)))
            .collect();
        let ports = output_ports(config)
            .into_iter()
            .filter_map(|(stage, port)| {
                let sent = stats.taps.existing(&stage, &port)?.sent();
                Some(((stage, port), sent))
            })
            .collect();
        Sample {
            at: Instant::now(),
            stages,
            ports,
        }
    }

    /// The graph now, over the last [`WINDOW`].
    pub fn view(&self) -> GraphView {
        let now = self.take();
        let ring = lock(&self.ring);
        let (config, stats) = &*self.current.read().unwrap_or_else(|e| e.into_inner());
        let oldest = ring.front().unwrap_or(&now);
        let secs = now.at.duration_since(oldest.at).as_secs_f64();
        let samples: Vec<&Sample> = ring.iter().chain([&now]).collect();
        let mean_fill = |name: &str| {
            let fills: Vec<f64> = samples
                .iter()
                .filter_map(|s| s.stages.get(name).and_then(StageSample::fill))
                .collect();
            (!fills.is_empty()).then(|| round(fills.iter().sum::<f64>() / fills.len() as f64, 4))
        };
        let graph_edges = edges(&config.stages);
        let order = topological(
            config.stages.len(),
            &graph_edges
                .iter()
                .map(|e| (e.from, e.to))
                .collect::<Vec<_>>(),
        );
        let mut views = Vec::with_capacity(config.stages.len());
        for &i in &order {
            let c = &config.stages[i];
            let zero = StageSample::of(&StageStats::default());
            let cur = now.stages.get(&c.name).copied().unwrap_or(zero);
            // A stage a reload added is measured from its first sample.
            let first = samples
                .iter()
                .find(|s| s.stages.contains_key(&c.name))
                .copied()
                .unwrap_or(&now);
            let old = first.stages.get(&c.name).copied().unwrap_or(zero);
            let secs = now.at.duration_since(first.at).as_secs_f64();
            let per_s = |d: u64| {
                if secs > 0.0 {
                    round(d as f64 / secs, 2)
                } else {
                    0.0
                }
            };
            let d = |f: fn(&StageSample) -> u64| f(&cur).saturating_sub(f(&old));
            let workers = c.workers.max(1);
            let ratio =
                |n: u64| (secs > 0.0).then(|| (n as f64 / 1e9 / (secs * workers as f64)).min(1.0));
            let busy = match c.role {
                // Only file sources measure their work.
                Role::Source if cur.busy_nanos == 0 => None,
                _ => ratio(d(|s| s.busy_nanos)),
            };
            let buckets: Vec<u64> = cur
                .buckets
                .iter()
                .zip(old.buckets)
                .map(|(c, o)| c.saturating_sub(o))
                .collect();
            views.push(StageView {
                name: c.name.clone(),
                kind: c.type_name.clone(),
                role: c.role.as_str().to_string(),
                workers,
                inputs: c.inputs.iter().map(ToString::to_string).collect(),
                events_in: cur.events_in,
                events_out: cur.events_out,
                errors: cur.errors,
                rate_in: per_s(d(|s| s.events_in)),
                rate_out: per_s(d(|s| s.events_out)),
                rate_errors: per_s(d(|s| s.errors)),
                busy,
                input_fill: (c.role != Role::Source).then(|| mean_fill(&c.name).unwrap_or(0.0)),
                p50_ms: quantile_ms(&buckets, 0.5).map(|q| round(q, 4)),
                p99_ms: quantile_ms(&buckets, 0.99).map(|q| round(q, 4)),
                ordered: c.ordered,
                blocked: (c.role == Role::Source)
                    .then(|| ratio(d(|s| s.blocked_nanos)))
                    .flatten(),
            });
        }
        let edge_views: Vec<EdgeView> = graph_edges
            .iter()
            .map(|e| {
                let (from, to) = (&config.stages[e.from], &config.stages[e.to]);
                let port = to.inputs[e.lane].port.clone().unwrap_or_default();
                let key = (from.name.clone(), port.clone());
                let sent = |s: &Sample| s.ports.get(&key).copied();
                let first = samples
                    .iter()
                    .find(|s| s.ports.contains_key(&key))
                    .copied()
                    .unwrap_or(&now);
                let secs = now.at.duration_since(first.at).as_secs_f64();
                let rate = match (sent(&now), sent(first)) {
                    (Some(n), Some(o)) if secs > 0.0 => round(n.saturating_sub(o) as f64 / secs, 2),
                    _ => 0.0,
                };
                let queued = now
                    .stages
                    .get(&to.name)
                    .and_then(|s| s.edge)
                    .filter(|(_, cap)| *cap > 0)
                    .map_or(0, |(len, cap)| {
                        ((len * to.capacity) as f64 / cap as f64).round() as u64
                    });
                EdgeView {
                    from: from.name.clone(),
                    port,
                    to: to.name.clone(),
                    capacity: to.capacity,
                    queued: queued.min(to.capacity as u64),
                    fill: mean_fill(&to.name).unwrap_or(0.0),
                    rate,
                }
            })
            .collect();
        let bottleneck = judge(&signals(&views, &edge_views));
        GraphView {
            version: VERSION,
            uptime_s: round(stats.started.elapsed().as_secs_f64(), 3),
            window_s: round(secs, 3),
            stages: views,
            edges: edge_views,
            bottleneck,
            tap_dropped: stats.taps.dropped(),
            taps_open: stats.taps.open_count(),
            in_flight: stats.in_flight.current(),
        }
    }
}

/// What the judgement reads of the view's stages.
fn signals(stages: &[StageView], edges: &[EdgeView]) -> Vec<Signals> {
    let index = |name: &str| stages.iter().position(|s| s.name == name);
    stages
        .iter()
        .map(|s| Signals {
            name: s.name.clone(),
            fill: s.input_fill,
            busy: s.busy,
            consumers: edges
                .iter()
                .filter(|e| e.from == s.name)
                .filter_map(|e| index(&e.to))
                .collect(),
        })
        .collect()
}

/// Every (stage, port) of `config` a tap can name: each stage's regular
/// ports (`""` the main one) and `errors`.
pub fn output_ports(config: &Config) -> Vec<(String, String)> {
    config
        .stages
        .iter()
        .flat_map(|s| {
            s.output_ports()
                .into_iter()
                .chain(["errors".to_string()])
                .map(|p| (s.name.clone(), p))
        })
        .collect()
}
