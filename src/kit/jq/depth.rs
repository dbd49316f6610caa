//! How deeply a jq program nests, estimated from its tokens before it is
//! compiled: jaq parses, compiles and evaluates recursively, so a program
//! nested or chained thousands deep (`((((…))))`, `. | . | …`, an array
//! literal of thousands of elements, which is a chain of `,`) overflows the
//! stack of the thread doing it, and a stack overflow aborts the process.
//! `check` refuses such a program instead.
//!
//! The estimate is an upper bound of the recursion the program needs: each
//! open bracket (or string interpolation) counts one level, and every
//! operator or operator keyword counts one more while its bracket is open
//! (a chain `a | b | c` is a tree as deep as it is long). A closed bracket
//! is one operand to what surrounds it, so long but shallow programs pass.

/// Deepest program accepted. Measured on a debug build (the largest stack
/// frames): `check` on the main thread (8 MiB) overflowed at 700 nested
/// parentheses and 1000 chained pipes; evaluation on a 2 MiB thread at 400
/// chained pipes. Worker threads get 8 MiB (`topology::thread`), so 256
/// leaves a margin of 2.7 or more on every measured path; real programs
/// stay far below it (a 50-field object projection is about 100).
pub const MAX_PROGRAM_DEPTH: usize = 256;

/// Keywords that build one more level of the syntax tree.
const KEYWORDS: &[&str] = &[
    "if", "elif", "reduce", "foreach", "try", "def", "label", "as", "and", "or",
];

/// `Err((offset, limit))` with the byte offset in `program` where the
/// estimated depth first exceeds `max`.
pub fn check(program: &str, max: usize) -> Result<(), (usize, usize)> {
    // Operators seen in each open level; the last is the innermost.
    // `true` marks a string interpolation `\(`, closed by `)` back into
    // its string.
    let mut levels: Vec<(usize, bool)> = vec![(0, false)];
    let mut depth = 0usize;
    let bytes = program.as_bytes();
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' if bytes.get(i + 1) == Some(&b'(') => {
                    in_string = false;
                    levels.push((0, true));
                    depth += 1;
                    i += 2;
                }
                b'\\' => i += 2,
                b'"' => {
                    in_string = false;
                    i += 1;
                }
                _ => i += 1,
            }
        } else {
            match b {
                b'"' => {
                    in_string = true;
                    i += 1;
                    continue;
                }
                b'#' => {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                    continue;
                }
                b'(' | b'[' | b'{' => {
                    levels.push((0, false));
                    depth += 1;
                }
                b')' | b']' | b'}' => {
                    if levels.len() > 1
                        && let Some((ops, interpolation)) = levels.pop()
                    {
                        depth -= 1 + ops;
                        in_string = interpolation && b == b')';
                    }
                }
                b'|' | b',' | b'+' | b'-' | b'*' | b'/' | b'%' | b'=' | b'<' | b'>' | b'!'
                | b'?' | b';' | b':' => {
                    bump(&mut levels, &mut depth);
                }
                b if b.is_ascii_alphabetic() || b == b'_' => {
                    let start = i;
                    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_')
                    {
                        i += 1;
                    }
                    // `.if` or `$as` is a name, not a keyword.
                    let named = start > 0 && matches!(bytes[start - 1], b'.' | b'$');
                    if !named && KEYWORDS.contains(&&program[start..i]) {
                        bump(&mut levels, &mut depth);
                    }
                    if depth > max {
                        return Err((start, max));
                    }
                    continue;
                }
                _ => {}
            }
            if depth > max {
                return Err((i, max));
            }
            i += 1;
        }
    }
    Ok(())
}

fn bump(levels: &mut [(usize, bool)], depth: &mut usize) {
    if let Some(level) = levels.last_mut() {
        level.0 += 1;
        *depth += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_ok(p: &str, max: usize) -> bool {
        check(p, max).is_ok()
    }

    #[test]
    fn nesting_and_chains_count_shallow_programs_pass() {
        let parens = format!("{}.{}", "(".repeat(300), ")".repeat(300));
        assert!(!depth_ok(&parens, 256));
        let pipes = vec!["."; 300].join(" | ");
        assert!(!depth_ok(&pipes, 256));
        let array = format!("[{}]", vec!["1"; 300].join(","));
        assert!(!depth_ok(&array, 256));
        let ifs = "if . then ".repeat(300);
        assert!(!depth_ok(&ifs, 256));
        // Many closed brackets in a row are one level each, not a chain.
        let flat = "(.a) ".repeat(1000);
        assert!(depth_ok(&flat, 256));
        // Operators inside strings and comments are text.
        let text = format!("\"{}\" # {}\n.", "|".repeat(1000), ",".repeat(1000));
        assert!(depth_ok(&text, 256));
        // Names that look like keywords.
        assert!(depth_ok(&".if .as $if".repeat(50), 256));
        assert!(depth_ok(
            r#"{a: .x, b: "\(.y | ascii)"} | select(.a > 1)"#,
            10
        ));
    }

    #[test]
    fn the_offset_is_where_the_limit_is_crossed() {
        let p = "(((.)))";
        assert_eq!(check(p, 2), Err((2, 2)));
        let interp = r#""\("\("\(.)")")""#;
        assert!(check(interp, 2).is_err());
        assert!(check(interp, 3).is_ok());
    }
}
