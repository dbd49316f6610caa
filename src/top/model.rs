//! What `sluice top` shows of a [`GraphView`], independent of how it is
//! drawn: the columns, the figures of each cell as text, the sort orders,
//! and the status line. The terminal view ([`super::render`]) and the
//! plain text ([`super::plain`]) both read from here, so the two never
//! disagree on a number.

use crate::stats::view::{GraphView, StageView};

/// One column of the stage table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// The stage's name.
    Stage,
    /// Its inputs as written (`STAGE` or `STAGE.PORT`): the graph's shape.
    Inputs,
    /// Events per second received.
    RateIn,
    /// Events per second emitted.
    RateOut,
    /// Error events per second.
    RateErrors,
    /// Share of the window its workers spent on batches.
    Busy,
    /// The fullest input edge, as a bar and a percentage.
    Fill,
    /// 99th percentile of the time per batch.
    P99,
}

impl Column {
    /// Every column, in the order they are shown.
    pub const ALL: [Column; 8] = [
        Column::Stage,
        Column::Inputs,
        Column::RateIn,
        Column::RateOut,
        Column::RateErrors,
        Column::Busy,
        Column::Fill,
        Column::P99,
    ];

    /// The header.
    pub fn title(self) -> &'static str {
        match self {
            Column::Stage => "STAGE",
            Column::Inputs => "INPUTS",
            Column::RateIn => "IN/s",
            Column::RateOut => "OUT/s",
            Column::RateErrors => "ERR/s",
            Column::Busy => "BUSY",
            Column::Fill => "INPUT FILL",
            Column::P99 => "P99",
        }
    }

    /// True for the columns holding numbers (right-aligned, sorted
    /// largest first).
    pub fn numeric(self) -> bool {
        !matches!(self, Column::Stage | Column::Inputs)
    }

    /// The cell of `stage` in this column, as text. The fill column's
    /// text is its percentage only; a bar is drawn by [`fill_bar`] where
    /// there is room.
    pub fn text(self, stage: &StageView) -> String {
        match self {
            Column::Stage => stage.name.clone(),
            Column::Inputs => inputs(stage),
            Column::RateIn => rate(stage.rate_in),
            Column::RateOut => rate(stage.rate_out),
            Column::RateErrors => rate(stage.rate_errors),
            Column::Busy => percent(stage.busy),
            Column::Fill => percent(stage.input_fill),
            Column::P99 => millis(stage.p99_ms),
        }
    }

    /// The value sorted on (numeric columns; `None` sorts last).
    fn number(self, stage: &StageView) -> Option<f64> {
        match self {
            Column::Stage | Column::Inputs => None,
            Column::RateIn => Some(stage.rate_in),
            Column::RateOut => Some(stage.rate_out),
            Column::RateErrors => Some(stage.rate_errors),
            Column::Busy => stage.busy,
            Column::Fill => stage.input_fill,
            Column::P99 => stage.p99_ms,
        }
    }
}

/// What the table is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    /// Graph order: sources first, then each stage after what it reads.
    #[default]
    Graph,
    /// A column: names A to Z, numbers largest first.
    Column(Column),
}

impl SortBy {
    /// The orders `s` steps through, in turn.
    const CYCLE: [SortBy; 8] = [
        SortBy::Graph,
        SortBy::Column(Column::Stage),
        SortBy::Column(Column::RateIn),
        SortBy::Column(Column::RateOut),
        SortBy::Column(Column::RateErrors),
        SortBy::Column(Column::Busy),
        SortBy::Column(Column::Fill),
        SortBy::Column(Column::P99),
    ];

    /// The order after this one.
    pub fn next(self) -> SortBy {
        let at = Self::CYCLE.iter().position(|s| *s == self).unwrap_or(0);
        Self::CYCLE[(at + 1) % Self::CYCLE.len()]
    }

    /// How the footer names it.
    pub fn label(self) -> &'static str {
        match self {
            SortBy::Graph => "graph order",
            SortBy::Column(c) => c.title(),
        }
    }
}

/// The stages of `view` in the order `sort` asks (`reverse` flips it).
/// Ties keep graph order, so rows do not jump between refreshes.
pub fn sorted(view: &GraphView, sort: SortBy, reverse: bool) -> Vec<&StageView> {
    let mut rows: Vec<&StageView> = view.stages.iter().collect();
    match sort {
        SortBy::Graph => {}
        SortBy::Column(Column::Stage | Column::Inputs) => {
            rows.sort_by(|a, b| a.name.cmp(&b.name));
        }
        SortBy::Column(c) => {
            // Largest first; stages without the figure last.
            let key = |s: &StageView| c.number(s).unwrap_or(f64::NEG_INFINITY);
            rows.sort_by(|a, b| key(b).total_cmp(&key(a)));
        }
    }
    if reverse {
        rows.reverse();
    }
    rows
}

/// True when `stage` is the one the daemon judges the bottleneck.
pub fn is_bottleneck(view: &GraphView, stage: &StageView) -> bool {
    view.bottleneck
        .as_ref()
        .is_some_and(|b| b.stage == stage.name)
}

/// The status line: `bottleneck: STAGE (reason)`, as in the run summary,
/// or that nothing holds the graph back.
pub fn status_line(view: &GraphView) -> String {
    match &view.bottleneck {
        Some(b) => format!("bottleneck: {} ({})", b.stage, b.reason),
        None => "bottleneck: none (every input edge has room)".to_string(),
    }
}

/// The title line: uptime, stage count, the rates' window.
pub fn title_line(view: &GraphView, address: &str) -> String {
    format!(
        "sluice top  {address}  up {}  {} stages  rates over {}s  in flight {}",
        duration(view.uptime_s),
        view.stages.len(),
        trim_float(view.window_s),
        view.in_flight,
    )
}

/// A stage's inputs as written, or `-` for a source.
pub fn inputs(stage: &StageView) -> String {
    if stage.inputs.is_empty() {
        "-".to_string()
    } else {
        stage.inputs.join(",")
    }
}

/// Events per second in at most 6 characters: `0`, `12.5`, `987`,
/// `12.3k`, `4.56M`, `123M`.
pub fn rate(v: f64) -> String {
    let v = if v.is_finite() { v.max(0.0) } else { 0.0 };
    if v < 0.05 {
        "0".to_string()
    } else if v < 100.0 {
        format!("{v:.1}")
    } else if v < 9_999.5 {
        format!("{v:.0}")
    } else if v < 999_950.0 {
        format!("{:.1}k", v / 1e3)
    } else if v < 9.995e6 {
        format!("{:.2}M", v / 1e6)
    } else if v < 999.5e6 {
        format!("{:.0}M", v / 1e6)
    } else {
        ">1G".to_string()
    }
}

/// A 0..1 share as a whole percentage; `-` when not measured.
pub fn percent(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{:.0}%", v.clamp(0.0, 1.0) * 100.0),
        _ => "-".to_string(),
    }
}

/// Milliseconds in at most 6 characters: `0.40ms`, `12.3ms`, `250ms`,
/// `1.50s`; `-` without data.
pub fn millis(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() && v >= 0.0 => {
            if v < 9.995 {
                format!("{v:.2}ms")
            } else if v < 99.95 {
                format!("{v:.1}ms")
            } else if v < 999.5 {
                format!("{v:.0}ms")
            } else {
                format!("{:.2}s", v / 1e3)
            }
        }
        _ => "-".to_string(),
    }
}

/// A bar `width` characters wide, filled to `fill` (0..1).
pub fn fill_bar(fill: f64, width: usize) -> String {
    let fill = if fill.is_finite() {
        fill.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let full = (fill * width as f64).round() as usize;
    let mut bar = "█".repeat(full.min(width));
    bar.push_str(&"·".repeat(width - full.min(width)));
    bar
}

/// Seconds as `12s`, `3m05s`, `1h02m`, `2d03h`.
pub fn duration(seconds: f64) -> String {
    let s = if seconds.is_finite() {
        seconds.max(0.0) as u64
    } else {
        0
    };
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// `5` for 5.0, `2.5` for 2.5.
fn trim_float(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Views for the tests of `top`'s files: the contract's example graph.
#[cfg(test)]
pub(crate) mod fixture {
    use crate::stats::view::GraphView;

    /// gen → slow → null, `slow` the bottleneck; names may be made long.
    pub fn view() -> GraphView {
        serde_json::from_str(
            r#"{
          "version": 1, "uptime_s": 83.2, "window_s": 5.0,
          "stages": [
            {"name": "gen", "kind": "generate", "role": "source", "workers": 1, "inputs": [],
             "events_in": 5000, "events_out": 5000, "errors": 0,
             "rate_in": 480.0, "rate_out": 480.0, "rate_errors": 0.0,
             "busy": null, "input_fill": null, "p50_ms": null, "p99_ms": null},
            {"name": "slow", "kind": "delay", "role": "transform", "workers": 2, "inputs": ["gen"],
             "events_in": 4900, "events_out": 4890, "errors": 10,
             "rate_in": 470.0, "rate_out": 468.0, "rate_errors": 2.0,
             "busy": 0.99, "input_fill": 0.97, "p50_ms": 0.4, "p99_ms": 3.1},
            {"name": "null", "kind": "blackhole", "role": "sink", "workers": 1, "inputs": ["slow", "slow.errors"],
             "events_in": 4890, "events_out": 4890, "errors": 0,
             "rate_in": 468.0, "rate_out": 468.0, "rate_errors": 0.0,
             "busy": 0.01, "input_fill": 0.02, "p50_ms": 0.01, "p99_ms": 0.05}
          ],
          "edges": [
            {"from": "gen", "port": "", "to": "slow", "capacity": 64, "queued": 62, "fill": 0.97, "rate": 470.0},
            {"from": "slow", "port": "", "to": "null", "capacity": 1024, "queued": 3, "fill": 0.02, "rate": 468.0},
            {"from": "slow", "port": "errors", "to": "null", "capacity": 1024, "queued": 3, "fill": 0.02, "rate": 2.0}
          ],
          "bottleneck": {"stage": "slow", "reason": "input edge 97% full, busy 99%"},
          "tap_dropped": 0
        }"#,
        )
        .expect("the contract's example parses")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_fit_their_columns() {
        assert_eq!(rate(0.0), "0");
        assert_eq!(rate(0.04), "0");
        assert_eq!(rate(12.54), "12.5");
        assert_eq!(rate(987.4), "987");
        assert_eq!(rate(12_345.0), "12.3k");
        assert_eq!(rate(4_560_000.0), "4.56M");
        assert_eq!(rate(f64::NAN), "0");
        assert_eq!(percent(Some(0.974)), "97%");
        assert_eq!(percent(Some(1.7)), "100%");
        assert_eq!(percent(None), "-");
        assert_eq!(millis(Some(0.4)), "0.40ms");
        assert_eq!(millis(Some(12.34)), "12.3ms");
        assert_eq!(millis(Some(250.0)), "250ms");
        assert_eq!(millis(Some(1500.0)), "1.50s");
        assert_eq!(millis(None), "-");
        for v in [0.0, 0.5, 99.99, 9_999.4, 999_949.0, 1e12] {
            assert!(rate(v).len() <= 6, "{v} -> {}", rate(v));
        }
        assert_eq!(fill_bar(0.97, 6), "██████");
        assert_eq!(fill_bar(0.5, 6), "███···");
        assert_eq!(fill_bar(-1.0, 3), "···");
        assert_eq!(duration(83.2), "1m23s");
        assert_eq!(duration(3725.0), "1h02m");
    }

    #[test]
    fn sorting_by_a_column_puts_the_largest_first_and_reverses() {
        let view = fixture::view();
        let names = |rows: Vec<&StageView>| -> Vec<String> {
            rows.iter().map(|s| s.name.clone()).collect()
        };
        assert_eq!(
            names(sorted(&view, SortBy::Graph, false)),
            ["gen", "slow", "null"]
        );
        assert_eq!(
            names(sorted(&view, SortBy::Column(Column::Stage), false)),
            ["gen", "null", "slow"]
        );
        // A source has no busy figure: last.
        assert_eq!(
            names(sorted(&view, SortBy::Column(Column::Busy), false)),
            ["slow", "null", "gen"]
        );
        assert_eq!(
            names(sorted(&view, SortBy::Column(Column::Busy), true)),
            ["gen", "null", "slow"]
        );
        assert_eq!(
            names(sorted(&view, SortBy::Column(Column::RateIn), false)),
            ["gen", "slow", "null"]
        );
    }

    #[test]
    fn the_sort_cycle_visits_every_order_and_returns() {
        let mut s = SortBy::Graph;
        let mut seen = vec![s];
        for _ in 0..SortBy::CYCLE.len() - 1 {
            s = s.next();
            assert!(!seen.contains(&s), "{s:?} twice");
            seen.push(s);
        }
        assert_eq!(s.next(), SortBy::Graph);
    }

    #[test]
    fn the_status_line_names_the_bottleneck_as_the_summary_does() {
        let mut view = fixture::view();
        assert_eq!(
            status_line(&view),
            "bottleneck: slow (input edge 97% full, busy 99%)"
        );
        assert!(is_bottleneck(&view, &view.stages[1]));
        assert!(!is_bottleneck(&view, &view.stages[0]));
        view.bottleneck = None;
        assert!(status_line(&view).starts_with("bottleneck: none"));
        assert_eq!(inputs(&view.stages[0]), "-");
        assert_eq!(inputs(&view.stages[2]), "slow,slow.errors");
    }
}
