//! Drawing the `sluice top` screen with ratatui: a title line, the stage
//! table (or one stage's detail, [`super::detail`]), the status line
//! `bottleneck: STAGE (reason)` and a footer naming the keys. Drawn onto
//! any backend, so the tests draw onto ratatui's `TestBackend` and read
//! the cells back.
//!
//! No borders: at 80×24 every row and column goes to figures. The
//! bottleneck's row is red and flagged `!` (the flag survives where
//! colours do not: a pipe, `tmux capture-pane`).

use std::time::Instant;

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, HighlightSpacing, Paragraph, Row, Table, TableState, Wrap};

use super::columns::{self, FLAG};
use super::model::{self, Column, SortBy, fill_bar};
use super::state::{App, Mode};
use crate::stats::FULL_EDGE;
use crate::stats::view::StageView;

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &App, now: Instant) {
    // Two lines for the reason when the daemon does not answer.
    let title_height = if app.unreachable.is_some() { 2 } else { 1 };
    let [title, body, status, footer] = Layout::vertical([
        Constraint::Length(title_height),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    frame.render_widget(title_line(app, now), title);
    match app.mode {
        Mode::Table => draw_table(frame, app, body),
        Mode::Detail => super::detail::draw(frame, app, body),
    }
    frame.render_widget(status_line(app), status);
    frame.render_widget(footer_line(app), footer);
}

/// The title, or, while the daemon does not answer, why and since when.
fn title_line(app: &App, now: Instant) -> Paragraph<'static> {
    match &app.unreachable {
        None => Paragraph::new(model::title_line(&app.view, &app.address))
            .style(Style::new().add_modifier(Modifier::BOLD)),
        Some((reason, since)) => {
            let stale = now.saturating_duration_since(*since).as_secs_f64();
            let text = format!(
                "no answer for {} (retrying every second): {reason}",
                model::duration(stale),
            );
            Paragraph::new(text).wrap(Wrap { trim: true }).style(
                Style::new()
                    .fg(Color::White)
                    .bg(Color::Red)
                    .add_modifier(Modifier::BOLD),
            )
        }
    }
}

/// `bottleneck: STAGE (reason)`: red when there is one.
fn status_line(app: &App) -> Paragraph<'static> {
    let style = match app.view.bottleneck {
        Some(_) => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        None => Style::new().fg(Color::Green),
    };
    Paragraph::new(model::status_line(&app.view)).style(style)
}

/// The keys of the current mode.
fn footer_line(app: &App) -> Paragraph<'static> {
    let text = match app.mode {
        Mode::Table => format!(
            "q quit  ↑↓/jk select  Enter detail  s sort: {}{}  r reverse",
            app.sort.label(),
            match (app.sort, app.reverse) {
                (SortBy::Graph, false) => "",
                (SortBy::Graph, true) => " (reversed)",
                (SortBy::Column(c), r) if c.numeric() != r => " ▼",
                _ => " ▲",
            }
        ),
        Mode::Detail => "Esc back  ↑↓/jk previous/next stage  q quit".to_string(),
    };
    Paragraph::new(text).style(Style::new().fg(Color::DarkGray))
}

/// The stage table in `area`, the selected row highlighted.
fn draw_table(frame: &mut Frame, app: &App, area: Rect) {
    let fitted = columns::fit(area.width, &app.view);
    let header = Row::new(
        std::iter::once(Cell::from(""))
            .chain(fitted.iter().map(|&(c, _)| {
                let mut style = Style::new().add_modifier(Modifier::BOLD);
                if app.sort == SortBy::Column(c) {
                    style = style.add_modifier(Modifier::UNDERLINED);
                }
                aligned(c, c.title().to_string()).style(style)
            }))
            .collect::<Vec<_>>(),
    );
    let rows: Vec<Row> = app
        .rows()
        .into_iter()
        .map(|stage| table_row(app, stage, &fitted))
        .collect();
    let widths: Vec<Constraint> = std::iter::once(FLAG)
        .chain(fitted.iter().map(|&(_, w)| w))
        .map(Constraint::Length)
        .collect();
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .highlight_symbol("> ")
        .highlight_spacing(HighlightSpacing::Always)
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let mut state = TableState::default().with_selected(app.selected_index());
    frame.render_stateful_widget(table, area, &mut state);
}

/// One stage's row in the fitted columns.
fn table_row<'a>(app: &App, stage: &StageView, fitted: &[(Column, u16)]) -> Row<'a> {
    let bottleneck = model::is_bottleneck(&app.view, stage);
    let flag = Cell::from(if bottleneck { "!" } else { " " });
    let cells = fitted.iter().map(|&(c, w)| match c {
        Column::Fill => fill_cell(stage.input_fill, w),
        Column::Stage | Column::Inputs => Cell::from(columns::clip(&c.text(stage), w)),
        _ => aligned(c, c.text(stage)),
    });
    let row = Row::new(std::iter::once(flag).chain(cells).collect::<Vec<_>>());
    if bottleneck {
        row.style(Style::new().fg(Color::Red).add_modifier(Modifier::BOLD))
    } else {
        row
    }
}

/// A header or figure, right-aligned when the column holds numbers.
fn aligned<'a>(column: Column, text: String) -> Cell<'a> {
    let alignment = if column.numeric() {
        Alignment::Right
    } else {
        Alignment::Left
    };
    Cell::from(Line::from(text).alignment(alignment))
}

/// The input edge's fill: a bar coloured by how full it is, then the
/// percentage; empty for a source.
pub fn fill_cell<'a>(fill: Option<f64>, width: u16) -> Cell<'a> {
    let Some(fill) = fill else {
        return Cell::from("");
    };
    let percent = format!("{:>4}", model::percent(Some(fill)));
    let bar = columns::bar_width(width);
    if bar == 0 {
        return Cell::from(Line::from(percent).alignment(Alignment::Right));
    }
    Cell::from(Line::from(vec![
        Span::styled(
            fill_bar(fill, usize::from(bar)),
            Style::new().fg(fill_colour(fill)),
        ),
        Span::raw(" "),
        Span::raw(percent),
    ]))
}

/// Green with room to spare, yellow filling, red at or past the fill
/// from which the judgement calls an edge full.
pub fn fill_colour(fill: f64) -> Color {
    if fill >= FULL_EDGE {
        Color::Red
    } else if fill >= FULL_EDGE / 2.0 {
        Color::Yellow
    } else {
        Color::Green
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::buffer::Buffer;

    use super::super::model::fixture;
    use super::*;
    use crate::stats::view::GraphView;

    /// The screen's text, one string per row.
    pub(crate) fn screen(app: &App, width: u16, height: u16) -> Vec<String> {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        let frame = terminal.draw(|f| draw(f, app, app.updated)).unwrap();
        text(frame.buffer)
    }

    fn text(buffer: &Buffer) -> Vec<String> {
        let width = usize::from(buffer.area.width);
        buffer
            .content
            .chunks(width)
            .map(|row| row.iter().map(|c| c.symbol()).collect::<String>())
            .collect()
    }

    /// The table row whose stage column starts with `name` (after the
    /// selection marker and the flag).
    fn row_of(screen: &[String], name: &str) -> usize {
        screen
            .iter()
            .position(|l| l.chars().skip(4).collect::<String>().starts_with(name))
            .unwrap_or_else(|| panic!("no row {name}:\n{}", screen.join("\n")))
    }

    fn app(view: GraphView) -> App {
        App::new("127.0.0.1:9598", view, Instant::now())
    }

    #[test]
    fn eighty_by_twenty_four_shows_every_stage_column_and_the_bottleneck() {
        let screen = screen(&app(fixture::view()), 80, 24);
        let all = screen.join("\n");
        assert!(screen[0].starts_with("sluice top  127.0.0.1:9598  up 1m23s  3 stages"));
        let header = &screen[1];
        for c in Column::ALL {
            assert!(header.contains(c.title()), "{header:?} lacks {c:?}");
        }
        for name in ["gen", "slow", "null"] {
            assert!(
                screen[2..5].iter().any(|l| l.contains(name)),
                "{name}:\n{all}"
            );
        }
        let slow = screen.iter().find(|l| l.contains(" slow ")).unwrap();
        assert!(slow.contains('!') && slow.contains("97%"), "{slow:?}");
        assert!(
            slow.contains("██████████") && slow.contains("3.10ms"),
            "{slow:?}"
        );
        assert!(screen[2].starts_with("> "), "the first row is selected");
        assert_eq!(
            screen[22].trim_end(),
            "bottleneck: slow (input edge 97% full, busy 99%)"
        );
        assert!(screen[23].starts_with("q quit"), "{:?}", screen[23]);
        assert!(screen[23].contains("s sort: graph order"));
    }

    #[test]
    fn a_narrow_terminal_keeps_names_input_rates_and_fills() {
        let mut view = fixture::view();
        view.stages[1].name = "a_transform_with_a_very_long_name_indeed".into();
        view.bottleneck.as_mut().unwrap().stage = view.stages[1].name.clone();
        let screen = screen(&app(view), 50, 12);
        let all = screen.join("\n");
        assert!(!screen[1].contains("INPUTS"), "{all}");
        assert!(
            screen[1].contains("IN/s") && screen[1].contains("FILL"),
            "{all}"
        );
        let long = &screen[row_of(&screen, "a_trans")];
        assert!(long.contains('…') && long.contains("97%"), "{long:?}");
        // The status line is cut, not wrapped over the footer.
        assert!(screen[10].starts_with("bottleneck: a_transform"), "{all}");
        assert!(screen[11].starts_with("q quit"), "{all}");
    }

    #[test]
    fn more_stages_than_rows_keep_the_selection_in_view() {
        let mut view = fixture::view();
        let template = view.stages[2].clone();
        for i in 0..40 {
            let mut s = template.clone();
            s.name = format!("sink_{i:02}");
            view.stages.push(s);
        }
        let mut a = app(view);
        a.selected = Some("sink_39".into());
        let screen = screen(&a, 80, 24);
        let row = screen.iter().find(|l| l.contains("sink_39")).unwrap();
        assert!(row.starts_with("> "), "{row:?}");
    }

    #[test]
    fn an_unreachable_daemon_is_said_on_the_title_line() {
        let mut a = app(fixture::view());
        a.update(Err("connection refused".into()), a.updated);
        let screen = screen(&a, 80, 24);
        assert!(
            screen[0].starts_with("no answer for 0s (retrying every second): connection refused"),
            "{:?}",
            screen[0]
        );
        // The last figures stay.
        assert!(screen.iter().any(|l| l.contains("slow")));
    }

    #[test]
    fn the_sorted_column_is_named_in_the_footer() {
        let mut a = app(fixture::view());
        a.sort = SortBy::Column(Column::Busy);
        let screen = screen(&a, 80, 24);
        assert!(screen[23].contains("s sort: BUSY ▼"), "{:?}", screen[23]);
        let order: Vec<usize> = ["slow", "null", "gen"]
            .iter()
            .map(|n| row_of(&screen, n))
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    }
}
