//! Event timestamps: reading an event's time from its timestamp field, and
//! the `from`/`to` bounds.
//!
//! Timestamps are read from one top-level field: an RFC 3339 string
//! (`"2024-05-01T12:00:00.250Z"`; without an offset it is taken as UTC), a
//! number of seconds or milliseconds since the Unix epoch, or a string in
//! `timestamp_format` (strftime-style, e.g. `"%d/%b/%Y:%H:%M:%S %z"`). A
//! number whose magnitude is at least [`MILLIS_FROM`] (1e11) is taken as
//! milliseconds, a smaller one as seconds: 1e11 s is the year 5138, 1e11 ms
//! is March 1973, so real data of either kind falls on the right side.

use jaq_json::Val;

use super::config::{Bound, Replay};
use crate::kit::codec::Codec;
use crate::kit::event::Event;

/// Magnitude from which an epoch number is milliseconds, not seconds.
pub const MILLIS_FROM: f64 = 1e11;

/// A point in time: nanoseconds since the Unix epoch.
pub type Nanos = i128;

/// Nanoseconds in a second.
pub(super) const NANOS_PER_SEC: Nanos = 1_000_000_000;

impl Replay {
    /// A `from`/`to` bound as a point in time.
    pub(super) fn bound(&self, bound: &Bound) -> Result<Nanos, String> {
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

#[cfg(test)]
mod tests {
    use super::super::config::ReplayConfig;
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
