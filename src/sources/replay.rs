//! Replays on the `file` source (`replay = { ... }`): events paced by their
//! own timestamps, bounded by `from`/`to`, and several files merged in
//! timestamp order.
//!
//! **Timestamps** are read from one top-level field: an RFC 3339 string
//! (`"2024-05-01T12:00:00.250Z"`; without an offset it is taken as UTC), a
//! number of seconds or milliseconds since the Unix epoch, or a string in
//! `timestamp_format` (strftime-style, e.g. `"%d/%b/%Y:%H:%M:%S %z"`). A
//! number whose magnitude is at least [`MILLIS_FROM`] (1e11) is taken as
//! milliseconds, a smaller one as seconds: 1e11 s is the year 5138, 1e11 ms
//! is March 1973, so real data of either kind falls on the right side.
//!
//! **Pacing**: the first event fixes the origin, and every later event is
//! due at `start + (its time - first time) / speed`. The source sleeps until
//! a *batch* is due, never per event: a batch takes the events whose time
//! lies within [`PACE_QUANTUM`] × `speed` of its first event (and at most the
//! batch size). So events go out at most one quantum early, and a dense
//! stretch of events costs one sleep per batch, not per event.
//!
//! **Determinism**: batch boundaries depend only on the data and the config
//! (never on the clock), and seeded stages draw their randomness per batch,
//! so a replay through ordered sinks gives the same bytes on every run.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use jaq_json::Val;
use serde::Deserialize;
use toml::Spanned;

use tokio::sync::mpsc::UnboundedSender;

use crate::kit::ack::{Ack, AckData, AckToken};
use crate::kit::checkpoint::FilePosition;
use crate::kit::codec::Codec;
use crate::kit::event::Event;
use crate::kit::limits::Problem;
use crate::sources::SourceContext;
use crate::sources::file::{Inputs, OpenFiles};
use crate::sources::lines::Position;

mod input;
mod merge;
use input::{Item, Opener, Taken};
pub use merge::MAX_OPEN;
use merge::merged;

/// Magnitude from which an epoch number is milliseconds, not seconds.
pub const MILLIS_FROM: f64 = 1e11;

/// Longest stretch of wall time one paced batch spans: events are sent at
/// most this much before their due time. 5 ms is below what a person or a
/// rate-sensitive consumer notices, and long enough that a busy replay
/// sleeps at most 200 times a second.
pub const PACE_QUANTUM: Duration = Duration::from_millis(5);

/// A point in time: nanoseconds since the Unix epoch.
pub type Nanos = i128;

const NANOS_PER_SEC: Nanos = 1_000_000_000;

/// Settings of `replay = { ... }` on a `file` source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayConfig {
    /// The top-level field holding each event's time.
    pub timestamp_field: String,
    /// strftime-style format of string timestamps (default: RFC 3339).
    #[serde(default)]
    pub timestamp_format: Option<Spanned<String>>,
    /// 1.0 is real time, 10.0 ten times faster; absent: as fast as possible.
    #[serde(default)]
    pub speed: Option<Spanned<f64>>,
    /// Earliest event time kept (inclusive).
    #[serde(default)]
    pub from: Option<Spanned<Bound>>,
    /// Events at or after this time are left out (exclusive).
    #[serde(default)]
    pub to: Option<Spanned<Bound>>,
    /// How several files are read: in name order (default), or merged by
    /// timestamp.
    #[serde(default)]
    pub merge: Merge,
}

/// How a replay of several files orders them.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Merge {
    /// One file after the other, in name order.
    #[default]
    Name,
    /// Interleaved: always the earliest next event of any file (each file
    /// is expected to be in time order; ties go to the file first by name).
    Timestamp,
}

/// A `from`/`to` bound as written: an RFC 3339 string (or one in
/// `timestamp_format`), a TOML date-time, or epoch seconds/milliseconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Bound {
    /// Epoch seconds or milliseconds.
    Int(i64),
    /// Epoch seconds (or milliseconds) with a fraction.
    Float(f64),
    /// A TOML date-time written without quotes.
    Datetime(toml::value::Datetime),
    /// A date-time string.
    Text(String),
}

impl ReplayConfig {
    /// Problems in the settings, each at the key it is about: a speed that
    /// is not a positive number, bounds that do not parse or are the wrong
    /// way round, a format jiff does not understand.
    pub fn validate(&self) -> Vec<Problem> {
        self.compile().err().unwrap_or_default()
    }

    /// The replay, ready to read timestamps, or every problem found.
    pub fn compile(&self) -> Result<Replay, Vec<Problem>> {
        let mut problems = Vec::new();
        if self.timestamp_field.is_empty() {
            problems.push((
                None,
                "`replay.timestamp_field` is empty: name the field holding each event's time"
                    .to_string(),
            ));
        }
        if let Some(format) = &self.timestamp_format {
            // jiff reports unknown directives when formatting.
            let probe = jiff::Timestamp::UNIX_EPOCH.to_zoned(jiff::tz::TimeZone::UTC);
            if let Err(e) = jiff::fmt::strtime::format(format.get_ref().as_bytes(), &probe) {
                problems.push((
                    Some(format.span()),
                    format!(
                        "invalid `replay.timestamp_format` `{}`: {e}",
                        format.get_ref()
                    ),
                ));
            }
        }
        if let Some(speed) = &self.speed
            && !(speed.get_ref().is_finite() && *speed.get_ref() > 0.0)
        {
            problems.push((
                Some(speed.span()),
                format!(
                    "`replay.speed` must be a positive number (1.0 = real time, 10.0 = ten times faster), got {}; leave it out to replay as fast as possible",
                    speed.get_ref()
                ),
            ));
        }
        let mut replay = Replay {
            field: self.timestamp_field.clone(),
            format: self.timestamp_format.as_ref().map(|f| f.get_ref().clone()),
            speed: self.speed.as_ref().map(|s| *s.get_ref()),
            from: None,
            to: None,
            merge: self.merge,
        };
        for (key, bound) in [("from", &self.from), ("to", &self.to)] {
            let Some(bound) = bound else { continue };
            match replay.bound(bound.get_ref()) {
                Ok(t) if key == "from" => replay.from = Some(t),
                Ok(t) => replay.to = Some(t),
                Err(e) => problems.push((Some(bound.span()), format!("`replay.{key}`: {e}"))),
            }
        }
        if let (Some(from), Some(to)) = (replay.from, replay.to)
            && from >= to
        {
            problems.push((
                self.from.as_ref().map(Spanned::span),
                "`replay.from` must be before `replay.to` (from is inclusive, to exclusive)"
                    .to_string(),
            ));
        }
        if problems.is_empty() {
            Ok(replay)
        } else {
            Err(problems)
        }
    }
}

/// A compiled replay: how to read an event's time, what to keep, how fast.
#[derive(Debug, Clone)]
pub struct Replay {
    field: String,
    format: Option<String>,
    speed: Option<f64>,
    from: Option<Nanos>,
    to: Option<Nanos>,
    merge: Merge,
}

impl Replay {
    fn bound(&self, bound: &Bound) -> Result<Nanos, String> {
        match bound {
            Bound::Int(n) => Ok(epoch_int(i128::from(*n))),
            Bound::Float(f) => epoch_float(*f),
            Bound::Datetime(d) => parse_text(&d.to_string(), None),
            // RFC 3339 first, so bounds read the same whatever the data's format.
            Bound::Text(s) => parse_text(s, None).or_else(|e| match &self.format {
                Some(f) => parse_text(s, Some(f)),
                None => Err(e),
            }),
        }
    }

    /// The time of `event`, or why it has none.
    pub fn timestamp(&self, event: &mut Event) -> Result<Nanos, String> {
        let field = &self.field;
        // Canonical raw text: look the field up without parsing the event.
        if let Some(raw) = event.raw()
            && raw.first() == Some(&b'{')
            && !field.contains(['"', '\\'])
        {
            return match crate::kit::json::get(raw, field.as_bytes()) {
                Some(v) => self.parse_raw(v),
                None => Err(format!("no timestamp: the event has no field `{field}`")),
            };
        }
        let value = event.value()?;
        let Val::Obj(map) = value else {
            return Err(format!(
                "no timestamp: the event is not an object with a field `{field}`"
            ));
        };
        match map.get(&Val::from(field.clone())) {
            Some(v) => {
                let mut text = Vec::new();
                crate::kit::codec::encode(Codec::Json, v, &mut text);
                text.pop(); // the newline
                self.parse_raw(&text)
            }
            None => Err(format!("no timestamp: the event has no field `{field}`")),
        }
    }

    /// Parses the raw JSON text of a timestamp value.
    fn parse_raw(&self, raw: &[u8]) -> Result<Nanos, String> {
        let field = &self.field;
        let shown = || String::from_utf8_lossy(&raw[..raw.len().min(64)]).into_owned();
        match raw.first() {
            Some(b'"') => {
                let owned;
                let text = if raw.contains(&b'\\') {
                    owned = serde_json::from_slice::<String>(raw).map_err(|e| e.to_string())?;
                    owned.as_str()
                } else {
                    std::str::from_utf8(&raw[1..raw.len() - 1]).map_err(|e| e.to_string())?
                };
                parse_text(text, self.format.as_deref())
                    .map_err(|e| format!("unparsable timestamp in `{field}`: {e}"))
            }
            Some(b'-' | b'0'..=b'9') => {
                parse_number(raw).map_err(|e| format!("unparsable timestamp in `{field}`: {e}"))
            }
            _ => Err(format!(
                "unparsable timestamp in `{field}`: {} is not a date-time string or an epoch number",
                shown()
            )),
        }
    }

    /// True when `t` lies in `[from, to)`.
    fn keeps(&self, t: Nanos) -> bool {
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|e| t < e)
    }
}

/// Epoch seconds, or milliseconds from [`MILLIS_FROM`] on.
fn epoch_int(n: i128) -> Nanos {
    if (n.unsigned_abs() as f64) >= MILLIS_FROM {
        n * 1_000_000
    } else {
        n * NANOS_PER_SEC
    }
}

fn epoch_float(f: f64) -> Result<Nanos, String> {
    if !f.is_finite() {
        return Err(format!("{f} is not a time"));
    }
    let secs = if f.abs() >= MILLIS_FROM { f / 1e3 } else { f };
    let nanos = secs * 1e9;
    if nanos.abs() > 1e30 {
        return Err(format!("{f} is out of range"));
    }
    Ok(nanos as Nanos)
}

/// An epoch number as JSON text. Plain decimals are converted exactly
/// (`1700000000.123` is 123 ms past the second, to the nanosecond); only
/// exponent forms go through floating point.
fn parse_number(text: &[u8]) -> Result<Nanos, String> {
    let s = std::str::from_utf8(text).map_err(|e| e.to_string())?;
    if let Some(t) = parse_decimal(s) {
        return Ok(t);
    }
    match s.parse::<f64>() {
        Ok(f) => epoch_float(f),
        Err(_) => Err(format!("`{s}` is not a number")),
    }
}

/// `[-]DIGITS[.DIGITS]` as epoch seconds or milliseconds, exactly.
fn parse_decimal(s: &str) -> Option<Nanos> {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 20 || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    let whole: i128 = whole.parse().ok()?;
    // Seconds below MILLIS_FROM, milliseconds from there on.
    let (unit, fraction_digits) = if whole as f64 >= MILLIS_FROM {
        (1_000_000, 6)
    } else {
        (NANOS_PER_SEC, 9)
    };
    let mut frac: i128 = 0;
    for i in 0..fraction_digits {
        let d = fraction
            .as_bytes()
            .get(i)
            .map_or(0, |b| i128::from(b - b'0'));
        frac = frac * 10 + d;
    }
    let t = whole * unit + frac;
    Some(if negative { -t } else { t })
}

/// A date-time string: in `format` when given, else RFC 3339 (a date-time
/// without an offset is UTC), or a number of epoch seconds/milliseconds.
fn parse_text(s: &str, format: Option<&str>) -> Result<Nanos, String> {
    if let Some(format) = format {
        let tm = jiff::fmt::strtime::parse(format.as_bytes(), s.as_bytes())
            .map_err(|e| format!("`{s}` does not match `{format}`: {e}"))?;
        let ts = match tm.to_timestamp() {
            Ok(ts) => ts,
            Err(_) => tm
                .to_datetime()
                .and_then(|dt| jiff::tz::Offset::UTC.to_timestamp(dt))
                .map_err(|e| format!("`{s}` does not match `{format}`: {e}"))?,
        };
        return Ok(ts.as_nanosecond());
    }
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Ok(ts.as_nanosecond());
    }
    if let Ok(dt) = s.parse::<jiff::civil::DateTime>()
        && let Ok(ts) = jiff::tz::Offset::UTC.to_timestamp(dt)
    {
        return Ok(ts.as_nanosecond());
    }
    if let Some(t) = parse_decimal(s) {
        return Ok(t);
    }
    Err(format!(
        "`{s}` is not an RFC 3339 date-time (like 2024-05-01T12:00:00Z) or epoch seconds/milliseconds; set `replay.timestamp_format` for other forms"
    ))
}

/// Reads the files of `files` as a replay on the current (blocking) thread,
/// sending batches through `ctx`: from the checkpoint in `resume` when there
/// is one, with acknowledgements to `tx` when deliveries are tracked.
/// Returns once the input ends, shutdown is asked, or nothing downstream is
/// left.
pub fn run(
    files: &OpenFiles,
    replay: &Replay,
    resume: &BTreeMap<String, FilePosition>,
    tx: Option<UnboundedSender<AckToken>>,
    inputs: &Inputs,
    ctx: &mut SourceContext,
    handle: &tokio::runtime::Handle,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let opener = Opener {
        files,
        resume,
        inputs,
    };
    let mut pacer = Pacer::new(replay, tx, ctx, handle);
    let read = match replay.merge {
        Merge::Name => by_name(&opener, &mut pacer),
        Merge::Timestamp => merged(&opener, &mut pacer),
    };
    if read.is_ok() {
        pacer.flush();
    }
    // Busy: the time spent reading and decoding, not waiting on the graph
    // (backpressure) or on the clock (pacing).
    let busy = started
        .elapsed()
        .saturating_sub(pacer.waited_on_clock + pacer.waited_on_graph);
    let skipped = pacer.skipped;
    ctx.stats.add_busy(busy);
    if skipped > 0 {
        ctx.stats
            .skipped
            .fetch_add(skipped, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(
            "{}: {skipped} events outside replay.from/to were left out",
            ctx.name
        );
    }
    read
}

/// Files one after the other, in the order given (name order).
fn by_name(opener: &Opener<'_>, pacer: &mut Pacer) -> anyhow::Result<()> {
    for path in &opener.files.files {
        if pacer.halted() {
            break;
        }
        let mut input = opener.open(path, pacer.ctx)?;
        while let Some(item) = input.next(pacer.replay, pacer.ctx)? {
            pacer.push(item);
            if pacer.halted() {
                break;
            }
        }
    }
    Ok(())
}

/// Cuts the replayed events into batches and sends each when it is due.
struct Pacer<'a> {
    replay: &'a Replay,
    ctx: &'a mut SourceContext,
    handle: &'a tokio::runtime::Handle,
    /// Where acknowledgements go, when deliveries are tracked.
    tx: Option<UnboundedSender<AckToken>>,
    /// Next batch number of each input (by its index in the source's
    /// inputs): commits are contiguous per input.
    next_seq: HashMap<usize, u64>,
    /// Event-time span of one paced batch: the quantum at this speed.
    span: Nanos,
    batch_events: usize,
    /// The first event's time and the moment it was taken.
    origin: Option<(Nanos, Instant)>,
    good: Vec<Event>,
    bad: Vec<Event>,
    /// The input of each event in `good`, then in `bad`.
    good_from: Vec<usize>,
    bad_from: Vec<usize>,
    /// Per input in the batch: how far the batch takes it.
    ends: Vec<Position>,
    /// Time of the batch's first timed event.
    first: Option<Nanos>,
    /// Set once shutdown is asked or nothing downstream is left.
    halted: bool,
    skipped: u64,
    waited_on_clock: Duration,
    waited_on_graph: Duration,
}

impl<'a> Pacer<'a> {
    fn new(
        replay: &'a Replay,
        tx: Option<UnboundedSender<AckToken>>,
        ctx: &'a mut SourceContext,
        handle: &'a tokio::runtime::Handle,
    ) -> Pacer<'a> {
        let span = replay
            .speed
            .map_or(0, |s| (PACE_QUANTUM.as_nanos() as f64 * s) as Nanos);
        Pacer {
            replay,
            batch_events: ctx.batch_events.max(1),
            ctx,
            handle,
            tx,
            next_seq: HashMap::new(),
            span,
            origin: None,
            good: Vec::new(),
            bad: Vec::new(),
            good_from: Vec::new(),
            bad_from: Vec::new(),
            ends: Vec::new(),
            first: None,
            halted: false,
            skipped: 0,
            waited_on_clock: Duration::ZERO,
            waited_on_graph: Duration::ZERO,
        }
    }

    /// True once reading should stop.
    fn halted(&self) -> bool {
        self.halted || self.ctx.shutdown.is_shutdown()
    }

    /// Adds one item to the batch, sending the batch first when the item
    /// lies beyond it, and after when it is full.
    fn push(&mut self, taken: Taken) {
        let Taken { item, position } = taken;
        match item {
            Item::Error(e) => {
                self.bad.push(e);
                self.bad_from.push(position.file);
            }
            Item::Timed(t, e) => {
                if !self.replay.keeps(t) {
                    // Committed with the next batch from its input.
                    self.skipped += 1;
                    return;
                }
                // A paced batch ends where the next event is more than one
                // quantum after its first: a rule on the data alone, so the
                // batches are the same on every run.
                if let Some(first) = self.first
                    && self.replay.speed.is_some()
                    && t - first > self.span
                {
                    self.flush();
                }
                self.origin.get_or_insert_with(|| (t, Instant::now()));
                self.first.get_or_insert(t);
                self.good.push(e);
                self.good_from.push(position.file);
            }
        }
        match self.ends.iter_mut().find(|p| p.file == position.file) {
            Some(end) => *end = position,
            None => self.ends.push(position),
        }
        if self.good.len() + self.bad.len() >= self.batch_events {
            self.flush();
        }
    }

    /// Sends the batch once it is due.
    fn flush(&mut self) {
        if self.halted || (self.good.is_empty() && self.bad.is_empty()) {
            return;
        }
        if let (Some(speed), Some((t0, w0)), Some(first)) =
            (self.replay.speed, self.origin, self.first)
        {
            let ahead_nanos = (first - t0).max(0) as f64 / speed;
            let due = w0 + Duration::from_secs_f64((ahead_nanos / 1e9).min(1e12));
            let now = Instant::now();
            if due > now {
                let mut shutdown = self.ctx.shutdown.clone();
                self.handle.block_on(async {
                    tokio::select! {
                        () = tokio::time::sleep_until(tokio::time::Instant::from_std(due)) => {}
                        () = shutdown.recv() => {}
                    }
                });
                self.waited_on_clock += now.elapsed();
            }
        }
        if self.ctx.shutdown.is_shutdown() {
            // Not due yet and not accepted into the graph: left unread (a
            // checkpoint resumes before it).
            self.halted = true;
            return;
        }
        self.first = None;
        let mut good = std::mem::replace(&mut self.good, Vec::with_capacity(self.batch_events));
        let mut bad = std::mem::take(&mut self.bad);
        self.acknowledge(&mut good, &mut bad);
        let sending = Instant::now();
        let sent = self.handle.block_on(self.ctx.emit(good, bad));
        self.waited_on_graph += sending.elapsed();
        self.halted = sent.is_err();
    }

    /// Gives every event of the batch the handle of its input's part of
    /// the batch, which commits that input up to where the batch took it.
    fn acknowledge(&mut self, good: &mut [Event], bad: &mut [Event]) {
        let ends = std::mem::take(&mut self.ends);
        let (good_from, bad_from) = (
            std::mem::take(&mut self.good_from),
            std::mem::take(&mut self.bad_from),
        );
        let Some(tx) = &self.tx else { return };
        let acks: Vec<(usize, Ack)> = ends
            .iter()
            .map(|p| {
                let seq = self.next_seq.entry(p.file).or_insert(0);
                let data = AckData::Offset {
                    file: p.file,
                    end: p.offset,
                    line: p.line,
                };
                let ack = Ack::new(*seq, data, tx);
                *seq += 1;
                (p.file, ack)
            })
            .collect();
        let events = good
            .iter_mut()
            .zip(good_from)
            .chain(bad.iter_mut().zip(bad_from));
        for (event, file) in events {
            event.ack = acks
                .iter()
                .find(|(f, _)| *f == file)
                .map(|(_, a)| a.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: &str, format: Option<&str>) -> f64 {
        parse_text(s, format).unwrap() as f64 / 1e9
    }

    #[test]
    fn rfc3339_with_and_without_offset() {
        assert_eq!(secs("1970-01-01T00:00:10Z", None), 10.0);
        assert_eq!(secs("1970-01-01T01:00:10+01:00", None), 10.0);
        assert_eq!(secs("1970-01-01T00:00:10.5", None), 10.5);
        assert!(parse_text("yesterday", None).is_err());
    }

    #[test]
    fn epoch_numbers_are_seconds_below_1e11_and_milliseconds_above() {
        assert_eq!(
            parse_number(b"1700000000").unwrap(),
            1_700_000_000 * NANOS_PER_SEC
        );
        assert_eq!(
            parse_number(b"1700000000123").unwrap(),
            1_700_000_000_123 * 1_000_000
        );
        assert_eq!(parse_number(b"1.5").unwrap(), 1_500_000_000);
        assert_eq!(parse_number(b"-1.5").unwrap(), -1_500_000_000);
        assert_eq!(parse_number(b"1.5e3").unwrap(), 1_500 * NANOS_PER_SEC);
        assert_eq!(
            parse_number(b"1700000000.123456789").unwrap(),
            1_700_000_000_123_456_789
        );
        assert_eq!(
            parse_number(b"1700000000123.0").unwrap(),
            1_700_000_000_123_000_000
        );
        assert_eq!(secs("1700000000", None), 1.7e9);
    }

    #[test]
    fn strftime_formats_without_offset_are_utc() {
        let f = Some("%a %b %d %H:%M:%S %Y");
        assert_eq!(secs("Sun Dec 04 04:47:44 2005", f), 1_133_671_664.0);
        let f = Some("%d/%b/%Y:%H:%M:%S %z");
        assert_eq!(secs("04/Dec/2005:05:47:44 +0100", f), 1_133_671_664.0);
        assert!(parse_text("2005-12-04", Some("%a %b %d %H:%M:%S %Y")).is_err());
    }

    #[test]
    fn bounds_must_be_ordered_and_speed_positive() {
        let parse = |s: &str| -> ReplayConfig { toml::from_str(s).unwrap() };
        let ok = parse(
            "timestamp_field = 'ts'\nfrom = 2024-01-01T00:00:00Z\nto = '2024-01-02T00:00:00Z'\nspeed = 10",
        );
        let r = ok.compile().unwrap();
        assert_eq!(r.speed, Some(10.0));
        assert_eq!(r.from, Some(1_704_067_200 * NANOS_PER_SEC));
        assert!(r.keeps(1_704_067_200 * NANOS_PER_SEC));
        assert!(!r.keeps(1_704_153_600 * NANOS_PER_SEC));
        let bad = parse("timestamp_field = 'ts'\nfrom = 20\nto = 10\nspeed = 0.0");
        assert_eq!(bad.compile().unwrap_err().len(), 2);
        let bad = parse("timestamp_field = 'ts'\ntimestamp_format = '%Y %J'");
        assert_eq!(bad.compile().unwrap_err().len(), 1);
    }

    #[test]
    fn timestamps_from_raw_and_parsed_events() {
        let r = toml::from_str::<ReplayConfig>("timestamp_field = 'ts'")
            .unwrap()
            .compile()
            .unwrap();
        let mut raw = Event::from_raw(bytes::Bytes::from_static(br#"{"ts":12,"a":1}"#), 1);
        assert_eq!(r.timestamp(&mut raw).unwrap(), 12 * NANOS_PER_SEC);
        let mut parsed = Event::new(
            jaq_json::read::parse_single(br#"{ "ts": "1970-01-01T00:00:12Z" }"#).unwrap(),
        );
        assert_eq!(r.timestamp(&mut parsed).unwrap(), 12 * NANOS_PER_SEC);
        let mut missing = Event::from_raw(bytes::Bytes::from_static(br#"{"t":1}"#), 1);
        assert!(
            r.timestamp(&mut missing)
                .unwrap_err()
                .contains("no field `ts`")
        );
        let mut wrong = Event::from_raw(bytes::Bytes::from_static(br#"{"ts":true}"#), 1);
        assert!(r.timestamp(&mut wrong).is_err());
    }
}
