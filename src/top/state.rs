//! The state of the `sluice top` screen and what each key does to it:
//! the latest graph, whether the daemon still answers, the sort, the
//! selected stage and whether its detail is open. Pure (no terminal, no
//! clock but the instants it is given), so every key is unit-tested.

use std::time::Instant;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::model::{SortBy, sorted};
use crate::stats::view::{GraphView, StageView};

/// What the screen shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One row per stage.
    Table,
    /// The selected stage's edges, counters and latencies.
    Detail,
}

/// What the loop must do after a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Draw again (or nothing changed).
    Continue,
    /// Restore the terminal and exit.
    Quit,
}

/// The screen's state.
pub struct App {
    /// The daemon's address, for the title.
    pub address: String,
    /// The latest graph the daemon sent.
    pub view: GraphView,
    /// When it came.
    pub updated: Instant,
    /// Why the latest fetch failed, and since when the daemon has not
    /// answered; `None` while it answers.
    pub unreachable: Option<(String, Instant)>,
    /// The table's order.
    pub sort: SortBy,
    /// Flips the order.
    pub reverse: bool,
    /// The selected stage, by name: the selection follows the stage when
    /// a refresh or a sort moves its row.
    pub selected: Option<String>,
    /// Table or detail.
    pub mode: Mode,
}

impl App {
    /// The screen after the first answer, in graph order, the first
    /// stage selected.
    pub fn new(address: &str, view: GraphView, now: Instant) -> App {
        App {
            address: address.to_string(),
            selected: view.stages.first().map(|s| s.name.clone()),
            view,
            updated: now,
            unreachable: None,
            sort: SortBy::Graph,
            reverse: false,
            mode: Mode::Table,
        }
    }

    /// Takes a fetch's outcome: a new graph, or why the daemon did not
    /// answer (the last graph stays on screen, marked stale).
    pub fn update(&mut self, fetched: Result<GraphView, String>, now: Instant) {
        match fetched {
            Ok(view) => {
                self.view = view;
                self.updated = now;
                self.unreachable = None;
                let known = |name: &String| self.view.stages.iter().any(|s| &s.name == name);
                if !self.selected.as_ref().is_some_and(known) {
                    // The stage is gone (a reload): select the first.
                    self.selected = self.view.stages.first().map(|s| s.name.clone());
                    self.mode = Mode::Table;
                }
            }
            Err(reason) => {
                let since = self.unreachable.as_ref().map_or(now, |(_, since)| *since);
                self.unreachable = Some((reason, since));
            }
        }
    }

    /// The rows in the table's order.
    pub fn rows(&self) -> Vec<&StageView> {
        sorted(&self.view, self.sort, self.reverse)
    }

    /// The selected row's index in [`rows`](Self::rows).
    pub fn selected_index(&self) -> Option<usize> {
        let name = self.selected.as_ref()?;
        self.rows().iter().position(|s| &s.name == name)
    }

    /// The selected stage.
    pub fn selected_stage(&self) -> Option<&StageView> {
        let name = self.selected.as_ref()?;
        self.view.stages.iter().find(|s| &s.name == name)
    }

    /// Applies one key.
    pub fn on_key(&mut self, key: KeyEvent) -> Action {
        if key.kind == KeyEventKind::Release {
            return Action::Continue;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('c') if ctrl => return Action::Quit,
            KeyCode::Char('q') => return Action::Quit,
            KeyCode::Esc if self.mode == Mode::Detail => self.mode = Mode::Table,
            KeyCode::Esc => return Action::Quit,
            KeyCode::Up | KeyCode::Char('k') => self.step(-1),
            KeyCode::Down | KeyCode::Char('j') => self.step(1),
            KeyCode::Home | KeyCode::Char('g') => self.select_at(0),
            KeyCode::End | KeyCode::Char('G') => self.select_at(usize::MAX),
            KeyCode::Enter if self.selected_stage().is_some() => self.mode = Mode::Detail,
            KeyCode::Char('s') => self.sort = self.sort.next(),
            KeyCode::Char('r') => self.reverse = !self.reverse,
            _ => {}
        }
        Action::Continue
    }

    /// Moves the selection `by` rows, staying inside the table.
    fn step(&mut self, by: isize) {
        let at = self.selected_index().unwrap_or(0);
        self.select_at(at.saturating_add_signed(by));
    }

    fn select_at(&mut self, at: usize) {
        let rows = self.rows();
        let Some(last) = rows.len().checked_sub(1) else {
            return;
        };
        let name = rows[at.min(last)].name.clone();
        self.selected = Some(name);
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::{Column, fixture};
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn q_ctrl_c_and_esc_quit() {
        let mut app = App::new("a", fixture::view(), Instant::now());
        assert_eq!(app.on_key(key(KeyCode::Char('q'))), Action::Quit);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(app.on_key(ctrl_c), Action::Quit);
        assert_eq!(app.on_key(key(KeyCode::Esc)), Action::Quit);
        // A plain `c` does nothing.
        assert_eq!(app.on_key(key(KeyCode::Char('c'))), Action::Continue);
    }

    #[test]
    fn the_selection_moves_within_the_table_and_follows_its_stage() {
        let mut app = App::new("a", fixture::view(), Instant::now());
        assert_eq!(app.selected.as_deref(), Some("gen"));
        app.on_key(key(KeyCode::Up));
        assert_eq!(app.selected.as_deref(), Some("gen"), "stays at the top");
        app.on_key(key(KeyCode::Down));
        app.on_key(key(KeyCode::Char('j')));
        app.on_key(key(KeyCode::Down));
        assert_eq!(app.selected.as_deref(), Some("null"), "stays at the bottom");
        app.on_key(key(KeyCode::Char('k')));
        assert_eq!(app.selected.as_deref(), Some("slow"));
        // Sorting moves the row, not the selection.
        app.sort = SortBy::Column(Column::Stage);
        assert_eq!(app.selected.as_deref(), Some("slow"));
        assert_eq!(app.selected_index(), Some(2));
        app.on_key(key(KeyCode::Char('g')));
        assert_eq!(app.selected.as_deref(), Some("gen"));
    }

    #[test]
    fn s_cycles_the_sort_and_r_reverses_it() {
        let mut app = App::new("a", fixture::view(), Instant::now());
        app.on_key(key(KeyCode::Char('s')));
        assert_eq!(app.sort, SortBy::Column(Column::Stage));
        app.on_key(key(KeyCode::Char('s')));
        assert_eq!(app.sort, SortBy::Column(Column::RateIn));
        app.on_key(key(KeyCode::Char('r')));
        assert!(app.reverse);
        let names: Vec<&str> = app.rows().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["null", "slow", "gen"]);
    }

    #[test]
    fn enter_opens_the_detail_and_esc_goes_back() {
        let mut app = App::new("a", fixture::view(), Instant::now());
        app.on_key(key(KeyCode::Down));
        assert_eq!(app.on_key(key(KeyCode::Enter)), Action::Continue);
        assert_eq!(app.mode, Mode::Detail);
        assert_eq!(app.selected_stage().unwrap().name, "slow");
        assert_eq!(app.on_key(key(KeyCode::Esc)), Action::Continue);
        assert_eq!(app.mode, Mode::Table);
    }

    #[test]
    fn a_failed_fetch_keeps_the_last_graph_and_remembers_since_when() {
        let t0 = Instant::now();
        let mut app = App::new("a", fixture::view(), t0);
        let t1 = t0 + std::time::Duration::from_secs(1);
        let t2 = t0 + std::time::Duration::from_secs(2);
        app.update(Err("refused".into()), t1);
        app.update(Err("still refused".into()), t2);
        let (reason, since) = app.unreachable.clone().unwrap();
        assert_eq!((reason.as_str(), since), ("still refused", t1));
        assert_eq!(app.view.stages.len(), 3);
        // A reload that removed the selected stage selects the first.
        let mut view = fixture::view();
        app.selected = Some("slow".into());
        app.mode = Mode::Detail;
        view.stages.retain(|s| s.name != "slow");
        app.update(Ok(view), t2);
        assert!(app.unreachable.is_none());
        assert_eq!(app.selected.as_deref(), Some("gen"));
        assert_eq!(app.mode, Mode::Table);
    }
}
