//! `sluice top` when stdout is not a terminal (a pipe, a file, a script),
//! or with `--once`: the same table as plain text, every column, no
//! colours, ASCII bars. One table per refresh, each ending with the status
//! line and a blank line; `--once` prints one and exits, for scripts and
//! tests.

use std::fmt::Write as _;
use std::io::Write as _;

use super::columns::bar_width;
use super::model::{self, Column};
use crate::stats::view::GraphView;

/// The width of the fill column: a 10-character bar and the percentage.
const FILL_WIDTH: u16 = 15;

/// The whole table of `view` as text.
pub fn table(view: &GraphView, address: &str) -> String {
    let stages: Vec<Vec<String>> = view
        .stages
        .iter()
        .map(|s| {
            Column::ALL
                .iter()
                .map(|&c| match c {
                    Column::Fill => fill(s.input_fill),
                    _ => c.text(s),
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = Column::ALL
        .iter()
        .enumerate()
        .map(|(i, c)| {
            stages
                .iter()
                .map(|row| row[i].chars().count())
                .chain([c.title().len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let _ = writeln!(out, "{}", model::title_line(view, address));
    let titles: Vec<String> = Column::ALL.iter().map(|c| c.title().to_string()).collect();
    line(&mut out, " ", &titles, &widths);
    for (stage, cells) in view.stages.iter().zip(&stages) {
        let flag = if model::is_bottleneck(view, stage) {
            "!"
        } else {
            " "
        };
        line(&mut out, flag, cells, &widths);
    }
    let _ = writeln!(out, "{}", model::status_line(view));
    out
}

/// One row: the flag, then each cell padded to its column (numbers to the
/// right), no trailing spaces.
fn line(out: &mut String, flag: &str, cells: &[String], widths: &[usize]) {
    let mut text = String::from(flag);
    for ((cell, width), column) in cells.iter().zip(widths).zip(Column::ALL) {
        let pad = width.saturating_sub(cell.chars().count());
        text.push(' ');
        if column.numeric() {
            text.push_str(&" ".repeat(pad));
            text.push_str(cell);
        } else {
            text.push_str(cell);
            text.push_str(&" ".repeat(pad));
        }
    }
    let _ = writeln!(out, "{}", text.trim_end());
}

/// An ASCII bar and the percentage; empty for a source.
fn fill(fill: Option<f64>) -> String {
    let Some(f) = fill else {
        return String::new();
    };
    let bar = model::fill_bar(f, usize::from(bar_width(FILL_WIDTH)))
        .replace('█', "#")
        .replace('·', ".");
    format!("{bar} {:>4}", model::percent(Some(f)))
}

/// Prints `table`, then a blank line when more tables follow; false when
/// stdout is gone (a closed pipe ends `top` as it ends any filter:
/// quietly).
pub fn print(table: &str, more: bool) -> bool {
    let mut out = std::io::stdout().lock();
    let gap = if more { "\n" } else { "" };
    write!(out, "{table}{gap}")
        .and_then(|()| out.flush())
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::super::model::fixture;
    use super::*;

    #[test]
    fn the_plain_table_has_every_stage_column_and_the_status_line() {
        let text = table(&fixture::view(), "127.0.0.1:9598");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6, "{text}");
        assert!(lines[0].starts_with("sluice top  127.0.0.1:9598  up 1m23s"));
        assert_eq!(
            lines[1],
            "  STAGE INPUTS           IN/s OUT/s ERR/s BUSY      INPUT FILL    P99"
        );
        assert_eq!(
            lines[2],
            "  gen   -                 480   480     0    -                      -"
        );
        assert_eq!(
            lines[3],
            "! slow  gen               470   468   2.0  99% ##########  97% 3.10ms"
        );
        assert_eq!(
            lines[4],
            "  null  slow,slow.errors  468   468     0   1% ..........   2% 0.05ms"
        );
        assert_eq!(lines[5], "bottleneck: slow (input edge 97% full, busy 99%)");
        assert!(text.is_ascii(), "{text}");
    }
}
