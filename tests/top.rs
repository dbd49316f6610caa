//! `sluice top` against a running daemon with a deliberately slow stage in
//! the middle (gen → parse → slow → null, `slow` a 2 ms `delay`): in a real
//! 80×24 terminal (tmux), where the screen names every stage, flags and
//! states the bottleneck, opens a stage's detail, sorts, says so when the
//! daemon goes away, and `q` ends it with the terminal restored; as plain
//! text when stdout is a pipe (`--once`, and one table per refresh); and
//! its failures: no daemon, a token missing or wrong.

mod common;
mod daemon_support;
mod tmux_support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Config, describe};
use daemon_support::{Daemon, PATIENCE};
use tmux_support::{Tmux, tmux_or_skip};

const STAGES: [&str; 4] = ["gen", "parse", "slow", "null"];

/// gen (as fast as it goes) → parse (jq) → slow (2 ms an event) → null,
/// with `extra` appended to `[pipeline]`.
fn middle(dir: &Path, extra: &str) -> PathBuf {
    Config::new()
        .pipeline()
        .set("metrics_address", "127.0.0.1:0")
        .set("capacity", 64)
        .raw(extra)
        .source("gen", "generate")
        .transform("parse", "jq", &["gen"])
        .set("program", ".")
        .transform("slow", "delay", &["parse"])
        .set("duration", "2ms")
        .sink("null", "blackhole", &["slow", "parse.errors"])
        .write(dir, "middle.toml")
}

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("sluice")
}

/// `sluice top --once` against `api` until the bottleneck named is
/// `slow` (the judgement needs a window of samples); returns the table.
fn once_until_slow(api: SocketAddr) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let out = common::sluice()
            .args(["top", "--once", "--address", &api.to_string()])
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        let text = String::from_utf8(out.stdout).unwrap();
        if text.contains("bottleneck: slow (input edge ") {
            return text;
        }
        assert!(Instant::now() < deadline, "never judged `slow`:\n{text}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn top_in_a_real_terminal_names_every_stage_shows_the_bottleneck_and_q_quits() {
    let Some(()) = tmux_or_skip("top_in_a_real_terminal") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::start(&middle(dir.path(), ""), &[], &[]);
    let api = daemon.metrics_address();
    once_until_slow(api);
    let tmux = Tmux::start(
        80,
        24,
        &format!(
            "{} top --address {api}; echo \"top exited $?\"",
            bin().display()
        ),
    );
    let screen = tmux.wait("every stage and the bottleneck", |s| {
        s.contains("bottleneck: slow (input edge ")
            && STAGES.iter().all(|n| {
                s.lines()
                    .any(|l| l.get(4..).is_some_and(|r| r.starts_with(n)))
            })
    });
    let lines: Vec<&str> = screen.lines().collect();
    assert!(lines[0].starts_with("sluice top  "), "{screen}");
    for title in [
        "STAGE",
        "INPUTS",
        "IN/s",
        "OUT/s",
        "ERR/s",
        "BUSY",
        "INPUT FILL",
        "P99",
    ] {
        assert!(
            lines[1].contains(title),
            "80 columns show {title}:\n{screen}"
        );
    }
    let slow = lines
        .iter()
        .find(|l| l.get(4..).is_some_and(|r| r.starts_with("slow ")))
        .unwrap();
    assert!(slow.contains('!') && slow.contains("parse"), "{slow:?}");
    assert!(lines.len() <= 24 && lines.iter().all(|l| l.chars().count() <= 80));
    assert!(lines[23].starts_with("q quit"), "{screen}");

    // The detail of `slow` (third row): its edges in and out.
    tmux.keys(&["j", "j", "Enter"]);
    let detail = tmux.wait_for("parse -> slow");
    assert!(
        detail.contains("slow  transform (delay), 1 worker"),
        "{detail}"
    );
    assert!(
        detail.contains("slow -> null") && detail.contains("p99 "),
        "{detail}"
    );
    tmux.keys(&["Escape"]);
    tmux.wait_for("Enter detail");
    // Sorting by name: null before parse before slow.
    tmux.keys(&["s"]);
    let sorted = tmux.wait_for("s sort: STAGE");
    let row = |n: &str| {
        sorted
            .lines()
            .position(|l| l.get(4..).is_some_and(|r| r.starts_with(n)))
            .unwrap()
    };
    assert!(row("gen") < row("null") && row("null") < row("parse") && row("parse") < row("slow"));

    // The daemon goes away: the last figures stay, marked, and top retries.
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}");
    // (The first failure may be the pooled connection closing; the retries
    // find no daemon.)
    let gone = tmux.wait("the daemon gone", |s| {
        s.replace('\n', " ")
            .contains(&format!("no sluice daemon answers at {api}"))
    });
    assert!(gone.starts_with("no answer for "), "{gone}");
    assert!(gone.contains("slow"), "the last figures stay:\n{gone}");

    tmux.keys(&["q"]);
    let after = tmux.wait_for("top exited 0");
    assert!(
        !after.contains("IN/s"),
        "the terminal is restored:\n{after}"
    );
}

#[test]
fn top_restores_the_terminal_on_sigterm() {
    let Some(()) = tmux_or_skip("top_restores_the_terminal_on_sigterm") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::start(&middle(dir.path(), ""), &[], &[]);
    let api = daemon.metrics_address();
    let tmux = Tmux::start(
        80,
        24,
        &format!(
            "{} top --address {api}; echo \"top exited $?\"",
            bin().display()
        ),
    );
    tmux.wait_for("q quit");
    let pid = tmux.command_pid().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let after = tmux.wait_for("top exited 0");
    assert!(
        !after.contains("IN/s"),
        "the terminal is restored:\n{after}"
    );
    assert!(daemon.terminate().success());
}

#[test]
fn top_ends_when_its_terminal_goes_away() {
    let Some(()) = tmux_or_skip("top_ends_when_its_terminal_goes_away") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::start(&middle(dir.path(), ""), &[], &[]);
    let api = daemon.metrics_address();
    let tmux = Tmux::start(80, 24, &format!("{} top --address {api}", bin().display()));
    tmux.wait_for("q quit");
    let pid = tmux.command_pid();
    // The tmux server goes, and the terminal with it (SIGHUP).
    drop(tmux);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Gone, or a zombie its new parent has yet to reap.
        let state = state.rsplit(") ").next().and_then(|r| r.split(' ').next());
        if state.is_none_or(|s| s == "Z" || s.is_empty()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "top (pid {pid}) outlived its terminal: state {state:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(daemon.terminate().success());
}

#[test]
fn top_once_prints_one_plain_table_and_a_pipe_gets_one_per_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::start(&middle(dir.path(), ""), &[], &[]);
    let api = daemon.metrics_address();
    let text = once_until_slow(api);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with(&format!("sluice top  {api}  up ")),
        "{text}"
    );
    assert!(
        lines[1].contains("STAGE") && lines[1].contains("INPUT FILL"),
        "{text}"
    );
    for (i, name) in STAGES.iter().enumerate() {
        assert!(lines[2 + i][2..].starts_with(name), "graph order:\n{text}");
    }
    assert!(lines[4].starts_with("! slow  parse "), "{text}");
    assert!(text.is_ascii(), "plain text has no box characters:\n{text}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("bottleneck: slow (input edge ")),
        "{text}"
    );

    // Without --once, a pipe gets a table per refresh.
    let mut top = Command::new(bin())
        .args(["top", "--address", &api.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut tables = 0;
    let deadline = Instant::now() + PATIENCE;
    for line in BufReader::new(top.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        tables += usize::from(line.starts_with("bottleneck: "));
        if tables == 3 || Instant::now() > deadline {
            break;
        }
    }
    top.kill().unwrap();
    top.wait().unwrap();
    assert_eq!(tables, 3, "three refreshes, three tables");
    assert!(daemon.terminate().success());
}

#[test]
fn top_without_a_daemon_exits_1_saying_where_it_looked() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = common::sluice()
        .args(["top", "--address", &format!("127.0.0.1:{port}")])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("no sluice daemon answers at 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn top_sends_the_token_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let config = middle(
        dir.path(),
        "api = { auth = { bearer_token_env = \"TOP_TEST_TOKEN\" } }\n",
    );
    let mut daemon = Daemon::start(&config, &[], &[("TOP_TEST_TOKEN", "s3cret")]);
    let api = daemon.metrics_address().to_string();
    let top = |token: Option<&str>| {
        let mut cmd = common::sluice();
        cmd.args(["top", "--once", "--address", &api])
            .env_remove("SLUICE_API_TOKEN")
            .timeout(Duration::from_secs(60));
        if let Some(t) = token {
            cmd.env("SLUICE_API_TOKEN", t);
        }
        cmd.output().unwrap()
    };
    let none = top(None);
    assert_eq!(none.status.code(), Some(1), "{}", describe(&none));
    assert!(
        String::from_utf8_lossy(&none.stderr).contains("needs a token: set SLUICE_API_TOKEN"),
        "{}",
        describe(&none)
    );
    let wrong = top(Some("nope"));
    assert_eq!(wrong.status.code(), Some(1), "{}", describe(&wrong));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("refused the token"));
    let right = top(Some("s3cret"));
    assert!(right.status.success(), "{}", describe(&right));
    assert!(String::from_utf8_lossy(&right.stdout).contains("slow"));
    assert!(daemon.terminate().success());
}
