//! Memory is bounded by the configuration, not by the input: measured on
//! the real binary through `/proc/PID/status` while it runs.
//!
//! Each test compares a run (or a phase) with ten to a hundred times more
//! input against a small one: state that grows with connections, jq
//! outputs, rotations or files shows up as resident memory (or open files,
//! or checkpoint bytes) that the small run does not have.

mod common;
mod daemon_support;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use common::toml_path;
use daemon_support::{Daemon, PATIENCE};

/// A field of `/proc/PID/status` in KiB (`VmRSS`, `VmHWM`).
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Waits until the file at `path` holds `lines` lines; panics after PATIENCE.
fn wait_lines(path: &Path, lines: usize) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = std::fs::read(path).unwrap_or_default();
        let got = text.iter().filter(|&&b| b == b'\n').count();
        if got >= lines {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} holds {got} of {lines} lines after {PATIENCE:?}",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Opens connections `from..to`, at most `parallel` at a time; each sends
/// three lines, closes its side and waits for sluice to close the other.
fn short_connections(addr: SocketAddr, from: usize, to: usize, parallel: usize) {
    let threads: Vec<_> = (0..parallel)
        .map(|t| {
            std::thread::spawn(move || {
                for c in (from + t..to).step_by(parallel) {
                    let mut s = TcpStream::connect(addr).expect("connect");
                    s.write_all(format!("{c}-a\n{c}-b\n{c}-c\n").as_bytes())
                        .expect("write");
                    s.shutdown(Shutdown::Write).expect("shutdown");
                    // EOF once sluice has read everything and dropped its end.
                    let _ = s.read(&mut [0u8; 1]);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a client thread panicked");
    }
}

#[test]
fn twenty_thousand_short_connections_into_an_ordered_sink_keep_memory_flat() {
    const FIRST: usize = 2_000;
    const ALL: usize = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.txt");
    let config = dir.path().join("p.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[sources.in]
type = "tcp"
address = "127.0.0.1:0"
codec = "text"

[sinks.out]
type = "file"
inputs = ["in"]
path = {}
codec = "text"
ordered = true
"#,
            toml_path(&out)
        ),
    )
    .unwrap();
    let mut daemon = Daemon::start(&config, &[], &[]);
    let addr = daemon.listen_address("in", "tcp");

    short_connections(addr, 0, FIRST, 16);
    wait_lines(&out, 3 * FIRST);
    let rss_first = status_kib(daemon.pid(), "VmRSS");
    short_connections(addr, FIRST, ALL, 16);
    wait_lines(&out, 3 * ALL);
    let rss_all = status_kib(daemon.pid(), "VmRSS");
    eprintln!("VmRSS after {FIRST} connections: {rss_first} KiB, after {ALL}: {rss_all} KiB");

    assert!(daemon.terminate().success(), "{}", daemon.stderr());
    let text = std::fs::read_to_string(&out).unwrap();
    let got: HashSet<&str> = text.lines().collect();
    assert_eq!(text.lines().count(), 3 * ALL, "no line twice");
    for c in 0..ALL {
        for l in ["a", "b", "c"] {
            assert!(got.contains(format!("{c}-{l}").as_str()), "{c}-{l} lost");
        }
    }
    // Each connection is an origin; reorder state kept for every one of
    // them came to 3 MiB more over these connections (measured).
    assert!(
        rss_all <= rss_first + 1536,
        "memory grew with connections: {rss_first} KiB after {FIRST}, {rss_all} KiB after {ALL}"
    );
}

/// Runs `sluice filter 'range(.n)'` on one input `{"n": n}`, checks that
/// the output is 0..n in order, and returns the peak resident memory (KiB)
/// it reached by the time the last output line was read.
fn range_peak_kib(n: u64, workers: &str) -> u64 {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("sluice"))
        .args(["filter", "--capacity", "64", "-w", workers, "range(.n)"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("sluice starts");
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{{\"n\": {n}}}").unwrap();
    // stdin stays open: the process is still there to be measured once
    // the last line is out.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for want in 0..n {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("output ended after {want} of {n} lines"))
            .unwrap();
        assert_eq!(line, want.to_string(), "output out of order");
    }
    let peak = status_kib(child.id(), "VmHWM");
    drop(stdin);
    assert!(lines.next().is_none(), "more than {n} lines");
    assert!(child.wait().unwrap().success());
    peak
}

#[test]
fn an_expanding_jq_program_is_bounded_by_the_capacity() {
    for workers in ["1", "4"] {
        let small = range_peak_kib(50_000, workers);
        let large = range_peak_kib(5_000_000, workers);
        eprintln!(
            "-w {workers}: peak VmHWM {small} KiB for 50 000 outputs, {large} KiB for 5 000 000"
        );
        // Holding the outputs of one input in one batch cost ~140 bytes an
        // event: 690 MiB more here (measured).
        assert!(
            large <= small + 8 * 1024,
            "-w {workers}: peak memory grew with the outputs: {small} KiB -> {large} KiB"
        );
    }
}
