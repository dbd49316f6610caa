//! [`CharSet`]: one character class of a pattern (`\d`, `[^:]`, `.`, `\s`,
//! …) in the form the straight-line matcher ([`super::plan`]) scans with.
//!
//! ASCII membership is one bit test; other characters are looked up in the
//! class's sorted ranges. A class that holds every non-ASCII character and
//! lacks at most three ASCII ones (`[^:]`, `.`, `[^\]]`) is scanned with
//! `memchr` for those bytes instead. Every position a scan returns lies on a
//! character boundary of the `&str` it scans.

use regex_syntax::hir::ClassUnicode;

/// A set of characters, built from a `regex-syntax` Unicode class.
#[derive(Debug, Clone)]
pub(super) struct CharSet {
    /// Bit `b` set: ASCII byte `b` is in the set.
    ascii: u128,
    /// The non-ASCII part, as sorted, disjoint inclusive ranges.
    ranges: Box<[(u32, u32)]>,
    /// Every non-ASCII character is in the set: a scan need not decode.
    all_non_ascii: bool,
    /// When `all_non_ascii` and only one to three ASCII bytes are missing:
    /// those bytes, for `memchr`.
    stops: Option<Stops>,
}

/// The ASCII bytes a `memchr` scan stops at.
#[derive(Debug, Clone, Copy)]
enum Stops {
    One(u8),
    Two(u8, u8),
    Three(u8, u8, u8),
}

impl CharSet {
    /// The set of the characters of `class`.
    pub(super) fn new(class: &ClassUnicode) -> CharSet {
        let mut ascii = 0u128;
        let mut ranges = Vec::new();
        for r in class.ranges() {
            let (a, b) = (u32::from(r.start()), u32::from(r.end()));
            for c in a..=b.min(0x7f) {
                ascii |= 1 << c;
            }
            if b >= 0x80 {
                ranges.push((a.max(0x80), b));
            }
        }
        let all_non_ascii = ranges.as_slice() == [(0x80, 0x10ffff)];
        let missing: Vec<u8> = (0u8..0x80).filter(|&c| ascii >> c & 1 == 0).collect();
        let stops = match (all_non_ascii, missing.as_slice()) {
            (true, &[a]) => Some(Stops::One(a)),
            (true, &[a, b]) => Some(Stops::Two(a, b)),
            (true, &[a, b, c]) => Some(Stops::Three(a, b, c)),
            _ => None,
        };
        CharSet {
            ascii,
            ranges: ranges.into(),
            all_non_ascii,
            stops,
        }
    }

    /// True when the set holds none of the characters JSON makes us escape
    /// (controls, DEL, `"` and `\`): text made of it is copied as it is.
    pub(super) fn json_plain(&self) -> bool {
        const ESCAPED: u128 = ((1 << 0x20) - 1) | (1 << b'"') | (1 << b'\\') | (1 << 0x7f);
        self.ascii & ESCAPED == 0
    }

    fn has_ascii(&self, b: u8) -> bool {
        self.ascii >> b & 1 == 1
    }

    /// Whether `c` is in the set.
    pub(super) fn contains(&self, c: char) -> bool {
        let c = u32::from(c);
        if c < 0x80 {
            return self.ascii >> c & 1 == 1;
        }
        if self.all_non_ascii {
            return true;
        }
        self.ranges
            .binary_search_by(|&(a, b)| {
                if b < c {
                    std::cmp::Ordering::Less
                } else if a > c {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .is_ok()
    }

    /// The first position in `from..to` whose character is not in the set,
    /// or `to`. `from` and `to` are character boundaries of `s`.
    pub(super) fn scan(&self, s: &str, from: usize, to: usize) -> usize {
        let Some(b) = s.as_bytes().get(from..to) else {
            return from;
        };
        if let Some(stops) = self.stops {
            let hit = match stops {
                Stops::One(x) => memchr::memchr(x, b),
                Stops::Two(x, y) => memchr::memchr2(x, y, b),
                Stops::Three(x, y, z) => memchr::memchr3(x, y, z, b),
            };
            return hit.map_or(to, |i| from + i);
        }
        let mut i = 0;
        while let Some(&c) = b.get(i) {
            if c < 0x80 {
                if !self.has_ascii(c) {
                    break;
                }
                i += 1;
            } else if self.all_non_ascii {
                // A lead or continuation byte of a character in the set: we
                // stop only on an ASCII byte or at `to`, both boundaries.
                i += 1;
            } else {
                match s.get(from + i..to).and_then(|t| t.chars().next()) {
                    Some(ch) if self.contains(ch) => i += ch.len_utf8(),
                    _ => break,
                }
            }
        }
        from + i
    }

    /// Like [`scan`](Self::scan) to the end of `s`, but stops after `max`
    /// characters; returns the position and the number of characters.
    pub(super) fn scan_counted(&self, s: &str, from: usize, max: u64) -> (usize, u64) {
        let b = s.as_bytes();
        let (mut i, mut n) = (from, 0u64);
        while n < max {
            match b.get(i) {
                None => break,
                Some(&c) if c < 0x80 => {
                    if !self.has_ascii(c) {
                        break;
                    }
                    i += 1;
                }
                Some(_) => match s.get(i..).and_then(|t| t.chars().next()) {
                    Some(ch) if self.contains(ch) => i += ch.len_utf8(),
                    _ => break,
                },
            }
            n += 1;
        }
        (i, n)
    }

    /// The smallest `k` in `floor..=to` such that every character of
    /// `k..to` is in the set (the start of the set's run that ends at `to`,
    /// not before `floor`). `floor` and `to` are boundaries of `s`.
    pub(super) fn rscan(&self, s: &str, floor: usize, to: usize) -> usize {
        let b = s.as_bytes();
        let mut k = to;
        while k > floor {
            match b.get(k - 1) {
                Some(&c) if c < 0x80 => {
                    if !self.has_ascii(c) {
                        break;
                    }
                    k -= 1;
                }
                _ => match s.get(floor..k).and_then(|t| t.chars().next_back()) {
                    Some(ch) if self.contains(ch) => k -= ch.len_utf8(),
                    _ => break,
                },
            }
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pattern: &str) -> CharSet {
        match regex_syntax::parse(pattern).expect("parses").kind() {
            regex_syntax::hir::HirKind::Class(regex_syntax::hir::Class::Unicode(c)) => {
                CharSet::new(c)
            }
            other => panic!("not a class: {other:?}"),
        }
    }

    #[test]
    fn membership_follows_the_class() {
        let ws = set(r"\s");
        for c in [
            ' ', '\t', '\n', '\r', '\u{0b}', '\u{0c}', '\u{85}', '\u{a0}', '\u{3000}',
        ] {
            assert!(ws.contains(c), "{c:?}");
        }
        assert!(!ws.contains('x') && !ws.contains('\u{200b}'));
        let dot = set(".");
        assert!(dot.all_non_ascii && matches!(dot.stops, Some(Stops::One(b'\n'))));
        assert!(!set(r"[^:]").json_plain() && set(r"\d").json_plain());
        let d = set(r"\d");
        assert!(d.contains('٣') && !d.contains('a'));
    }

    #[test]
    fn scans_stop_on_boundaries() {
        let w = set(r"\w");
        let s = "héllo wörld";
        assert_eq!(w.scan(s, 0, s.len()), 6);
        assert_eq!(w.scan_counted(s, 0, 3), (4, 3));
        assert_eq!(w.rscan(s, 0, s.len()), 7);
        let ws = set(r"\s");
        let t = "ab \u{a0}\t\r";
        assert_eq!(ws.rscan(t, 0, t.len()), 2);
        assert_eq!(ws.rscan(t, 5, t.len()), 5);
        assert_eq!(ws.rscan(t, 3, t.len()), 3);
        let colon = set(r"[^:]");
        assert_eq!(colon.scan("añb: c", 0, 7), 4);
    }
}
