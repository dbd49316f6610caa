//! The settings of `replay = { ... }` ([`ReplayConfig`]) and their
//! validation, which compiles them into a [`Replay`]: every problem found
//! at once, each at the key it is about.

use serde::Deserialize;
use toml::Spanned;

use super::time::Nanos;
use crate::kit::limits::Problem;

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
    /// The top-level field holding each event's time.
    pub(super) field: String,
    /// strftime-style format of string timestamps (`None`: RFC 3339).
    pub(super) format: Option<String>,
    /// Pace relative to real time (`None`: as fast as possible).
    pub(super) speed: Option<f64>,
    /// Earliest event time kept (inclusive).
    pub(super) from: Option<Nanos>,
    /// Events at or after this time are left out.
    pub(super) to: Option<Nanos>,
    /// How several files are ordered.
    pub(super) merge: Merge,
}

impl Replay {
    /// True when `t` lies in `[from, to)`.
    pub(super) fn keeps(&self, t: Nanos) -> bool {
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|e| t < e)
    }
}

#[cfg(test)]
mod tests {
    use super::super::time::NANOS_PER_SEC;
    use super::*;

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
}
