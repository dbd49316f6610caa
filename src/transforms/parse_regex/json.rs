//! JSON string writing for `parse_regex`'s output: the same escapes as the
//! sink's writer (`\"`, `\\`, `\n`, `\t`, `\r`, `\b`, `\f`, `\u00XX` for the
//! other controls and DEL), found eight bytes at a time and copied in runs.

use bytes::BufMut;

/// Bytes JSON text must not hold as they are.
const fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\' || b == 0x7f
}

/// A mask with the high bit set in the bytes of `w` that need an escape,
/// exact up to its lowest set bit: the classic "has a zero byte" and "has a
/// byte below n" tests may also flag bytes above a true hit (a borrow), never
/// below one.
fn escape_mask(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    below_space
        | has_zero(w ^ (ONES * u64::from(b'"')))
        | has_zero(w ^ (ONES * u64::from(b'\\')))
        | has_zero(w ^ (ONES * 0x7f))
}

/// The eight bytes at `i` as a little-endian word.
fn word(s: &[u8], i: usize) -> Option<u64> {
    let chunk: [u8; 8] = s.get(i..i + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

/// The index of the first byte of `s[from..]` that needs an escape, or
/// `s.len()`.
fn next_escape(s: &[u8], from: usize) -> usize {
    let mut i = from;
    while let Some(w) = word(s, i) {
        let m = escape_mask(w);
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    // Fewer than eight bytes left: the last word of `s`, shifted so that
    // they come first and zero bytes (which count as needing an escape)
    // fill the rest: the lowest hit is then a real one, or `s.len()`.
    if let Some(last) = s.len().checked_sub(8)
        && let Some(w) = word(s, last)
        && i < s.len()
    {
        let m = escape_mask(w >> ((i - last) * 8));
        return (i + (m.trailing_zeros() / 8) as usize).min(s.len());
    }
    while let Some(&b) = s.get(i) {
        if needs_escape(b) {
            return i;
        }
        i += 1;
    }
    s.len()
}

/// Writes `s` (UTF-8) as a JSON string the way the sink's writer would.
pub(super) fn write_str(s: &[u8], out: &mut impl BufMut) {
    out.put_u8(b'"');
    write_escaped(s, out);
    out.put_u8(b'"');
}

/// Writes the inside of the JSON string for `s` (UTF-8): [`write_str`]
/// without the quotes.
pub(super) fn write_escaped(s: &[u8], out: &mut impl BufMut) {
    let mut last = 0;
    loop {
        let i = next_escape(s, last);
        out.put_slice(s.get(last..i).unwrap_or_default());
        let Some(&c) = s.get(i) else { break };
        match c {
            b'"' => out.put_slice(b"\\\""),
            b'\\' => out.put_slice(b"\\\\"),
            b'\n' => out.put_slice(b"\\n"),
            b'\t' => out.put_slice(b"\\t"),
            b'\r' => out.put_slice(b"\\r"),
            0x08 => out.put_slice(b"\\b"),
            0x0c => out.put_slice(b"\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.put_slice(b"\\u00");
                out.put_u8(HEX[usize::from(c >> 4)]);
                out.put_u8(HEX[usize::from(c & 0xf)]);
            }
        }
        last = i + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-by-byte writer this module replaced.
    fn reference(s: &[u8]) -> Vec<u8> {
        let mut out = vec![b'"'];
        for &c in s {
            match c {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\t' => out.extend_from_slice(b"\\t"),
                b'\r' => out.extend_from_slice(b"\\r"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0c => out.extend_from_slice(b"\\f"),
                0x00..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
                _ => out.push(c),
            }
        }
        out.push(b'"');
        out
    }

    #[test]
    fn every_byte_at_every_offset_matches_the_reference() {
        for c in 0u8..=0xff {
            for at in 0..20 {
                let mut s = vec![b'a'; 20];
                s[at] = c;
                if c >= 0x80 {
                    // Keep it UTF-8: a two-byte é around the probe.
                    s = format!("{}é{}", "a".repeat(at), "a".repeat(19 - at)).into_bytes();
                }
                let mut out = Vec::new();
                write_str(&s, &mut out);
                assert_eq!(out, reference(&s), "byte {c:#x} at {at}");
            }
        }
    }

    #[test]
    fn two_probes_at_every_pair_of_offsets_match_the_reference() {
        let probes = [0x00, 0x1f, b'"', b'\\', 0x7f, b' ', b'!', b'a'];
        for len in 0..=20 {
            for p in 0..len {
                for q in p..len {
                    for (&x, &y) in probes
                        .iter()
                        .flat_map(|x| probes.iter().map(move |y| (x, y)))
                    {
                        let mut s = vec![b'k'; len];
                        s[p] = x;
                        s[q] = y;
                        let mut out = Vec::new();
                        write_str(&s, &mut out);
                        assert_eq!(out, reference(&s), "{s:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn words_are_judged_exactly() {
        // Bytes just above each threshold, next to ones at it.
        for w in [*b" !#[]~\x7e\x80", *b"\xff\xfe\x80 \x21\x5b\x5d\x7e"] {
            assert_eq!(escape_mask(u64::from_le_bytes(w)), 0, "{w:?}");
        }
        for (i, b) in [0x1f, b'"', b'\\', 0x7f, 0].into_iter().enumerate() {
            let mut w = *b"abcdefgh";
            w[(i * 3) % 8] = b;
            let m = escape_mask(u64::from_le_bytes(w));
            assert_eq!(m.trailing_zeros() / 8, (i as u32 * 3) % 8, "{w:?}");
        }
        let mut out = Vec::new();
        write_str("a\"b\\c\u{1}\u{7f}é\n".as_bytes(), &mut out);
        assert_eq!(out, r#""a\"b\\c\u0001\u007fé\n""#.as_bytes());
    }
}
