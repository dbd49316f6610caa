//! Word-at-a-time (SWAR) pieces of the canonical scanner: finding the end
//! of a run of plain string bytes eight at a time, and a one-word tag that
//! settles most duplicate-key comparisons.

/// Whether `c` ends a run of string content that is copied as it is: the
/// quote, the backslash, and what the writer escapes (controls, DEL).
pub(super) fn is_special(c: u8) -> bool {
    matches!(c, b'"' | b'\\' | 0x00..=0x1f | 0x7f)
}

/// The length of a key's text and up to its first seven bytes after the
/// quote, in one word.
pub(super) fn key_tag(key: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    let n = key.len().min(8);
    word[..n].copy_from_slice(&key[..n]);
    (u64::from_le_bytes(word) >> 8) ^ ((key.len() as u64) << 56)
}

/// Length of the prefix of `s` holding no [`is_special`] byte, eight bytes
/// at a time (SWAR): strings are most of a log line's bytes, and they were
/// the first item of the source's profile when scanned byte by byte. The
/// flag says whether a byte >= 0x80 may be among them (the string must
/// then be checked as UTF-8); it may also count a few bytes past the
/// prefix, which only asks for a check that passes.
///
/// Each test flags a byte's high bit; borrows only ever flag bytes *above*
/// a true hit, so the lowest flagged byte is exact.
pub(super) fn plain_run(s: &[u8]) -> (usize, bool) {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(LO) & !x;
    let (mut i, mut high) = (0, 0u64);
    while let Some(word) = s.get(i..i + 8) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let w = u64::from_le_bytes(bytes);
        high |= w;
        let hits = (zero(w ^ (LO * u64::from(b'"')))
            | zero(w ^ (LO * u64::from(b'\\')))
            | zero(w ^ (LO * 0x7f))
            | (w.wrapping_sub(LO * 0x20) & !w))
            & HI;
        if hits != 0 {
            return (i + (hits.trailing_zeros() / 8) as usize, high & HI != 0);
        }
        i += 8;
    }
    let tail = &s[i..];
    let n = tail
        .iter()
        .position(|&c| is_special(c))
        .unwrap_or(tail.len());
    (i + n, high & HI != 0 || !tail[..n].is_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_runs_stop_at_the_first_special_byte() {
        let naive = |s: &[u8]| s.iter().position(|&c| is_special(c)).unwrap_or(s.len());
        // Every special byte (and neighbours of the SWAR thresholds) at
        // every position of words of several lengths, after plain bytes.
        let plain = b"ab\xc3\xa9~ !#\x80\xff\x7e\x21\x5b\x5d";
        let plain: Vec<u8> = plain.iter().copied().filter(|c| !is_special(*c)).collect();
        for len in 0..24 {
            for at in 0..=len {
                for special in [
                    b'"',
                    b'\\',
                    0x00,
                    0x1f,
                    0x7f,
                    0x20,
                    0x80,
                    0xff,
                    0x21,
                    0x5c + 1,
                ] {
                    let mut s: Vec<u8> = (0..len).map(|k| plain[k % plain.len()]).collect();
                    if at < len {
                        s[at] = special;
                    }
                    let (n, high) = plain_run(&s);
                    assert_eq!(n, naive(&s), "{s:?}");
                    // High bytes among the first n are never missed.
                    assert!(high || s[..n].is_ascii(), "{s:?}");
                }
            }
        }
    }
}
