//! Durations written as strings: `"250ms"`, `"30s"`, `"5m"`, `"1h"`, `"1.5s"`.

use std::time::Duration;

use serde::{Deserialize, Deserializer, de};

use crate::kit::limits::MAX_DURATION;

/// Parses a duration string; the error says what is accepted.
pub fn parse(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("invalid duration `{s}`: add a unit, e.g. \"{s}s\" or \"{s}ms\""))?;
    let (num, unit) = s.split_at(split);
    let value: f64 = num.parse().map_err(|_| {
        format!("invalid duration `{s}`: expected a number followed by ms, s, m or h")
    })?;
    let scale = match unit.trim() {
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "invalid duration unit `{other}` in `{s}`: expected us, ms, s, m or h"
            ));
        }
    };
    let d = Duration::try_from_secs_f64(value * scale)
        .map_err(|e| format!("invalid duration `{s}`: {e}"))?;
    if d > MAX_DURATION {
        return Err(format!(
            "invalid duration `{s}`: the longest accepted is 365 days (\"8760h\")"
        ));
    }
    Ok(d)
}

/// Serde adapter: `#[serde(deserialize_with = "duration::deserialize")]`.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    parse(&s).map_err(de::Error::custom)
}

/// Serde adapter for an optional duration.
pub fn deserialize_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_units() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
        assert!(parse("30").unwrap_err().contains("add a unit"));
        assert!(parse("3 weeks").is_err());
        assert_eq!(parse("8760h"), Ok(MAX_DURATION));
        for bad in [
            "99999999999999999999s",
            "8761h",
            "-1s",
            "nans",
            "infs",
            "1e3s",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
