//! Byte sizes written the way people write them: `"1MiB"`, `"512KiB"`,
//! `"2MB"`, `"65536"`, or a bare TOML integer.

use serde::{Deserialize, Deserializer, de};

/// Largest size accepted: a body of this size is held in memory per
/// request in flight, so it must stay an allocation that can succeed.
pub const MAX_BYTES: usize = 1 << 30;

/// Parses `"1MiB"`-style sizes (units B, KB, KiB, MB, MiB, GB, GiB, any
/// case; none means bytes). The error says what is accepted.
pub fn parse(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| {
        format!("invalid size `{s}`: expected a whole number and a unit, e.g. \"1MiB\"")
    })?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "kib" => 1 << 10,
        "mb" => 1_000_000,
        "mib" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        other => {
            return Err(format!(
                "invalid size unit `{other}` in `{s}`: expected B, KB, KiB, MB, MiB, GB or GiB"
            ));
        }
    };
    n.checked_mul(scale)
        .and_then(|b| usize::try_from(b).ok())
        .ok_or_else(|| format!("invalid size `{s}`: too large"))
}

/// Serde adapter: a string as [`parse`] reads it, or an integer of bytes.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    match Size::deserialize(d)? {
        Size::Bytes(n) => usize::try_from(n).map_err(|_| de::Error::custom("size too large")),
        Size::Text(s) => parse(&s).map_err(de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_errors() {
        assert_eq!(parse("1MiB"), Ok(1 << 20));
        assert_eq!(parse("512 kib"), Ok(512 << 10));
        assert_eq!(parse("2MB"), Ok(2_000_000));
        assert_eq!(parse("100"), Ok(100));
        assert!(parse("1.5MiB").is_err());
        assert!(parse("MiB").is_err());
        assert!(parse("3 parsecs").unwrap_err().contains("unit"));
        assert!(
            parse("99999999999999GiB")
                .unwrap_err()
                .contains("too large")
        );
    }
}
