//! Helpers for the daemon tests (`tests/daemon_*.rs`, `tests/net_*.rs`,
//! `tests/metrics*.rs`): a running `sluice run` whose stderr is collected,
//! the readiness messages of a fake systemd, and `/metrics` scrapes.
//!
//! Every wait is bounded in time and waits for an event (a log line, a
//! notification, a counter), never for a fixed sleep.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long any single wait may take before the test fails: generous for a
/// debug build on two busy cores, still bounded.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// A `sluice run` in the background.
pub struct Daemon {
    child: Child,
    log: Arc<(Mutex<Vec<String>>, Condvar)>,
    reaped: bool,
}

impl Daemon {
    /// Starts `sluice run CONFIG ARGS…` with `envs` set.
    pub fn start(config: &Path, args: &[&str], envs: &[(&str, &str)]) -> Daemon {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("sluice"));
        cmd.arg("run")
            .arg(config)
            .args(args)
            .env("RUST_LOG", "info")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("sluice starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let (lines, cv) = &*sink;
                lines.lock().unwrap().push(line);
                cv.notify_all();
            }
        });
        Daemon {
            child,
            log,
            reaped: false,
        }
    }

    /// The process id, for signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a stderr line containing `needle` and returns it.
    pub fn wait_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        let (lines, cv) = &*self.log;
        let mut seen = lines.lock().unwrap();
        loop {
            if let Some(l) = seen.iter().find(|l| l.contains(needle)) {
                return l.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no log line containing {needle:?} within {PATIENCE:?}; stderr so far:\n{}",
                seen.join("\n")
            );
            seen = cv.wait_timeout(seen, left).unwrap().0;
        }
    }

    /// Waits until `n` stderr lines contain `needle`.
    pub fn wait_log_count(&self, needle: &str, n: usize) {
        let deadline = Instant::now() + PATIENCE;
        let (lines, cv) = &*self.log;
        let mut seen = lines.lock().unwrap();
        loop {
            if seen.iter().filter(|l| l.contains(needle)).count() >= n {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "fewer than {n} log lines containing {needle:?} within {PATIENCE:?}; stderr so far:\n{}",
                seen.join("\n")
            );
            seen = cv.wait_timeout(seen, left).unwrap().0;
        }
    }

    /// Everything written on stderr so far.
    pub fn stderr(&self) -> String {
        self.log.0.lock().unwrap().join("\n")
    }

    /// The address a `tcp`/`udp` source listens on, from its log line.
    pub fn listen_address(&self, stage: &str, proto: &str) -> SocketAddr {
        let needle = format!("source `{stage}`: listening on {proto} ");
        let line = self.wait_log(&needle);
        let rest = &line[line.find(&needle).unwrap() + needle.len()..];
        rest.split_whitespace()
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
    }

    /// The address of the metrics endpoint, from its log line.
    pub fn metrics_address(&self) -> SocketAddr {
        let needle = "metrics: serving http://";
        let line = self.wait_log(needle);
        let rest = &line[line.find(needle).unwrap() + needle.len()..];
        rest.split("/metrics")
            .next()
            .unwrap_or_default()
            .parse()
            .unwrap_or_else(|e| panic!("no address in {line:?}: {e}"))
    }

    /// Sends `signal` (e.g. `TERM`) with kill(1).
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill runs")
            .success();
        assert!(ok, "kill -{signal} failed");
    }

    /// Waits for the exit; panics after [`PATIENCE`].
    pub fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.reaped = true;
                // Let the reader thread take the last lines.
                let _ = self.wait_log_quiet("events read");
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "sluice did not exit within {PATIENCE:?}; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_log_quiet(&self, needle: &str) -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let (lines, cv) = &*self.log;
        let mut seen = lines.lock().unwrap();
        loop {
            if let Some(l) = seen.iter().find(|l| l.contains(needle)) {
                return Some(l.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            seen = cv.wait_timeout(seen, left).unwrap().0;
        }
    }

    /// `kill -9` and reap it, without waiting for a summary it cannot print.
    pub fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
        self.reaped = true;
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal("TERM");
        self.wait()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A fake systemd: a datagram socket to point `NOTIFY_SOCKET` at.
pub struct NotifySocket {
    socket: UnixDatagram,
    /// The socket's path.
    pub path: PathBuf,
    /// Every message received so far, in order.
    pub messages: Vec<String>,
}

impl NotifySocket {
    /// Binds `dir/notify.sock`.
    pub fn bind(dir: &Path) -> NotifySocket {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
        NotifySocket {
            socket,
            path,
            messages: Vec::new(),
        }
    }

    /// Waits for a message with a line equal to `line` (e.g. `READY=1`);
    /// returns it. Messages before it are kept in `messages`.
    pub fn wait_for(&mut self, line: &str) -> String {
        if let Some(m) = self.messages.iter().find(|m| m.lines().any(|l| l == line)) {
            return m.clone();
        }
        let deadline = Instant::now() + PATIENCE;
        let mut buf = vec![0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no {line} within {PATIENCE:?}; got {:?}",
                self.messages
            );
            self.socket.set_read_timeout(Some(left)).unwrap();
            let Ok(n) = self.socket.recv(&mut buf) else {
                continue;
            };
            let m = String::from_utf8_lossy(&buf[..n]).into_owned();
            self.messages.push(m.clone());
            if m.lines().any(|l| l == line) {
                return m;
            }
        }
    }

    /// Position of the first message holding `line`.
    pub fn position(&self, line: &str) -> Option<usize> {
        self.messages
            .iter()
            .position(|m| m.lines().any(|l| l == line))
    }
}

/// `GET /metrics` (any path) over a plain TCP connection: status line and body.
pub fn http_get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).expect("connect to the metrics endpoint");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read the response");
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

/// The body of `/metrics`.
pub fn scrape(addr: SocketAddr) -> String {
    let (status, body) = http_get(addr, "/metrics");
    assert!(status.contains("200"), "{status}");
    body
}

/// The value of `name{stage="STAGE"}` in a scrape.
pub fn metric(text: &str, name: &str, stage: &str) -> Option<f64> {
    let key = format!("{name}{{stage=\"{stage}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&key))
        .and_then(|v| v.trim().parse().ok())
}

/// Polls `/metrics` until `name{stage}` satisfies `pred`; returns the scrape.
pub fn wait_metric(
    addr: SocketAddr,
    name: &str,
    stage: &str,
    pred: impl Fn(f64) -> bool,
) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = scrape(addr);
        if metric(&text, name, stage).is_some_and(&pred) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{name}{{stage=\"{stage}\"}} never reached the expected value; last scrape:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
