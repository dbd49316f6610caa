//! `setpath` and `delpaths` with jq's semantics, under which assignment
//! (`=`, `|=`, `+=`, …) and `del` run (see `rewrite.rs`).
//!
//! jaq refuses to update `null` and to index past the end of an array
//! (`null | .a = 1` and `[] | .[2] = 1` are errors there); jq creates the
//! object or array and pads with `null`, and jq programs rely on it
//! (`.count += 1` on a fresh object). `delpaths` deletes all its paths at
//! once, so `del(.[1], .[2])` removes two elements, not one and its
//! shifted neighbour.

use jaq_json::{Map, Val};

/// Largest array a path may create or extend to: a hostile index
/// (`.[1e12] = 1`) must be an error, not an allocation that kills the process.
pub const MAX_INDEX: usize = 1 << 24;

type R<T> = Result<T, String>;

fn key_str(k: &Val) -> Option<String> {
    match k {
        Val::TStr(s) | Val::BStr(s) => Some(String::from_utf8_lossy(s).into_owned()),
        _ => None,
    }
}

fn index_error(v: &Val, k: &Val) -> String {
    match key_str(k) {
        Some(s) => format!(
            "Cannot index {} with string \"{s}\"",
            super::messages::kind(v)
        ),
        None => format!(
            "Cannot index {} with {}",
            super::messages::kind(v),
            super::messages::kind(k)
        ),
    }
}

/// An integer index as jq reads it (fractions truncated).
fn int_of(k: &Val) -> Option<i64> {
    match k {
        Val::Num(n) => {
            let f = jaq_std::ValT::as_f64(k)?;
            let _ = n;
            (f.is_finite()).then_some(f.trunc() as i64)
        }
        _ => None,
    }
}

/// An array index resolved against `len` (negative counts from the end).
fn array_index(k: &Val, len: usize) -> R<usize> {
    let i = int_of(k).ok_or("Array index must be a number")?;
    let i = if i < 0 { i + len as i64 } else { i };
    if i < 0 {
        return Err("Out of bounds negative array index".into());
    }
    let i = i as usize;
    if i >= MAX_INDEX {
        return Err("Array index too large".into());
    }
    Ok(i)
}

/// The bounds `{start, end}` of a slice of a sequence of `len` items.
fn slice_bounds(o: &Map, len: usize) -> R<(usize, usize)> {
    let bound = |name: &str, default: usize| -> R<usize> {
        match o.get(&Val::from(name.to_string())) {
            None | Some(Val::Null) => Ok(default),
            Some(v) => {
                let f = jaq_std::ValT::as_f64(v)
                    .ok_or("Start and end indices of an array slice must be numbers")?;
                let i = if f < 0.0 { f + len as f64 } else { f };
                // jq rounds the start down and the end up.
                let i = if name == "start" { i.floor() } else { i.ceil() };
                Ok(i.clamp(0.0, len as f64) as usize)
            }
        }
    };
    let start = bound("start", 0)?;
    let end = bound("end", len)?.max(start);
    Ok((start, end))
}

/// `v` with the value at `path` replaced by `f(old)`.
pub fn update(v: Val, path: &[Val], f: &mut dyn FnMut(Val) -> R<Val>) -> R<Val> {
    let Some((k, rest)) = path.split_first() else {
        return f(v);
    };
    match (v, k) {
        (Val::Null, Val::TStr(_) | Val::BStr(_)) => update(Val::obj(Map::default()), path, f),
        (Val::Null, Val::Num(_)) => update(Val::Arr(Default::default()), path, f),
        (Val::Null, Val::Obj(_)) => update(Val::Arr(Default::default()), path, f),
        (Val::Obj(mut o), Val::TStr(_) | Val::BStr(_)) => {
            let m = jaq_json::Rc::make_mut(&mut o);
            let old = m.get(k).cloned().unwrap_or(Val::Null);
            let new = update(old, rest, f)?;
            m.insert(k.clone(), new);
            Ok(Val::Obj(o))
        }
        (Val::Arr(mut a), Val::Num(_)) => {
            let i = array_index(k, a.len())?;
            let arr = jaq_json::Rc::make_mut(&mut a);
            if i >= arr.len() {
                arr.resize(i + 1, Val::Null);
            }
            let old = std::mem::take(&mut arr[i]);
            arr[i] = update(old, rest, f)?;
            Ok(Val::Arr(a))
        }
        (Val::Arr(mut a), Val::Obj(o)) => {
            let (start, end) = slice_bounds(o, a.len())?;
            let old: Val = Val::Arr(jaq_json::Rc::new(a[start..end].to_vec()));
            match update(old, rest, f)? {
                Val::Arr(new) => {
                    let arr = jaq_json::Rc::make_mut(&mut a);
                    arr.splice(start..end, new.iter().cloned());
                    Ok(Val::Arr(a))
                }
                _ => Err("A slice of an array can only be assigned another array".into()),
            }
        }
        (v, k) => Err(index_error(&v, k)),
    }
}

/// jq's `setpath(path; x)`.
pub fn setpath(v: Val, path: &Val, x: Val) -> R<Val> {
    let Val::Arr(p) = path else {
        return Err("Path must be specified as an array".into());
    };
    let mut x = Some(x);
    update(v, p, &mut |_| Ok(x.take().unwrap_or(Val::Null)))
}

/// A path with its negative array indices resolved against `v`, so that
/// `path(last)` names the element it reached (jq 1.7's `pick(last)`).
pub fn resolve(v: &Val, path: &Val) -> R<Val> {
    let Val::Arr(p) = path else {
        return Err("Path must be specified as an array".into());
    };
    let mut cur = v.clone();
    let mut out = Vec::with_capacity(p.len());
    for k in p.iter() {
        let k = match (&cur, int_of(k)) {
            (Val::Arr(a), Some(i)) if i < 0 && i + a.len() as i64 >= 0 => {
                Val::from((i + a.len() as i64) as isize)
            }
            _ => k.clone(),
        };
        cur = match (&cur, &k) {
            (Val::Obj(o), _) => o.get(&k).cloned().unwrap_or(Val::Null),
            (Val::Arr(a), Val::Num(_)) => int_of(&k)
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| a.get(i).cloned())
                .unwrap_or(Val::Null),
            _ => Val::Null,
        };
        out.push(k);
    }
    Ok(Val::Arr(jaq_json::Rc::new(out)))
}

/// jq's `delpaths(paths)`: every path deleted from the original value.
pub fn delpaths(v: Val, paths: &Val) -> R<Val> {
    let Val::Arr(ps) = paths else {
        return Err("Paths must be specified as an array".into());
    };
    let mut list: Vec<&[Val]> = Vec::with_capacity(ps.len());
    for p in ps.iter() {
        match p {
            Val::Arr(p) => list.push(p),
            _ => return Err("Path must be specified as an array".into()),
        }
    }
    delete(v, &list)
}

fn delete(v: Val, paths: &[&[Val]]) -> R<Val> {
    if paths.is_empty() {
        return Ok(v);
    }
    if paths.iter().any(|p| p.is_empty()) {
        return Ok(Val::Null);
    }
    match v {
        Val::Null => Ok(Val::Null),
        Val::Obj(mut o) => {
            let m = jaq_json::Rc::make_mut(&mut o);
            // Keys deleted whole, then deeper paths under the others.
            let mut gone: Vec<&Val> = Vec::new();
            for p in paths {
                match &p[0] {
                    k @ (Val::TStr(_) | Val::BStr(_)) if p.len() == 1 => gone.push(k),
                    Val::TStr(_) | Val::BStr(_) => {}
                    k => {
                        return Err(format!(
                            "Cannot delete field at index of object: {}",
                            super::messages::kind(k)
                        ));
                    }
                }
            }
            let mut under: Vec<(&Val, Vec<&[Val]>)> = Vec::new();
            for p in paths
                .iter()
                .filter(|p| p.len() > 1 && !gone.contains(&&p[0]))
            {
                match under.iter_mut().find(|(k, _)| **k == p[0]) {
                    Some((_, ps)) => ps.push(&p[1..]),
                    None => under.push((&p[0], vec![&p[1..]])),
                }
            }
            for (k, ps) in under {
                if let Some(child) = m.get(k).cloned() {
                    let child = delete(child, &ps)?;
                    m.insert(k.clone(), child);
                }
            }
            for k in gone {
                m.shift_remove(k);
            }
            Ok(Val::Obj(o))
        }
        Val::Arr(mut a) => {
            let len = a.len();
            let mut gone = vec![false; len];
            let mut under: Vec<(usize, Vec<&[Val]>)> = Vec::new();
            for p in paths {
                match &p[0] {
                    Val::Obj(o) if p.len() == 1 => {
                        let (s, e) = slice_bounds(o, len)?;
                        gone[s..e].iter_mut().for_each(|g| *g = true);
                    }
                    k @ Val::Num(_) => {
                        let Some(i) = int_of(k) else { continue };
                        let i = if i < 0 { i + len as i64 } else { i };
                        // Out of range: nothing there to delete (jq).
                        if i < 0 || i as usize >= len {
                            continue;
                        }
                        let i = i as usize;
                        if p.len() == 1 {
                            gone[i] = true;
                        } else {
                            match under.iter_mut().find(|(j, _)| *j == i) {
                                Some((_, ps)) => ps.push(&p[1..]),
                                None => under.push((i, vec![&p[1..]])),
                            }
                        }
                    }
                    k => return Err(index_error(&Val::Arr(a.clone()), k)),
                }
            }
            let arr = jaq_json::Rc::make_mut(&mut a);
            for (i, ps) in under {
                if !gone[i] {
                    let child = std::mem::take(&mut arr[i]);
                    arr[i] = delete(child, &ps)?;
                }
            }
            let mut i = 0;
            arr.retain(|_| {
                i += 1;
                !gone[i - 1]
            });
            Ok(Val::Arr(a))
        }
        other => Err(format!(
            "Cannot delete fields from {}",
            super::messages::kind(&other)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(s: &str) -> Val {
        jaq_json::read::parse_single(s.as_bytes()).unwrap()
    }

    #[test]
    fn setpath_creates_and_pads_like_jq() {
        assert_eq!(
            setpath(Val::Null, &j(r#"["a","b"]"#), j("1")).unwrap(),
            j(r#"{"a":{"b":1}}"#)
        );
        assert_eq!(
            setpath(j("[4]"), &j("[2,3]"), j("1")).unwrap(),
            j("[4,null,[null,null,null,1]]")
        );
        assert_eq!(
            setpath(j("[0,1,2]"), &j("[-1]"), j("5")).unwrap(),
            j("[0,1,5]")
        );
        assert_eq!(
            setpath(Val::Null, &j("[-1]"), j("5")).unwrap_err(),
            "Out of bounds negative array index"
        );
        assert_eq!(
            setpath(
                j("[0,1,2,3]"),
                &j(r#"[{"start":1,"end":3}]"#),
                j(r#"["a"]"#)
            )
            .unwrap(),
            j(r#"[0,"a",3]"#)
        );
        assert!(setpath(Val::Null, &j("[1e12]"), j("1")).is_err());
    }

    #[test]
    fn delpaths_deletes_every_path_of_the_original() {
        let v = j("[0,1,2,3,4,5,6,7,8,9]");
        let ps = j(r#"[[1],[-6],[2],[{"start":-3,"end":9}]]"#);
        assert_eq!(delpaths(v, &ps).unwrap(), j("[0,3,5,6,9]"));
        let v = j(r#"{"foo":[0,1,2,3,4],"bar":[0,1]}"#);
        let ps = j(r#"[["foo",0],["bar",0],["foo"],["baz","bar",0,"x"]]"#);
        assert_eq!(delpaths(v, &ps).unwrap(), j(r#"{"bar":[1]}"#));
        assert_eq!(
            delpaths(j("[1,2,3]"), &j("[[-200]]")).unwrap(),
            j("[1,2,3]")
        );
    }
}
