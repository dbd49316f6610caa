//! A replay's progress in event time: how far through its window
//! (`replay.from` to `replay.to`) it stands and when it will be done.
//!
//! Bytes are the wrong measure for a windowed replay: the window may be one
//! hour in the middle of a day-long file, the events before `from` are read
//! at full speed and those after `to` are skipped, so a bar of the file's
//! bytes moves at three different paces and its ETA (extrapolated over the
//! whole file) says minutes for a replay that takes seconds. Event time is
//! the measure the pacer itself follows: an event is due at
//! `start + (its time - first time) / speed`.
//!
//! [`EventClock`] holds what the pacer tells it (the first event and when
//! it was taken, the event time of each batch it sent, the batch it sleeps
//! for), and answers, for a given instant:
//!
//! - **position**: the event time the replay stands at. While the pacer
//!   sleeps until a batch is due, the replay is on time and its position
//!   is the pace's clock (`first time + elapsed × speed`), so a gap in the
//!   data moves the bar at the replay's speed; otherwise it is the time of
//!   the last batch sent into the graph, which lags the clock when the
//!   graph holds the replay back.
//! - **ETA**: the window left, at the rate the position moved over the
//!   last few seconds, never faster than `speed` (a paced replay cannot
//!   run ahead of its clock); before there is such a rate, at `speed`.
//!   A replay as fast as possible (no `speed`) has an ETA only once it has
//!   a rate.
//!
//! [`ReplayBar`] draws it: one bar per replayed source, beside the
//! events read and their rate.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressState, ProgressStyle};

use crate::kit::counters::StageStats;

/// Nanoseconds since the Unix epoch (the replay's timestamps).
pub type Nanos = i128;

/// How far back the ETA's rate looks: long enough to smooth the steps of
/// batches, short enough to follow a change of pace (backpressure coming
/// or going).
pub const RATE_WINDOW: Duration = Duration::from_secs(5);

/// Least history before a measured rate is trusted.
const MIN_HISTORY: Duration = Duration::from_millis(1000);

/// Width of the bar, in characters: the whole line stays within 80
/// columns for a source name of up to 15 characters.
const BAR_WIDTH: usize = 20;

/// Where a replay stands in its window of event time (see the module doc).
#[derive(Debug, Clone)]
pub struct EventClock {
    /// `from`, or until the first event is taken, `None` when no `from`.
    from: Option<Nanos>,
    /// `to`: the window's end.
    to: Nanos,
    /// Event seconds per wall second (`None`: as fast as possible).
    speed: Option<f64>,
    /// The first event kept, and when it was taken: the pace's origin.
    origin: Option<(Nanos, Instant)>,
    /// Event time of the latest batch sent into the graph.
    sent: Option<Nanos>,
    /// The first event time of the batch the pacer sleeps for.
    waiting_for: Option<Nanos>,
    /// Recent positions, for the rate.
    samples: VecDeque<(Instant, Nanos)>,
}

impl EventClock {
    /// A clock for the window `[from, to)` at `speed`.
    pub fn new(from: Option<Nanos>, to: Nanos, speed: Option<f64>) -> EventClock {
        EventClock {
            from,
            to,
            speed: speed.filter(|s| s.is_finite() && *s > 0.0),
            origin: None,
            sent: None,
            waiting_for: None,
            samples: VecDeque::new(),
        }
    }

    /// The first event kept, `t`, was taken at `now` (the pacer's origin).
    pub fn origin(&mut self, t: Nanos, now: Instant) {
        self.origin.get_or_insert((t, now));
    }

    /// The pacer sleeps until the batch whose first event is at `t` is due.
    pub fn waiting_for(&mut self, t: Nanos) {
        self.waiting_for = Some(t);
    }

    /// A batch whose last event is at `t` went into the graph.
    pub fn sent(&mut self, t: Nanos) {
        self.waiting_for = None;
        self.sent = Some(self.sent.map_or(t, |s| s.max(t)));
    }

    /// The window's start: `from`, else the first event's time.
    fn start(&self) -> Option<Nanos> {
        self.from.or(self.origin.map(|(t, _)| t))
    }

    /// The window's length.
    pub fn length(&self) -> Option<Duration> {
        self.start().map(|s| nanos_to_duration(self.to - s))
    }

    /// The event time the replay stands at, at `now`, within the window.
    pub fn position(&self, now: Instant) -> Option<Nanos> {
        let start = self.start()?;
        let mut at = self.sent.unwrap_or(start).max(start);
        if let (Some(first), Some(speed), Some((t0, w0))) =
            (self.waiting_for, self.speed, self.origin)
        {
            // On time, sleeping: the pace's clock, up to the batch it
            // sleeps for.
            let clock = t0 + (now.saturating_duration_since(w0).as_nanos() as f64 * speed) as Nanos;
            at = at.max(clock.min(first));
        }
        Some(at.clamp(start, self.to))
    }

    /// The share of the window done, 0..1.
    pub fn fraction(&self, now: Instant) -> f64 {
        match (self.start(), self.position(now)) {
            (Some(start), Some(at)) if self.to > start => {
                (at - start) as f64 / (self.to - start) as f64
            }
            _ => 0.0,
        }
    }

    /// Records the position at `now` for the rate (called at each draw).
    pub fn sample(&mut self, now: Instant) {
        let Some(at) = self.position(now) else { return };
        self.samples.push_back((now, at));
        while self
            .samples
            .front()
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) > RATE_WINDOW)
            && self.samples.len() > 2
        {
            self.samples.pop_front();
        }
    }

    /// Event nanoseconds per wall nanosecond over the recent samples.
    fn measured_rate(&self) -> Option<f64> {
        let (&(t0, p0), &(t1, p1)) = (self.samples.front()?, self.samples.back()?);
        let wall = t1.saturating_duration_since(t0);
        (wall >= MIN_HISTORY && p1 > p0).then(|| (p1 - p0) as f64 / wall.as_nanos() as f64)
    }

    /// The wall time left until the window is done, at `now`; `None` while
    /// unknown (as fast as possible, before a rate is measured).
    pub fn eta(&self, now: Instant) -> Option<Duration> {
        let left = match (self.start(), self.position(now)) {
            (Some(_), Some(at)) => self.to - at,
            // Before the first event without `from`: unknown length.
            _ => return None,
        };
        if left <= 0 {
            return Some(Duration::ZERO);
        }
        let rate = match (self.speed, self.measured_rate()) {
            (Some(speed), Some(rate)) => rate.min(speed),
            (Some(speed), None) => speed,
            (None, rate) => rate?,
        };
        Some(Duration::from_secs_f64((left as f64 / rate / 1e9).min(1e9)))
    }
}

fn nanos_to_duration(n: Nanos) -> Duration {
    Duration::from_nanos(n.clamp(0, u64::MAX as i128) as u64)
}

/// A span of time as `45s`, `17m20s`, `1h00m`, `2d03h`.
pub fn span(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// The bar of one replayed source, in event time: `apache [====>    ]
/// 17m20s/1h00m, 12,345 events, 560/s, ETA 26s`.
pub struct ReplayBar {
    clock: Arc<Mutex<EventClock>>,
    bar: ProgressBar,
}

impl ReplayBar {
    /// A bar for the source `name` replaying `[from, to)` at `speed`, its
    /// events counted in `stats`; `None` when bars are off.
    pub fn start(
        name: &str,
        from: Option<Nanos>,
        to: Nanos,
        speed: Option<f64>,
        stats: &Arc<StageStats>,
    ) -> Option<ReplayBar> {
        if !super::enabled() {
            return None;
        }
        let clock = Arc::new(Mutex::new(EventClock::new(from, to, speed)));
        let shown = clock.clone();
        // Drawn first on each line: samples the position for the rate.
        let window = move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
            let now = Instant::now();
            let Ok(mut clock) = shown.lock() else { return };
            clock.sample(now);
            let _ = write!(w, "{}", line(&clock, now));
        };
        let shown = clock.clone();
        let eta = move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
            let Ok(clock) = shown.lock() else { return };
            let eta = clock.eta(Instant::now());
            let _ = write!(w, "{}", eta.map_or_else(|| "-".to_string(), span));
        };
        let style = ProgressStyle::with_template("{prefix} {window}, {events}, ETA {replay_eta}")
            .ok()?
            .with_key("window", window)
            .with_key("events", super::events_key(stats))
            .with_key("replay_eta", eta);
        let bar = ProgressBar::no_length()
            .with_style(style)
            .with_prefix(name.to_string());
        let bar = super::bars().add(bar);
        bar.enable_steady_tick(super::REDRAW);
        Some(ReplayBar { clock, bar })
    }

    /// Passes one of the pacer's facts to the clock.
    pub fn update(&self, f: impl FnOnce(&mut EventClock)) {
        if let Ok(mut clock) = self.clock.lock() {
            f(&mut clock);
        }
    }
}

impl Drop for ReplayBar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// `[=======>            ] 17m20s/1h00m`: the bar and the event time
/// done of the window's.
pub fn line(clock: &EventClock, now: Instant) -> String {
    let done = (clock.fraction(now) * BAR_WIDTH as f64).round() as usize;
    let done = done.min(BAR_WIDTH);
    let mut bar = "=".repeat(done);
    if done < BAR_WIDTH {
        bar.push('>');
        bar.push_str(&" ".repeat(BAR_WIDTH - done - 1));
    }
    let at = match (clock.start(), clock.position(now)) {
        (Some(s), Some(p)) => span(nanos_to_duration(p - s)),
        _ => "-".to_string(),
    };
    let length = clock.length().map_or_else(|| "-".to_string(), span);
    format!("[{bar}] {at}/{length}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Nanos = 1_000_000_000;
    /// 2005-12-04T06:00:00Z.
    const FROM: Nanos = 1_133_676_000 * S;
    const HOUR: Nanos = 3600 * S;

    fn secs(n: f64) -> Duration {
        Duration::from_secs_f64(n)
    }

    #[test]
    fn an_hour_at_100x_is_36_seconds_whatever_lies_outside_the_window() {
        let w0 = Instant::now();
        let mut c = EventClock::new(Some(FROM), FROM + HOUR, Some(100.0));
        // Before any event (still skipping what lies before `from`): the
        // whole window at its speed.
        assert_eq!(c.eta(w0), Some(secs(36.0)));
        assert_eq!(c.length(), Some(secs(3600.0)));
        c.origin(FROM, w0);
        // 10 s later, on time: 1000 s of event time done, 26 s left.
        let mut now = w0;
        for i in 1..=100 {
            now = w0 + secs(0.1 * i as f64);
            c.sent(FROM + (10.0 * i as f64) as Nanos * S);
            c.sample(now);
        }
        assert_eq!(c.position(now), Some(FROM + 1000 * S));
        let eta = c.eta(now).unwrap().as_secs_f64();
        assert!((eta - 26.0).abs() < 1e-6, "{eta}");
        assert!((c.fraction(now) - 1000.0 / 3600.0).abs() < 1e-9);
        assert_eq!(line(&c, now), "[======>             ] 16m40s/1h00m");
    }

    #[test]
    fn a_gap_in_the_data_moves_the_position_at_the_replay_speed() {
        let w0 = Instant::now();
        let mut c = EventClock::new(Some(FROM), FROM + HOUR, Some(100.0));
        c.origin(FROM, w0);
        c.sent(FROM);
        // The next event is 20 minutes on: the pacer sleeps 12 s for it.
        c.waiting_for(FROM + 1200 * S);
        let mid = w0 + secs(6.0);
        assert_eq!(c.position(mid), Some(FROM + 600 * S));
        assert_eq!(c.eta(mid), Some(secs(30.0)));
        // Never past the batch it sleeps for.
        assert_eq!(c.position(w0 + secs(20.0)), Some(FROM + 1200 * S));
    }

    #[test]
    fn a_replay_held_back_by_the_graph_gets_the_eta_of_its_real_rate() {
        let w0 = Instant::now();
        let mut c = EventClock::new(Some(FROM), FROM + HOUR, Some(100.0));
        c.origin(FROM, w0);
        // The graph takes 50 event-seconds per second, half the speed.
        let mut now = w0;
        for i in 0..=40 {
            now = w0 + secs(0.1 * i as f64);
            c.sent(FROM + (5.0 * i as f64) as Nanos * S);
            c.sample(now);
        }
        let eta = c.eta(now).unwrap().as_secs_f64();
        // 200 s done, 3400 s left at 50/s.
        assert!((eta - 68.0).abs() < 0.5, "{eta}");
    }

    #[test]
    fn without_from_the_window_starts_at_the_first_event_and_ends_at_to() {
        let w0 = Instant::now();
        let mut c = EventClock::new(None, FROM + HOUR, None);
        assert_eq!(c.eta(w0), None);
        assert_eq!(c.length(), None);
        assert_eq!(line(&c, w0), "[>                   ] -/-");
        c.origin(FROM + HOUR / 2, w0);
        assert_eq!(c.length(), Some(secs(1800.0)));
        // As fast as possible: no ETA until a rate is measured.
        assert_eq!(c.eta(w0), None);
        c.sample(w0);
        c.sent(FROM + HOUR / 2 + 900 * S);
        c.sample(w0 + secs(1.0));
        assert_eq!(c.eta(w0 + secs(1.0)), Some(secs(1.0)));
        // Past the end: done, and the bar full.
        c.sent(FROM + 2 * HOUR);
        assert_eq!(c.eta(w0 + secs(2.0)), Some(Duration::ZERO));
        assert!(line(&c, w0 + secs(2.0)).starts_with("[====================] 30m00s/30m00s"));
    }
}
