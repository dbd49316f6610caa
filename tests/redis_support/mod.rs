//! A real `redis-server` for the Redis tests (`tests/redis_*.rs`): started on
//! a free 127.0.0.1 port with its own temporary directory (append-only file
//! on, so a restart keeps the data), stopped when dropped.
//!
//! Every wait is bounded and waits for a condition (a PING, a count), never
//! for a fixed sleep.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::Config;

/// How long any single wait may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// A running redis-server.
pub struct Redis {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Redis {
    /// Starts a server on a free port; panics (with how to fix it) when
    /// `redis-server` is not installed.
    pub fn start() -> Redis {
        let found = Command::new("sh")
            .args(["-c", "command -v redis-server"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            found,
            "redis-server is not installed: `apt-get install redis-server` (.ci/run does it)"
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut r = Redis {
            child: None,
            port,
            dir: tempfile::tempdir().unwrap(),
        };
        r.spawn();
        r
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The server's data directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "yes"])
            .args(["--appendfsync", "always", "--protected-mode", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(self.dir.path().join("redis.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + PATIENCE;
        loop {
            if self.try_cli(&["PING"]).is_some_and(|o| o.trim() == "PONG") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING; log:\n{}",
                std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server (SHUTDOWN: the append-only file is complete) and
    /// waits for the process to end.
    pub fn stop(&mut self) {
        let _ = self.try_cli(&["SHUTDOWN"]);
        if let Some(mut child) = self.child.take() {
            let deadline = Instant::now() + PATIENCE;
            while child.try_wait().unwrap().is_none() {
                assert!(Instant::now() < deadline, "redis-server did not stop");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// Stops and starts again on the same port and data directory.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    fn try_cli(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("redis-cli")
            .arg("-p")
            .arg(self.port.to_string())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.success() && !text.starts_with("Could not connect")).then_some(text)
    }

    /// Runs `redis-cli -p PORT ARGS…` and returns its output.
    pub fn cli(&self, args: &[&str]) -> String {
        self.try_cli(args)
            .unwrap_or_else(|| panic!("redis-cli {args:?} failed"))
    }

    /// A synchronous client connection.
    pub fn conn(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .unwrap()
            .get_connection()
            .expect("connect to the test redis")
    }

    /// Appends `{"n":i}` for i in `range` to `stream` as field `data`, in
    /// pipelined chunks.
    pub fn fill(&self, stream: &str, range: std::ops::Range<u64>) {
        let mut con = self.conn();
        let ids: Vec<u64> = range.collect();
        for chunk in ids.chunks(5_000) {
            let mut pipe = redis::pipe();
            for i in chunk {
                pipe.cmd("XADD")
                    .arg(stream)
                    .arg("*")
                    .arg("data")
                    .arg(format!("{{\"n\":{i}}}"))
                    .ignore();
            }
            pipe.query::<()>(&mut con).expect("XADD");
        }
    }

    /// `XLEN stream`.
    pub fn xlen(&self, stream: &str) -> u64 {
        redis::cmd("XLEN")
            .arg(stream)
            .query(&mut self.conn())
            .unwrap()
    }

    /// Entries pending (read, not acknowledged) in `group`, by consumer;
    /// empty when the group does not exist yet.
    pub fn pending(&self, stream: &str, group: &str) -> HashMap<String, u64> {
        let reply: redis::RedisResult<redis::Value> = redis::cmd("XPENDING")
            .arg(stream)
            .arg(group)
            .query(&mut self.conn());
        let mut out = HashMap::new();
        let Ok(redis::Value::Array(parts)) = reply else {
            return out;
        };
        if let Some(redis::Value::Array(consumers)) = parts.get(3) {
            for c in consumers {
                if let redis::Value::Array(pair) = c
                    && let [name, n] = &pair[..]
                {
                    let name: String = redis::from_redis_value(name.clone()).unwrap();
                    let n: u64 = redis::from_redis_value(n.clone()).unwrap();
                    out.insert(name, n);
                }
            }
        }
        out
    }

    /// Total pending in `group`.
    pub fn pending_total(&self, stream: &str, group: &str) -> u64 {
        self.pending(stream, group).values().sum()
    }

    /// `entries-read` of `group` (how far the group has read), 0 when absent.
    pub fn entries_read(&self, stream: &str, group: &str) -> u64 {
        let reply: redis::RedisResult<Vec<HashMap<String, redis::Value>>> = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(stream)
            .query(&mut self.conn());
        let Ok(groups) = reply else { return 0 };
        for g in groups {
            let name: Option<String> = g
                .get("name")
                .and_then(|v| redis::from_redis_value(v.clone()).ok());
            if name.as_deref() == Some(group) {
                return g
                    .get("entries-read")
                    .and_then(|v| redis::from_redis_value(v.clone()).ok())
                    .unwrap_or(0);
            }
        }
        0
    }

    /// Every entry's `data` field, in stream order.
    pub fn xrange_data(&self, stream: &str) -> Vec<String> {
        let reply: redis::Value = redis::cmd("XRANGE")
            .arg(stream)
            .arg("-")
            .arg("+")
            .query(&mut self.conn())
            .unwrap();
        let mut out = Vec::new();
        if let redis::Value::Array(entries) = reply {
            for e in entries {
                if let redis::Value::Array(parts) = e
                    && let Some(redis::Value::Array(fields)) = parts.get(1)
                {
                    for kv in fields.chunks(2) {
                        let k: String = redis::from_redis_value(kv[0].clone()).unwrap();
                        if k == "data" {
                            out.push(redis::from_redis_value(kv[1].clone()).unwrap());
                        }
                    }
                }
            }
        }
        out
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits until `cond` holds, polling; panics with `what` after [`PATIENCE`].
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Lines of `path` (0 when it does not exist yet).
pub fn line_count(path: &Path) -> usize {
    std::fs::read(path)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}

/// The `n` of every complete `{"n":N}` line of `path`, in order. A last
/// line without its newline is left out: a live daemon is still writing it,
/// or a killed one was cut off mid-write (its entry was not acknowledged,
/// so another daemon delivers it again).
pub fn numbers(path: &Path) -> Vec<u64> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => "",
    };
    complete
        .lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}"));
            v["n"].as_u64().unwrap_or_else(|| panic!("no n in {l:?}"))
        })
        .collect()
}

/// A daemon config: `redis_stream` source `in` as `consumer` into file
/// `out`; `extra` is appended to the source's table (more keys, then more
/// tables); the file sink reads stage `slow` when `extra` defines it.
pub fn consumer_config(
    dir: &Path,
    name: &str,
    url: &str,
    stream: &str,
    consumer: &str,
    out: &Path,
    extra: &str,
) -> PathBuf {
    let sink_input = if extra.contains("[transforms.slow]") {
        "slow"
    } else {
        "in"
    };
    let text = Config::new()
        .pipeline()
        .set("shutdown_grace", "60s")
        .source("in", "redis_stream")
        .set("url", url)
        .set("stream", stream)
        .set("group", "workers")
        .set("consumer", consumer)
        .set("block", "200ms")
        .raw(extra)
        .sink("out", "file", &[sink_input])
        .set("path", out)
        .text();
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}
