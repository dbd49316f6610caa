//! The terminal loop of `sluice top`: raw mode and the alternate screen
//! (ratatui's `try_init`, whose panic hook restores the terminal), a
//! redraw after every key, answer or resize and at least once a second
//! (the "unreachable for" count moves), and the terminal restored on every
//! way out: `q`, Esc, Ctrl-C (a key in raw mode, not a signal), SIGTERM
//! (`kill`), an error. SIGHUP (the terminal closed) ends the process at
//! once with 129: there is no terminal left to restore, and crossterm's
//! reader spins on a closed terminal (every read returns 0 bytes) instead
//! of returning, so the loop would never see a flag.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event};

use super::client::Poller;
use super::render;
use super::state::{Action, App};
use crate::stats::view::GraphView;

/// How long the loop waits for a key before it looks for an answer: short
/// enough that a new answer shows within a tenth of a second.
const KEY_WAIT: Duration = Duration::from_millis(100);

/// The longest the screen goes without a redraw.
const REDRAW: Duration = Duration::from_secs(1);

/// Runs the screen until a quitting key; the terminal is restored before
/// this returns, whatever the outcome.
pub fn run(address: &str, poller: &Poller, first: GraphView) -> anyhow::Result<()> {
    let stop = stop_signals()?;
    let mut terminal = ratatui::try_init().context("cannot set up the terminal")?;
    let app = App::new(address, first, Instant::now());
    let outcome = event_loop(&mut terminal, app, poller, &stop);
    ratatui::try_restore().context("cannot restore the terminal")?;
    outcome
}

/// Exit status after SIGHUP (128 + 1, as shells report it).
const EXIT_HANGUP: i32 = 129;

/// A flag set on SIGTERM, which then no longer ends the process by itself:
/// the loop sees the flag and leaves through the restore. SIGHUP exits.
fn stop_signals() -> anyhow::Result<Arc<AtomicBool>> {
    use tokio::signal::unix::{SignalKind, signal};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the signal runtime")?;
    // Registered here, before the terminal changes, so no signal falls
    // between the two.
    let (mut term, mut hup) = runtime.block_on(async {
        Ok::<_, std::io::Error>((
            signal(SignalKind::terminate())?,
            signal(SignalKind::hangup())?,
        ))
    })?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::Builder::new()
        .name("top-signals".into())
        .spawn(move || {
            let hung_up = runtime.block_on(async {
                tokio::select! {
                    _ = term.recv() => false,
                    _ = hup.recv() => true,
                }
            });
            if hung_up {
                std::process::exit(EXIT_HANGUP);
            }
            flag.store(true, Ordering::Relaxed);
        })
        .context("cannot start the signal thread")?;
    Ok(stop)
}

fn event_loop(
    terminal: &mut DefaultTerminal,
    mut app: App,
    poller: &Poller,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let mut drawn: Option<Instant> = None;
    let mut dirty = true;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        if dirty || drawn.is_none_or(|t| t.elapsed() >= REDRAW) {
            terminal.draw(|f| render::draw(f, &app, Instant::now()))?;
            drawn = Some(Instant::now());
            dirty = false;
        }
        if event::poll(KEY_WAIT)? {
            match event::read()? {
                Event::Key(key) => {
                    if app.on_key(key) == Action::Quit {
                        return Ok(());
                    }
                    dirty = true;
                }
                Event::Resize(..) => dirty = true,
                _ => {}
            }
        }
        loop {
            match poller.results.try_recv() {
                Ok(fetched) => {
                    app.update(fetched, Instant::now());
                    dirty = true;
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => break,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    anyhow::bail!("the poller thread ended")
                }
            }
        }
    }
}
