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
    /// Per byte value: [`IN`] or [`OUT`] for an ASCII byte; for a byte of a
    /// non-ASCII character, [`IN`] when every non-ASCII character is in the
    /// set (a scan need not decode), else [`DECODE`].
    table: [u8; 256],
    /// The non-ASCII part, as sorted, disjoint inclusive ranges.
    ranges: Box<[(u32, u32)]>,
    /// When every non-ASCII character is in the set and only one to three
    /// ASCII bytes are not: those bytes, for `memchr`.
    stops: Option<Stops>,
}

const OUT: u8 = 0;
const IN: u8 = 1;
const DECODE: u8 = 2;

/// The ASCII bytes a `memchr` scan stops at.
#[derive(Debug, Clone, Copy)]
enum Stops {
    One(u8),
    Two(u8, u8),
    Three(u8, u8, u8),
}

impl Stops {
    /// The first index of a stop byte in `hay`. (Tried: eight bytes at a
    /// time with integer arithmetic before `memchr` on short fields; slower
    /// in `benches/parse_regex.rs`.)
    fn find(self, hay: &[u8]) -> Option<usize> {
        match self {
            Stops::One(x) => memchr::memchr(x, hay),
            Stops::Two(x, y) => memchr::memchr2(x, y, hay),
            Stops::Three(x, y, z) => memchr::memchr3(x, y, z, hay),
        }
    }
}

impl CharSet {
    /// The set of the characters of `class`.
    pub(super) fn new(class: &ClassUnicode) -> CharSet {
        let mut table = [OUT; 256];
        let mut ranges = Vec::new();
        for r in class.ranges() {
            let (a, b) = (u32::from(r.start()), u32::from(r.end()));
            for c in a..=b.min(0x7f) {
                table[c as usize] = IN;
            }
            if b >= 0x80 {
                ranges.push((a.max(0x80), b));
            }
        }
        let all_non_ascii = ranges.as_slice() == [(0x80, 0x10ffff)];
        table[0x80..].fill(if all_non_ascii { IN } else { DECODE });
        let missing: Vec<u8> = (0u8..0x80)
            .filter(|&c| table[usize::from(c)] == OUT)
            .collect();
        let stops = match (all_non_ascii, missing.as_slice()) {
            (true, &[a]) => Some(Stops::One(a)),
            (true, &[a, b]) => Some(Stops::Two(a, b)),
            (true, &[a, b, c]) => Some(Stops::Three(a, b, c)),
            _ => None,
        };
        CharSet {
            table,
            ranges: ranges.into(),
            stops,
        }
    }

    /// True when the set holds none of the characters JSON makes us escape
    /// (controls, DEL, `"` and `\`): text made of it is copied as it is.
    pub(super) fn json_plain(&self) -> bool {
        (0u8..0x80)
            .filter(|&b| b < 0x20 || b == b'"' || b == b'\\' || b == 0x7f)
            .all(|b| self.table[usize::from(b)] == OUT)
    }

    /// Whether `c` is in the set.
    pub(super) fn contains(&self, c: char) -> bool {
        let c = u32::from(c);
        if c < 0x80 {
            return self.table[c as usize] == IN;
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

    /// Whether the character that starts at byte `i` of `s` (before `to`)
    /// is in the set, and its length.
    fn decode(&self, s: &str, i: usize, to: usize) -> Option<usize> {
        match s.get(i..to).and_then(|t| t.chars().next()) {
            Some(ch) if self.contains(ch) => Some(ch.len_utf8()),
            _ => None,
        }
    }

    /// The first position in `from..to` whose character is not in the set,
    /// or `to`. `from` and `to` are character boundaries of `s`.
    pub(super) fn scan(&self, s: &str, from: usize, to: usize) -> usize {
        let Some(b) = s.as_bytes().get(..to) else {
            return from;
        };
        if let Some(stops) = self.stops {
            let hay = b.get(from..).unwrap_or_default();
            return stops.find(hay).map_or(to, |i| from + i);
        }
        let mut i = from;
        // IN for every byte of a non-ASCII character too when they are all
        // in the set: we then stop only at an ASCII byte or at `to`, both
        // boundaries.
        while let Some(&c) = b.get(i) {
            match self.table[usize::from(c)] {
                IN => i += 1,
                DECODE => match self.decode(s, i, to) {
                    Some(n) => i += n,
                    None => break,
                },
                _ => break,
            }
        }
        i
    }

    /// Like [`scan`](Self::scan) to the end of `s`, but stops after `max`
    /// characters; returns the position and the number of characters.
    pub(super) fn scan_counted(&self, s: &str, from: usize, max: u64) -> (usize, u64) {
        let b = s.as_bytes();
        let (mut i, mut n) = (from, 0u64);
        while n < max {
            let Some(&c) = b.get(i) else { break };
            if c < 0x80 {
                if self.table[usize::from(c)] != IN {
                    break;
                }
                i += 1;
            } else {
                match self.decode(s, i, s.len()) {
                    Some(len) => i += len,
                    None => break,
                }
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
            let Some(&c) = b.get(k - 1) else { break };
            if c < 0x80 {
                if self.table[usize::from(c)] != IN {
                    break;
                }
                k -= 1;
            } else {
                match s.get(floor..k).and_then(|t| t.chars().next_back()) {
                    Some(ch) if self.contains(ch) => k -= ch.len_utf8(),
                    _ => break,
                }
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
        assert!(matches!(dot.stops, Some(Stops::One(b'\n'))));
        assert!(dot.contains('\u{10ffff}') && !dot.contains('\n'));
        assert!(!set(r"[^:]").json_plain() && set(r"\d").json_plain());
        let d = set(r"\d");
        assert!(d.contains('٣') && !d.contains('a'));
    }

    #[test]
    fn stops_are_found_like_a_byte_search() {
        for len in (0..80).chain([130, 200]) {
            for at in (0..len).step_by(3).chain([len]) {
                for stops in [
                    Stops::One(b':'),
                    Stops::Two(b':', b'\n'),
                    Stops::Three(b']', b':', b'\n'),
                ] {
                    let mut hay: Vec<u8> = (0..len).map(|i| b"ab;\x80\xff 9"[i % 7]).collect();
                    if at < len {
                        hay[at] = b':';
                        if at + 2 < len {
                            hay[at + 2] = b'\n';
                        }
                    }
                    let want = hay.iter().position(|&b| match stops {
                        Stops::One(x) => b == x,
                        Stops::Two(x, y) => b == x || b == y,
                        Stops::Three(x, y, z) => b == x || b == y || b == z,
                    });
                    assert_eq!(stops.find(&hay), want, "{len} {at} {stops:?}");
                }
            }
        }
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
