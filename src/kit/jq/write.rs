//! JSON text the way jq writes it: numbers in jq's shortest form (`2`, not
//! `2.0`; `1e-05`; `NaN` as `null`), strings with jq's escapes, and jq's
//! layouts (compact, indented by N spaces or a tab, keys sorted, ASCII only).
//!
//! jaq's own writer prints computed floats the Rust way (`2.0`, `1e-5`) and
//! has no ASCII mode; `sluice filter` promises jq's bytes, and jq's error
//! messages quote values in this form too.

use jaq_json::{Num, Val};

/// How values are laid out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Layout {
    /// `None`: compact, one line. `Some(0)`: jq's pretty layout without
    /// indentation. `Some(n)`: n spaces per level.
    pub indent: Option<usize>,
    /// Indent with one tab per level (jq `--tab`), overrides `indent`.
    pub tab: bool,
    /// Object keys sorted (jq `-S`).
    pub sort_keys: bool,
    /// Characters outside ASCII written as `\uXXXX` (jq `-a`).
    pub ascii: bool,
}

impl Layout {
    fn pretty(&self) -> bool {
        self.tab || self.indent.is_some()
    }

    fn newline(&self, out: &mut Vec<u8>, level: usize) {
        out.push(b'\n');
        if self.tab {
            out.extend(std::iter::repeat_n(b'\t', level));
        } else if let Some(n) = self.indent {
            out.extend(std::iter::repeat_n(b' ', n * level));
        }
    }
}

/// Appends `v` as JSON text in `layout`.
pub fn write(out: &mut Vec<u8>, v: &Val, layout: &Layout) {
    write_at(out, v, layout, 0)
}

/// `v` as compact JSON text.
pub fn to_string(v: &Val) -> String {
    let mut out = Vec::new();
    write(&mut out, v, &Layout::default());
    String::from_utf8_lossy(&out).into_owned()
}

fn write_at(out: &mut Vec<u8>, v: &Val, layout: &Layout, level: usize) {
    match v {
        Val::Null => out.extend_from_slice(b"null"),
        Val::Bool(true) => out.extend_from_slice(b"true"),
        Val::Bool(false) => out.extend_from_slice(b"false"),
        Val::Num(n) => number(out, n),
        Val::TStr(s) | Val::BStr(s) => string(out, s, layout.ascii),
        Val::Arr(a) if a.is_empty() => out.extend_from_slice(b"[]"),
        Val::Arr(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                if layout.pretty() {
                    layout.newline(out, level + 1);
                }
                write_at(out, x, layout, level + 1);
            }
            if layout.pretty() {
                layout.newline(out, level);
            }
            out.push(b']');
        }
        Val::Obj(o) if o.is_empty() => out.extend_from_slice(b"{}"),
        Val::Obj(o) => {
            out.push(b'{');
            let mut entries: Vec<(&Val, &Val)> = o.iter().collect();
            if layout.sort_keys {
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            for (i, (k, x)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                if layout.pretty() {
                    layout.newline(out, level + 1);
                }
                match k {
                    Val::TStr(s) | Val::BStr(s) => string(out, s, layout.ascii),
                    // jaq allows non-string keys; jq would have refused them.
                    other => {
                        let mut key = Vec::new();
                        write_at(&mut key, other, &Layout::default(), 0);
                        string(out, &key, layout.ascii)
                    }
                }
                out.push(b':');
                if layout.pretty() {
                    out.push(b' ');
                }
                write_at(out, x, layout, level + 1);
            }
            if layout.pretty() {
                layout.newline(out, level);
            }
            out.push(b'}');
        }
    }
}

/// A number as jq 1.6 prints a double: the shortest digits that read back
/// the same, in decimal notation unless the exponent is below -4 or far
/// beyond the digits; NaN as `null`, infinities as ±DBL_MAX. Integers and
/// decimal literals keep their digits (jq 1.7 keeps literals too).
pub fn number(out: &mut Vec<u8>, n: &Num) {
    match n {
        Num::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Num::BigInt(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Num::Dec(s) => out.extend_from_slice(s.as_bytes()),
        Num::Float(f) => float(out, *f),
    }
}

/// A double in jq's form.
pub fn float(out: &mut Vec<u8>, f: f64) {
    if f.is_nan() {
        out.extend_from_slice(b"null");
        return;
    }
    let f = f.clamp(f64::MIN, f64::MAX);
    if f == 0.0 {
        out.extend_from_slice(if f.is_sign_negative() { b"-0" } else { b"0" });
        return;
    }
    let (digits, decpt) = ryu_like(f);
    if f < 0.0 {
        out.push(b'-');
    }
    let nd = digits.len() as i32;
    if decpt <= -4 || decpt > nd + 15 {
        out.push(digits[0]);
        if nd > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        let e = decpt - 1;
        out.push(if e < 0 { b'-' } else { b'+' });
        let e = e.unsigned_abs();
        if e < 10 {
            out.push(b'0');
        }
        out.extend_from_slice(e.to_string().as_bytes());
    } else if decpt <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', (-decpt) as usize));
        out.extend_from_slice(&digits);
    } else if decpt >= nd {
        out.extend_from_slice(&digits);
        out.extend(std::iter::repeat_n(b'0', (decpt - nd) as usize));
    } else {
        out.extend_from_slice(&digits[..decpt as usize]);
        out.push(b'.');
        out.extend_from_slice(&digits[decpt as usize..]);
    }
}

/// The shortest round-trip digits of |f| (no leading or trailing zeros) and
/// the position of the decimal point: |f| = 0.DIGITS × 10^decpt.
fn ryu_like(f: f64) -> (Vec<u8>, i32) {
    // `{:e}` prints the shortest round-trip digits: "1.2345e-7".
    let text = format!("{:e}", f.abs());
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
    }
    (digits, exp + 1)
}

/// A JSON string with jq's escapes; `ascii` escapes everything past 0x7e.
pub fn string(out: &mut Vec<u8>, s: &[u8], ascii: bool) {
    out.push(b'"');
    let text = String::from_utf8_lossy(s);
    for c in text.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
            }
            c if ascii && !c.is_ascii() => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.extend_from_slice(format!("\\u{u:04x}").as_bytes());
                }
            }
            c => {
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(x: f64) -> String {
        let mut out = Vec::new();
        float(&mut out, x);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn doubles_print_as_jq_prints_them() {
        assert_eq!(f(2.0), "2");
        assert_eq!(f(1.5), "1.5");
        assert_eq!(f(-1.5), "-1.5");
        assert_eq!(f(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(f(1e-5), "1e-05");
        assert_eq!(f(0.0001), "0.0001");
        assert_eq!(f(1e17), "1e+17");
        assert_eq!(f(1e16), "1e+16");
        assert_eq!(f(1e15), "1000000000000000");
        assert_eq!(f(1e300), "1e+300");
        assert_eq!(f(f64::INFINITY), "1.7976931348623157e+308");
        assert_eq!(f(f64::NAN), "null");
        assert_eq!(f(123456.789), "123456.789");
    }

    #[test]
    fn layouts() {
        let v = jaq_json::read::parse_single(br#"{"b":[1,{}],"a":"\u00e9"}"#).unwrap();
        let mut out = Vec::new();
        let pretty = Layout {
            indent: Some(2),
            sort_keys: true,
            ascii: true,
            ..Layout::default()
        };
        write(&mut out, &v, &pretty);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\n  \"a\": \"\\u00e9\",\n  \"b\": [\n    1,\n    {}\n  ]\n}"
        );
        assert_eq!(to_string(&v), r#"{"b":[1,{}],"a":"é"}"#);
    }
}
