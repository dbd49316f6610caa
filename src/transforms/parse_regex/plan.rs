//! [`Plan`]: a pattern of the log-line kind compiled into a straight line of
//! literals and character runs, matched left to right without backtracking,
//! with a proof made at build time that this finds exactly the match and the
//! captures the `regex` crate finds. Patterns it cannot prove get no plan
//! ([`Plan::new`] returns `None`) and stay with the `regex` crate.
//!
//! # Which patterns
//!
//! The pattern's syntax tree (parsed by `regex-syntax` with the `regex`
//! crate's default settings) must flatten into a sequence of: `^` (first,
//! once), literals, runs `K{min,max}` of one class `K` (a class, a
//! one-character literal, or a repetition of either, greedy or lazy),
//! capture groups around any of these (they only record positions), and
//! an optional `$` with only group ends after it. No alternation, no
//! repetition of a group, no other assertion.
//!
//! # Why one pass is enough
//!
//! The `regex` crate reports the match a backtracker would find first:
//! greedy runs try their longest length first, lazy ones their shortest.
//! Take a run of `K` that starts at `p` and whose longest possible end is
//! `q`, and let the *rest* be the items after it. Every shorter end
//! `p' < q` is followed by a character `s[p']` that is in `K`. For the rest
//! to match at `p'`, it must either consume `s[p']` first, so `s[p']` must
//! be in FIRST(rest), the characters the rest can begin with (skipping
//! items that may be empty), or match the empty string at `p'`, which it
//! can only do when all its items may be empty and none is `$` ("freely
//! empty"). So when `K ∩ FIRST(rest) = ∅`:
//!
//! * greedy: the rest matches at `q`, or it matches nowhere shorter (if it
//!   were freely empty it would have matched at `q`); either way the
//!   longest end is the backtracker's only answer;
//! * lazy, and the rest is not freely empty: no end before `q` can work, so
//!   the lazy run also ends at `q`. (Lazy and freely empty: no plan.)
//!
//! A run with `min == max` has no choice to make. By induction over the
//! items, the longest-run matcher finds the backtracker's first match, and
//! when it fails the pattern matches nowhere (all matches start at 0: `^`).
//!
//! # The trailing `(?P<c>.*?)\s*$`
//!
//! `.` and `\s` share the space, so the rule above refuses the last run of
//! HDFS-style patterns. For a run `D*?` (or `D*`) followed only by `X*`,
//! `$` and group ends, solve it directly. Let `R = s[p..]` and `k0` the
//! start of the longest suffix of `R` made of `X`. `X*$` matches after `D`
//! ends at `k` iff `R[k..] ⊆ X*`, i.e. iff `k >= k0`, and the `D` run can
//! end at `k` iff `R[..k] ⊆ D*`, a prefix-closed condition. So:
//!
//! * lazy: the shortest end is `k0`, and it works iff `R[..k0] ⊆ D*`; if
//!   not, no longer end works either (it contains `R[..k0]`);
//! * greedy: the longest end is `d0`, the end of the `D` run, and it works
//!   iff `d0 >= k0`; a shorter end would need `R[d0..] ⊆ X*` all the same.
//!
//! The run's FIRST set for the items before it is `D ∪ X`, as usual. The
//! differential tests (`differential.rs`) check all of this against
//! `regex::Regex` on generated patterns and lines.

use regex_syntax::hir::{Class, ClassUnicode, ClassUnicodeRange, Hir, HirKind, Look};

use super::charset::CharSet;

/// A pattern compiled to a straight line (see the module doc).
#[derive(Debug, Clone)]
pub(super) struct Plan {
    items: Box<[Item]>,
    /// Two slots (start, end) per group, group 0 being the whole match.
    slots: usize,
    /// Per group: its text never needs a JSON escape.
    plain: Box<[bool]>,
}

#[derive(Debug, Clone)]
enum Item {
    /// Exactly these bytes (UTF-8).
    Lit(Box<[u8]>),
    /// A run, taking as many characters as it may (the module doc says why
    /// that is also right for a lazy run). Boxed: two 256-byte tables.
    Run(Box<Run>),
    /// Records the position in this slot (a group's start or end).
    Slot(usize),
    /// The end of the text.
    End,
}

#[derive(Debug, Clone)]
struct Run {
    set: CharSet,
    min: u32,
    /// `None`: unbounded.
    max: Option<u32>,
    /// Set when the run is `D*?` or `D*` followed by `X*$`: its end is
    /// solved directly (module doc).
    tail: Option<Tail>,
}

#[derive(Debug, Clone)]
struct Tail {
    /// The `X` of the `X*$` that follows.
    x: CharSet,
    lazy: bool,
}

/// The flattened syntax tree, before the checks.
enum Flat {
    Start,
    End,
    Lit(Vec<u8>),
    Run {
        class: ClassUnicode,
        min: u32,
        max: Option<u32>,
        greedy: bool,
    },
    Open(u32),
    Close(u32),
}

fn flatten(hir: &Hir, out: &mut Vec<Flat>) -> Option<()> {
    match hir.kind() {
        HirKind::Empty => {}
        HirKind::Literal(l) => {
            std::str::from_utf8(&l.0).ok()?;
            out.push(Flat::Lit(l.0.to_vec()));
        }
        HirKind::Class(c) => out.push(Flat::Run {
            class: unicode(c)?,
            min: 1,
            max: Some(1),
            greedy: true,
        }),
        HirKind::Look(Look::Start) => out.push(Flat::Start),
        HirKind::Look(Look::End) => out.push(Flat::End),
        HirKind::Look(_) => return None,
        HirKind::Repetition(r) => {
            let class = match r.sub.kind() {
                HirKind::Class(c) => unicode(c)?,
                HirKind::Literal(l) => {
                    let mut cs = std::str::from_utf8(&l.0).ok()?.chars();
                    let (Some(c), None) = (cs.next(), cs.next()) else {
                        return None;
                    };
                    ClassUnicode::new([ClassUnicodeRange::new(c, c)])
                }
                _ => return None,
            };
            out.push(Flat::Run {
                class,
                min: r.min,
                max: r.max,
                greedy: r.greedy,
            });
        }
        HirKind::Capture(c) => {
            out.push(Flat::Open(c.index));
            flatten(&c.sub, out)?;
            out.push(Flat::Close(c.index));
        }
        HirKind::Concat(hs) => {
            for h in hs {
                flatten(h, out)?;
            }
        }
        HirKind::Alternation(_) => return None,
    }
    Some(())
}

/// A class as Unicode ranges; a byte class only when it is all ASCII (the
/// `regex` crate refuses others on `&str` anyway).
fn unicode(c: &Class) -> Option<ClassUnicode> {
    match c {
        Class::Unicode(u) => Some(u.clone()),
        Class::Bytes(b) => b.to_unicode_class(),
    }
}

/// FIRST(rest) and whether the rest is freely empty (module doc).
fn first(rest: &[Flat]) -> (ClassUnicode, bool) {
    let mut set = ClassUnicode::empty();
    for f in rest {
        match f {
            Flat::Lit(l) => {
                if let Some(c) = std::str::from_utf8(l).ok().and_then(|s| s.chars().next()) {
                    set.push(ClassUnicodeRange::new(c, c));
                }
                return (set, false);
            }
            Flat::Run {
                class, min, max, ..
            } => {
                if *max != Some(0) {
                    set.union(class);
                }
                if *min > 0 {
                    return (set, false);
                }
            }
            Flat::Open(_) | Flat::Close(_) => {}
            Flat::End | Flat::Start => return (set, false),
        }
    }
    (set, true)
}

/// The `X` when `rest` is `X*`, `$` and group markers (module doc).
fn tail_class(rest: &[Flat]) -> Option<&ClassUnicode> {
    let mut it = rest
        .iter()
        .filter(|f| !matches!(f, Flat::Open(_) | Flat::Close(_)));
    match (it.next(), it.next(), it.next()) {
        (
            Some(Flat::Run {
                class,
                min: 0,
                max: None,
                ..
            }),
            Some(Flat::End),
            None,
        ) => Some(class),
        _ => None,
    }
}

impl Plan {
    /// The plan for `pattern`, or `None` when it has none. `groups` is the
    /// number of groups the `regex` crate counts (group 0 included).
    pub(super) fn new(pattern: &str, groups: usize) -> Option<Plan> {
        let hir = regex_syntax::ParserBuilder::new()
            .build()
            .parse(pattern)
            .ok()?;
        let mut flat = Vec::new();
        flatten(&hir, &mut flat)?;
        // `^` first (after group starts only), once; nothing but group ends
        // after `$`.
        let start = flat.iter().position(|f| matches!(f, Flat::Start))?;
        if !flat[..start].iter().all(|f| matches!(f, Flat::Open(_)))
            || flat[start + 1..].iter().any(|f| matches!(f, Flat::Start))
        {
            return None;
        }
        if let Some(end) = flat.iter().position(|f| matches!(f, Flat::End))
            && !flat[end + 1..].iter().all(|f| matches!(f, Flat::Close(_)))
        {
            return None;
        }
        let mut items = Vec::with_capacity(flat.len());
        let mut plain = vec![true; groups];
        let mut open: Vec<usize> = Vec::new();
        for (i, f) in flat.iter().enumerate() {
            let item = match f {
                Flat::Start => continue,
                Flat::End => Item::End,
                Flat::Lit(l) => {
                    if l.iter()
                        .any(|&b| b < 0x20 || b == b'"' || b == b'\\' || b == 0x7f)
                    {
                        open.iter().for_each(|&g| plain[g] = false);
                    }
                    Item::Lit(l.clone().into())
                }
                Flat::Open(g) => {
                    let g = usize::try_from(*g).ok().filter(|&g| g > 0 && g < groups)?;
                    open.push(g);
                    Item::Slot(2 * g)
                }
                Flat::Close(g) => {
                    let g = usize::try_from(*g).ok()?;
                    if open.pop() != Some(g) {
                        return None;
                    }
                    Item::Slot(2 * g + 1)
                }
                Flat::Run {
                    class,
                    min,
                    max,
                    greedy,
                } => {
                    let set = CharSet::new(class);
                    if !set.json_plain() {
                        open.iter().for_each(|&g| plain[g] = false);
                    }
                    let rest = &flat[i + 1..];
                    let tail = match tail_class(rest) {
                        Some(x) if *min == 0 && max.is_none() => Some(Tail {
                            x: CharSet::new(x),
                            lazy: !greedy,
                        }),
                        _ => None,
                    };
                    if tail.is_none() && *max != Some(*min) {
                        let (mut follow, freely_empty) = first(rest);
                        follow.intersect(class);
                        if !follow.ranges().is_empty() || (!greedy && freely_empty) {
                            return None;
                        }
                    }
                    Item::Run(Box::new(Run {
                        set,
                        min: *min,
                        max: *max,
                        tail,
                    }))
                }
            };
            items.push(item);
        }
        if !open.is_empty() {
            return None;
        }
        Some(Plan {
            items: items.into(),
            slots: 2 * groups,
            plain: plain.into(),
        })
    }

    /// Slots [`run`](Self::run) fills: two per group.
    pub(super) fn slots(&self) -> usize {
        self.slots
    }

    /// Whether group `g`'s text never needs a JSON escape.
    pub(super) fn plain(&self, g: usize) -> bool {
        self.plain.get(g).copied().unwrap_or(false)
    }

    /// Matches `s`; on a match, fills `slots` (at least
    /// [`slots`](Self::slots) long) with each group's start and end.
    pub(super) fn run(&self, s: &str, slots: &mut [usize]) -> bool {
        let b = s.as_bytes();
        let mut pos = 0;
        for item in &self.items {
            match item {
                Item::Lit(l) => match b.get(pos..) {
                    Some(t) if t.starts_with(l) => pos += l.len(),
                    _ => return false,
                },
                Item::Slot(n) => {
                    if let Some(x) = slots.get_mut(*n) {
                        *x = pos;
                    }
                }
                Item::End => {
                    if pos != b.len() {
                        return false;
                    }
                }
                Item::Run(r) => match r.end(s, pos) {
                    Some(p) => pos = p,
                    None => return false,
                },
            }
        }
        if let [a, z, ..] = slots {
            (*a, *z) = (0, pos);
        }
        true
    }
}

impl Run {
    /// Where the run that starts at `pos` ends, or `None` if the pattern
    /// cannot match from here.
    fn end(&self, s: &str, pos: usize) -> Option<usize> {
        if let Some(t) = &self.tail {
            let k0 = t.x.rscan(s, pos, s.len());
            return if t.lazy {
                (self.set.scan(s, pos, k0) == k0).then_some(k0)
            } else {
                let d0 = self.set.scan(s, pos, s.len());
                (d0 >= k0).then_some(d0)
            };
        }
        if self.max.is_none() && self.min <= 1 {
            let end = self.set.scan(s, pos, s.len());
            return (self.min == 0 || end > pos).then_some(end);
        }
        let max = self.max.map_or(u64::MAX, u64::from);
        let (end, n) = self.set.scan_counted(s, pos, max);
        (n >= u64::from(self.min)).then_some(end)
    }
}
