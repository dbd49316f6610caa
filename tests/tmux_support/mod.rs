//! A real terminal for the tests of what sluice draws on one (`sluice
//! top`, the replay progress bars): a detached tmux session of a given
//! size on a tmux server of the test's own (`tmux -L NAME`, so parallel
//! tests and anyone's own tmux never meet), read with `capture-pane` and
//! driven with `send-keys`. Every wait polls the screen with a deadline.
//!
//! Without tmux a test is skipped with a message saying so, except in CI
//! (`CI=true`), where a missing tmux fails: `.ci/run` installs it.

#![allow(dead_code)]

use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a screen may take to show what a test waits for (a debug
/// build on two busy cores).
pub const PATIENCE: Duration = Duration::from_secs(60);

/// One tmux server with one session.
pub struct Tmux {
    socket: String,
}

/// A tmux to test with, or `None` (after saying why) when there is none
/// and this is not CI.
pub fn tmux_or_skip(test: &str) -> Option<()> {
    let found = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some(());
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: tmux is not installed, and CI=true: .ci/run installs it (apt-get install tmux)"
    );
    eprintln!("SKIPPED {test}: tmux is not installed (apt-get install tmux); CI runs it");
    None
}

impl Tmux {
    /// Starts `command` (run by `sh -c`) in a detached `width`×`height`
    /// session. The pane stays after the command ends, so its last output
    /// can still be read.
    pub fn start(width: u16, height: u16, command: &str) -> Tmux {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let socket = format!(
            "sluice-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let tmux = Tmux { socket };
        let (w, h) = (width.to_string(), height.to_string());
        tmux.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            &w,
            "-y",
            &h,
            "sh",
            "-c",
            // Keep the pane (and its last screen) after the command ends.
            &format!("{command}; sleep 600"),
        ]);
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .env_remove("TMUX")
            .env("TERM", "xterm-256color")
            .output()
            .expect("tmux runs");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// The screen's text now, one string per row.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned()
    }

    /// Types `keys` (tmux key names: `q`, `Enter`, `Escape`, `Down`).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Waits until the screen satisfies `ok`, and returns it; fails with
    /// the last screen after [`PATIENCE`].
    pub fn wait(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "the screen did not show {what} within {PATIENCE:?}; it shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The process id of the pane's command (the child of its `sh`).
    pub fn command_pid(&self) -> u32 {
        let out = self.run(&["display-message", "-p", "-t", "t", "#{pane_pid}"]);
        let sh = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let children = std::fs::read_to_string(format!("/proc/{sh}/task/{sh}/children"))
            .expect("/proc lists the shell's children");
        children
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the pane's shell {sh} has no child"))
    }

    /// Waits for `needle` on the screen.
    pub fn wait_for(&self, needle: &str) -> String {
        self.wait(&format!("{needle:?}"), |s| s.contains(needle))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // Ends this test's own server (and the session's processes) only.
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}
