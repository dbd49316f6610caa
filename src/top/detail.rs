//! One stage's detail in `sluice top` (Enter on a row; Esc goes back):
//! what it is, its counters over the run and rates over the window, busy
//! share, latencies, and every edge into and out of it with capacity,
//! queued events, fill and rate. The arrow keys step to the neighbouring
//! stage without leaving the detail.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Table};

use super::columns::clip;
use super::model::{self, rate};
use super::render::fill_cell;
use super::state::App;
use crate::stats::view::{EdgeView, GraphView, StageView};

/// Draws the selected stage's detail in `area`.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let Some(stage) = app.selected_stage() else {
        frame.render_widget(Paragraph::new("no stage selected"), area);
        return;
    };
    let head = summary(&app.view, stage);
    let used = (head.len() as u16).min(area.height);
    let (top, rest) = (
        Rect {
            height: used,
            ..area
        },
        Rect {
            y: area.y + used,
            height: area.height - used,
            ..area
        },
    );
    frame.render_widget(Paragraph::new(head), top);
    frame.render_widget(edges_table(&app.view, stage, rest.width), rest);
}

/// The lines above the edges.
pub fn summary(view: &GraphView, stage: &StageView) -> Vec<Line<'static>> {
    let workers = match stage.workers {
        1 => "1 worker".to_string(),
        n => format!("{n} workers"),
    };
    let mut lines = vec![
        Line::styled(
            format!("{}  {} ({}), {workers}", stage.name, stage.role, stage.kind),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Line::raw(format!("inputs   {}", model::inputs(stage))),
        Line::raw(String::new()),
        Line::raw(format!(
            "{:<8} {:>14} {:>10}",
            "", "over the run", "per second"
        )),
        Line::raw(format!(
            "{:<8} {:>14} {:>10}",
            "in",
            count(stage.events_in),
            rate(stage.rate_in)
        )),
        Line::raw(format!(
            "{:<8} {:>14} {:>10}",
            "out",
            count(stage.events_out),
            rate(stage.rate_out)
        )),
        Line::raw(format!(
            "{:<8} {:>14} {:>10}",
            "errors",
            count(stage.errors),
            rate(stage.rate_errors)
        )),
        Line::raw(String::new()),
        Line::raw(format!(
            "busy {}   input fill {}   p50 {}   p99 {}",
            model::percent(stage.busy),
            model::percent(stage.input_fill),
            model::millis(stage.p50_ms),
            model::millis(stage.p99_ms),
        )),
    ];
    if let Some(b) = view.bottleneck.as_ref().filter(|b| b.stage == stage.name) {
        lines.push(Line::styled(
            format!("the bottleneck: {}", b.reason),
            Style::new()
                .fg(super::render::fill_colour(1.0))
                .add_modifier(Modifier::BOLD),
        ));
    }
    lines.push(Line::raw(String::new()));
    lines
}

/// The edges into and out of `stage`, one row each.
fn edges_table<'a>(view: &GraphView, stage: &StageView, width: u16) -> Table<'a> {
    let into = view.edges.iter().filter(|e| e.to == stage.name);
    let out = view.edges.iter().filter(|e| e.from == stage.name);
    // "from.port -> to", as wide as the longest, clipped to what the
    // figures leave (direction 4, capacity 8, queued 6, fill 15, rate 6,
    // and the spaces between).
    let longest = view
        .edges
        .iter()
        .filter(|e| e.to == stage.name || e.from == stage.name)
        .map(|e| edge_name(e).chars().count())
        .max()
        .unwrap_or(0) as u16;
    let name_width = longest.clamp(4, width.saturating_sub(4 + 8 + 6 + 15 + 6 + 5).max(10));
    let row = |dir: &'static str, e: &EdgeView| {
        Row::new(vec![
            Cell::from(dir),
            Cell::from(clip(&edge_name(e), name_width)),
            right(count(e.capacity as u64)),
            right(count(e.queued)),
            fill_cell(Some(e.fill), 15),
            right(rate(e.rate)),
        ])
    };
    let rows: Vec<Row> = into
        .map(|e| row("in", e))
        .chain(out.map(|e| row("out", e)))
        .collect();
    let header = Row::new(vec![
        Cell::from("edge"),
        Cell::from(""),
        right("capacity".into()),
        right("queued".into()),
        Cell::from("fill"),
        right("ev/s".into()),
    ])
    .style(Style::new().add_modifier(Modifier::BOLD));
    Table::new(
        rows,
        [
            Constraint::Length(4),
            Constraint::Length(name_width),
            Constraint::Length(8),
            Constraint::Length(6),
            Constraint::Length(15),
            Constraint::Length(6),
        ],
    )
    .header(header)
    .column_spacing(1)
}

/// `from -> to`, or `from.port -> to` for a port other than the main one.
pub fn edge_name(e: &EdgeView) -> String {
    if e.port.is_empty() {
        format!("{} -> {}", e.from, e.to)
    } else {
        format!("{}.{} -> {}", e.from, e.port, e.to)
    }
}

fn right<'a>(text: String) -> Cell<'a> {
    Cell::from(Line::from(text).alignment(Alignment::Right))
}

/// `1234567` as `1,234,567`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    use super::super::model::fixture;
    use super::super::render::tests::screen;
    use super::super::state::{App, Mode};
    use super::*;

    #[test]
    fn the_detail_shows_counters_latencies_and_every_edge() {
        let mut app = App::new("a", fixture::view(), Instant::now());
        app.on_key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE));
        app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
        assert_eq!(app.mode, Mode::Detail);
        let screen = screen(&app, 80, 24);
        let all = screen.join("\n");
        assert!(
            screen[1].starts_with("slow  transform (delay), 2 workers"),
            "{all}"
        );
        assert!(all.contains("inputs   gen"), "{all}");
        for needle in [
            "4,900",
            "4,890",
            "470",
            "busy 99%   input fill 97%   p50 0.40ms   p99 3.10ms",
            "the bottleneck: input edge 97% full, busy 99%",
        ] {
            assert!(all.contains(needle), "{needle:?} missing:\n{all}");
        }
        let edge = |name: &str| {
            screen
                .iter()
                .find(|l| l.contains(name))
                .unwrap_or_else(|| panic!("no edge {name}:\n{all}"))
                .clone()
        };
        let gen_slow = edge("gen -> slow");
        assert!(
            gen_slow.starts_with("in ") && gen_slow.contains("97%"),
            "{gen_slow:?}"
        );
        assert!(edge("slow -> null").starts_with("out "));
        assert!(edge("slow.errors -> null").contains("2.0"));
        assert!(screen[23].starts_with("Esc back"), "{:?}", screen[23]);
        // Down moves to the next stage's detail.
        app.on_key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE));
        let screen = super::super::render::tests::screen(&app, 80, 24);
        assert!(
            screen[1].starts_with("null  sink (blackhole)"),
            "{:?}",
            screen[1]
        );
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
    }
}
