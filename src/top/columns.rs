//! Which columns of the stage table fit in a terminal's width, and how
//! wide each is. Every column has a least and a wanted width; when even
//! the least widths do not fit, whole columns go, least useful first
//! ([`DROP_ORDER`]): an 80-column terminal keeps them all, a narrower one
//! keeps the stage, its input rate and its input fill, the three figures
//! that point at a bottleneck.

use super::model::Column;
use crate::stats::view::GraphView;

/// The columns given up when the width runs short, first to last. The
/// stage, its input rate and its input fill are never given up.
pub const DROP_ORDER: [Column; 5] = [
    Column::Inputs,
    Column::RateErrors,
    Column::P99,
    Column::RateOut,
    Column::Busy,
];

/// The width of the selection marker (`> `) before every row.
pub const MARKER: u16 = 2;

/// The flag column (`!` on the bottleneck's row), one character wide.
pub const FLAG: u16 = 1;

/// Columns that share what width is left over, first served first.
const FLEXIBLE: [Column; 3] = [Column::Stage, Column::Fill, Column::Inputs];

/// Longest name or input list worth widening a column for; longer ones
/// are clipped with `…`.
const MAX_TEXT: u16 = 24;

/// The percentage's width in the fill column, and the bar's at most.
const PERCENT: u16 = 4;
const MAX_BAR: u16 = 10;

/// The least and the wanted width of `column` for the stages of `view`.
fn widths(column: Column, view: &GraphView) -> (u16, u16) {
    let longest = |f: &dyn Fn(&crate::stats::view::StageView) -> String| {
        view.stages
            .iter()
            .map(|s| f(s).chars().count())
            .max()
            .unwrap_or(0)
            .min(usize::from(MAX_TEXT)) as u16
    };
    let title = column.title().len() as u16;
    match column {
        Column::Stage => {
            let want = longest(&|s| s.name.clone()).max(title);
            (want.min(8), want)
        }
        Column::Inputs => {
            let want = longest(&super::model::inputs).max(title);
            (want.min(6), want)
        }
        // The percentage alone at least, a bar before it when there is room.
        Column::Fill => (PERCENT, PERCENT + 1 + MAX_BAR),
        Column::RateIn | Column::RateOut => (6, 6),
        Column::RateErrors | Column::Busy => (title, title),
        Column::P99 => (6, 6),
    }
}

/// The columns shown in `width` characters and the width of each, in
/// display order (see the module doc).
pub fn fit(width: u16, view: &GraphView) -> Vec<(Column, u16)> {
    let mut shown: Vec<Column> = Column::ALL.to_vec();
    let mut dropped = DROP_ORDER.iter();
    loop {
        let least: Vec<(Column, u16)> = shown.iter().map(|&c| (c, widths(c, view).0)).collect();
        // One space between columns, the flag column counted.
        let needed = MARKER + FLAG + least.iter().map(|(_, w)| w).sum::<u16>() + least.len() as u16;
        if needed <= width {
            return widen(least, width - needed, view);
        }
        match dropped.next() {
            Some(c) => shown.retain(|s| s != c),
            None => return least,
        }
    }
}

/// Gives `spare` characters to the flexible columns, each up to its
/// wanted width, in [`FLEXIBLE`] order.
fn widen(mut columns: Vec<(Column, u16)>, mut spare: u16, view: &GraphView) -> Vec<(Column, u16)> {
    for flexible in FLEXIBLE {
        if let Some((c, w)) = columns.iter_mut().find(|(c, _)| *c == flexible) {
            let more = (widths(*c, view).1 - *w).min(spare);
            *w += more;
            spare -= more;
        }
    }
    columns
}

/// The width of the bar in a fill column `width` wide (0: the percentage
/// only).
pub fn bar_width(width: u16) -> u16 {
    if width >= PERCENT + 1 + 3 {
        (width - PERCENT - 1).min(MAX_BAR)
    } else {
        0
    }
}

/// `text` cut to `width` characters, ending in `…` when cut.
pub fn clip(text: &str, width: u16) -> String {
    let width = usize::from(width);
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::super::model::fixture;
    use super::*;

    fn total(cols: &[(Column, u16)]) -> u16 {
        MARKER + FLAG + cols.iter().map(|(_, w)| w + 1).sum::<u16>()
    }

    fn names(cols: &[(Column, u16)]) -> Vec<Column> {
        cols.iter().map(|(c, _)| *c).collect()
    }

    #[test]
    fn eighty_columns_keep_every_column_with_a_fill_bar() {
        let view = fixture::view();
        let cols = fit(80, &view);
        assert_eq!(names(&cols), Column::ALL);
        assert!(total(&cols) <= 80, "{cols:?}");
        let fill = cols.iter().find(|(c, _)| *c == Column::Fill).unwrap().1;
        assert_eq!(bar_width(fill), 10);
    }

    #[test]
    fn narrow_terminals_drop_columns_in_order_and_never_overflow() {
        let mut view = fixture::view();
        // Long names, which must be clipped, not push columns off.
        view.stages[1].name = "a_transform_with_a_very_long_name_indeed".into();
        view.stages[2].inputs = vec!["a_transform_with_a_very_long_name_indeed".into()];
        let mut last = Column::ALL.len();
        for width in (30..=120).rev() {
            let cols = fit(width, &view);
            assert!(total(&cols) <= width, "{width}: {cols:?}");
            assert!(cols.len() <= last, "{width}: a column came back");
            last = cols.len();
            for keep in [Column::Stage, Column::RateIn, Column::Fill] {
                assert!(names(&cols).contains(&keep), "{width}: {keep:?} gone");
            }
        }
        let cols = fit(50, &view);
        assert!(!names(&cols).contains(&Column::Inputs), "{cols:?}");
        let cols = fit(80, &view);
        assert!(names(&cols).contains(&Column::Inputs), "{cols:?}");
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
    }
}
