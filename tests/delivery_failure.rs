//! Dropping an event is not delivering it, through the real binary: a
//! stdout whose reader went away ends `sluice run` by itself with an error
//! and leaves the unwritten lines to the next run; `sluice filter` into a
//! closed pipe ends quietly; a file sink on a full disk acknowledges only
//! what reached the disk, and a later run writes the rest.

mod common;
mod redis_support;

use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{Config, id_lines, raw, sorted_ids};
use serde_json::Value;

/// How long a run that must end by itself may take.
const PATIENCE: Duration = Duration::from_secs(30);

fn sluice_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("sluice")
}

/// Waits for `child` to exit by itself, at most `PATIENCE`; kills it and
/// fails otherwise.
fn wait_bounded(child: &mut Child, what: &str) -> ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not end by itself within {PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The `line` the checkpoint in `state` holds for `path` of source `app`.
fn checkpoint_line(state: &Path, path: &Path) -> u64 {
    let text = std::fs::read_to_string(state.join("checkpoint.json")).unwrap_or_default();
    let cp: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    cp["sources"]["app"][path.display().to_string()]["line"]
        .as_u64()
        .unwrap_or(0)
}

/// The ids in `1..=total` that `seen` lacks.
fn missing(total: u64, seen: &[u64]) -> Vec<u64> {
    let set: std::collections::HashSet<u64> = seen.iter().copied().collect();
    (1..=total).filter(|i| !set.contains(i)).collect()
}

/// Bytes of the pipe the test gives `sluice run` as its stdout.
const PIPE_BYTES: usize = 4096;

/// The source feeds the stdout sink `out` directly.
const DIRECT: &str = r#"
[sinks.out]
type = "stdout"
inputs = ["app"]
"#;

/// Through two transforms to an ordered stdout, with a second branch that
/// keeps consuming: when `out` dies, `last` stops, and what is queued for it
/// must fail (and give back its ordering permits) rather than wait forever.
const BRANCHED: &str = r#"
[transforms.first]
type = "jq"
inputs = ["app"]
program = "."
workers = 2

[transforms.last]
type = "jq"
inputs = ["first"]
program = "."

[sinks.out]
type = "stdout"
inputs = ["last"]
ordered = true

[sinks.null]
type = "blackhole"
inputs = ["first"]
"#;

#[test]
fn closing_stdout_ends_the_run_and_leaves_the_rest_for_the_next() {
    closed_stdout(DIRECT);
}

#[test]
fn closing_stdout_behind_transforms_and_a_second_branch_ends_the_run_too() {
    closed_stdout(BRANCHED);
}

fn closed_stdout(graph: &str) {
    const TOTAL: u64 = 50_000;
    let dir = tempfile::tempdir().unwrap();
    let input = common::write(dir.path(), "in.jsonl", id_lines(TOTAL));
    let state = dir.path().join("state");
    let config = Config::new()
        .pipeline()
        .set("data_dir", &state)
        .set("capacity", 256)
        .source("app", "file")
        .set("path", &input)
        .raw(graph)
        .write(dir.path(), "p.toml");
    let (seen, capacity) = read_five_then_close(&config);
    let read_ids = sorted_ids(&seen);
    let committed = checkpoint_line(&state, &input);
    // Shortest line: `{"id":1}\n`, 9 bytes.
    let slack = (capacity / 9 + 1) as u64;
    assert!(
        committed <= read_ids.len() as u64 + slack,
        "the checkpoint ({committed} lines) is past what could have been written ({} read + {slack} in the pipe)",
        read_ids.len()
    );

    // The second run, read to the end, writes what the first did not.
    let second = Command::new(sluice_bin())
        .args(["run", "-q"])
        .arg(&config)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(second.status.success(), "{}", common::describe(&second));
    let again = sorted_ids(&second.stdout);
    assert!(
        again.len() as u64 >= TOTAL - read_ids.len() as u64 - slack,
        "the second run wrote only {} of the {TOTAL} lines",
        again.len()
    );
    let all: Vec<u64> = read_ids.iter().chain(&again).copied().collect();
    let lost = missing(TOTAL, &all);
    assert!(
        lost.len() as u64 <= slack,
        "{} lines are in neither run (pipe slack {slack}): {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
}

/// Runs `sluice run CONFIG` into a small pipe, reads 5 lines or so, closes
/// the pipe, and checks that the run ends by itself with a non-zero status
/// and a message naming the sink `out`. Returns the complete lines read
/// and the pipe's capacity in bytes (what it may have held unread).
fn read_five_then_close(config: &Path) -> (Vec<u8>, usize) {
    // A small pipe: what it may hold unread when the test closes it is a
    // sharp bound on the lines written but never seen.
    let (mut reader, writer) = std::io::pipe().unwrap();
    let set = unsafe { libc::fcntl(writer.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_BYTES as i32) };
    assert!(set >= PIPE_BYTES as i32, "F_SETPIPE_SZ failed: {set}");
    let mut child = Command::new(sluice_bin())
        .args(["run", "-q"])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen = Vec::new();
    let mut chunk = [0u8; 64];
    while seen.iter().filter(|&&b| b == b'\n').count() < 5 {
        let n = reader.read(&mut chunk).unwrap();
        assert!(n > 0, "sluice closed its stdout before writing 5 lines");
        seen.extend_from_slice(&chunk[..n]);
    }
    drop(reader);
    let status = wait_bounded(&mut child, "a run whose stdout was closed");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!status.success(), "a lost output is a failure: {status:?}");
    assert!(
        stderr.contains("sink `out`") && stderr.contains("broken pipe"),
        "the message names the sink and the cause:\n{stderr}"
    );
    let end = seen.iter().rposition(|&b| b == b'\n').unwrap() + 1;
    seen.truncate(end);
    (seen, set as usize)
}

#[test]
fn filter_into_a_closed_pipe_is_a_quiet_normal_end() {
    let dir = tempfile::tempdir().unwrap();
    let input = common::write(dir.path(), "in.jsonl", id_lines(300_000));
    let mut child = Command::new(sluice_bin())
        .args(["filter", "."])
        .stdin(std::fs::File::open(&input).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).unwrap();
    assert!(first.starts_with(b"{\"id\":1}\n"));
    drop(stdout);
    let started = Instant::now();
    let status = wait_bounded(&mut child, "`sluice filter` into a closed pipe");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{status:?}\n{stderr}");
    assert!(stderr.is_empty(), "nothing on stderr, like jq: {stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "ends promptly, not after reading all: {:?}",
        started.elapsed()
    );
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` at `dir`; `None` (after saying why) when
    /// mounting is refused outside CI.
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs(dir.to_path_buf())),
            other => {
                let why = match other {
                    Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
                    Err(e) => e.to_string(),
                };
                assert!(
                    std::env::var_os("CI").is_none(),
                    "cannot mount a tmpfs (the disk-full tests need root): {why}"
                );
                eprintln!("note: skipping the disk-full test, cannot mount a tmpfs: {why}");
                None
            }
        }
    }

    /// Gives the filesystem more room, keeping what it holds.
    fn grow(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success(), "remounting {} failed", self.0.display());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Input lines of about 60 bytes: 64 KiB hold about a thousand.
fn padded_lines(n: u64) -> String {
    (1..=n)
        .map(|i| format!("{{\"id\":{i},\"pad\":\"{}\"}}\n", "x".repeat(40)))
        .collect()
}

fn disk_full_config(dir: &Path, full: &Path, dead_letters: bool) -> PathBuf {
    let mut text = Config::new()
        .pipeline()
        .set("data_dir", &dir.join("state"))
        .set("capacity", 128)
        .source("app", "file")
        .set("path", &dir.join("in.jsonl"))
        .sink("out", "file", &["app"])
        .set("path", &full.join("out.jsonl"))
        .set(
            "retry",
            raw(r#"{ attempts = 3, initial = "5ms", max = "10ms" }"#),
        )
        .text();
    if dead_letters {
        text.push_str(
            &Config::new()
                .sink("dead", "file", &["out.errors"])
                .set("path", &dir.join("dead.jsonl"))
                .text(),
        );
    }
    common::write(dir, "p.toml", text)
}

fn run_quietly(config: &Path) -> std::process::Output {
    let mut child = Command::new(sluice_bin())
        .args(["run", "-q"])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Stderr is read on a thread: a chatty run must not block on it.
    let mut stderr = child.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        s
    });
    let status = wait_bounded(&mut child, "a run on a full disk");
    std::process::Output {
        status,
        stdout: Vec::new(),
        stderr: log.join().unwrap(),
    }
}

const DISK_LINES: u64 = 5_000;

#[test]
fn a_full_disk_acknowledges_only_what_reached_it_and_the_next_run_writes_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full");
    let Some(tmpfs) = Tmpfs::mount(&full, "64k") else {
        return;
    };
    let input = common::write(dir.path(), "in.jsonl", padded_lines(DISK_LINES));
    let config = disk_full_config(dir.path(), &full, false);
    let out = full.join("out.jsonl");

    let first = run_quietly(&config);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(
        stderr.contains("No space left on device"),
        "the sink saw the full disk:\n{stderr}"
    );
    let written = sorted_ids(&std::fs::read(&out).unwrap());
    assert!(
        (written.len() as u64) < DISK_LINES,
        "the disk was full, yet every line was written"
    );
    let committed = checkpoint_line(&dir.path().join("state"), &input);
    assert!(
        committed < DISK_LINES,
        "the checkpoint covers unwritten lines"
    );
    let unwritten = missing(committed, &written);
    assert!(
        unwritten.is_empty(),
        "the checkpoint ({committed} lines) is past lines that never reached the file: {:?}",
        &unwritten[..unwritten.len().min(10)]
    );

    // Room again: the next run writes the lines the first could not.
    tmpfs.grow("4m");
    let second = run_quietly(&config);
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let written = sorted_ids(&std::fs::read(&out).unwrap());
    let lost = missing(DISK_LINES, &written);
    assert!(
        lost.is_empty(),
        "{} lines were never written: {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    assert_eq!(
        checkpoint_line(&dir.path().join("state"), &input),
        DISK_LINES
    );
}

#[test]
fn a_full_disk_sends_what_it_cannot_write_to_a_consumed_errors_port() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full");
    let Some(_tmpfs) = Tmpfs::mount(&full, "64k") else {
        return;
    };
    let input = common::write(dir.path(), "in.jsonl", padded_lines(DISK_LINES));
    let config = disk_full_config(dir.path(), &full, true);
    let run = run_quietly(&config);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let written = sorted_ids(&std::fs::read(full.join("out.jsonl")).unwrap());
    let dead: Vec<u64> = common::json_lines(&std::fs::read(dir.path().join("dead.jsonl")).unwrap())
        .iter()
        .map(|e| {
            assert_eq!(e["stage"], "out", "{e}");
            assert!(
                e["error"].as_str().unwrap().contains("No space left"),
                "{e}"
            );
            e["input"]["id"].as_u64().unwrap()
        })
        .collect();
    assert!(!dead.is_empty() && (written.len() as u64) < DISK_LINES);
    let all: Vec<u64> = written.iter().chain(&dead).copied().collect();
    let lost = missing(DISK_LINES, &all);
    assert!(
        lost.is_empty(),
        "{} lines are in neither the file nor the dead letters: {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    // Dead letters written are deliveries: the checkpoint is complete, and
    // covers only lines that reached one of the two files.
    let committed = checkpoint_line(&dir.path().join("state"), &input);
    assert_eq!(committed, DISK_LINES);
}

#[test]
fn a_redis_batch_that_was_not_written_stays_pending() {
    const TOTAL: u64 = 20_000;
    let redis = redis_support::Redis::start();
    redis.fill("events", 0..TOTAL);
    let dir = tempfile::tempdir().unwrap();
    let config = Config::new()
        .pipeline()
        .set("capacity", 256)
        .source("app", "redis_stream")
        .set("url", redis.url())
        .set("stream", "events")
        .set("group", "workers")
        .set("consumer", "one")
        .set("block", "200ms")
        .sink("out", "stdout", &["app"])
        .write(dir.path(), "p.toml");
    let (seen, capacity) = read_five_then_close(&config);
    let read = seen.iter().filter(|&&b| b == b'\n').count() as u64;
    // Shortest line: `{"n":0}\n`, 8 bytes.
    let slack = (capacity / 8 + 1) as u64;
    let taken = redis.entries_read("events", "workers");
    let pending = redis.pending_total("events", "workers");
    assert!(
        taken > 0 && pending <= taken,
        "read {taken}, pending {pending}"
    );
    assert!(
        taken - pending <= read + slack,
        "{} entries were XACKed, but at most {read} read + {slack} in the pipe were written",
        taken - pending
    );
}
